#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "cdp/rules/value.h"

namespace cdp::rules {

// Every profile field a rule can name. The names are a public contract (domain.md); the meanings
// are in FieldInfo::description and in the README's field table.
enum class FieldId : std::uint16_t {
  kOrdersTotal,
  kMonetaryTotal,
  kOrders30d,
  kOrders90d,
  kOrders365d,
  kMonetary30d,
  kMonetary90d,
  kMonetary365d,
  kAvgOrderValue,
  kAvgUnitPrice,
  kDiscountRatio,
  kCouponRedeemRate,
  kRefundsTotal,
  kInteractionsTotal,
  kInteractions30d,
  kDaysSinceFirstPurchase,
  kDaysSinceLastPurchase,
  kDaysSinceLastActivity,
  kRfmR,
  kRfmF,
  kRfmM,
  kTopCategory,
  kRegion,
  kCity,
  kGender,
  kAge,
  kIncomeBand,
  kMembershipLevel,
  kBirthMonth,
  kReferralsTotal,
  kCommunityPostsTotal,
  kAvgSurveyScore,
  kSurveysTotal,
  kAvgReviewRating,
  kReviewsTotal,
  kCurrentMonth,
  kCount  // not a field: the number of fields
};

inline constexpr std::size_t kFieldCount = static_cast<std::size_t>(FieldId::kCount);

struct FieldInfo {
  FieldId id;
  std::string_view name;
  ValueType type;
  // Whether the value can change with time alone, without a new event.
  bool time_dependent;
  std::string_view description;
};

// All fields, in FieldId order.
[[nodiscard]] std::span<const FieldInfo> Fields();
[[nodiscard]] const FieldInfo& Field(FieldId id);
[[nodiscard]] std::optional<FieldId> FindField(std::string_view name);

}  // namespace cdp::rules
