// How Engine::Apply folds events into the stored profile (fields computed from it are tested in
// fields_test.cc, memberships in engine_test.cc).
#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "cdp/core/engine.h"
#include "test_support.h"

namespace cdp::core {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using testing::Envelope;
using ::testing::IsEmpty;
using ::testing::Pair;
using testing::Ts;
using ::testing::UnorderedElementsAre;

std::int64_t Day(int year, int month, int day) {
  return absl::CivilDay(year, month, day) - absl::CivilDay(1970, 1, 1);
}

// (day, orders, monetary, interactions) of every daily bucket, in stored order.
std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>> Buckets(
    const v1::CustomerProfile& profile) {
  std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t>> out;
  for (const auto& b : profile.daily()) {
    out.emplace_back(b.day(), b.orders(), b.monetary(), b.interactions());
  }
  return out;
}

class FoldTest : public ::testing::Test {
 protected:
  explicit FoldTest(std::string_view timezone = "UTC")
      : engine_(testing::EmptyCatalogue(timezone), EngineOptions{}) {}

  // Applies `event` at `now` (default: the event's own time, as in event-time mode).
  void Apply(const v1::CustomerEvent& event, std::optional<absl::Time> now = std::nullopt) {
    std::vector<v1::SegmentChange> changes;
    const absl::Time at = now.value_or(absl::FromUnixSeconds(event.occurred_at().seconds()));
    ASSERT_FALSE(engine_.Validate(event, at)) << event.ShortDebugString();
    EXPECT_FALSE(engine_.Apply(event, at, profile_, changes));
    EXPECT_THAT(changes, IsEmpty()) << "the catalogue has no rules";
  }

  Engine engine_;
  v1::CustomerProfile profile_;
};

TEST_F(FoldTest, PurchaseAddsToTotalsItemsAndItsDay) {
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {
    "order_id": "o1", "total_amount": 9000, "discount_amount": 1000, "coupon_code": "SPRING",
    "items": [{"sku": "a", "category": "toys", "quantity": 2, "unit_price": 3000},
              {"sku": "b", "category": "books", "quantity": 1, "unit_price": 4000},
              {"sku": "c", "quantity": 3, "unit_price": 10}]})"));
  EXPECT_EQ(profile_.customer_id(), "c1");
  EXPECT_EQ(profile_.orders_total(), 1);
  EXPECT_EQ(profile_.paid_total(), 9000);
  EXPECT_EQ(profile_.monetary_total(), 9000);
  EXPECT_EQ(profile_.discount_total(), 1000);
  EXPECT_EQ(profile_.coupon_purchases(), 1);
  EXPECT_EQ(profile_.item_value_total(), 2 * 3000 + 4000 + 3 * 10);
  EXPECT_EQ(profile_.item_quantity_total(), 6);
  // An item without a category counts in the totals but names no category.
  EXPECT_THAT(profile_.category_quantity(),
              UnorderedElementsAre(Pair("toys", 2), Pair("books", 1)));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.first_purchase_at(), Ts("2024-03-01T10:00:00Z")));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_purchase_at(), Ts("2024-03-01T10:00:00Z")));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_activity_at(), Ts("2024-03-01T10:00:00Z")));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_event_at(), Ts("2024-03-01T10:00:00Z")));
  EXPECT_EQ(profile_.events_applied(), 1);
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 3, 1), 1, 9000, 0)));
  ASSERT_EQ(profile_.recent_orders_size(), 1);
  EXPECT_EQ(profile_.recent_orders(0).order_id(), "o1");
  EXPECT_EQ(profile_.recent_orders(0).placed().day(), Day(2024, 3, 1));
}

