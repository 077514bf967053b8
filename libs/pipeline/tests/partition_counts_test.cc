#include "cdp/pipeline/internal/partition_counts.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdp/core/engine.h"
#include "cdp/v1/customer_profile.pb.h"
#include "test_support.h"

namespace cdp::pipeline::internal {
namespace {

using test_support::TestDir;

// Every kind of field, so that the digest skips each wire type around the fields it reads.
v1::CustomerProfile FullProfile() {
  v1::CustomerProfile profile;
  profile.set_customer_id("c-1");
  profile.set_orders_total(300);
  profile.set_monetary_total(-1'234'567);  // a negative varint takes ten bytes
  profile.set_paid_total(99);
  (*profile.mutable_category_quantity())["shoes"] = 3;
  profile.mutable_first_purchase_at()->set_seconds(1'600'000'000);
  profile.mutable_last_purchase_at()->set_seconds(1'700'000'123);
  profile.mutable_last_purchase_at()->set_nanos(456);
  profile.set_interactions_total(12);
  auto* daily = profile.add_daily();
  daily->set_day(19'000);
  daily->set_orders(2);
  profile.add_recent_orders()->set_order_id("o-1");
  profile.set_region("EU");
  (*profile.mutable_attributes())["vip"] = "yes";
  profile.add_tags("gold");
  (*profile.mutable_consent())["email"] = true;
  profile.add_segments("buyer");
  profile.add_segments("high_value");
  auto* tier = profile.add_tiers();
  tier->set_dimension("lifecycle");
  tier->set_tier("active");
  tier = profile.add_tiers();
  tier->set_dimension("value");
  tier->set_tier("gold");
  profile.mutable_last_event_at()->set_seconds(1'700'000'200);
  profile.set_events_applied(312);
  profile.mutable_timer_due_at()->set_seconds(1'702'592'123);
  profile.mutable_timer_due_at()->set_nanos(7);
  auto* history = profile.add_membership_history();
  history->set_id("buyer");
  history->mutable_history()->mutable_last_entered_at()->set_seconds(1'600'000'000);
  auto* applied = profile.add_applied_events();
  applied->set_event_id("e-1");
  applied->set_expires_at_us(1'700'604'800'000'000);
  profile.mutable_erased_at()->set_seconds(1'500'000'000);
  return profile;
}

// What the digest must equal: the same values read from the parsed message.
void ExpectDigestOf(const v1::CustomerProfile& profile, const ProfileDigest& digest) {
  EXPECT_EQ(digest.timer_due, core::TimerDue(profile));
  EXPECT_EQ(digest.rfm, core::SampleOf(profile));
  std::vector<std::string> segments(digest.segments.begin(), digest.segments.end());
  EXPECT_EQ(segments,
            std::vector<std::string>(profile.segments().begin(), profile.segments().end()));
  std::vector<std::pair<std::string, std::string>> tiers;
  for (const auto& [dimension, tier] : digest.tiers) tiers.emplace_back(dimension, tier);
  std::vector<std::pair<std::string, std::string>> expected_tiers;
  for (const auto& held : profile.tiers())
    expected_tiers.emplace_back(held.dimension(), held.tier());
  EXPECT_EQ(tiers, expected_tiers);
}

// `bytes` parse, and their digest is what the parsed message holds.
void ExpectDigestAsParsed(const std::string& bytes) {
  v1::CustomerProfile parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  ProfileDigest digest;
  ASSERT_TRUE(DigestProfile(bytes, digest));
  ExpectDigestOf(parsed, digest);
}

TEST(ProfileDigestTest, ReadsTheFieldsATimerAndTheCountsNeedAsTheParsedProfileHoldsThem) {
  const v1::CustomerProfile profile = FullProfile();
  const std::string bytes = profile.SerializeAsString();  // the digest's views point into it
  ProfileDigest digest;
  ASSERT_TRUE(DigestProfile(bytes, digest));
  ASSERT_TRUE(digest.timer_due.has_value());
  EXPECT_EQ(*digest.timer_due, absl::FromUnixSeconds(1'702'592'123) + absl::Nanoseconds(7));
  ASSERT_TRUE(digest.rfm.has_value());
  EXPECT_EQ(digest.rfm->last_purchase_day, 1'700'000'123 / 86'400);
  ExpectDigestOf(profile, digest);
}

TEST(ProfileDigestTest, AnEmptyProfileHasNoTimerNoSampleAndNoMemberships) {
  ProfileDigest digest;
  digest.segments.emplace_back("left over from the previous profile");
  ASSERT_TRUE(DigestProfile("", digest));
  EXPECT_FALSE(digest.timer_due.has_value());
  EXPECT_FALSE(digest.rfm.has_value());
  EXPECT_TRUE(digest.segments.empty());
  EXPECT_TRUE(digest.tiers.empty());
}

TEST(ProfileDigestTest, AFieldThatOccursTwiceIsMergedAsTheParserMergesIt) {
  // Serialized messages concatenated parse as one, the later fields merged into the earlier.
  v1::CustomerProfile first = FullProfile();
  v1::CustomerProfile second;
  second.set_orders_total(7);
  second.mutable_timer_due_at()->set_seconds(1'800'000'000);  // nanos stay the first's
  second.mutable_last_purchase_at()->set_nanos(1);            // seconds stay the first's
  second.add_segments("late");
  second.add_tiers()->set_tier("no dimension");
  ExpectDigestAsParsed(first.SerializeAsString() + second.SerializeAsString());
}

TEST(ProfileDigestTest, AReadFieldWithAnotherWireTypeIsSkippedAsAnUnknownField) {
  // orders_total (2) as bytes, segments (33) as a varint, timer_due_at (37) as a fixed64.
  const std::string bytes = std::string("\x12\x01x", 3) + std::string("\x88\x02\x05", 3) +
                            std::string("\xa9\x02\x01\x02\x03\x04\x05\x06\x07\x08", 10);
  ExpectDigestAsParsed(bytes);
}

TEST(ProfileDigestTest, AcceptsExactlyThePrefixesOfAProfileThatParse) {
  const std::string bytes = FullProfile().SerializeAsString();
  int accepted = 0;
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    const std::string prefix = bytes.substr(0, length);
    v1::CustomerProfile parsed;
    const bool parses = parsed.ParseFromString(prefix);
    ProfileDigest digest;
    ASSERT_EQ(DigestProfile(prefix, digest), parses) << "the first " << length << " bytes";
    if (parses) {
      ++accepted;
      ExpectDigestOf(parsed, digest);
    }
  }
  EXPECT_GT(accepted, 10);  // the prefixes that end between two fields
}

TEST(ProfileDigestTest, RefusesMalformedTags) {
  ProfileDigest digest;
  EXPECT_FALSE(DigestProfile(std::string("\x00\x01", 2), digest));  // field number 0
  EXPECT_FALSE(DigestProfile("\x0b", digest));                      // a group (wire type 3)
  EXPECT_FALSE(DigestProfile("\x0e\x01", digest));                  // wire type 6
  EXPECT_FALSE(DigestProfile("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", digest));
}

TEST(MemberTallyTest, CountsEachSegmentAndEachDimensionsTierAndAddsToWhatIsThere) {
  v1::CustomerProfile profile = FullProfile();
  const std::string one = profile.SerializeAsString();
  profile.clear_tiers();
  profile.add_tiers()->set_tier("dimensionless");
  const std::string other = profile.SerializeAsString();
  MemberTally tally;
  ProfileDigest digest;
  for (const std::string* bytes : {&one, &one, &other}) {
    ASSERT_TRUE(DigestProfile(*bytes, digest));
    tally.Add(digest);
  }
  google::protobuf::Map<std::string, std::int64_t> members;
  members["buyer"] = 10;
  tally.AddTo(members);
  const std::map<std::string, std::int64_t> counted(members.begin(), members.end());
  EXPECT_EQ(counted, (std::map<std::string, std::int64_t>{{"buyer", 13},
                                                          {"high_value", 3},
                                                          {"lifecycle/active", 2},
                                                          {"value/gold", 2},
                                                          {"dimensionless", 1}}));
}

TEST(ProfileDigestTest, ForEachProfileDigestVisitsAPartitionsProfilesAndReportsOneThatDoesNotScan) {
  std::filesystem::remove_all(TestDir());
  auto store = state::Store::Open({.path = TestDir().string()});
  ASSERT_TRUE(store.ok()) << store.status();
  state::Store::Batch batch;
  batch.PutSerializedProfile(Partition(3), "a", FullProfile().SerializeAsString());
  batch.PutSerializedProfile(Partition(3), "b", "");
  batch.PutSerializedProfile(Partition(4), "c", FullProfile().SerializeAsString());
  ASSERT_TRUE((*store)->Commit(batch).ok());
  std::vector<std::string> visited;
  std::vector<bool> timed;
  ASSERT_TRUE(ForEachProfileDigest(**store, Partition(3),
                                   [&](std::string_view customer_id, const ProfileDigest& digest) {
                                     visited.emplace_back(customer_id);
                                     timed.push_back(digest.timer_due.has_value());
                                     return true;
                                   })
                  .ok());
  EXPECT_EQ(visited, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(timed, (std::vector<bool>{true, false}));

  batch.PutSerializedProfile(Partition(4), "d", "\x0b");
  ASSERT_TRUE((*store)->Commit(batch).ok());
  const absl::Status scanned = ForEachProfileDigest(
      **store, Partition(4), [](std::string_view, const ProfileDigest&) { return true; });
  EXPECT_EQ(scanned.code(), absl::StatusCode::kDataLoss) << scanned;
  EXPECT_NE(scanned.message().find("partition 4"), std::string_view::npos) << scanned;
}

}  // namespace
}  // namespace cdp::pipeline::internal
