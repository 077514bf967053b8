// The fields rules read (Engine::Evaluate), computed from the stored profile and "now".
#include "cdp/rules/fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cdp/core/engine.h"
#include "test_support.h"

namespace cdp::core {
namespace {

using rules::Value;
using testing::Envelope;

class FieldsTest : public ::testing::Test {
 protected:
  explicit FieldsTest(std::string_view timezone = "UTC")
      : catalogue_(testing::EmptyCatalogue(timezone)) {}

  Engine engine() const { return Engine(catalogue_, EngineOptions{}); }

  // Applies events in event-time mode (now = the event's time).
  void Apply(std::initializer_list<v1::CustomerEvent> events) {
    const Engine e = engine();
    for (const auto& event : events) {
      std::vector<v1::SegmentChange> changes;
      const absl::Time at = absl::FromUnixSeconds(event.occurred_at().seconds());
      ASSERT_FALSE(e.Validate(event, at)) << event.ShortDebugString();
      EXPECT_FALSE(e.Apply(event, at, profile_, changes));
    }
  }

  Value Field(std::string_view name, std::string_view now) const {
    const Evaluation evaluation = engine().Evaluate(profile_, testing::At(now));
    for (const NamedValue& field : evaluation.fields) {
      // String values view into profile_, which outlives the returned value.
      if (field.name == name) return field.value;
    }
    ADD_FAILURE() << "no field " << name;
    return Value::Null();
  }

  double Number(std::string_view name, std::string_view now) const {
    const Value value = Field(name, now);
    EXPECT_TRUE(value.is_number()) << name << " is not a number";
    return value.number();
  }

  bool IsNull(std::string_view name, std::string_view now) const {
    return Field(name, now).is_null();
  }

  std::string String(std::string_view name, std::string_view now) const {
    const Value value = Field(name, now);
    EXPECT_TRUE(value.is_string()) << name << " is not a string";
    return std::string(value.string());
  }

  std::shared_ptr<rules::SegmentCatalogue> catalogue_;
  v1::CustomerProfile profile_;
};

constexpr std::string_view kNow = "2024-03-15T12:00:00Z";

TEST_F(FieldsTest, EvaluationListsEveryFieldInFieldIdOrderWithItsType) {
  Apply(
      {Envelope("e1", "2024-03-01T10:00:00Z",
                R"("purchase": {"total_amount": 5, "items": [{"category": "x", "quantity": 1}]})"),
       Envelope("e2", "2024-03-01T11:00:00Z",
                R"("profile_update": {"birth_date": "1990-01-01", "gender": "m", "region": "r",
                     "city": "c", "income_band": "i", "membership_level": "m"})"),
       Envelope("e3", "2024-03-01T12:00:00Z", R"("interaction": {"type": "coupon_claim"})"),
       Envelope("e4", "2024-03-01T12:00:00Z",
                R"("interaction": {"type": "survey_response", "score": 1})"),
       Envelope("e5", "2024-03-01T12:00:00Z",
                R"("interaction": {"type": "review", "rating": 1})")});
  const Evaluation evaluation = engine().Evaluate(profile_, testing::At(kNow));
  ASSERT_EQ(evaluation.fields.size(), rules::kFieldCount);
  for (std::size_t i = 0; i < rules::kFieldCount; ++i) {
    const rules::FieldInfo& info = rules::Fields()[i];
    EXPECT_EQ(evaluation.fields[i].name, info.name);
    const Value& value = evaluation.fields[i].value;
    // With every input present, no field is null and each has its declared type.
    ASSERT_FALSE(value.is_null()) << info.name;
    EXPECT_EQ(value.is_string(), info.type == rules::ValueType::kString) << info.name;
    EXPECT_EQ(value.is_number(), info.type == rules::ValueType::kNumber) << info.name;
  }
}

TEST_F(FieldsTest, ANewCustomerHasZeroCountsAndNullEverythingElse) {
  for (std::string_view zero :
       {"orders_total", "monetary_total", "orders_30d", "orders_90d", "orders_365d", "monetary_30d",
        "monetary_90d", "monetary_365d", "refunds_total", "interactions_total", "interactions_30d",
        "referrals_total", "community_posts_total", "surveys_total", "reviews_total"}) {
    EXPECT_EQ(Number(zero, kNow), 0) << zero;
  }
  for (std::string_view null : {"avg_order_value",
                                "avg_unit_price",
                                "discount_ratio",
                                "coupon_redeem_rate",
                                "days_since_first_purchase",
                                "days_since_last_purchase",
                                "days_since_last_activity",
                                "rfm_r",
                                "rfm_f",
                                "rfm_m",
                                "top_category",
                                "region",
                                "city",
                                "gender",
                                "age",
                                "income_band",
                                "membership_level",
                                "birth_month",
                                "avg_survey_score",
                                "avg_review_rating"}) {
    EXPECT_TRUE(IsNull(null, kNow)) << null;
  }
  EXPECT_EQ(Number("current_month", kNow), 3);
}

TEST_F(FieldsTest, AveragesAndRatios) {
  Apply(
      {Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"order_id": "o1",
           "total_amount": 9000, "discount_amount": 1000, "coupon_code": "A",
           "items": [{"quantity": 2, "unit_price": 3000}, {"quantity": 1, "unit_price": 4000}]})"),
       Envelope("e2", "2024-03-02T10:00:00Z", R"("purchase": {"total_amount": 2000})"),
       Envelope("e3", "2024-03-03T10:00:00Z", R"("refund": {"order_id": "o1", "amount": 1000})")});
  EXPECT_EQ(Number("avg_order_value", kNow), (9000 + 2000 - 1000) / 2.0);
  EXPECT_EQ(Number("avg_unit_price", kNow), 10000 / 3.0);
  EXPECT_EQ(Number("discount_ratio", kNow), 1000.0 / (11000 + 1000));
  EXPECT_EQ(Number("refunds_total", kNow), 1000);
  // A coupon redeemed without a tracked claim: no claims, no rate.
  EXPECT_TRUE(IsNull("coupon_redeem_rate", kNow));
}

