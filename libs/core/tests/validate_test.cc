#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "cdp/core/engine.h"
#include "test_support.h"

namespace cdp::core {
namespace {

using testing::Envelope;
using ::testing::HasSubstr;

class ValidateTest : public ::testing::Test {
 protected:
  const absl::Time now_ = testing::At("2024-03-01T12:00:00Z");
  const Engine engine_{testing::EmptyCatalogue(), EngineOptions{}};

  // The rejection of `event`, which the test expects to exist.
  Rejection Rejected(const v1::CustomerEvent& event) {
    const auto rejection = engine_.Validate(event, now_);
    EXPECT_TRUE(rejection) << event.ShortDebugString();
    return rejection.value_or(Rejection{RejectReason::kCount, ""});
  }

  void ExpectRejected(const v1::CustomerEvent& event, RejectReason reason,
                      std::string_view detail) {
    const Rejection rejection = Rejected(event);
    EXPECT_EQ(ReasonName(rejection.reason), ReasonName(reason)) << rejection.detail;
    EXPECT_THAT(rejection.detail, HasSubstr(detail));
  }

  void ExpectValid(const v1::CustomerEvent& event) {
    const auto rejection = engine_.Validate(event, now_);
    EXPECT_FALSE(rejection) << ReasonName(rejection->reason) << ": " << rejection->detail;
  }
};

constexpr std::string_view kAt = "2024-03-01T10:00:00Z";

TEST_F(ValidateTest, AcceptsWellFormedEventsOfEveryPayload) {
  ExpectValid(Envelope("e1", kAt,
                       R"("channel": "store", "purchase": {"order_id": "o1", "total_amount": 100,
                          "currency": "CNY", "discount_amount": 0, "coupon_code": "X",
                          "items": [{"sku": "a", "quantity": 1, "unit_price": 0}]})"));
  ExpectValid(Envelope("e2", kAt, R"("purchase": {"total_amount": 0, "currency": "cny"})"));
  ExpectValid(Envelope("e3", kAt, R"("refund": {"order_id": "o1", "amount": 50})"));
  ExpectValid(Envelope("e4", kAt, R"("interaction": {"type": "review", "rating": 5})"));
  ExpectValid(Envelope("e5", kAt, R"("interaction": {"type": "survey_response", "score": 0})"));
  ExpectValid(Envelope("e6", kAt,
                       R"("profile_update": {"birth_date": "2000-02-29", "gender": "f",
                          "attributes": {"baby_birth_date": "2024-01-31", "note": "x"}})"));
  ExpectValid(Envelope("e7", kAt, R"("profile_update": {"birth_date": ""})"));
  ExpectValid(Envelope("e8", kAt, R"("consent": {"channel": "email", "granted": false})"));
  ExpectValid(Envelope("e9", kAt, R"("erasure": {"reason": "customer request"})"));
}

TEST_F(ValidateTest, RequiresTheEnvelope) {
  auto event = Envelope("e1", kAt, R"("erasure": {})");
  event.clear_event_id();
  ExpectRejected(event, RejectReason::kMissingEventId, "event_id");
  event = Envelope("e1", kAt, R"("erasure": {})");
  event.clear_customer_id();
  ExpectRejected(event, RejectReason::kMissingCustomerId, "customer_id");
  event = Envelope("e1", kAt, R"("erasure": {})");
  event.clear_occurred_at();
  ExpectRejected(event, RejectReason::kMissingOccurredAt, "occurred_at");
  event = Envelope("e1", kAt, R"("erasure": {})");
  event.clear_erasure();
  ExpectRejected(event, RejectReason::kMissingPayload, "no payload");
}

TEST_F(ValidateTest, RejectsIdsOverTheLimitOrNotUtf8) {
  const std::string long_id(129, 'x');
  auto event = Envelope("e1", kAt, R"("erasure": {})");
  event.set_event_id(long_id);
  ExpectRejected(event, RejectReason::kInvalidId, "event_id is 129 bytes; the limit is 128");
  event = Envelope("e1", kAt, R"("erasure": {})");
  event.set_customer_id(std::string(128, 'y'));
  ExpectValid(event);
  event.set_customer_id("bad\xc3(");
  ExpectRejected(event, RejectReason::kInvalidId, "customer_id \"bad\\xc3(\" is not valid UTF-8");
  event = Envelope("e1", kAt, R"("purchase": {"total_amount": 1})");
  event.mutable_purchase()->set_order_id(long_id);
  ExpectRejected(event, RejectReason::kInvalidId, "purchase.order_id is 129 bytes");
  event = Envelope("e1", kAt, R"("refund": {"amount": 1})");
  event.mutable_refund()->set_order_id("\xed\xa0\x80");  // an encoded surrogate
  ExpectRejected(event, RejectReason::kInvalidId, "refund.order_id");
}

TEST_F(ValidateTest, RejectsUnknownOrUnspecifiedEnums) {
  auto event = Envelope("e1", kAt, R"("erasure": {})");
  event.set_channel(static_cast<v1::CustomerEvent::Channel>(42));
  ExpectRejected(event, RejectReason::kUnknownEnum, "channel is 42");
  event = Envelope("e1", kAt, R"("interaction": {"type": "like"})");
  event.mutable_interaction()->set_type(static_cast<v1::Interaction::Type>(99));
  ExpectRejected(event, RejectReason::kUnknownEnum, "interaction.type is 99");
  ExpectRejected(Envelope("e1", kAt, R"("interaction": {"target_id": "p1"})"),
                 RejectReason::kUnknownEnum, "interaction.type is 0 (unspecified)");
  ExpectRejected(Envelope("e1", kAt, R"("consent": {"granted": true})"), RejectReason::kUnknownEnum,
                 "consent.channel is 0 (unspecified)");
  event = Envelope("e1", kAt, R"("consent": {"channel": "sms"})");
  event.mutable_consent()->set_channel(static_cast<v1::CustomerEvent::Channel>(77));
  ExpectRejected(event, RejectReason::kUnknownEnum, "consent.channel is 77");
}

TEST_F(ValidateTest, RejectsNegativeAmountsAndQuantitiesBelowOne) {
  ExpectRejected(Envelope("e1", kAt, R"("purchase": {"total_amount": -5})"),
                 RejectReason::kNegativeAmount, "purchase.total_amount is -5; must be >= 0");
  ExpectRejected(Envelope("e1", kAt, R"("purchase": {"discount_amount": -1})"),
                 RejectReason::kNegativeAmount, "purchase.discount_amount is -1");
  ExpectRejected(
      Envelope("e1", kAt,
               R"("purchase": {"items": [{"quantity": 1}, {"quantity": 1}, {"quantity": 0}]})"),
      RejectReason::kNegativeAmount, "purchase.items[2].quantity is 0; must be >= 1");
  ExpectRejected(
      Envelope("e1", kAt, R"("purchase": {"items": [{"quantity": 1, "unit_price": -3}]})"),
      RejectReason::kNegativeAmount, "purchase.items[0].unit_price is -3");
  ExpectRejected(Envelope("e1", kAt, R"("refund": {"amount": -7})"), RejectReason::kNegativeAmount,
                 "refund.amount is -7");
}

TEST_F(ValidateTest, RejectsAmountsThatCouldOverflowTheTotals) {
  ExpectValid(Envelope("e1", kAt, R"("purchase": {"total_amount": 1000000000000000})"));
  ExpectRejected(Envelope("e1", kAt, R"("purchase": {"total_amount": 1000000000000001})"),
                 RejectReason::kAmountOverflow, "purchase.total_amount is 1000000000000001");
  ExpectRejected(Envelope("e1", kAt, R"("refund": {"amount": "9223372036854775807"})"),
                 RejectReason::kAmountOverflow, "refund.amount");
  ExpectRejected(
      Envelope("e1", kAt,
               R"("purchase": {"items": [{"quantity": 4000000000, "unit_price": 4000000000}]})"),
      RejectReason::kAmountOverflow, "purchase.items[0].unit_price x quantity");
  ExpectRejected(
      Envelope("e1", kAt,
               R"("purchase": {"items": [{"quantity": 2, "unit_price": 600000000000000}]})"),
      RejectReason::kAmountOverflow, "(600000000000000 x 2) exceeds the limit of 1000000000000000");
  ExpectRejected(Envelope("e1", kAt, R"("purchase": {"items": [
                   {"quantity": 1, "unit_price": 600000000000000},
                   {"quantity": 1, "unit_price": 600000000000000}]})"),
                 RejectReason::kAmountOverflow, "summed up to item 1");
}

