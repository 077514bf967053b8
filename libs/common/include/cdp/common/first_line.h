#pragma once

#include <optional>
#include <string>

namespace cdp {

// The first line of the file at `path` without surrounding blanks (editors and `echo` add a
// newline), as secrets such as bearer tokens are kept; nullopt when the file cannot be read or
// that line is blank.
[[nodiscard]] std::optional<std::string> ReadFirstLine(const std::string& path);

}  // namespace cdp
