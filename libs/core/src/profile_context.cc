#include "profile_context.h"

#include <algorithm>
#include <functional>
#include <string>

#include "cdp/core/memberships.h"
#include "saturating.h"
#include "time_util.h"

namespace cdp::core::internal {
namespace {

using rules::FieldId;
using rules::Value;

Value Number(std::int64_t value) { return Value::Number(static_cast<double>(value)); }

// A ratio, or null when there is nothing to divide by.
Value Ratio(double numerator, double denominator) {
  return denominator == 0 ? Value::Null() : Value::Number(numerator / denominator);
}

Value NonEmpty(std::string_view text) { return text.empty() ? Value::Null() : Value::String(text); }

}  // namespace

ProfileContext::ProfileContext(const v1::CustomerProfile& profile, CivilDate today,
                               const rules::SegmentCatalogue& catalogue,
                               const Population& population)
    : profile_(profile),
      zone_(catalogue.timezone),
      rfm_(catalogue.rfm_scoring == rules::RfmScoring::kBreakpoints ? &catalogue.rfm
           : population.rfm_quintiles                               ? &*population.rfm_quintiles
                                                                    : nullptr),
      rfm_lifetime_(catalogue.rfm_scoring == rules::RfmScoring::kQuintiles),
      today_date_(today),
      today_(DaysFromCivil(today_date_)) {}

Value ProfileContext::field(FieldId id) const {
  const auto index = static_cast<std::size_t>(id);
  if (index >= rules::kFieldCount) return Value::Null();
  if (!computed_[index]) {
    values_[index] = Compute(id);
    computed_[index] = true;
  }
  return values_[index];
}

bool ProfileContext::has_tag(std::string_view tag) const {
  return std::binary_search(profile_.tags().begin(), profile_.tags().end(), tag, std::less<>());
}

Value ProfileContext::attr(std::string_view key) const {
  const auto it = profile_.attributes().find(key);
  return it == profile_.attributes().end() ? Value::Null() : Value::String(it->second);
}

bool ProfileContext::consent(std::string_view channel) const {
  const auto it = profile_.consent().find(channel);
  return it != profile_.consent().end() && it->second;
}

bool ProfileContext::ever_in(std::string_view id) const {
  return HistoryOf(profile_, id) != nullptr;
}

std::optional<std::int64_t> ProfileContext::entered_day(std::string_view id) const {
  const bool held = std::binary_search(profile_.segments().begin(), profile_.segments().end(), id,
                                       std::less<>()) ||
                    std::any_of(profile_.tiers().begin(), profile_.tiers().end(),
                                [&](const auto& entry) { return entry.tier() == id; });
  if (!held) return std::nullopt;
  const v1::CustomerProfile::MembershipHistory* history = HistoryOf(profile_, id);
  if (history == nullptr || !history->has_last_entered_at()) return std::nullopt;
  return DayOf(ToTime(history->last_entered_at()), zone_);
}

const ProfileContext::Windows& ProfileContext::windows() const {
  if (windows_) return *windows_;
  Windows sums;
  // Window N holds the days in (today - N, today]; buckets are sorted by day.
  for (const auto& bucket : profile_.daily()) {
    const std::int64_t age = today_ - bucket.day();
    if (age < 0) break;
    if (age >= 365) continue;
    sums.orders_365d = Sum(sums.orders_365d, bucket.orders());
    sums.monetary_365d = Sum(sums.monetary_365d, bucket.monetary());
    if (age < 90) {
      sums.orders_90d = Sum(sums.orders_90d, bucket.orders());
      sums.monetary_90d = Sum(sums.monetary_90d, bucket.monetary());
    }
    if (age < 30) {
      sums.orders_30d = Sum(sums.orders_30d, bucket.orders());
      sums.monetary_30d = Sum(sums.monetary_30d, bucket.monetary());
      sums.interactions_30d = Sum(sums.interactions_30d, bucket.interactions());
    }
  }
  return windows_.emplace(sums);
}

std::optional<std::int64_t> ProfileContext::anchor_day(Anchor anchor) const {
  if (anchor_known_[anchor]) return anchor_days_[anchor];
  const v1::CustomerProfile& p = profile_;
  const google::protobuf::Timestamp* at = nullptr;
  switch (anchor) {
    case kFirstPurchase:
      if (p.has_first_purchase_at()) at = &p.first_purchase_at();
      break;
    case kLastPurchase:
      if (p.has_last_purchase_at()) at = &p.last_purchase_at();
      break;
    case kLastActivity:
      if (p.has_last_activity_at()) at = &p.last_activity_at();
      break;
    case kAnchorCount:
      break;
  }
  if (at != nullptr) anchor_days_[anchor] = DayOf(ToTime(*at), zone_);
  anchor_known_[anchor] = true;
  return anchor_days_[anchor];
}

Value ProfileContext::DaysSince(Anchor anchor) const {
  const std::optional<std::int64_t> day = anchor_day(anchor);
  if (!day) return Value::Null();
  // An event up to the allowed clock skew ahead counts as today, not as a negative age.
  return Number(std::max<std::int64_t>(0, today_ - *day));
}

Value ProfileContext::TopCategory() const {
  const std::string* best = nullptr;
  std::int64_t best_quantity = 0;
  for (const auto& [category, quantity] : profile_.category_quantity()) {
    if (best == nullptr || quantity > best_quantity ||
        (quantity == best_quantity && category < *best)) {
      best = &category;
      best_quantity = quantity;
    }
  }
  return best == nullptr ? Value::Null() : Value::String(*best);
}

Value ProfileContext::Age() const {
  const auto birth = ParseIsoDate(profile_.birth_date());
  if (!birth || *birth > today_date_) return Value::Null();
  std::int64_t years = today_date_.year - birth->year;
  if (std::pair(today_date_.month, today_date_.day) < std::pair(birth->month, birth->day)) {
    --years;
  }
  return Number(years);
}

Value ProfileContext::RfmRecency() const {
  const Value days = field(FieldId::kDaysSinceLastPurchase);
  if (days.is_null() || rfm_ == nullptr) return Value::Null();
  // Inverted: the fewer days since the last purchase, the higher the score.
  int score = 5;
  for (double breakpoint : rfm_->recency_days) {
    if (days.number() <= breakpoint) return Value::Number(score);
    --score;
  }
  return Value::Number(score);
}

Value ProfileContext::RfmScore(std::int64_t value, const std::array<double, 4>& breakpoints) const {
  if (profile_.orders_total() == 0 || rfm_ == nullptr) return Value::Null();
  const auto reached = std::count_if(breakpoints.begin(), breakpoints.end(),
                                     [&](double b) { return static_cast<double>(value) >= b; });
  return Number(1 + reached);
}

Value ProfileContext::Compute(FieldId id) const {
  const v1::CustomerProfile& p = profile_;
  switch (id) {
    case FieldId::kOrdersTotal:
      return Number(p.orders_total());
    case FieldId::kMonetaryTotal:
      return Number(p.monetary_total());
    case FieldId::kOrders30d:
      return Number(windows().orders_30d);
    case FieldId::kOrders90d:
      return Number(windows().orders_90d);
    case FieldId::kOrders365d:
      return Number(windows().orders_365d);
    case FieldId::kMonetary30d:
      return Number(windows().monetary_30d);
    case FieldId::kMonetary90d:
      return Number(windows().monetary_90d);
    case FieldId::kMonetary365d:
      return Number(windows().monetary_365d);
    case FieldId::kAvgOrderValue:
      return Ratio(static_cast<double>(p.monetary_total()), static_cast<double>(p.orders_total()));
    case FieldId::kAvgUnitPrice:
      return Ratio(static_cast<double>(p.item_value_total()),
                   static_cast<double>(p.item_quantity_total()));
    case FieldId::kDiscountRatio:
      return Ratio(static_cast<double>(p.discount_total()),
                   static_cast<double>(p.paid_total()) + static_cast<double>(p.discount_total()));
    case FieldId::kCouponRedeemRate: {
      // Coupons can be redeemed without being claimed through a tracked channel; the rate caps.
      const Value rate =
          Ratio(static_cast<double>(p.coupon_purchases()), static_cast<double>(p.coupon_claims()));
      return rate.is_null() ? rate : Value::Number(std::min(1.0, rate.number()));
    }
    case FieldId::kRefundsTotal:
      return Number(p.refunds_total());
    case FieldId::kInteractionsTotal:
      return Number(p.interactions_total());
    case FieldId::kInteractions30d:
      return Number(windows().interactions_30d);
    case FieldId::kDaysSinceFirstPurchase:
      return DaysSince(kFirstPurchase);
    case FieldId::kDaysSinceLastPurchase:
      return DaysSince(kLastPurchase);
    case FieldId::kDaysSinceLastActivity:
      return DaysSince(kLastActivity);
    case FieldId::kRfmR:
      return RfmRecency();
    case FieldId::kRfmF:
      if (rfm_ == nullptr) return Value::Null();
      return RfmScore(rfm_lifetime_ ? p.orders_total() : windows().orders_365d,
                      rfm_->frequency_orders_365d);
    case FieldId::kRfmM:
      if (rfm_ == nullptr) return Value::Null();
      return RfmScore(rfm_lifetime_ ? p.monetary_total() : windows().monetary_365d,
                      rfm_->monetary_365d);
    case FieldId::kTopCategory:
      return TopCategory();
    case FieldId::kRegion:
      return NonEmpty(p.region());
    case FieldId::kCity:
      return NonEmpty(p.city());
    case FieldId::kGender:
      return NonEmpty(p.gender());
    case FieldId::kAge:
      return Age();
    case FieldId::kIncomeBand:
      return NonEmpty(p.income_band());
    case FieldId::kMembershipLevel:
      return NonEmpty(p.membership_level());
    case FieldId::kBirthMonth: {
      const auto birth = ParseIsoDate(p.birth_date());
      return birth ? Value::Number(birth->month) : Value::Null();
    }
    case FieldId::kReferralsTotal:
      return Number(p.referrals_total());
    case FieldId::kCommunityPostsTotal:
      return Number(p.community_posts_total());
    case FieldId::kAvgSurveyScore:
      return Ratio(static_cast<double>(p.survey_score_sum()),
                   static_cast<double>(p.survey_count()));
    case FieldId::kSurveysTotal:
      return Number(p.survey_count());
    case FieldId::kAvgReviewRating:
      return Ratio(static_cast<double>(p.review_rating_sum()),
                   static_cast<double>(p.review_count()));
    case FieldId::kReviewsTotal:
      return Number(p.review_count());
    case FieldId::kCurrentMonth:
      return Value::Number(today_date_.month);
    case FieldId::kCount:
      break;
  }
  return Value::Null();
}

}  // namespace cdp::core::internal
