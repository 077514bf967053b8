#include "cdp/rules/fields.h"

#include <array>

#include "cdp/rules/value.h"

namespace cdp::rules {
namespace {

constexpr ValueType kNumber = ValueType::kNumber;
constexpr ValueType kString = ValueType::kString;

constexpr std::array<FieldInfo, kFieldCount> kFields = {{
    {FieldId::kOrdersTotal, "orders_total", kNumber, false, "Number of purchases, all time."},
    {FieldId::kMonetaryTotal, "monetary_total", kNumber, false,
     "Amount paid minus amount refunded, all time, in minor currency units."},
    {FieldId::kOrders30d, "orders_30d", kNumber, true,
     "Purchases whose date is one of the last 30 calendar days, today included."},
    {FieldId::kOrders90d, "orders_90d", kNumber, true,
     "Purchases whose date is one of the last 90 calendar days, today included."},
    {FieldId::kOrders365d, "orders_365d", kNumber, true,
     "Purchases whose date is one of the last 365 calendar days, today included."},
    {FieldId::kMonetary30d, "monetary_30d", kNumber, true,
     "Amount paid minus refunds over the last 30 calendar days, today included, in minor units; "
     "a refund counts on its purchase's day when known, else on its own day."},
    {FieldId::kMonetary90d, "monetary_90d", kNumber, true,
     "Amount paid minus refunds over the last 90 calendar days, today included, in minor units; "
     "a refund counts on its purchase's day when known, else on its own day."},
    {FieldId::kMonetary365d, "monetary_365d", kNumber, true,
     "Amount paid minus refunds over the last 365 calendar days, today included, in minor units; "
     "a refund counts on its purchase's day when known, else on its own day."},
    {FieldId::kAvgOrderValue, "avg_order_value", kNumber, false,
     "monetary_total / orders_total; null without purchases."},
    {FieldId::kAvgUnitPrice, "avg_unit_price", kNumber, false,
     "sum(unit_price x quantity) / sum(quantity) over all items bought; null without items."},
    {FieldId::kDiscountRatio, "discount_ratio", kNumber, false,
     "Total discount / (total paid + total discount), 0-1; null without purchases."},
    {FieldId::kCouponRedeemRate, "coupon_redeem_rate", kNumber, false,
     "Purchases with a coupon / coupon claims, capped at 1; null without coupon claims."},
    {FieldId::kRefundsTotal, "refunds_total", kNumber, false,
     "Amount refunded, all time, in minor currency units."},
    {FieldId::kInteractionsTotal, "interactions_total", kNumber, false,
     "Number of interactions (views, clicks, shares, reviews, message opens...), all time."},
    {FieldId::kInteractions30d, "interactions_30d", kNumber, true,
     "Interactions whose date is one of the last 30 calendar days, today included."},
    {FieldId::kDaysSinceFirstPurchase, "days_since_first_purchase", kNumber, true,
     "Calendar days from the first purchase's date to today (0 on the same day); null without "
     "purchases."},
    {FieldId::kDaysSinceLastPurchase, "days_since_last_purchase", kNumber, true,
     "Calendar days from the last purchase's date to today (0 on the same day); null without "
     "purchases."},
    {FieldId::kDaysSinceLastActivity, "days_since_last_activity", kNumber, true,
     "Calendar days from the last purchase or interaction to today (profile updates and consent "
     "are not activity); null without activity."},
    {FieldId::kRfmR, "rfm_r", kNumber, true,
     "Recency score 1-5: 5 when days_since_last_purchase <= the first rfm.recency_days "
     "breakpoint, one less per breakpoint exceeded; null without purchases. With rfm scoring: "
     "quintiles, the breakpoints are the partition's recency quintiles."},
    {FieldId::kRfmF, "rfm_f", kNumber, true,
     "Frequency score 1-5: 1 + the number of rfm.frequency_orders_365d breakpoints orders_365d "
     "reaches (>=); null without purchases. With rfm scoring: quintiles, the quintile (1 lowest) "
     "of orders_total among the partition's customers with a purchase."},
    {FieldId::kRfmM, "rfm_m", kNumber, true,
     "Monetary score 1-5: 1 + the number of rfm.monetary_365d breakpoints monetary_365d reaches "
     "(>=); null without purchases. With rfm scoring: quintiles, the quintile (1 lowest) of "
     "monetary_total among the partition's customers with a purchase."},
    {FieldId::kTopCategory, "top_category", kString, false,
     "Category with the largest quantity bought (ties: the alphabetically smallest); null without "
     "items."},
    {FieldId::kRegion, "region", kString, false, "Region from the profile; null when not given."},
    {FieldId::kCity, "city", kString, false, "City from the profile; null when not given."},
    {FieldId::kGender, "gender", kString, false, "Gender from the profile; null when not given."},
    {FieldId::kAge, "age", kNumber, true,
     "Whole years from birth_date to today; null without birth_date."},
    {FieldId::kIncomeBand, "income_band", kString, false,
     "Income band from the profile; null when not given."},
    {FieldId::kMembershipLevel, "membership_level", kString, false,
     "Loyalty programme level from the profile; null when not given."},
    {FieldId::kBirthMonth, "birth_month", kNumber, false,
     "Month of birth_date, 1-12; null without birth_date."},
    {FieldId::kReferralsTotal, "referrals_total", kNumber, false,
     "Number of referral interactions (friends brought), all time."},
    {FieldId::kCommunityPostsTotal, "community_posts_total", kNumber, false,
     "Number of community_post interactions, all time."},
    {FieldId::kAvgSurveyScore, "avg_survey_score", kNumber, false,
     "Mean score (0-10) of survey responses; null without scored survey responses."},
    {FieldId::kSurveysTotal, "surveys_total", kNumber, false,
     "Number of scored survey responses, all time."},
    {FieldId::kAvgReviewRating, "avg_review_rating", kNumber, false,
     "Mean rating (1-5) of reviews; null without rated reviews."},
    {FieldId::kReviewsTotal, "reviews_total", kNumber, false, "Number of rated reviews, all time."},
    {FieldId::kCurrentMonth, "current_month", kNumber, true,
     "Today's month in the business time zone, 1-12."},
}};

constexpr bool InFieldIdOrder() {
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    if (static_cast<std::size_t>(kFields[i].id) != i) return false;
  }
  return true;
}
static_assert(InFieldIdOrder(), "kFields must list every field in FieldId order");

}  // namespace

std::string_view TypeName(ValueType type) {
  switch (type) {
    case ValueType::kNumber:
      return "number";
    case ValueType::kString:
      return "string";
    case ValueType::kBool:
      return "bool";
  }
  return "unknown";
}

std::span<const FieldInfo> Fields() { return kFields; }

const FieldInfo& Field(FieldId id) { return kFields[static_cast<std::size_t>(id)]; }

std::optional<FieldId> FindField(std::string_view name) {
  for (const FieldInfo& field : kFields) {
    if (field.name == name) return field.id;
  }
  return std::nullopt;
}

}  // namespace cdp::rules