TEST_F(FieldsTest, CouponRedeemRateIsCappedAtOne) {
  Apply({Envelope("e1", "2024-03-01T10:00:00Z", R"("interaction": {"type": "coupon_claim"})"),
         Envelope("e2", "2024-03-01T10:00:00Z", R"("interaction": {"type": "coupon_claim"})"),
         Envelope("e3", "2024-03-01T10:00:00Z", R"("interaction": {"type": "coupon_claim"})"),
         Envelope("e4", "2024-03-01T10:00:00Z", R"("interaction": {"type": "coupon_claim"})"),
         Envelope("e5", "2024-03-01T11:00:00Z", R"("purchase": {"coupon_code": "A"})")});
  EXPECT_EQ(Number("coupon_redeem_rate", kNow), 0.25);
  Apply({Envelope("e6", "2024-03-02T11:00:00Z", R"("purchase": {"coupon_code": "B"})"),
         Envelope("e7", "2024-03-02T11:00:00Z", R"("purchase": {"coupon_code": "C"})"),
         Envelope("e8", "2024-03-02T11:00:00Z", R"("purchase": {"coupon_code": "D"})"),
         Envelope("e9", "2024-03-02T11:00:00Z", R"("purchase": {"coupon_code": "E"})")});
  EXPECT_EQ(Number("coupon_redeem_rate", kNow), 1);
}

TEST_F(FieldsTest, DiscountRatioIsNullWithNothingPaidOrDiscounted) {
  Apply({Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 0})")});
  EXPECT_TRUE(IsNull("discount_ratio", kNow));
  EXPECT_EQ(Number("avg_order_value", kNow), 0);
  EXPECT_TRUE(IsNull("avg_unit_price", kNow)) << "no items";
}

TEST_F(FieldsTest, DaysSinceCountsCalendarDaysAndActivityExcludesRefundsAndUpdates) {
  Apply({Envelope("e1", "2024-03-01T23:59:00Z",
                  R"("purchase": {"order_id": "o1", "total_amount": 10})"),
         Envelope("e2", "2024-03-10T00:01:00Z", R"("purchase": {"total_amount": 10})"),
         Envelope("e3", "2024-03-12T08:00:00Z", R"("interaction": {"type": "share"})"),
         Envelope("e4", "2024-03-14T08:00:00Z", R"("refund": {"order_id": "o1", "amount": 1})"),
         Envelope("e5", "2024-03-14T09:00:00Z", R"("profile_update": {"city": "x"})"),
         Envelope("e6", "2024-03-14T10:00:00Z",
                  R"("consent": {"channel": "sms", "granted": true})")});
  EXPECT_EQ(Number("days_since_first_purchase", kNow), 14);
  EXPECT_EQ(Number("days_since_last_purchase", kNow), 5);
  EXPECT_EQ(Number("days_since_last_activity", kNow), 3);
  EXPECT_EQ(Number("days_since_last_purchase", "2024-03-10T23:59:59Z"), 0);
  EXPECT_EQ(Number("days_since_last_purchase", "2024-03-11T00:00:00Z"), 1);
}

