#include "cdp/core/memberships.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace cdp::core {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Dimensions(const v1::CustomerProfile& profile) {
  std::vector<std::string> dimensions;
  for (const auto& held : profile.tiers()) dimensions.push_back(held.dimension());
  return dimensions;
}

std::vector<std::string> HistoryIds(const v1::CustomerProfile& profile) {
  std::vector<std::string> ids;
  for (const auto& entry : profile.membership_history()) ids.push_back(entry.id());
  return ids;
}

TEST(MembershipsTest, TiersAreSetReplacedAndClearedInDimensionOrder) {
  v1::CustomerProfile profile;
  EXPECT_EQ(HeldTier(profile, "value"), "");
  SetHeldTier(profile, "value", "high");
  SetHeldTier(profile, "lifecycle", "new");
  SetHeldTier(profile, "region", "east");
  EXPECT_THAT(Dimensions(profile), ElementsAre("lifecycle", "region", "value"));
  SetHeldTier(profile, "lifecycle", "active");
  EXPECT_THAT(Dimensions(profile), ElementsAre("lifecycle", "region", "value"));
  EXPECT_EQ(HeldTier(profile, "lifecycle"), "active");
  EXPECT_EQ(HeldTier(profile, "value"), "high");
  ClearHeldTier(profile, "region");
  ClearHeldTier(profile, "unknown");
  EXPECT_THAT(Dimensions(profile), ElementsAre("lifecycle", "value"));
  EXPECT_EQ(HeldTier(profile, "region"), "");
}

TEST(MembershipsTest, HistoriesAreAddedOnceInIdOrder) {
  v1::CustomerProfile profile;
  EXPECT_EQ(HistoryOf(profile, "loyal"), nullptr);
  MutableHistoryOf(profile, "won_back").mutable_last_entered_at()->set_seconds(10);
  MutableHistoryOf(profile, "loyal").mutable_last_entered_at()->set_seconds(20);
  MutableHistoryOf(profile, "won_back").mutable_last_exited_at()->set_seconds(30);
  EXPECT_THAT(HistoryIds(profile), ElementsAre("loyal", "won_back"));
  ASSERT_NE(HistoryOf(profile, "won_back"), nullptr);
  EXPECT_EQ(HistoryOf(profile, "won_back")->last_entered_at().seconds(), 10);
  EXPECT_EQ(HistoryOf(profile, "won_back")->last_exited_at().seconds(), 30);
  EXPECT_EQ(HistoryOf(profile, "loyal")->last_entered_at().seconds(), 20);
}

// A map entry on the wire: a nested message of key (field 1) and value (field 2).
void WriteMapEntry(google::protobuf::io::CodedOutputStream& out, int field, const std::string& key,
                   const std::string& value_bytes) {
  std::string entry;
  {
    google::protobuf::io::StringOutputStream entry_stream(&entry);
    google::protobuf::io::CodedOutputStream entry_out(&entry_stream);
    entry_out.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
        1, google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    entry_out.WriteVarint32(static_cast<std::uint32_t>(key.size()));
    entry_out.WriteString(key);
    entry_out.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
        2, google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    entry_out.WriteVarint32(static_cast<std::uint32_t>(value_bytes.size()));
    entry_out.WriteString(value_bytes);
  }
  out.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
      field, google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
  out.WriteVarint32(static_cast<std::uint32_t>(entry.size()));
  out.WriteString(entry);
}

// Profiles stored by versions that kept tiers, membership history and recent orders in protobuf
// maps read the same: a map is encoded as a list of key/value messages.
TEST(MembershipsTest, AProfileStoredWithMapsReadsTheSame) {
  v1::CustomerProfile::MembershipHistory history;
  history.mutable_last_entered_at()->set_seconds(1'700'000'000);
  v1::CustomerProfile::OrderDay placed;
  placed.set_day(19'800);
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    WriteMapEntry(out, v1::CustomerProfile::kTiersFieldNumber, "value", "high");
    WriteMapEntry(out, v1::CustomerProfile::kTiersFieldNumber, "lifecycle", "loyal");
    WriteMapEntry(out, v1::CustomerProfile::kMembershipHistoryFieldNumber, "loyal",
                  history.SerializeAsString());
    WriteMapEntry(out, v1::CustomerProfile::kRecentOrdersFieldNumber, "o1",
                  placed.SerializeAsString());
  }
  v1::CustomerProfile profile;
  ASSERT_TRUE(profile.ParseFromString(bytes));
  EXPECT_EQ(HeldTier(profile, "value"), "high");
  EXPECT_EQ(HeldTier(profile, "lifecycle"), "loyal");
  ASSERT_NE(HistoryOf(profile, "loyal"), nullptr);
  EXPECT_EQ(HistoryOf(profile, "loyal")->last_entered_at().seconds(), 1'700'000'000);
  ASSERT_EQ(profile.recent_orders_size(), 1);
  EXPECT_EQ(profile.recent_orders(0).order_id(), "o1");
  EXPECT_EQ(profile.recent_orders(0).placed().day(), 19'800);
  // A tier set on such a profile replaces its entry rather than adding a second one.
  SetHeldTier(profile, "value", "low");
  EXPECT_EQ(profile.tiers_size(), 2);
  EXPECT_EQ(HeldTier(profile, "value"), "low");
}

}  // namespace
}  // namespace cdp::core
