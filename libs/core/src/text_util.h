#pragma once

#include <string>
#include <string_view>

#include "cdp/common/absl_string.h"

namespace cdp::core::internal {

using ::cdp::ToAbsl;

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
[[nodiscard]] bool IsValidUtf8(std::string_view text);

// Untrusted input echoed in a rejection detail (a DLQ header, a log line): double-quoted, C-escaped
// and cut to a readable length.
[[nodiscard]] std::string Quote(std::string_view text);

// A library error message that may embed raw input: control characters and invalid UTF-8 become
// '?', whitespace runs collapse, and the result is cut to a readable length.
[[nodiscard]] std::string Sanitize(std::string_view message);

}  // namespace cdp::core::internal