TEST_F(FieldsTest, AnEventAheadOfNowCountsAsToday) {
  Apply({Envelope("e1", "2024-03-16T01:00:00Z", R"("purchase": {"total_amount": 10})")});
  EXPECT_EQ(Number("days_since_last_purchase", "2024-03-15T23:00:00Z"), 0);
  EXPECT_EQ(Number("orders_30d", "2024-03-15T23:00:00Z"), 0) << "its day has not come yet";
  EXPECT_EQ(Number("orders_30d", "2024-03-16T00:00:00Z"), 1);
}

TEST_F(FieldsTest, WindowsHoldTheLastNDaysTodayIncluded) {
  Apply({Envelope("e1", "2024-01-01T10:00:00Z", R"("purchase": {"total_amount": 100})"),
         Envelope("e2", "2024-01-01T11:00:00Z", R"("interaction": {"type": "login"})")});
  struct Edge {
    std::string_view field;
    std::string_view last_day_in;
    std::string_view first_day_out;
  };
  // 2024-01-01 + 29 days = 01-30; + 89 = 03-30; + 364 = 12-30 (2024 is a leap year).
  for (const Edge& edge : {Edge{"orders_30d", "2024-01-30T23:59:59Z", "2024-01-31T00:00:00Z"},
                           Edge{"monetary_30d", "2024-01-30T23:59:59Z", "2024-01-31T00:00:00Z"},
                           Edge{"interactions_30d", "2024-01-30T23:59:59Z", "2024-01-31T00:00:00Z"},
                           Edge{"orders_90d", "2024-03-30T12:00:00Z", "2024-03-31T12:00:00Z"},
                           Edge{"monetary_90d", "2024-03-30T12:00:00Z", "2024-03-31T12:00:00Z"},
                           Edge{"orders_365d", "2024-12-30T12:00:00Z", "2024-12-31T12:00:00Z"},
                           Edge{"monetary_365d", "2024-12-30T12:00:00Z", "2024-12-31T12:00:00Z"}}) {
    EXPECT_GT(Number(edge.field, edge.last_day_in), 0) << edge.field << " at " << edge.last_day_in;
    EXPECT_EQ(Number(edge.field, edge.first_day_out), 0)
        << edge.field << " at " << edge.first_day_out;
  }
  EXPECT_EQ(Number("orders_total", "2024-12-31T12:00:00Z"), 1);
  EXPECT_EQ(Number("interactions_total", "2024-12-31T12:00:00Z"), 1);
}

TEST_F(FieldsTest, MonetaryWindowsNetRefundsOnTheOrderDay) {
  Apply({Envelope("e1", "2024-02-01T10:00:00Z",
                  R"("purchase": {"order_id": "o1", "total_amount": 1000})"),
         Envelope("e2", "2024-03-10T10:00:00Z",
                  R"("purchase": {"order_id": "o2", "total_amount": 500})"),
         Envelope("e3", "2024-03-14T10:00:00Z", R"("refund": {"order_id": "o1", "amount": 300})"),
         Envelope("e4", "2024-03-14T11:00:00Z",
                  R"("refund": {"order_id": "unknown", "amount": 50})")});
  EXPECT_EQ(Number("monetary_30d", kNow), 500 - 50);
  EXPECT_EQ(Number("monetary_90d", kNow), 1000 - 300 + 500 - 50);
  EXPECT_EQ(Number("monetary_total", kNow), 1000 - 300 + 500 - 50);
  EXPECT_EQ(Number("orders_30d", kNow), 1);
  EXPECT_EQ(Number("orders_90d", kNow), 2);
}

