#include "cdp/pipeline/internal/profile_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace cdp::pipeline::internal {
namespace {

CachedProfile Profile(const std::string& id, int orders) {
  CachedProfile cached;
  cached.profile.set_customer_id(id);
  cached.profile.set_orders_total(orders);
  return cached;
}

TEST(ProfileCache, TakeRemovesTheEntry) {
  ProfileCache cache(10);
  cache.Insert("a", Partition(0), Profile("a", 3));
  auto taken = cache.Take("a");
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->profile.orders_total(), 3);
  EXPECT_FALSE(cache.Take("a").has_value());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ProfileCache, KeepsAProfilesAppliedEventsWithIt) {
  ProfileCache cache(10);
  CachedProfile cached = Profile("a", 1);
  cached.applied.Add("e1", 100, 0);
  cached.applied.Add("e2", 200, 0);
  cache.Insert("a", Partition(0), std::move(cached));
  auto taken = cache.Take("a");
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->applied.EventIds(), (std::vector<std::string>{"e1", "e2"}));
}

TEST(ProfileCache, EvictsTheLeastRecentlyUsed) {
  ProfileCache cache(2);
  cache.Insert("a", Partition(0), Profile("a", 1));
  cache.Insert("b", Partition(0), Profile("b", 2));
  cache.Insert("a", Partition(0), Profile("a", 5));  // refreshes a
  cache.Insert("c", Partition(0), Profile("c", 3));  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Take("b").has_value());
  auto a = cache.Take("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->profile.orders_total(), 5);
  EXPECT_TRUE(cache.Take("c").has_value());
}

TEST(ProfileCache, ErasesOnePartition) {
  ProfileCache cache(10);
  cache.Insert("a", Partition(0), Profile("a", 1));
  cache.Insert("b", Partition(1), Profile("b", 1));
  cache.ErasePartition(Partition(0));
  EXPECT_FALSE(cache.Take("a").has_value());
  EXPECT_TRUE(cache.Take("b").has_value());
}

TEST(ProfileCache, ZeroCapacityCachesNothing) {
  ProfileCache cache(0);
  cache.Insert("a", Partition(0), Profile("a", 1));
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace cdp::pipeline::internal
