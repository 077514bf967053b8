#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cdp/v1/customer_event.pb.h"

namespace cdp::core::testing {

// Valid events of every kind for one customer, drawn from a seeded generator so that a failing
// property test fails the same way each run. Values are drawn from small sets around the
// thresholds rules use, so that memberships actually move: a few order ids (refunds find them),
// categories, regions, tags, dates within months of now.
class RandomEvents {
 public:
  explicit RandomEvents(std::uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& values) {
    return values[static_cast<std::size_t>(Uniform(0, static_cast<int>(values.size()) - 1))];
  }

  // An event of a random kind around `now`; an erasure only when `erasure` allows it.
  v1::CustomerEvent Next(absl::Time now, bool erasure = false) {
    const int roll = Uniform(1, 100);
    if (roll <= 25) return Purchase(now);
    if (roll <= 33) return Refund(now);
    if (roll <= 70) return Interaction(now, Pick(kInteractionTypes));
    if (roll <= 88) return ProfileUpdate(now);
    if (roll <= 97 || !erasure) return Consent(now);
    v1::CustomerEvent event = Envelope(now);
    event.mutable_erasure()->set_reason("test");
    return event;
  }

  v1::CustomerEvent Purchase(absl::Time now) {
    v1::CustomerEvent event = Envelope(now);
    v1::Purchase& purchase = *event.mutable_purchase();
    if (!Chance(10)) purchase.set_order_id("o" + std::to_string(Uniform(1, 12)));
    if (Chance(35)) purchase.set_coupon_code("C" + std::to_string(Uniform(1, 3)));
    int items_value = 0;
    for (int i = Uniform(0, 3); i > 0; --i) {
      v1::Purchase::Item& item = *purchase.add_items();
      item.set_sku("s" + std::to_string(Uniform(1, 9)));
      item.set_category(Pick(std::vector<std::string>{"toys", "books", "shoes", ""}));
      item.set_quantity(Uniform(1, 3));
      item.set_unit_price(Pick(std::vector<int>{0, 1000, 29000, 45000}));
      items_value += static_cast<int>(item.unit_price() * item.quantity());
    }
    // Priced items are what was charged plus the discount, as validation requires.
    const int discount =
        Chance(40) ? Uniform(0, items_value > 0 ? std::min(items_value, 8000) : 8000) : 0;
    if (discount > 0) purchase.set_discount_amount(discount);
    purchase.set_total_amount(items_value > 0
                                  ? items_value - discount
                                  : Pick(std::vector<int>{0, 500, 9000, 25000, 60000, 150000}));
    return event;
  }

  v1::CustomerEvent Refund(absl::Time now) {
    v1::CustomerEvent event = Envelope(now);
    event.mutable_refund()->set_order_id("o" + std::to_string(Uniform(1, 14)));
    event.mutable_refund()->set_amount(Pick(std::vector<int>{0, 500, 9000, 30000}));
    return event;
  }

  v1::CustomerEvent Interaction(absl::Time now, v1::Interaction::Type type) {
    v1::CustomerEvent event = Envelope(now);
    v1::Interaction& interaction = *event.mutable_interaction();
    interaction.set_type(type);
    interaction.set_target_id("t1");
    if (Chance(70)) interaction.set_rating(Uniform(1, 5));
    if (Chance(70)) interaction.set_score(Uniform(0, 10));
    return event;
  }

  v1::CustomerEvent ProfileUpdate(absl::Time now) {
    v1::CustomerEvent event = Envelope(now);
    v1::ProfileUpdate& update = *event.mutable_profile_update();
    const absl::CivilDay today = absl::ToCivilDay(now, absl::UTCTimeZone());
    if (Chance(30)) {
      update.set_birth_date(Chance(10) ? "" : Date(today - Uniform(0, 366) - 365 * Uniform(0, 70)));
    }
    if (Chance(30)) update.set_gender(Pick(std::vector<std::string>{"female", "male", ""}));
    if (Chance(30)) update.set_region(Pick(std::vector<std::string>{"Zhejiang", "Sichuan", ""}));
    if (Chance(30)) update.set_city(Pick(std::vector<std::string>{"Shanghai", "Chengdu", ""}));
    if (Chance(20)) update.set_income_band(Pick(std::vector<std::string>{"15k_30k", "5k_15k"}));
    if (Chance(30)) {
      update.set_membership_level(
          Pick(std::vector<std::string>{"gold", "platinum", "silver", "bronze", ""}));
    }
    auto& attributes = *update.mutable_attributes();
    if (Chance(30)) {
      attributes["baby_birth_date"] = Chance(15) ? "" : Date(today + Uniform(-500, 60));
    }
    if (Chance(20)) attributes["anniversary_date"] = Date(today + Uniform(-40, 40));
    if (Chance(20)) attributes["customisation"] = Pick(std::vector<std::string>{"requested", ""});
    if (Chance(20)) attributes["tier"] = Pick(std::vector<std::string>{"gold", "silver", ""});
    const std::vector<std::string> tags = {"vip", "customised_order", "b"};
    for (int i = Uniform(0, 2); i > 0; --i) update.add_add_tags(Pick(tags));
    for (int i = Uniform(0, 1); i > 0; --i) update.add_remove_tags(Pick(tags));
    return event;
  }

  v1::CustomerEvent Consent(absl::Time now) {
    v1::CustomerEvent event = Envelope(now);
    event.mutable_consent()->set_channel(Pick(std::vector<v1::CustomerEvent::Channel>{
        v1::CustomerEvent::sms, v1::CustomerEvent::email, v1::CustomerEvent::wechat}));
    event.mutable_consent()->set_granted(Chance(60));
    return event;
  }

  // Every interaction type, some more than once: the common ones dominate real traffic.
  inline static const std::vector<v1::Interaction::Type> kInteractionTypes = [] {
    std::vector<v1::Interaction::Type> types;
    for (int type = v1::Interaction::Type_MIN + 1; type <= v1::Interaction::Type_MAX; ++type) {
      types.push_back(static_cast<v1::Interaction::Type>(type));
    }
    types.push_back(v1::Interaction::page_view);
    types.push_back(v1::Interaction::page_view);
    return types;
  }();

 private:
  static std::string Date(absl::CivilDay day) { return absl::FormatCivilTime(day); }

  // Mostly within the last days, some months back, some beyond a year (only totals move), some
  // a few hours ahead (allowed clock skew).
  v1::CustomerEvent Envelope(absl::Time now) {
    v1::CustomerEvent event;
    event.set_event_id("e" + std::to_string(++events_));
    event.set_customer_id("c1");
    event.set_channel(v1::CustomerEvent::app);
    absl::Time at = now - absl::Minutes(Uniform(0, 60 * 24 * 3));
    const int roll = Uniform(1, 100);
    if (roll <= 15) at = now - absl::Hours(24 * Uniform(3, 200));
    if (roll > 15 && roll <= 20) at = now - absl::Hours(24 * Uniform(360, 500));
    if (roll > 95) at = now + absl::Minutes(Uniform(1, 60 * 20));
    event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
    return event;
  }

  std::mt19937 rng_;
  int events_ = 0;
};

}  // namespace cdp::core::testing