TEST_F(FoldTest, AnOrderIdSeenAgainKeepsOneEntryWithTheLaterDay) {
  const absl::Time now = testing::At("2024-03-20T00:00:00Z");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z",
                 R"("purchase": {"order_id": "o1", "total_amount": 1000})"),
        now);
  Apply(Envelope("e2", "2024-03-02T10:00:00Z",
                 R"("purchase": {"order_id": "o2", "total_amount": 1000})"),
        now);
  Apply(Envelope("e3", "2024-03-05T10:00:00Z",
                 R"("purchase": {"order_id": "o1", "total_amount": 1000})"),
        now);
  ASSERT_EQ(profile_.recent_orders_size(), 2);
  EXPECT_EQ(profile_.recent_orders(0).order_id(), "o1");
  EXPECT_EQ(profile_.recent_orders(0).placed().day(), Day(2024, 3, 5));
  EXPECT_EQ(profile_.recent_orders(1).order_id(), "o2");
  Apply(Envelope("e4", "2024-03-15T10:00:00Z", R"("refund": {"order_id": "o1", "amount": 400})"),
        now);
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 3, 1), 1, 1000, 0),
                                             std::tuple(Day(2024, 3, 2), 1, 1000, 0),
                                             std::tuple(Day(2024, 3, 5), 1, 600, 0)));
}

TEST_F(FoldTest, PurchaseWithoutCouponOrOrderIdLeavesThoseAlone) {
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 500})"));
  EXPECT_EQ(profile_.coupon_purchases(), 0);
  EXPECT_THAT(profile_.recent_orders(), IsEmpty());
  EXPECT_EQ(profile_.item_quantity_total(), 0);
}

TEST_F(FoldTest, LateEventsMoveFirstPurchaseBackAndKeepBucketsSorted) {
  const absl::Time now = testing::At("2024-03-10T00:00:00Z");
  Apply(Envelope("e1", "2024-03-05T10:00:00Z", R"("purchase": {"total_amount": 100})"), now);
  Apply(Envelope("e2", "2024-03-09T10:00:00Z", R"("purchase": {"total_amount": 200})"), now);
  Apply(Envelope("e3", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 300})"), now);
  Apply(Envelope("e4", "2024-03-07T10:00:00Z", R"("interaction": {"type": "like"})"), now);
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.first_purchase_at(), Ts("2024-03-01T10:00:00Z")));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_purchase_at(), Ts("2024-03-09T10:00:00Z")));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_activity_at(), Ts("2024-03-09T10:00:00Z")));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_event_at(), Ts("2024-03-09T10:00:00Z")));
  EXPECT_THAT(
      Buckets(profile_),
      ElementsAre(std::tuple(Day(2024, 3, 1), 1, 300, 0), std::tuple(Day(2024, 3, 5), 1, 100, 0),
                  std::tuple(Day(2024, 3, 7), 0, 0, 1), std::tuple(Day(2024, 3, 9), 1, 200, 0)));
  EXPECT_EQ(profile_.events_applied(), 4);
}

TEST_F(FoldTest, RefundIsBookedOnTheOriginalOrdersDay) {
  const absl::Time now = testing::At("2024-03-20T00:00:00Z");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z",
                 R"("purchase": {"order_id": "o1", "total_amount": 1000})"),
        now);
  Apply(Envelope("e2", "2024-03-15T10:00:00Z", R"("refund": {"order_id": "o1", "amount": 400})"),
        now);
  EXPECT_EQ(profile_.refunds_total(), 400);
  EXPECT_EQ(profile_.monetary_total(), 600);
  EXPECT_EQ(profile_.paid_total(), 1000);
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 3, 1), 1, 600, 0)));
  // A refund is not activity, but it is an event.
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_activity_at(), Ts("2024-03-01T10:00:00Z")));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_event_at(), Ts("2024-03-15T10:00:00Z")));
}

TEST_F(FoldTest, RefundOfAnUnknownOrderIsBookedOnItsOwnDay) {
  Apply(Envelope("e1", "2024-03-15T10:00:00Z",
                 R"("refund": {"order_id": "elsewhere", "amount": 400})"));
  EXPECT_EQ(profile_.monetary_total(), -400);
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 3, 15), 0, -400, 0)));
  EXPECT_FALSE(profile_.has_last_activity_at());
}

