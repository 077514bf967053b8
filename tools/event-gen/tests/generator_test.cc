#include "generator.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::tools {
namespace {

constexpr std::int64_t kCustomers = 10'000;
constexpr std::int64_t kEvents = 100'000;
constexpr int kDays = 365;

const absl::Time kStart = absl::FromCivil(absl::CivilDay(2024, 3, 1), absl::UTCTimeZone());

GeneratorOptions SimulatedOptions(std::uint64_t seed, double invalid_fraction = 0.0) {
  return {.seed = seed,
          .customers = kCustomers,
          .events = kEvents,
          .invalid_fraction = invalid_fraction,
          .clock = ClockMode::kSimulated,
          .start = kStart,
          .span = absl::Hours(24 * kDays)};
}

absl::Time OccurredAt(const v1::CustomerEvent& event) {
  return absl::FromUnixSeconds(event.occurred_at().seconds()) +
         absl::Nanoseconds(event.occurred_at().nanos());
}

bool IsDate(const std::string& text) {
  absl::CivilDay day;
  return text.size() == 10 && absl::ParseCivilTime(text, &day);
}

// One year of traffic from 10,000 customers, made once for every test that only reads it.
class TrafficTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<Generator> generator = Generator::Create(SimulatedOptions(42));
    ASSERT_TRUE(generator.ok()) << generator.status();
    generator_ = new Generator(*std::move(generator));
    records_ = new std::vector<Record>();
    records_->reserve(kEvents);
    Record record;
    while (generator_->Next(record)) records_->push_back(record);
  }
  static void TearDownTestSuite() {
    delete records_;
    delete generator_;
  }

  static const std::vector<Record>& records() { return *records_; }
  static const Generator& generator() { return *generator_; }

 private:
  static inline Generator* generator_ = nullptr;
  static inline std::vector<Record>* records_ = nullptr;
};

TEST_F(TrafficTest, MakesExactlyTheEventsAskedFor) {
  EXPECT_EQ(records().size(), static_cast<std::size_t>(kEvents));
}

TEST_F(TrafficTest, EveryEventIsValidPerTheContract) {
  std::set<std::string> event_ids;
  for (const Record& record : records()) {
    const v1::CustomerEvent& event = record.event;
    SCOPED_TRACE(event.ShortDebugString());
    ASSERT_EQ(record.defect, Defect::kNone);
    EXPECT_TRUE(event_ids.insert(event.event_id()).second) << "duplicate event id";
    EXPECT_THAT(event.event_id(), testing::StartsWith("42-"));
    EXPECT_NE(generator().CustomerNumber(event.customer_id()), 0);
    EXPECT_EQ(record.key, event.customer_id());
    EXPECT_TRUE(event.has_occurred_at());
    EXPECT_NE(event.channel(), v1::CustomerEvent::channel_unspecified);
    switch (event.payload_case()) {
      case v1::CustomerEvent::kPurchase: {
        const v1::Purchase& purchase = event.purchase();
        EXPECT_FALSE(purchase.order_id().empty());
        EXPECT_EQ(purchase.currency(), "CNY");
        EXPECT_GT(purchase.total_amount(), 0);
        EXPECT_GE(purchase.discount_amount(), 0);
        EXPECT_EQ(purchase.store_id().empty(), event.channel() != v1::CustomerEvent::store);
        ASSERT_GE(purchase.items_size(), 1);
        ASSERT_LE(purchase.items_size(), 4);
        std::int64_t subtotal = 0;
        for (const v1::Purchase::Item& item : purchase.items()) {
          EXPECT_FALSE(item.sku().empty());
          EXPECT_FALSE(item.category().empty());
          EXPECT_GE(item.quantity(), 1);
          EXPECT_GT(item.unit_price(), 0);
          subtotal += item.quantity() * item.unit_price();
        }
        EXPECT_EQ(purchase.total_amount() + purchase.discount_amount(), subtotal);
        break;
      }
      case v1::CustomerEvent::kRefund:
        EXPECT_FALSE(event.refund().order_id().empty());
        EXPECT_GT(event.refund().amount(), 0);
        EXPECT_EQ(event.refund().currency(), "CNY");
        break;
      case v1::CustomerEvent::kInteraction: {
        const v1::Interaction& interaction = event.interaction();
        EXPECT_TRUE(v1::Interaction::Type_IsValid(interaction.type()));
        EXPECT_NE(interaction.type(), v1::Interaction::type_unspecified);
        EXPECT_EQ(interaction.has_rating(), interaction.type() == v1::Interaction::review);
        if (interaction.has_rating()) {
          EXPECT_GE(interaction.rating(), 1);
          EXPECT_LE(interaction.rating(), 5);
        }
        EXPECT_EQ(interaction.has_score(), interaction.type() == v1::Interaction::survey_response);
        if (interaction.has_score()) {
          EXPECT_GE(interaction.score(), 0);
          EXPECT_LE(interaction.score(), 10);
        }
        if (interaction.type() == v1::Interaction::referral) {
          EXPECT_NE(generator().CustomerNumber(interaction.target_id()), 0);
        }
        break;
      }
      case v1::CustomerEvent::kProfileUpdate: {
        const v1::ProfileUpdate& update = event.profile_update();
        if (update.has_birth_date()) {
          EXPECT_TRUE(IsDate(update.birth_date()));
        }
        const auto baby = update.attributes().find("baby_birth_date");
        if (baby != update.attributes().end()) {
          EXPECT_TRUE(IsDate(baby->second));
          absl::CivilDay born;
          ASSERT_TRUE(absl::ParseCivilTime(baby->second, &born));
          EXPECT_LE(born, absl::ToCivilDay(OccurredAt(event), absl::UTCTimeZone()))
              << "a baby born after the event";
        }
        break;
      }
      case v1::CustomerEvent::kConsent: {
        const auto channel = event.consent().channel();
        EXPECT_TRUE(channel == v1::CustomerEvent::email || channel == v1::CustomerEvent::sms ||
                    channel == v1::CustomerEvent::wechat);
        break;
      }
      case v1::CustomerEvent::kErasure:
        EXPECT_FALSE(event.erasure().reason().empty());
        break;
      case v1::CustomerEvent::PAYLOAD_NOT_SET:
        ADD_FAILURE() << "no payload";
        break;
    }
  }
}

