#include "cdp/common/stable_hash.h"

#include <gtest/gtest.h>

#include "cdp/common/strong_type.h"

namespace cdp {
namespace {

TEST(StableHash, IsFixedAcrossBuilds) {
  // Published change ids depend on these exact values; changing them breaks deduplication.
  EXPECT_EQ(StableHashHex128(""), StableHashHex128(""));
  EXPECT_EQ(StableHashHex128("abc").size(), 32u);
  EXPECT_EQ(StableHash64("abc"), StableHash64("abc"));
  EXPECT_NE(StableHash64("abc"), StableHash64("abd"));
  EXPECT_NE(StableHash64("abc", 1), StableHash64("abc", 2));
  EXPECT_NE(StableHashHex128("a"), StableHashHex128("b"));
}

TEST(StableHash, GoldenValue) {
  EXPECT_EQ(StableHashHex128("customer-1"), "c913e525a715659a3aee7fe1b3eb2dbe");
}

TEST(StrongType, ComparesByValue) {
  EXPECT_LT(Partition(1), Partition(2));
  EXPECT_EQ(Offset(7), Offset(7));
  EXPECT_EQ(CustomerId("a").value(), "a");
}

}  // namespace
}  // namespace cdp
