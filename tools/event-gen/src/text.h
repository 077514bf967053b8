#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace cdp::tools {

// This abseil build has its own absl::string_view, which std::string_view does not convert to.
[[nodiscard]] inline absl::string_view AsAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

}  // namespace cdp::tools