TEST_F(TrafficTest, EveryPayloadAndInteractionTypeAppears) {
  std::map<int, int> payloads;
  std::map<int, int> interactions;
  std::set<std::string> categories;
  int with_coupon = 0;
  int with_promotion = 0;
  int with_baby = 0;
  for (const Record& record : records()) {
    ++payloads[record.event.payload_case()];
    if (record.event.has_interaction()) ++interactions[record.event.interaction().type()];
    if (record.event.has_purchase()) {
      const v1::Purchase& purchase = record.event.purchase();
      for (const auto& item : purchase.items()) categories.insert(item.category());
      if (!purchase.coupon_code().empty()) ++with_coupon;
      if (purchase.coupon_code().empty() && purchase.discount_amount() > 0) ++with_promotion;
    }
    if (record.event.has_profile_update() &&
        record.event.profile_update().attributes().contains("baby_birth_date")) {
      ++with_baby;
    }
  }
  for (int payload = v1::CustomerEvent::kPurchase; payload <= v1::CustomerEvent::kErasure;
       ++payload) {
    EXPECT_GT(payloads[payload], 0) << "payload case " << payload;
  }
  for (int type = v1::Interaction::Type_MIN + 1; type <= v1::Interaction::Type_MAX; ++type) {
    EXPECT_GT(interactions[type], 0) << v1::Interaction::Type_Name(type);
  }
  // Interactions dominate, purchases are common, the rest rarer.
  EXPECT_GT(payloads[v1::CustomerEvent::kInteraction], kEvents / 2);
  EXPECT_GT(payloads[v1::CustomerEvent::kPurchase], kEvents / 10);
  EXPECT_GE(categories.size(), 12U);
  EXPECT_GT(with_coupon, 0);
  EXPECT_GT(with_promotion, 0);
  EXPECT_GT(with_baby, 0);
}

TEST_F(TrafficTest, FewCustomersMakeMuchOfTheTraffic) {
  std::map<std::string, int> per_customer;
  for (const Record& record : records()) ++per_customer[record.event.customer_id()];
  std::vector<int> counts;
  for (const auto& [id, count] : per_customer) counts.push_back(count);
  std::sort(counts.rbegin(), counts.rend());
  const std::size_t top = kCustomers / 100;
  int top_events = 0;
  for (std::size_t i = 0; i < top && i < counts.size(); ++i) top_events += counts[i];
  EXPECT_GT(top_events, kEvents / 5) << "top 1% of customers made too small a share";
  EXPECT_LT(counts.front(), kEvents / 20) << "one customer made too large a share";
  // A long tail: most customers show up, most of them rarely.
  EXPECT_GT(per_customer.size(), static_cast<std::size_t>(kCustomers / 2));
  EXPECT_LE(counts[counts.size() / 2], 5);
}

