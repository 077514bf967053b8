#include "profile_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cdp::profilectl {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ProfileJsonTest, PartitionFirstThenSnakeCaseFieldsWithDefaults) {
  v1::CustomerProfile profile;
  profile.set_customer_id("c1");
  profile.set_orders_total(3);
  const auto line = ProfileJsonLine(Partition(5), profile);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, StartsWith(R"({"partition":5,"customer_id":"c1","orders_total":"3",)"));
  EXPECT_THAT(*line, HasSubstr(R"("events_applied":"0")"));
  EXPECT_EQ(line->find('\n'), std::string::npos);
}

TEST(ProfileJsonTest, EqualProfilesGiveIdenticalLinesWhateverTheirMapHistory) {
  v1::CustomerProfile forward;
  v1::CustomerProfile backward;
  const std::vector<std::string> channels = {"app", "email", "sms", "wechat", "web", "store"};
  for (const std::string& channel : channels) (*forward.mutable_consent())[channel] = true;
  for (auto it = channels.rbegin(); it != channels.rend(); ++it) {
    (*backward.mutable_consent())["scratch-" + *it] = false;
    (*backward.mutable_consent())[*it] = true;
  }
  for (const std::string& channel : channels)
    backward.mutable_consent()->erase("scratch-" + channel);
  const auto a = ProfileJsonLine(Partition(0), forward);
  const auto b = ProfileJsonLine(Partition(0), backward);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_THAT(
      *a,
      HasSubstr(
          R"("consent":{"app":true,"email":true,"sms":true,"store":true,"web":true,"wechat":true})"));
}

TEST(ProfileJsonTest, AnUnprintableTimestampIsAnError) {
  v1::CustomerProfile profile;
  profile.mutable_last_event_at()->set_seconds(-1'000'000'000'000);
  EXPECT_FALSE(ProfileJsonLine(Partition(0), profile).ok());
}

}  // namespace
}  // namespace cdp::profilectl