TEST_F(ValidateTest, RejectsOtherCurrencies) {
  ExpectRejected(Envelope("e1", kAt, R"("purchase": {"total_amount": 1, "currency": "USD"})"),
                 RejectReason::kUnsupportedCurrency,
                 "purchase.currency is \"USD\"; this deployment reports in CNY");
  ExpectRejected(Envelope("e1", kAt, R"("refund": {"amount": 1, "currency": "EUR"})"),
                 RejectReason::kUnsupportedCurrency, "refund.currency is \"EUR\"");
  const Engine usd(testing::EmptyCatalogue(), EngineOptions{.reporting_currency = "USD"});
  EXPECT_FALSE(usd.Validate(
      Envelope("e1", kAt, R"("purchase": {"total_amount": 1, "currency": "USD"})"), now_));
}

TEST_F(ValidateTest, RejectsItemsFarFromWhatWasChargedWithinATolerance) {
  // 10000 of items: paid 9000 with a 1000 discount, or off by shipping and rounding.
  constexpr const char* kItems =
      R"("items": [{"quantity": 2, "unit_price": 3000}, {"quantity": 1, "unit_price": 4000}])";
  auto purchase = [&](int total, int discount) {
    return Envelope("e1", kAt,
                    absl::StrCat(R"("purchase": {"total_amount": )", total,
                                 R"(, "discount_amount": )", discount, ", ", kItems, "}"));
  };
  ExpectValid(purchase(9000, 1000));
  ExpectValid(purchase(10500, 0));
  ExpectValid(purchase(5000, 0));   // half of the items' value: the edge
  ExpectValid(purchase(20000, 0));  // twice: the edge the other way
  ExpectRejected(purchase(100, 0), RejectReason::kInconsistentTotal,
                 "purchase.items add up to 10000 (unit_price x quantity), but total_amount + "
                 "discount_amount is 100: more than 50% apart");
  ExpectRejected(purchase(1000000, 0), RejectReason::kInconsistentTotal, "is 1000000");
  // Items without prices name categories only: nothing to compare.
  ExpectValid(Envelope(
      "e1", kAt,
      R"("purchase": {"total_amount": 100, "items": [{"category": "toys", "quantity": 1}]})"));
  const Engine strict(testing::EmptyCatalogue(), EngineOptions{.items_total_tolerance = 0.01});
  EXPECT_TRUE(strict.Validate(purchase(10500, 0), now_));
  EXPECT_FALSE(strict.Validate(purchase(9950, 0), now_));
}