TEST_F(FoldTest, RefundOfAnOrderOlderThanAYearIsBookedOnItsOwnDay) {
  Apply(Envelope("e1", "2023-01-01T10:00:00Z",
                 R"("purchase": {"order_id": "o1", "total_amount": 1000})"));
  Apply(Envelope("e2", "2024-03-15T10:00:00Z", R"("refund": {"order_id": "o1", "amount": 400})"));
  EXPECT_THAT(profile_.recent_orders(), IsEmpty());
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 3, 15), 0, -400, 0)));
}

TEST_F(FoldTest, InteractionsFeedTheirCounters) {
  constexpr std::string_view kAt = "2024-03-01T10:00:00Z";
  for (std::string_view payload : {
           R"("interaction": {"type": "page_view"})",
           R"("interaction": {"type": "coupon_claim"})",
           R"("interaction": {"type": "coupon_claim"})",
           R"("interaction": {"type": "referral", "target_id": "c9"})",
           R"("interaction": {"type": "community_post"})",
           R"("interaction": {"type": "survey_response", "score": 9})",
           R"("interaction": {"type": "survey_response", "score": 0})",
           R"("interaction": {"type": "survey_response"})",
           R"("interaction": {"type": "review", "rating": 4})",
           R"("interaction": {"type": "review"})",
           R"("interaction": {"type": "comment", "rating": 1, "score": 3})",
       }) {
    Apply(Envelope("e", kAt, payload));
  }
  EXPECT_EQ(profile_.interactions_total(), 11);
  EXPECT_EQ(profile_.coupon_claims(), 2);
  EXPECT_EQ(profile_.referrals_total(), 1);
  EXPECT_EQ(profile_.community_posts_total(), 1);
  EXPECT_EQ(profile_.survey_score_sum(), 9);
  EXPECT_EQ(profile_.survey_count(), 2);
  EXPECT_EQ(profile_.review_rating_sum(), 4);
  EXPECT_EQ(profile_.review_count(), 1);
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 3, 1), 0, 0, 11)));
  EXPECT_TRUE(MessageDifferencer::Equals(profile_.last_activity_at(), Ts(kAt)));
  EXPECT_EQ(profile_.orders_total(), 0);
}

TEST_F(FoldTest, ProfileUpdateSetsPresentFieldsAndEmptyClears) {
  constexpr std::string_view kAt = "2024-03-01T10:00:00Z";
  Apply(Envelope("e1", kAt, R"("profile_update": {"birth_date": "1990-05-17", "gender": "f",
        "region": "east", "city": "Hangzhou", "income_band": "high", "membership_level": "gold"})"));
  EXPECT_EQ(profile_.birth_date(), "1990-05-17");
  EXPECT_EQ(profile_.city(), "Hangzhou");
  EXPECT_EQ(profile_.membership_level(), "gold");
  Apply(Envelope("e2", kAt, R"("profile_update": {"city": "", "membership_level": "platinum"})"));
  EXPECT_EQ(profile_.city(), "");
  EXPECT_EQ(profile_.membership_level(), "platinum");
  EXPECT_EQ(profile_.gender(), "f");
  EXPECT_EQ(profile_.region(), "east");
  EXPECT_EQ(profile_.income_band(), "high");
  EXPECT_EQ(profile_.birth_date(), "1990-05-17");
  // Profile updates are not activity.
  EXPECT_FALSE(profile_.has_last_activity_at());
  EXPECT_THAT(profile_.daily(), IsEmpty());
  EXPECT_EQ(profile_.events_applied(), 2);
}

TEST_F(FoldTest, AttributesMergeAndAnEmptyValueRemovesTheKey) {
  constexpr std::string_view kAt = "2024-03-01T10:00:00Z";
  Apply(Envelope(
      "e1", kAt,
      R"("profile_update": {"attributes": {"pet": "cat", "baby_birth_date": "2024-01-02"}})"));
  Apply(Envelope("e2", kAt, R"("profile_update": {"attributes": {"pet": "", "shoe_size": "38"}})"));
  EXPECT_THAT(profile_.attributes(),
              UnorderedElementsAre(Pair("baby_birth_date", "2024-01-02"), Pair("shoe_size", "38")));
}