TEST_F(TrafficTest, SimulatedTimeMovesForwardWithinTheSpan) {
  absl::Time previous = kStart;
  for (const Record& record : records()) {
    const absl::Time at = OccurredAt(record.event);
    ASSERT_GE(at, previous) << record.event.event_id();
    ASSERT_LT(at, kStart + absl::Hours(24 * kDays)) << record.event.event_id();
    previous = at;
  }
  // Spread over the whole span, not bunched at its start.
  EXPECT_GT(OccurredAt(records().back().event), kStart + absl::Hours(24 * (kDays - 1)));
}

TEST_F(TrafficTest, CustomersActOnlyWhileTheirStoryAllows) {
  std::map<std::int64_t, absl::Time> erased_at;
  std::set<std::int64_t> registered;
  int drifters_who_bought = 0;
  int returners_who_came_back = 0;
  for (const Record& record : records()) {
    const v1::CustomerEvent& event = record.event;
    const std::int64_t number = generator().CustomerNumber(event.customer_id());
    const CustomerTraits traits = generator().Traits(number);
    const absl::Time at = OccurredAt(event);
    SCOPED_TRACE(event.ShortDebugString());
    EXPECT_FALSE(erased_at.contains(number)) << "an event after the customer's erasure";
    if (event.has_erasure()) erased_at[number] = at;
    EXPECT_GE(at, traits.joins_at);
    // Every customer first signs up.
    if (registered.insert(number).second) {
      EXPECT_TRUE(event.has_profile_update());
    }
    if (!event.has_purchase()) continue;
    EXPECT_NE(traits.kind, CustomerKind::kBrowser);
    EXPECT_TRUE(at < traits.quiet_from || at >= traits.quiet_until)
        << "a purchase while the customer was away";
    if (traits.kind == CustomerKind::kDrifter) ++drifters_who_bought;
    if (traits.kind == CustomerKind::kReturner && at >= traits.quiet_until) {
      ++returners_who_came_back;
    }
  }
  EXPECT_GT(drifters_who_bought, 0);
  EXPECT_GT(returners_who_came_back, 0);
  EXPECT_GT(erased_at.size(), 0U);
}

TEST_F(TrafficTest, RefundsFollowTheirOrder) {
  std::map<std::string, std::pair<std::string, std::int64_t>> orders;  // id -> customer, total
  std::set<std::string> refunded;
  int refunds = 0;
  for (const Record& record : records()) {
    const v1::CustomerEvent& event = record.event;
    if (event.has_purchase()) {
      orders[event.purchase().order_id()] = {event.customer_id(), event.purchase().total_amount()};
    }
    if (!event.has_refund()) continue;
    ++refunds;
    const auto order = orders.find(event.refund().order_id());
    ASSERT_NE(order, orders.end()) << "refund of an unknown order";
    EXPECT_EQ(order->second.first, event.customer_id());
    EXPECT_LE(event.refund().amount(), order->second.second);
    EXPECT_TRUE(refunded.insert(event.refund().order_id()).second) << "refunded twice";
  }
  EXPECT_GT(refunds, 100);
}

TEST(GeneratorTest, SameSeedSameBytes) {
  const auto encode_all = [](std::uint64_t seed) {
    absl::StatusOr<Generator> generator = Generator::Create(SimulatedOptions(seed, 0.05));
    EXPECT_TRUE(generator.ok()) << generator.status();
    std::string out;
    Record record;
    while (generator->Next(record)) {
      if (record.defect == Defect::kGarbage) {
        out.append(record.garbage);
      } else {
        EXPECT_TRUE(AppendEventJson(record.event, out).ok());
      }
      out.push_back('\n');
    }
    return out;
  };
  const std::string first = encode_all(3);
  EXPECT_EQ(first, encode_all(3));
  EXPECT_NE(first, encode_all(4));
}

TEST(GeneratorTest, InvalidFractionIsRespectedAndEachDefectIsReal) {
  absl::StatusOr<Generator> generator = Generator::Create(SimulatedOptions(11, 0.1));
  ASSERT_TRUE(generator.ok()) << generator.status();
  std::map<Defect, int> defects;
  Record record;
  while (generator->Next(record)) {
    ++defects[record.defect];
    const v1::CustomerEvent& event = record.event;
    SCOPED_TRACE(event.ShortDebugString());
    EXPECT_FALSE(record.key.empty());
    switch (record.defect) {
      case Defect::kNone:
        break;
      case Defect::kNegativeAmount: {
        bool negative = event.has_refund() && event.refund().amount() < 0;
        if (event.has_purchase()) {
          negative = event.purchase().total_amount() < 0;
          for (const auto& item : event.purchase().items()) {
            negative = negative || item.unit_price() < 0 || item.quantity() < 1;
          }
        }
        EXPECT_TRUE(negative);
        break;
      }
      case Defect::kUnknownCurrency: {
        const std::string& currency =
            event.has_purchase() ? event.purchase().currency() : event.refund().currency();
        EXPECT_THAT(currency, testing::Not(testing::AnyOf("", "CNY")));
        break;
      }
      case Defect::kMissingCustomerId:
        EXPECT_TRUE(event.customer_id().empty());
        EXPECT_FALSE(event.event_id().empty());
        break;
      case Defect::kGarbage: {
        EXPECT_EQ(record.garbage.find('\n'), std::string::npos);
        EXPECT_NE(record.garbage.front(), '{');
        v1::CustomerEvent decoded;
        EXPECT_FALSE(decoded.ParseFromString(record.garbage));
        break;
      }
    }
  }
  const int invalid = static_cast<int>(kEvents) - defects[Defect::kNone];
  EXPECT_NEAR(invalid, kEvents / 10, kEvents / 100);
  for (const Defect defect : {Defect::kNegativeAmount, Defect::kUnknownCurrency,
                              Defect::kMissingCustomerId, Defect::kGarbage}) {
    EXPECT_GT(defects[defect], 0) << static_cast<int>(defect);
  }
}