TEST_F(FieldsTest, RfmScoresFollowTheBreakpoints) {
  catalogue_->rfm.recency_days = {30, 90, 180, 365};
  catalogue_->rfm.frequency_orders_365d = {2, 3, 5, 8};
  catalogue_->rfm.monetary_365d = {200, 500, 1000, 3000};
  Apply({Envelope("e1", "2024-01-01T10:00:00Z", R"("purchase": {"total_amount": 199})")});
  struct Recency {
    std::string_view now;
    double score;
  };
  // Days since 2024-01-01: 30, 31, 90, 91, 180, 181, 365, 366.
  for (const Recency& r :
       {Recency{"2024-01-31T00:00:00Z", 5}, Recency{"2024-02-01T00:00:00Z", 4},
        Recency{"2024-03-31T00:00:00Z", 4}, Recency{"2024-04-01T00:00:00Z", 3},
        Recency{"2024-06-29T00:00:00Z", 3}, Recency{"2024-06-30T00:00:00Z", 2},
        Recency{"2024-12-31T00:00:00Z", 2}, Recency{"2025-01-01T00:00:00Z", 1}}) {
    EXPECT_EQ(Number("rfm_r", r.now), r.score) << r.now;
  }
  EXPECT_EQ(Number("rfm_f", "2024-01-02T00:00:00Z"), 1);
  EXPECT_EQ(Number("rfm_m", "2024-01-02T00:00:00Z"), 1);
  Apply({Envelope("e2", "2024-01-01T11:00:00Z", R"("purchase": {"total_amount": 1})")});
  EXPECT_EQ(Number("rfm_f", "2024-01-02T00:00:00Z"), 2) << "2 orders reach the first breakpoint";
  EXPECT_EQ(Number("rfm_m", "2024-01-02T00:00:00Z"), 2) << "200 reaches the first breakpoint";
  for (int i = 0; i < 6; ++i) {
    Apply({Envelope("e", "2024-01-01T12:00:00Z", R"("purchase": {"total_amount": 1000})")});
  }
  EXPECT_EQ(Number("rfm_f", "2024-01-02T00:00:00Z"), 5);
  EXPECT_EQ(Number("rfm_m", "2024-01-02T00:00:00Z"), 5);
  // Once the window has moved past every order, frequency and value drop to 1 (not null).
  EXPECT_EQ(Number("rfm_f", "2025-06-01T00:00:00Z"), 1);
  EXPECT_EQ(Number("rfm_m", "2025-06-01T00:00:00Z"), 1);
}

TEST_F(FieldsTest, TopCategoryIsTheLargestQuantityWithTiesToTheSmallestName) {
  Apply({Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"items": [
           {"category": "toys", "quantity": 3}, {"category": "books", "quantity": 2},
           {"category": "apparel", "quantity": 1}]})")});
  EXPECT_EQ(String("top_category", kNow), "toys");
  Apply({Envelope("e2", "2024-03-02T10:00:00Z",
                  R"("purchase": {"items": [{"category": "books", "quantity": 1}]})")});
  EXPECT_EQ(String("top_category", kNow), "books");
}

TEST_F(FieldsTest, AgeAndBirthMonthComeFromTheBirthDate) {
  Apply({Envelope("e1", "2024-03-01T10:00:00Z",
                  R"("profile_update": {"birth_date": "1990-03-02"})")});
  EXPECT_EQ(Number("age", "2024-03-01T23:59:59Z"), 33);
  EXPECT_EQ(Number("age", "2024-03-02T00:00:00Z"), 34);
  EXPECT_EQ(Number("birth_month", kNow), 3);
  Apply({Envelope("e2", "2024-03-01T10:00:00Z",
                  R"("profile_update": {"birth_date": "2000-02-29"})")});
  EXPECT_EQ(Number("age", "2023-02-28T12:00:00Z"), 22);
  EXPECT_EQ(Number("age", "2023-03-01T12:00:00Z"), 23);
  EXPECT_EQ(Number("age", "2024-02-29T12:00:00Z"), 24);
  EXPECT_EQ(Number("birth_month", kNow), 2);
  // A birth date after today gives no age.
  EXPECT_TRUE(IsNull("age", "1999-12-31T12:00:00Z"));
  Apply({Envelope("e3", "2024-03-01T10:00:00Z", R"("profile_update": {"birth_date": ""})")});
  EXPECT_TRUE(IsNull("age", kNow));
  EXPECT_TRUE(IsNull("birth_month", kNow));
}

