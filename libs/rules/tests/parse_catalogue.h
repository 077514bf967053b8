#pragma once

#include <gtest/gtest.h>

#include <string_view>
#include <utility>

#include "cdp/rules/catalogue.h"

namespace cdp::rules::testing {

// The catalogue `yaml` describes; a test failure, and an empty catalogue, when it is invalid.
inline SegmentCatalogue Parse(std::string_view yaml) {
  absl::StatusOr<SegmentCatalogue> catalogue = ParseSegmentCatalogue(yaml, "t.yaml");
  if (!catalogue.ok()) {
    ADD_FAILURE() << catalogue.status();
    return SegmentCatalogue();
  }
  return std::move(*catalogue);
}

}  // namespace cdp::rules::testing
