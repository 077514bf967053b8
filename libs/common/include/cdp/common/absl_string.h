#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace cdp {

// Debian's abseil keeps its own absl::string_view, which std::string_view does not convert to:
// absl::StrCat and friends need this for a std::string_view argument.
[[nodiscard]] inline absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

}  // namespace cdp
