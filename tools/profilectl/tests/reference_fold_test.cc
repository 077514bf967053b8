#include "reference_fold.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cdp/core/memberships.h"
#include "cdp/rules/catalogue.h"

namespace cdp::profilectl {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr std::string_view kCatalogue = R"(
segments:
  - id: buyer
    when: orders_total >= 1
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: active, when: "orders_total >= 1"}
)";

absl::Time At(const std::string& rfc3339) {
  absl::Time time;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &time, &error)) << error;
  return time;
}

std::string Purchase(const std::string& event_id, const std::string& customer,
                     const std::string& at, int amount = 10000) {
  return R"({"event_id": ")" + event_id + R"(", "customer_id": ")" + customer +
         R"(", "occurred_at": ")" + at + R"(", "purchase": {"order_id": "o-)" + event_id +
         R"(", "total_amount": )" + std::to_string(amount) + "}}";
}

std::string Interaction(const std::string& event_id, const std::string& customer,
                        const std::string& at) {
  return R"({"event_id": ")" + event_id + R"(", "customer_id": ")" + customer +
         R"(", "occurred_at": ")" + at + R"(", "interaction": {"type": "page_view"}})";
}

std::string Erasure(const std::string& event_id, const std::string& customer,
                    const std::string& at) {
  return R"({"event_id": ")" + event_id + R"(", "customer_id": ")" + customer +
         R"(", "occurred_at": ")" + at + R"(", "erasure": {}})";
}

EventRecord Record(int partition, std::int64_t offset, std::optional<std::string> value,
                   std::string content_type = "") {
  return EventRecord{Partition(partition), offset, std::move(value), std::move(content_type)};
}

// (segment, dimension, direction, cause_event_id) of each change, for matching.
using ChangeView = std::tuple<std::string, std::string, std::string, std::string>;

std::vector<ChangeView> Views(const std::vector<v1::SegmentChange>& changes) {
  std::vector<ChangeView> views;
  for (const v1::SegmentChange& change : changes) {
    views.emplace_back(change.segment(), change.dimension(),
                       v1::SegmentChange::Direction_Name(change.direction()),
                       change.cause_event_id());
  }
  return views;
}

class ReferenceFoldTest : public ::testing::Test {
 protected:
  ReferenceFoldTest() {
    auto catalogue = rules::ParseSegmentCatalogue(kCatalogue, "test.yaml");
    EXPECT_TRUE(catalogue.ok()) << catalogue.status();
    engine_ = std::make_unique<core::Engine>(
        std::make_shared<const rules::SegmentCatalogue>(*std::move(catalogue)),
        core::EngineOptions{});
  }

  ReferenceFold MakeFold(ClockMode clock, const std::string& now,
                         absl::Duration retention = absl::Hours(7 * 24),
                         std::optional<FoldRouting> routing = std::nullopt) {
    return ReferenceFold(*engine_, FoldOptions{.clock = clock,
                                               .validation_now = At(now),
                                               .dedup_retention = retention,
                                               .decode = {},
                                               .routing = routing});
  }

  static Outcome Consume(ReferenceFold& fold, const EventRecord& record) {
    auto outcome = fold.Consume(record);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.value_or(Outcome::kRejected);
  }

  static const v1::CustomerProfile& ProfileOf(const ReferenceFold& fold, int partition,
                                              const std::string& customer) {
    static const v1::CustomerProfile kNone;
    auto it = fold.profiles().find({Partition(partition), customer});
    EXPECT_NE(it, fold.profiles().end()) << customer << " in partition " << partition;
    return it == fold.profiles().end() ? kNone : it->second;
  }

  std::unique_ptr<core::Engine> engine_;
};

