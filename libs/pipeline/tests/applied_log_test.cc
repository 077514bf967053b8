#include "cdp/pipeline/internal/applied_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace cdp::pipeline::internal {
namespace {

using ::testing::ElementsAre;

v1::CustomerProfile WithApplied(const std::vector<std::pair<std::string, std::int64_t>>& events) {
  v1::CustomerProfile profile;
  profile.set_customer_id("c1");
  for (const auto& [id, expires_at_us] : events) {
    v1::AppliedEvent& applied = *profile.add_applied_events();
    applied.set_event_id(id);
    applied.set_expires_at_us(expires_at_us);
  }
  return profile;
}

// The bytes AppendTo gives, parsed with the rest of the profile.
v1::CustomerProfile Reparsed(const v1::CustomerProfile& profile, const AppliedLog& log) {
  std::string bytes = profile.SerializeAsString();
  log.AppendTo(bytes);
  v1::CustomerProfile parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  return parsed;
}

TEST(AppliedLog, TakesTheProfilesAppliedEventsOutOfIt) {
  v1::CustomerProfile profile = WithApplied({{"e1", 100}, {"e2", 200}});
  AppliedLog log;
  log.TakeFrom(profile);
  EXPECT_EQ(profile.applied_events_size(), 0);
  EXPECT_EQ(profile.customer_id(), "c1");
  EXPECT_THAT(log.EventIds(), ElementsAre("e1", "e2"));
  // Again: nothing left to take, nothing taken twice.
  log.TakeFrom(profile);
  EXPECT_EQ(log.size(), 2u);
}

TEST(AppliedLog, ContainsAnEventOnlyWhileItsWindowLasts) {
  AppliedLog log;
  log.Add("e1", 100, 0);
  log.Add("e2", 200, 0);
  EXPECT_TRUE(log.Contains("e1", 99));
  EXPECT_FALSE(log.Contains("e1", 100));
  EXPECT_TRUE(log.Contains("e2", 100));
  EXPECT_FALSE(log.Contains("e3", 0));
  EXPECT_FALSE(log.Contains("e", 0));
  EXPECT_FALSE(log.Contains("", 0));
}

TEST(AppliedLog, AddDropsTheEventsWhoseWindowEnded) {
  AppliedLog log;
  log.Add("e1", 100, 0);
  log.Add("e2", 300, 0);
  log.Add("e3", 150, 0);
  log.Add("e4", 400, 150);
  EXPECT_THAT(log.EventIds(), ElementsAre("e2", "e4"));
  EXPECT_TRUE(log.Contains("e2", 150));
  EXPECT_TRUE(log.Contains("e4", 150));
  EXPECT_FALSE(log.Contains("e1", 0));
  EXPECT_FALSE(log.Contains("e3", 0));
}

TEST(AppliedLog, AddKeepsEverythingWhileTheOldestWindowLasts) {
  AppliedLog log;
  log.Add("e1", 300, 0);
  // An expired entry behind a live first one stays until the first expires, as in the message.
  log.Add("e2", 100, 0);
  log.Add("e3", 400, 200);
  EXPECT_THAT(log.EventIds(), ElementsAre("e1", "e2", "e3"));
  EXPECT_FALSE(log.Contains("e2", 200));
}

TEST(AppliedLog, ALongLogTellsItsEventsAlike) {
  AppliedLog log;
  const auto id = [](int i) { return absl::StrCat("e", i); };
  const int events = 3 * static_cast<int>(AppliedLog::kIndexedFrom);
  // Expiring in order: the first half's windows end at 100.
  for (int i = 0; i < events; ++i) log.Add(id(i), i < events / 2 ? 100 : 200, 0);
  for (int i = 0; i < events; ++i) EXPECT_TRUE(log.Contains(id(i), 99)) << i;
  EXPECT_FALSE(log.Contains(id(events), 0));
  EXPECT_FALSE(log.Contains(id(0), 100));
  EXPECT_TRUE(log.Contains(id(events - 1), 100));

  log.Add(id(events), 300, 100);
  EXPECT_EQ(log.size(), static_cast<std::size_t>(events / 2 + 1));
  EXPECT_FALSE(log.Contains(id(0), 0));
  for (int i = events / 2; i <= events; ++i) EXPECT_TRUE(log.Contains(id(i), 100)) << i;

  log.Clear();
  EXPECT_FALSE(log.Contains(id(events), 0));
  log.Add(id(1), 100, 0);
  EXPECT_TRUE(log.Contains(id(1), 0));
  EXPECT_FALSE(log.Contains(id(2), 0));
}

TEST(AppliedLog, WritesTheSameFieldTheMessageWould) {
  v1::CustomerProfile profile = WithApplied(
      {{"e1", 1'700'000'000'000'000}, {"", 5}, {"e3", 0}, {"long-" + std::string(200, 'x'), -1}});
  const v1::CustomerProfile original = profile;
  AppliedLog log;
  log.TakeFrom(profile);
  EXPECT_EQ(Reparsed(profile, log).SerializeAsString(), original.SerializeAsString());
  EXPECT_EQ(log.size(), 4u);
}

TEST(AppliedLog, AppendsAfterEventsStillInTheMessage) {
  v1::CustomerProfile profile = WithApplied({{"e1", 100}});
  AppliedLog log;
  log.Add("e2", 200, 0);
  const v1::CustomerProfile parsed = Reparsed(profile, log);
  ASSERT_EQ(parsed.applied_events_size(), 2);
  EXPECT_EQ(parsed.applied_events(0).event_id(), "e1");
  EXPECT_EQ(parsed.applied_events(1).event_id(), "e2");
  EXPECT_EQ(parsed.applied_events(1).expires_at_us(), 200);
}

TEST(AppliedLog, AnEmptyLogWritesNothing) {
  AppliedLog log;
  std::string bytes = "abc";
  log.AppendTo(bytes);
  EXPECT_EQ(bytes, "abc");
  log.Add("e1", 100, 0);
  log.Clear();
  log.AppendTo(bytes);
  EXPECT_EQ(bytes, "abc");
  EXPECT_FALSE(log.Contains("e1", 0));
}

}  // namespace
}  // namespace cdp::pipeline::internal
