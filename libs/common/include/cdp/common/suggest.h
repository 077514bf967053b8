#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cdp {

// The candidate closest to a misspelt word (Damerau-Levenshtein), if it is close enough to be
// what was meant; for "did you mean ...?" hints in error messages.
[[nodiscard]] std::optional<std::string> Suggest(std::string_view word,
                                                 std::span<const std::string_view> candidates);

}  // namespace cdp