TEST(GeneratorTest, LiveClockStampsTheWallClockAndNeedNotEnd) {
  absl::Time now = kStart + absl::Hours(5) + absl::Microseconds(1'234'567);
  absl::StatusOr<Generator> generator = Generator::Create({.seed = 5,
                                                           .customers = 100,
                                                           .events = 0,
                                                           .clock = ClockMode::kLive,
                                                           .start = kStart,
                                                           .wall_clock = [&] { return now; }});
  ASSERT_TRUE(generator.ok()) << generator.status();
  Record record;
  for (int i = 0; i < 1'000; ++i) {
    ASSERT_TRUE(generator->Next(record));
    // Truncated to the millisecond, as upstream apps send.
    EXPECT_EQ(OccurredAt(record.event), kStart + absl::Hours(5) + absl::Milliseconds(1'234));
  }
  now += absl::Hours(1);
  ASSERT_TRUE(generator->Next(record));
  EXPECT_EQ(OccurredAt(record.event), kStart + absl::Hours(6) + absl::Milliseconds(1'234));
  EXPECT_EQ(generator->produced(), 1'001);
}

TEST(GeneratorTest, StopsAfterTheRequestedCount) {
  absl::StatusOr<Generator> generator =
      Generator::Create({.customers = 10, .events = 3, .clock = ClockMode::kLive, .start = kStart});
  ASSERT_TRUE(generator.ok()) << generator.status();
  Record record;
  EXPECT_TRUE(generator->Next(record));
  EXPECT_TRUE(generator->Next(record));
  EXPECT_TRUE(generator->Next(record));
  EXPECT_EQ(record.event.event_id(), "1-3");
  EXPECT_FALSE(generator->Next(record));
  EXPECT_EQ(record.event.event_id(), "1-3") << "record changed after the end";
}

TEST(GeneratorTest, CustomerIdsAreZeroPaddedAndReversible) {
  absl::StatusOr<Generator> small = Generator::Create({.customers = 10, .events = 1});
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->CustomerId(7), "c000007");
  EXPECT_EQ(small->CustomerNumber("c000007"), 7);
  EXPECT_EQ(small->CustomerNumber("c000011"), 0) << "beyond the customer count";
  EXPECT_EQ(small->CustomerNumber("c00007"), 0);
  EXPECT_EQ(small->CustomerNumber("x000007"), 0);

  absl::StatusOr<Generator> large = Generator::Create({.customers = 2'000'000, .events = 1});
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_EQ(large->CustomerId(123), "c0000123");
  EXPECT_EQ(large->CustomerNumber("c2000000"), 2'000'000);
}

TEST(GeneratorTest, RejectsOptionsItCannotHonour) {
  const auto error = [](GeneratorOptions options) {
    return std::string(Generator::Create(std::move(options)).status().message());
  };
  EXPECT_THAT(error({.customers = 0, .events = 1}), testing::HasSubstr("customers"));
  EXPECT_THAT(error({.events = -1}), testing::HasSubstr("events"));
  EXPECT_THAT(error({.events = 0, .clock = ClockMode::kSimulated}),
              testing::HasSubstr("event count"));
  EXPECT_THAT(error({.events = 1, .invalid_fraction = 1.5}), testing::HasSubstr("fraction"));
  EXPECT_THAT(error({.events = 1, .span = absl::ZeroDuration()}), testing::HasSubstr("span"));
  EXPECT_THAT(error({.events = 1,
                     .start = absl::FromCivil(absl::CivilDay(9998, 6, 1), absl::UTCTimeZone())}),
              testing::HasSubstr("years"));
}

}  // namespace
}  // namespace cdp::tools