TEST_F(ValidateTest, RejectsDatesThatAreNotCalendarDates) {
  for (std::string_view bad :
       {"1990-13-01", "2023-02-29", "1990-1-1", "19900101", "1990-01-01T00", "abcd-ef-gh"}) {
    auto event = Envelope("e1", kAt, R"("profile_update": {})");
    event.mutable_profile_update()->set_birth_date(std::string(bad));
    ExpectRejected(event, RejectReason::kInvalidDate,
                   "profile_update.birth_date is \"" + std::string(bad) + "\"");
  }
  ExpectRejected(
      Envelope(
          "e1", kAt,
          R"("profile_update": {"attributes": {"baby_birth_date": "soon", "a_date": "2024-01-01"}})"),
      RejectReason::kInvalidDate, "profile_update.attributes[\"baby_birth_date\"] is \"soon\"");
  // Only keys ending in _date are dates.
  ExpectValid(Envelope("e1", kAt, R"("profile_update": {"attributes": {"date_note": "soon"}})"));
}

TEST_F(ValidateTest, RejectsRatingsAndScoresOutOfRange) {
  ExpectRejected(Envelope("e1", kAt, R"("interaction": {"type": "review", "rating": 6})"),
                 RejectReason::kInvalidRating, "interaction.rating is 6; must be 1-5");
  ExpectRejected(Envelope("e1", kAt, R"("interaction": {"type": "review", "rating": 0})"),
                 RejectReason::kInvalidRating, "interaction.rating is 0");
  ExpectRejected(Envelope("e1", kAt, R"("interaction": {"type": "survey_response", "score": 11})"),
                 RejectReason::kInvalidRating, "interaction.score is 11; must be 0-10");
  ExpectRejected(Envelope("e1", kAt, R"("interaction": {"type": "survey_response", "score": -1})"),
                 RejectReason::kInvalidRating, "interaction.score is -1");
}

TEST_F(ValidateTest, RejectsTimestampsTooFarFromNow) {
  ExpectValid(Envelope("e1", "2024-03-02T12:00:00Z", R"("erasure": {})"));
  ExpectRejected(
      Envelope("e1", "2024-03-02T12:00:01Z", R"("erasure": {})"),
      RejectReason::kTimestampOutOfRange,
      "occurred_at 2024-03-02T12:00:01Z is more than 24h after now (2024-03-01T12:00:00Z)");
  const absl::Time ten_years_ago = now_ - absl::Hours(24 * 365 * 10);
  auto event = Envelope("e1", kAt, R"("erasure": {})");
  *event.mutable_occurred_at() =
      testing::Ts(absl::FormatTime(absl::RFC3339_full, ten_years_ago, absl::UTCTimeZone()));
  ExpectValid(event);
  event.mutable_occurred_at()->set_seconds(event.occurred_at().seconds() - 1);
  ExpectRejected(event, RejectReason::kTimestampOutOfRange, "before now");
  event = Envelope("e1", kAt, R"("erasure": {})");
  event.mutable_occurred_at()->set_nanos(-1);
  ExpectRejected(event, RejectReason::kTimestampOutOfRange, "occurred_at.nanos is -1");
  const Engine strict(testing::EmptyCatalogue(),
                      EngineOptions{.max_future_skew = absl::Minutes(5)});
  EXPECT_TRUE(strict.Validate(Envelope("e1", "2024-03-01T12:05:01Z", R"("erasure": {})"), now_));
}

}  // namespace
}  // namespace cdp::core
