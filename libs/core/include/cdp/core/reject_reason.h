#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cdp::core {

// Why an input record was sent to the dead-letter topic. Each name (ReasonName) is stable: it is
// a DLQ header value and a metric label.
enum class RejectReason {
  kEmptyValue,           // empty_value: null or zero-length record
  kOversize,             // oversize: record larger than the configured limit
  kUndecodable,          // undecodable: neither valid protobuf nor valid protobuf-JSON
  kMissingEventId,       // missing_event_id
  kMissingCustomerId,    // missing_customer_id
  kMissingOccurredAt,    // missing_occurred_at
  kInvalidId,            // invalid_id: an id over the length limit or not valid UTF-8
  kMissingPayload,       // missing_payload: no payload set
  kUnknownEnum,          // unknown_enum: an enum value this version does not know
  kNegativeAmount,       // negative_amount: a negative amount, price or quantity below 1
  kAmountOverflow,       // amount_overflow: an amount too large to add up safely
  kUnsupportedCurrency,  // unsupported_currency
  kInconsistentTotal,    // inconsistent_total: items far from total_amount + discount_amount
  kInvalidDate,          // invalid_date: birth_date or a date that is not YYYY-MM-DD
  kInvalidRating,        // invalid_rating: rating outside 1-5 or score outside 0-10
  kTimestampOutOfRange,  // timestamp_out_of_range: occurred_at too far in the future or past
  kMisrouted,            // misrouted: a repartitioned event in a partition its customer is not in
  kErased,               // erased: occurred before its customer's erasure
  kCount                 // not a reason: the number of reasons
};

[[nodiscard]] std::string_view ReasonName(RejectReason reason);

struct Rejection {
  RejectReason reason;
  // For people: what exactly was wrong, e.g. "purchase.total_amount is -5".
  std::string detail;
};

}  // namespace cdp::core
