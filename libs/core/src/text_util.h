#pragma once

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace cdp::core::internal {

// This abseil build keeps its own string_view type, which std::string_view does not convert to.
[[nodiscard]] inline absl::string_view ToAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
[[nodiscard]] bool IsValidUtf8(std::string_view text);

// Untrusted input echoed in a rejection detail (a DLQ header, a log line): double-quoted, C-escaped
// and cut to a readable length.
[[nodiscard]] std::string Quote(std::string_view text);

// A library error message that may embed raw input: control characters and invalid UTF-8 become
// '?', whitespace runs collapse, and the result is cut to a readable length.
[[nodiscard]] std::string Sanitize(std::string_view message);

}  // namespace cdp::core::internal