TEST_F(FoldTest, TagsStaySortedAndUniqueAndRemovalWins) {
  constexpr std::string_view kAt = "2024-03-01T10:00:00Z";
  Apply(Envelope("e1", kAt, R"("profile_update": {"add_tags": ["vip", "b", "vip", "", "a"]})"));
  EXPECT_THAT(profile_.tags(), ElementsAre("a", "b", "vip"));
  Apply(Envelope("e2", kAt,
                 R"("profile_update": {"add_tags": ["c", "b"], "remove_tags": ["a", "c", "zz"]})"));
  EXPECT_THAT(profile_.tags(), ElementsAre("b", "vip"));
}

TEST_F(FoldTest, ConsentIsRecordedPerChannelAndIsNotActivity) {
  constexpr std::string_view kAt = "2024-03-01T10:00:00Z";
  Apply(Envelope("e1", kAt, R"("consent": {"channel": "sms", "granted": true})"));
  Apply(Envelope("e2", kAt, R"("consent": {"channel": "email", "granted": true})"));
  Apply(Envelope("e3", kAt, R"("consent": {"channel": "sms", "granted": false})"));
  EXPECT_THAT(profile_.consent(), UnorderedElementsAre(Pair("sms", false), Pair("email", true)));
  EXPECT_FALSE(profile_.has_last_activity_at());
}

TEST_F(FoldTest, PrunesBucketsAndOrdersOlderThan365Days) {
  Apply(Envelope("e1", "2023-03-01T10:00:00Z",
                 R"("purchase": {"order_id": "o1", "total_amount": 1})"));
  Apply(Envelope("e2", "2023-03-02T10:00:00Z",
                 R"("purchase": {"order_id": "o2", "total_amount": 2})"));
  // 2024-02-29 is day 365 after 2023-03-01, so the window (today - 365, today] no longer holds it.
  Apply(Envelope("e3", "2024-02-29T10:00:00Z", R"("interaction": {"type": "login"})"));
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2023, 3, 2), 1, 2, 0),
                                             std::tuple(Day(2024, 2, 29), 0, 0, 1)));
  ASSERT_EQ(profile_.recent_orders_size(), 1);
  EXPECT_EQ(profile_.recent_orders(0).order_id(), "o2");
  // Totals are all-time and never pruned.
  EXPECT_EQ(profile_.orders_total(), 2);
  Apply(Envelope("e4", "2024-03-01T10:00:00Z", R"("interaction": {"type": "login"})"));
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 2, 29), 0, 0, 1),
                                             std::tuple(Day(2024, 3, 1), 0, 0, 1)));
  EXPECT_THAT(profile_.recent_orders(), IsEmpty());
}

TEST_F(FoldTest, AnEventOlderThanTheWindowsOnlyUpdatesTotals) {
  const absl::Time now = testing::At("2024-03-01T10:00:00Z");
  Apply(Envelope("e1", "2022-06-01T10:00:00Z",
                 R"("purchase": {"order_id": "o1", "total_amount": 70})"),
        now);
  EXPECT_EQ(profile_.orders_total(), 1);
  EXPECT_EQ(profile_.monetary_total(), 70);
  EXPECT_THAT(profile_.daily(), IsEmpty());
  EXPECT_THAT(profile_.recent_orders(), IsEmpty());
}

TEST_F(FoldTest, AnEventSlightlyAheadOfNowKeepsItsFutureDay) {
  const absl::Time now = testing::At("2024-03-01T23:00:00Z");
  Apply(Envelope("e1", "2024-03-02T01:00:00Z", R"("purchase": {"total_amount": 5})"), now);
  Apply(Envelope("e2", "2024-03-01T22:00:00Z", R"("purchase": {"total_amount": 7})"), now);
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 3, 1), 1, 7, 0),
                                             std::tuple(Day(2024, 3, 2), 1, 5, 0)));
}

