#include "suggest.h"

#include <gtest/gtest.h>

#include <array>

namespace cdp::rules::internal {
namespace {

TEST(EditDistance, CountsEachKindOfEdit) {
  EXPECT_EQ(EditDistance("", ""), 0u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("when", "when"), 0u);
  EXPECT_EQ(EditDistance("whn", "when"), 1u);    // insertion
  EXPECT_EQ(EditDistance("wheen", "when"), 1u);  // deletion
  EXPECT_EQ(EditDistance("whan", "when"), 1u);   // substitution
  EXPECT_EQ(EditDistance("wehn", "when"), 1u);   // adjacent swap
  EXPECT_EQ(EditDistance("WHEN", "when"), 0u);   // case
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(ClosestMatch, PicksTheNearestLikelyTypo) {
  constexpr std::array<std::string_view, 4> kNames = {"orders_30d", "orders_90d", "monetary_90d",
                                                      "when"};
  EXPECT_EQ(ClosestMatch("monetry_90d", kNames), "monetary_90d");
  EXPECT_EQ(ClosestMatch("orders_90", kNames), "orders_90d");
  // Ties go to the first candidate.
  EXPECT_EQ(ClosestMatch("orders_60d", kNames), "orders_30d");
  EXPECT_EQ(ClosestMatch("whn", kNames), "when");
  EXPECT_EQ(ClosestMatch("wxyz", kNames), std::nullopt);
  EXPECT_EQ(ClosestMatch("xyz", kNames), std::nullopt);
  EXPECT_EQ(ClosestMatch("anything", {}), std::nullopt);
}

}  // namespace
}  // namespace cdp::rules::internal
