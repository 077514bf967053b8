#include "cdp/common/suggest.h"

#include <algorithm>
#include <vector>

namespace cdp {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  // d[i][j]: distance between the first i characters of a and the first j of b.
  std::vector<std::size_t> d((n + 1) * (m + 1));
  auto at = [m, &d](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
  for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && Lower(a[i - 1]) == Lower(b[j - 2]) &&
          Lower(a[i - 2]) == Lower(b[j - 1])) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(n, m);
}

std::optional<std::string> Suggest(std::string_view name,
                                   std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = EditDistance(name, candidate);
    // A third of the shorter name may be wrong, so short names only get one-letter fixes.
    const std::size_t allowed =
        std::max<std::size_t>(1, std::min(name.size(), candidate.size()) / 3);
    if (distance > allowed) continue;
    if (!best || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  if (best) return std::string(*best);
  // A name cut short (`recency` for `recency_days`) is too far for edits, but still clear.
  constexpr std::size_t kMinPrefix = 4;
  for (std::string_view candidate : candidates) {
    const std::string_view shorter = name.size() < candidate.size() ? name : candidate;
    const std::string_view longer = name.size() < candidate.size() ? candidate : name;
    if (shorter.size() >= kMinPrefix &&
        EditDistance(shorter, longer.substr(0, shorter.size())) == 0) {
      return std::string(candidate);
    }
  }
  return std::nullopt;
}

}  // namespace cdp
