#include "cdp/core/reject_reason.h"

#include <array>

namespace cdp::core {

std::string_view ReasonName(RejectReason reason) {
  static constexpr std::array<std::string_view, static_cast<std::size_t>(RejectReason::kCount)>
      kNames = {
          "empty_value",         "oversize",
          "undecodable",         "missing_event_id",
          "missing_customer_id", "missing_occurred_at",
          "invalid_id",          "missing_payload",
          "unknown_enum",        "negative_amount",
          "amount_overflow",     "unsupported_currency",
          "inconsistent_total",  "invalid_date",
          "invalid_rating",      "timestamp_out_of_range",
          "misrouted",           "erased",
      };
  const auto index = static_cast<std::size_t>(reason);
  return index < kNames.size() ? kNames[index] : "unknown_reason";
}

}  // namespace cdp::core