TEST_F(ReferenceFoldTest, AppliesEventsAndCollectsTheirChanges) {
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-03-02T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 0, Purchase("e1", "c1", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
  const v1::CustomerProfile& profile = ProfileOf(fold, 0, "c1");
  EXPECT_EQ(profile.orders_total(), 1);
  EXPECT_EQ(profile.events_applied(), 1);
  EXPECT_THAT(Views(fold.changes()),
              UnorderedElementsAre(ChangeView{"buyer", "", "entered", "e1"},
                                   ChangeView{"active", "lifecycle", "entered", "e1"}));
  EXPECT_THAT(fold.rejects(), IsEmpty());
}

TEST_F(ReferenceFoldTest, ARepeatedEventIdIsAppliedOncePerPartition) {
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-03-02T00:00:00Z");
  const std::string event = Purchase("e1", "c1", "2024-03-01T10:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 0, event)), Outcome::kApplied);
  EXPECT_EQ(Consume(fold, Record(0, 1, event)), Outcome::kDuplicate);
  // State is per partition: the same event elsewhere is another customer's history.
  EXPECT_EQ(Consume(fold, Record(1, 0, event)), Outcome::kApplied);
  EXPECT_EQ(ProfileOf(fold, 0, "c1").events_applied(), 1);
  EXPECT_EQ(ProfileOf(fold, 1, "c1").events_applied(), 1);
  EXPECT_EQ(fold.changes().size(), 4u);
}

TEST_F(ReferenceFoldTest, WithRoutingEventsApplyInTheirCustomersPartition) {
  constexpr std::int32_t kPartitions = 4;
  ReferenceFold fold = MakeFold(ClockMode::kEventTime, "2024-03-02T00:00:00Z", absl::Hours(7 * 24),
                                FoldRouting{.partitions = kPartitions});
  const int home = PartitionFor("c1", kPartitions, Partitioner::kMurmur2).value();
  const int away = (home + 1) % kPartitions;
  const std::string event = Purchase("e1", "c1", "2024-03-01T10:00:00Z");
  EXPECT_EQ(Consume(fold, Record(away, 0, event)), Outcome::kApplied);
  // Retried through another partition, still the same customer's event.
  EXPECT_EQ(Consume(fold, Record((home + 2) % kPartitions, 0, event)), Outcome::kDuplicate);
  EXPECT_EQ(Consume(fold, Record(home, 0, event)), Outcome::kDuplicate);
  EXPECT_EQ(fold.profiles().size(), 1u);
  EXPECT_EQ(ProfileOf(fold, home, "c1").events_applied(), 1);
  // Invalid records are rejected where they arrive.
  EXPECT_EQ(Consume(fold, Record(away, 1, "not json")), Outcome::kRejected);
  ASSERT_EQ(fold.rejects().size(), 1u);
  EXPECT_EQ(fold.rejects()[0].partition, Partition(away));
}

TEST_F(ReferenceFoldTest, DedupEntriesExpireAfterTheRetention) {
  for (const auto& [retention, expected] : {std::pair{absl::Hours(7 * 24), Outcome::kApplied},
                                            std::pair{absl::Hours(30 * 24), Outcome::kDuplicate}}) {
    ReferenceFold fold = MakeFold(ClockMode::kEventTime, "2024-06-01T00:00:00Z", retention);
    const std::string event = Interaction("e1", "c1", "2024-01-01T00:00:00Z");
    EXPECT_EQ(Consume(fold, Record(0, 0, event)), Outcome::kApplied);
    EXPECT_EQ(Consume(fold, Record(0, 1, Interaction("e2", "c2", "2024-01-20T00:00:00Z"))),
              Outcome::kApplied);
    EXPECT_EQ(Consume(fold, Record(0, 2, event)), expected) << retention;
  }
}

TEST_F(ReferenceFoldTest, RejectsBadRecordsWithTheirReasonAndGoesOn) {
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-03-02T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(3, 10, std::nullopt)), Outcome::kRejected);
  EXPECT_EQ(Consume(fold, Record(3, 11, std::string("\0garbage", 8))), Outcome::kRejected);
  EXPECT_EQ(Consume(fold, Record(3, 12, Purchase("e1", "c1", "2024-03-01T10:00:00Z", -5))),
            Outcome::kRejected);
  EXPECT_EQ(Consume(fold, Record(3, 13, Purchase("e2", "c1", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
  std::vector<std::tuple<int, std::int64_t, std::string_view>> rejects;
  for (const RejectedRecord& reject : fold.rejects()) {
    rejects.emplace_back(reject.partition.value(), reject.offset,
                         core::ReasonName(reject.rejection.reason));
  }
  EXPECT_THAT(rejects,
              ElementsAre(std::tuple{3, 10, "empty_value"}, std::tuple{3, 11, "undecodable"},
                          std::tuple{3, 12, "negative_amount"}));
  EXPECT_EQ(ProfileOf(fold, 3, "c1").events_applied(), 1);
}

TEST_F(ReferenceFoldTest, TimestampBoundsUseTheWallClockEvenInEventTime) {
  ReferenceFold fold = MakeFold(ClockMode::kEventTime, "2024-03-02T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 0, Purchase("e1", "c1", "2024-03-05T00:00:00Z"))),
            Outcome::kRejected);
  ASSERT_EQ(fold.rejects().size(), 1u);
  EXPECT_EQ(fold.rejects()[0].rejection.reason, core::RejectReason::kTimestampOutOfRange);
}

TEST_F(ReferenceFoldTest, EventTimeNowIsTheLatestOccurredAtInThePartition) {
  ReferenceFold fold = MakeFold(ClockMode::kEventTime, "2025-01-01T00:00:00Z");
  for (int partition : {0, 1}) {
    EXPECT_EQ(Consume(fold, Record(partition, 0, Purchase("e1", "c1", "2024-01-01T00:00:00Z"))),
              Outcome::kApplied);
  }
  // Only partition 0 sees time move on, through another customer.
  EXPECT_EQ(Consume(fold, Record(0, 1, Interaction("e2", "c2", "2024-08-01T00:00:00Z"))),
            Outcome::kApplied);
  // A late event is applied at the partition's "now", not at its own occurred_at.
  for (int partition : {0, 1}) {
    EXPECT_EQ(Consume(fold, Record(partition, 2, Interaction("e3", "c1", "2024-01-02T00:00:00Z"))),
              Outcome::kApplied);
  }
  EXPECT_EQ(ProfileOf(fold, 0, "c1").tiers_size(), 1);
  EXPECT_EQ(core::HeldTier(ProfileOf(fold, 0, "c1"), "lifecycle"), "churned");
  EXPECT_EQ(ProfileOf(fold, 1, "c1").tiers_size(), 1);
  EXPECT_EQ(core::HeldTier(ProfileOf(fold, 1, "c1"), "lifecycle"), "active");
}

TEST_F(ReferenceFoldTest, WallClockModeAppliesEveryEventAtNow) {
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-12-01T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 0, Purchase("e1", "c1", "2024-01-01T00:00:00Z"))),
            Outcome::kApplied);
  EXPECT_EQ(ProfileOf(fold, 0, "c1").tiers_size(), 1);
  EXPECT_EQ(core::HeldTier(ProfileOf(fold, 0, "c1"), "lifecycle"), "churned");
}

TEST_F(ReferenceFoldTest, ErasureDeletesTheProfileAndALaterEventStartsAfresh) {
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-03-02T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 0, Purchase("e1", "c1", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
  EXPECT_EQ(Consume(fold, Record(0, 1, Erasure("e2", "c1", "2024-03-01T11:00:00Z"))),
            Outcome::kApplied);
  EXPECT_THAT(fold.profiles(), IsEmpty());
  EXPECT_THAT(Views(fold.changes()),
              UnorderedElementsAre(ChangeView{"buyer", "", "entered", "e1"},
                                   ChangeView{"active", "lifecycle", "entered", "e1"},
                                   ChangeView{"buyer", "", "exited", "e2"},
                                   ChangeView{"active", "lifecycle", "exited", "e2"}));
  EXPECT_EQ(Consume(fold, Record(0, 2, Interaction("e3", "c1", "2024-03-01T12:00:00Z"))),
            Outcome::kApplied);
  EXPECT_EQ(ProfileOf(fold, 0, "c1").events_applied(), 1);
  EXPECT_EQ(ProfileOf(fold, 0, "c1").orders_total(), 0);
}

TEST_F(ReferenceFoldTest, AfterAnErasureTheCustomersOlderEventsAndRetriesAreRefused) {
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-03-02T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 0, Purchase("e1", "c1", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
  EXPECT_EQ(Consume(fold, Record(0, 1, Erasure("x1", "c1", "2024-03-01T11:00:00Z"))),
            Outcome::kApplied);
  // The retry is not a duplicate any more: the erasure forgot it.
  EXPECT_EQ(Consume(fold, Record(0, 2, Purchase("e1", "c1", "2024-03-01T10:00:00Z"))),
            Outcome::kRejected);
  EXPECT_EQ(Consume(fold, Record(0, 3, Purchase("e2", "c1", "2024-03-01T10:59:59Z"))),
            Outcome::kRejected);
  EXPECT_EQ(Consume(fold, Record(0, 4, Erasure("x1", "c1", "2024-03-01T11:00:00Z"))),
            Outcome::kDuplicate);
  // Another customer's event of the same time is not concerned.
  EXPECT_EQ(Consume(fold, Record(0, 5, Purchase("e3", "c2", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
  EXPECT_EQ(Consume(fold, Record(0, 6, Purchase("e4", "c1", "2024-03-01T12:00:00Z"))),
            Outcome::kApplied);
  // Not older than the erasure: the same instant belongs to the new profile.
  EXPECT_EQ(Consume(fold, Record(0, 7, Interaction("e5", "c1", "2024-03-01T11:00:00Z"))),
            Outcome::kApplied);
  ASSERT_EQ(fold.rejects().size(), 2u);
  EXPECT_EQ(fold.rejects()[0].rejection.reason, core::RejectReason::kErased);
  EXPECT_EQ(fold.rejects()[0].offset, 2);
  EXPECT_EQ(fold.rejects()[1].offset, 3);
  EXPECT_EQ(ProfileOf(fold, 0, "c1").orders_total(), 1);
  EXPECT_EQ(absl::FromUnixSeconds(ProfileOf(fold, 0, "c1").erased_at().seconds()),
            At("2024-03-01T11:00:00Z"));
  EXPECT_FALSE(ProfileOf(fold, 0, "c2").has_erased_at());
}

TEST_F(ReferenceFoldTest, RecordsOutOfConsumptionOrderAreAnError) {
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-03-02T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 5, Purchase("e1", "c1", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
  const auto repeated = fold.Consume(Record(0, 5, Purchase("e2", "c1", "2024-03-01T10:00:00Z")));
  EXPECT_FALSE(repeated.ok());
  EXPECT_EQ(ProfileOf(fold, 0, "c1").events_applied(), 1);
  // Offsets may skip (compaction, transaction markers) and partitions interleave.
  EXPECT_EQ(Consume(fold, Record(1, 0, Purchase("e3", "c2", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
  EXPECT_EQ(Consume(fold, Record(0, 9, Purchase("e4", "c1", "2024-03-01T10:00:00Z"))),
            Outcome::kApplied);
}

TEST_F(ReferenceFoldTest, AJsonContentTypeMakesBinaryBytesUndecodable) {
  v1::CustomerEvent event;
  event.set_event_id("e1");
  event.set_customer_id("c1");
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(At("2024-03-01T10:00:00Z")));
  event.mutable_interaction()->set_type(v1::Interaction::like);
  const std::string binary = event.SerializeAsString();
  ReferenceFold fold = MakeFold(ClockMode::kWall, "2024-03-02T00:00:00Z");
  EXPECT_EQ(Consume(fold, Record(0, 0, binary, "application/json")), Outcome::kRejected);
  EXPECT_EQ(Consume(fold, Record(0, 1, binary)), Outcome::kApplied);
  ASSERT_EQ(fold.rejects().size(), 1u);
  EXPECT_EQ(fold.rejects()[0].rejection.reason, core::RejectReason::kUndecodable);
}

}  // namespace
}  // namespace cdp::profilectl
