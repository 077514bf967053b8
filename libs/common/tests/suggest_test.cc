#include "cdp/common/suggest.h"

#include <gtest/gtest.h>

#include <array>

namespace cdp {
namespace {

constexpr std::array<std::string_view, 4> kWords = {"monetary_90d", "monetary_30d", "orders_90d",
                                                    "data_dir"};

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