TEST_F(FoldTest, ApplyIsDeterministic) {
  const std::vector<v1::CustomerEvent> events = {
      Envelope(
          "e1", "2024-03-01T10:00:00Z",
          R"("purchase": {"order_id": "o1", "total_amount": 10, "items": [{"category": "x", "quantity": 1}, {"category": "y", "quantity": 1}]})"),
      Envelope("e2", "2024-03-02T10:00:00Z",
               R"("profile_update": {"attributes": {"a": "1", "b": "2"}, "add_tags": ["t"]})"),
      Envelope("e3", "2024-03-03T10:00:00Z", R"("refund": {"order_id": "o1", "amount": 3})"),
      Envelope("e4", "2024-03-03T11:00:00Z",
               R"("consent": {"channel": "wechat", "granted": true})"),
  };
  v1::CustomerProfile first;
  v1::CustomerProfile second;
  for (v1::CustomerProfile* profile : {&first, &second}) {
    for (const auto& event : events) {
      std::vector<v1::SegmentChange> changes;
      EXPECT_FALSE(engine_.Apply(event, testing::At("2024-03-04T00:00:00Z"), *profile, changes));
    }
  }
  EXPECT_TRUE(MessageDifferencer::Equals(first, second));
  EXPECT_EQ(first.events_applied(), 4);
}

TEST_F(FoldTest, ErasureClearsEverything) {
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 10})"));
  std::vector<v1::SegmentChange> changes;
  EXPECT_TRUE(engine_.Apply(Envelope("e2", "2024-03-01T11:00:00Z", R"("erasure": {})"),
                            testing::At("2024-03-01T11:00:00Z"), profile_, changes));
  EXPECT_EQ(profile_.ByteSizeLong(), 0u);
}

TEST_F(FoldTest, TotalsSaturateInsteadOfOverflowing) {
  // Validation rejects such amounts; Apply must still stay well-defined without it.
  auto huge = Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"order_id": "o1"})");
  huge.mutable_purchase()->set_total_amount(std::numeric_limits<std::int64_t>::max());
  auto* item = huge.mutable_purchase()->add_items();
  item->set_quantity(std::numeric_limits<std::int64_t>::max());
  item->set_unit_price(3);
  item->set_category("x");
  std::vector<v1::SegmentChange> changes;
  const absl::Time now = testing::At("2024-03-01T10:00:00Z");
  EXPECT_FALSE(engine_.Apply(huge, now, profile_, changes));
  EXPECT_FALSE(engine_.Apply(huge, now, profile_, changes));
  EXPECT_EQ(profile_.monetary_total(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(profile_.item_value_total(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(profile_.category_quantity().at("x"), std::numeric_limits<std::int64_t>::max());
  auto refund = Envelope("e2", "2024-03-01T10:00:00Z", R"("refund": {"order_id": "none"})");
  refund.mutable_refund()->set_amount(std::numeric_limits<std::int64_t>::min());
  EXPECT_FALSE(engine_.Apply(refund, now, profile_, changes));
  EXPECT_EQ(profile_.monetary_total(), std::numeric_limits<std::int64_t>::max());
}

class ShanghaiFoldTest : public FoldTest {
 protected:
  ShanghaiFoldTest() : FoldTest("Asia/Shanghai") {}
};

TEST_F(ShanghaiFoldTest, DaysAreCivilDaysInTheCatalogueTimeZone) {
  const absl::Time now = testing::At("2024-03-02T12:00:00Z");
  // 15:59:59Z is 23:59:59 in Shanghai (UTC+8); a second later it is the next day.
  Apply(Envelope("e1", "2024-02-29T15:59:59Z", R"("purchase": {"total_amount": 1})"), now);
  Apply(Envelope("e2", "2024-02-29T16:00:00Z", R"("purchase": {"total_amount": 2})"), now);
  EXPECT_THAT(Buckets(profile_), ElementsAre(std::tuple(Day(2024, 2, 29), 1, 1, 0),
                                             std::tuple(Day(2024, 3, 1), 1, 2, 0)));
}

}  // namespace
}  // namespace cdp::core
