#include "cdp/common/suggest.h"

#include <gtest/gtest.h>

#include <array>

namespace cdp {
namespace {

constexpr std::array<std::string_view, 4> kWords = {"monetary_90d", "monetary_30d", "orders_90d",
                                                    "data_dir"};

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

TEST(Suggest, PicksTheNearestLikelyTypo) {
  constexpr std::array<std::string_view, 4> kNames = {"orders_30d", "orders_90d", "monetary_90d",
                                                      "when"};
  EXPECT_EQ(Suggest("monetry_90d", kNames), "monetary_90d");
  EXPECT_EQ(Suggest("orders_90", kNames), "orders_90d");
  // Ties go to the first candidate.
  EXPECT_EQ(Suggest("orders_60d", kNames), "orders_30d");
  EXPECT_EQ(Suggest("whn", kNames), "when");
  EXPECT_EQ(Suggest("wxyz", kNames), std::nullopt);
  EXPECT_EQ(Suggest("xyz", kNames), std::nullopt);
  EXPECT_EQ(Suggest("anything", {}), std::nullopt);
}

TEST(Suggest, FindsTheClosestWord) {
  EXPECT_EQ(Suggest("monetry_90d", kWords), "monetary_90d");
  EXPECT_EQ(Suggest("orders_9d0", kWords), "orders_90d");  // adjacent swap
  EXPECT_EQ(Suggest("data-dir", kWords), "data_dir");
}

TEST(Suggest, GivesNothingWhenNothingIsClose) {
  EXPECT_EQ(Suggest("banana", kWords), std::nullopt);
  EXPECT_EQ(Suggest("x", kWords), std::nullopt);
}

}  // namespace
}  // namespace cdp