TEST_F(FieldsTest, ProfileStringsAreNullWhenEmpty) {
  Apply({Envelope("e1", "2024-03-01T10:00:00Z", R"("profile_update": {"gender": "f",
           "region": "east", "city": "Hangzhou", "income_band": "high", "membership_level": "gold"})")});
  EXPECT_EQ(String("gender", kNow), "f");
  EXPECT_EQ(String("region", kNow), "east");
  EXPECT_EQ(String("city", kNow), "Hangzhou");
  EXPECT_EQ(String("income_band", kNow), "high");
  EXPECT_EQ(String("membership_level", kNow), "gold");
  Apply({Envelope("e2", "2024-03-01T10:00:00Z", R"("profile_update": {"city": ""})")});
  EXPECT_TRUE(IsNull("city", kNow));
}

TEST_F(FieldsTest, EngagementCountersAndAverages) {
  Apply(
      {Envelope("e1", "2024-03-01T10:00:00Z",
                R"("interaction": {"type": "survey_response", "score": 9})"),
       Envelope("e2", "2024-03-01T10:00:00Z",
                R"("interaction": {"type": "survey_response", "score": 6})"),
       Envelope("e3", "2024-03-01T10:00:00Z", R"("interaction": {"type": "review", "rating": 5})"),
       Envelope("e4", "2024-03-01T10:00:00Z", R"("interaction": {"type": "review", "rating": 2})"),
       Envelope("e5", "2024-03-01T10:00:00Z", R"("interaction": {"type": "review", "rating": 4})"),
       Envelope("e6", "2024-03-01T10:00:00Z", R"("interaction": {"type": "referral"})"),
       Envelope("e7", "2024-03-01T10:00:00Z", R"("interaction": {"type": "community_post"})")});
  EXPECT_EQ(Number("avg_survey_score", kNow), 7.5);
  EXPECT_EQ(Number("surveys_total", kNow), 2);
  EXPECT_EQ(Number("avg_review_rating", kNow), 11.0 / 3);
  EXPECT_EQ(Number("reviews_total", kNow), 3);
  EXPECT_EQ(Number("referrals_total", kNow), 1);
  EXPECT_EQ(Number("community_posts_total", kNow), 1);
  EXPECT_EQ(Number("interactions_total", kNow), 7);
  EXPECT_EQ(Number("interactions_30d", kNow), 7);
  EXPECT_TRUE(IsNull("days_since_last_purchase", kNow));
  EXPECT_EQ(Number("days_since_last_activity", kNow), 14);
}

TEST_F(FieldsTest, EvaluateDoesNotChangeTheProfile) {
  Apply({Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 5})")});
  const std::string before = profile_.SerializeAsString();
  (void)engine().Evaluate(profile_, testing::At("2026-01-01T00:00:00Z"));
  EXPECT_EQ(profile_.SerializeAsString(), before);
}

class ShanghaiFieldsTest : public FieldsTest {
 protected:
  ShanghaiFieldsTest() : FieldsTest("Asia/Shanghai") {}
};

TEST_F(ShanghaiFieldsTest, WindowsTurnOverAtLocalMidnight) {
  // 16:30Z on 03-01 is 00:30 on 03-02 in Shanghai (UTC+8).
  Apply({Envelope("e1", "2024-03-01T16:30:00Z", R"("purchase": {"total_amount": 100})")});
  // Day 29 after 03-02 is 03-31, which ends at 15:59:59Z; day 30 starts at 16:00:00Z.
  EXPECT_EQ(Number("orders_30d", "2024-03-31T15:59:59Z"), 1);
  EXPECT_EQ(Number("days_since_last_purchase", "2024-03-31T15:59:59Z"), 29);
  EXPECT_EQ(Number("orders_30d", "2024-03-31T16:00:00Z"), 0);
  EXPECT_EQ(Number("days_since_last_purchase", "2024-03-31T16:00:00Z"), 30);
  EXPECT_EQ(Number("orders_30d", "2024-04-01T16:00:00Z"), 0);
  EXPECT_EQ(Number("days_since_last_purchase", "2024-04-01T16:00:00Z"), 31);
  EXPECT_EQ(Number("orders_90d", "2024-04-01T16:00:00Z"), 1);
}

TEST_F(ShanghaiFieldsTest, CurrentMonthAndAgeUseTheLocalDate) {
  Apply({Envelope("e1", "2024-03-01T10:00:00Z",
                  R"("profile_update": {"birth_date": "1990-04-01"})")});
  EXPECT_EQ(Number("current_month", "2024-03-31T15:59:59Z"), 3);
  EXPECT_EQ(Number("age", "2024-03-31T15:59:59Z"), 33);
  EXPECT_EQ(Number("current_month", "2024-03-31T16:00:00Z"), 4);
  EXPECT_EQ(Number("age", "2024-03-31T16:00:00Z"), 34);
}

}  // namespace
}  // namespace cdp::core
