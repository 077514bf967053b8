#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cdp {

// Edit distance counting insertions, deletions, substitutions and swaps of adjacent characters
// (optimal string alignment), ignoring ASCII case.
[[nodiscard]] std::size_t EditDistance(std::string_view a, std::string_view b);

// For "did you mean ...?" hints: the candidate `name` was most likely a typo of, if any is close
// enough (ties go to the first), else the first candidate that `name` starts or is the start of.
[[nodiscard]] std::optional<std::string> Suggest(std::string_view name,
                                                 std::span<const std::string_view> candidates);

}  // namespace cdp
