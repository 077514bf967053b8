#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdp/core/engine.h"
#include "text_util.h"
#include "time_util.h"

namespace cdp::core {
namespace {

using internal::Quote;
using internal::ToAbsl;

// Large enough for any real order, small enough that thousands of them add up without overflow.
constexpr std::int64_t kMaxAmount = 1'000'000'000'000'000;

Rejection Reject(RejectReason reason, std::string detail) {
  return Rejection{reason, std::move(detail)};
}

std::optional<Rejection> CheckId(std::string_view name, std::string_view value,
                                 std::size_t max_bytes) {
  if (value.size() > max_bytes) {
    return Reject(RejectReason::kInvalidId, absl::StrCat(ToAbsl(name), " is ", value.size(),
                                                         " bytes; the limit is ", max_bytes));
  }
  if (!internal::IsValidUtf8(value)) {
    return Reject(RejectReason::kInvalidId,
                  absl::StrCat(ToAbsl(name), " ", Quote(value), " is not valid UTF-8"));
  }
  return std::nullopt;
}

std::string KnownChannels() {
  std::vector<std::string> names;
  const auto* type = v1::CustomerEvent::Channel_descriptor();
  for (int i = 1; i < type->value_count(); ++i) names.push_back(type->value(i)->name());
  return absl::StrJoin(names, ", ");
}

std::string KnownInteractionTypes() {
  std::vector<std::string> names;
  const auto* type = v1::Interaction::Type_descriptor();
  for (int i = 1; i < type->value_count(); ++i) names.push_back(type->value(i)->name());
  return absl::StrJoin(names, ", ");
}

std::optional<Rejection> CheckEnums(const v1::CustomerEvent& event) {
  if (!v1::CustomerEvent::Channel_IsValid(event.channel())) {
    return Reject(RejectReason::kUnknownEnum,
                  absl::StrCat("channel is ", event.channel(),
                               ", which this version does not know; known: ", KnownChannels()));
  }
  if (event.has_interaction()) {
    const int type = event.interaction().type();
    // An interaction must say what it was: an unspecified type cannot feed any counter.
    if (!v1::Interaction::Type_IsValid(type) || type == v1::Interaction::type_unspecified) {
      return Reject(
          RejectReason::kUnknownEnum,
          absl::StrCat("interaction.type is ", type,
                       type == 0 ? " (unspecified)" : ", which this version does not know",
                       "; known: ", KnownInteractionTypes()));
    }
  }
  if (event.has_consent()) {
    const int channel = event.consent().channel();
    // Consent is always for a named channel.
    if (!v1::CustomerEvent::Channel_IsValid(channel) ||
        channel == v1::CustomerEvent::channel_unspecified) {
      return Reject(
          RejectReason::kUnknownEnum,
          absl::StrCat("consent.channel is ", channel,
                       channel == 0 ? " (unspecified)" : ", which this version does not know",
                       "; known: ", KnownChannels()));
    }
  }
  return std::nullopt;
}

std::optional<Rejection> CheckAmount(std::string_view name, std::int64_t value) {
  if (value < 0) {
    return Reject(RejectReason::kNegativeAmount,
                  absl::StrCat(ToAbsl(name), " is ", value, "; must be >= 0"));
  }
  if (value > kMaxAmount) {
    return Reject(RejectReason::kAmountOverflow,
                  absl::StrCat(ToAbsl(name), " is ", value, "; the limit is ", kMaxAmount));
  }
  return std::nullopt;
}

std::optional<Rejection> CheckPurchaseAmounts(const v1::Purchase& purchase) {
  if (auto bad = CheckAmount("purchase.total_amount", purchase.total_amount())) return bad;
  if (auto bad = CheckAmount("purchase.discount_amount", purchase.discount_amount())) return bad;
  std::int64_t value_sum = 0;
  std::int64_t quantity_sum = 0;
  for (int i = 0; i < purchase.items_size(); ++i) {
    const v1::Purchase::Item& item = purchase.items(i);
    const std::string prefix = absl::StrCat("purchase.items[", i, "]");
    if (item.quantity() < 1) {
      return Reject(RejectReason::kNegativeAmount,
                    absl::StrCat(prefix, ".quantity is ", item.quantity(), "; must be >= 1"));
    }
    if (auto bad = CheckAmount(prefix + ".quantity", item.quantity())) return bad;
    if (auto bad = CheckAmount(prefix + ".unit_price", item.unit_price())) return bad;
    std::int64_t value = 0;
    if (__builtin_mul_overflow(item.unit_price(), item.quantity(), &value) || value > kMaxAmount) {
      return Reject(RejectReason::kAmountOverflow,
                    absl::StrCat(prefix, ".unit_price x quantity (", item.unit_price(), " x ",
                                 item.quantity(), ") exceeds the limit of ", kMaxAmount));
    }
    // Both sums stay below 2 x kMaxAmount before the check, far from overflowing.
    value_sum += value;
    quantity_sum += item.quantity();
    if (value_sum > kMaxAmount || quantity_sum > kMaxAmount) {
      return Reject(RejectReason::kAmountOverflow,
                    absl::StrCat("purchase.items value or quantity summed up to item ", i,
                                 " exceeds the limit of ", kMaxAmount));
    }
  }
  return std::nullopt;
}

// Run after CheckPurchaseAmounts, which bounds every sum here far below overflow.
std::optional<Rejection> CheckItemsTotal(const v1::Purchase& purchase, double tolerance) {
  std::int64_t items = 0;
  for (const v1::Purchase::Item& item : purchase.items())
    items += item.unit_price() * item.quantity();
  // No items, or items listed without prices (for their categories): nothing to compare.
  if (items == 0) return std::nullopt;
  const std::int64_t charged = purchase.total_amount() + purchase.discount_amount();
  const double allowed = tolerance * static_cast<double>(std::max(items, charged));
  if (static_cast<double>(std::abs(items - charged)) <= allowed) return std::nullopt;
  return Reject(
      RejectReason::kInconsistentTotal,
      absl::StrCat("purchase.items add up to ", items,
                   " (unit_price x quantity), but total_amount + discount_amount is ", charged,
                   ": more than ", tolerance * 100, "% apart (an amount in another unit?)"));
}

std::optional<Rejection> CheckCurrency(std::string_view name, std::string_view currency,
                                       std::string_view reporting) {
  if (currency.empty() || absl::EqualsIgnoreCase(ToAbsl(currency), ToAbsl(reporting)))
    return std::nullopt;
  return Reject(RejectReason::kUnsupportedCurrency,
                absl::StrCat(ToAbsl(name), " is ", Quote(currency), "; this deployment reports in ",
                             ToAbsl(reporting), " and has no conversion for it"));
}

std::optional<Rejection> CheckDate(std::string_view name, std::string_view value) {
  if (value.empty() || internal::ParseIsoDate(value)) return std::nullopt;
  return Reject(RejectReason::kInvalidDate, absl::StrCat(ToAbsl(name), " is ", Quote(value),
                                                         "; must be a calendar date YYYY-MM-DD"));
}

std::optional<Rejection> CheckProfileUpdate(const v1::ProfileUpdate& update) {
  if (update.has_birth_date()) {
    if (auto bad = CheckDate("profile_update.birth_date", update.birth_date())) return bad;
  }
  // Sorted, so that the same event always names the same offender.
  std::vector<std::string_view> date_keys;
  for (const auto& [key, value] : update.attributes()) {
    if (absl::EndsWith(key, "_date")) date_keys.push_back(key);
  }
  std::sort(date_keys.begin(), date_keys.end());
  for (std::string_view key : date_keys) {
    if (auto bad = CheckDate(absl::StrCat("profile_update.attributes[", Quote(key), "]"),
                             update.attributes().at(std::string(key)))) {
      return bad;
    }
  }
  return std::nullopt;
}

std::optional<Rejection> CheckInteraction(const v1::Interaction& interaction) {
  if (interaction.has_rating() && (interaction.rating() < 1 || interaction.rating() > 5)) {
    return Reject(RejectReason::kInvalidRating,
                  absl::StrCat("interaction.rating is ", interaction.rating(), "; must be 1-5"));
  }
  if (interaction.has_score() && (interaction.score() < 0 || interaction.score() > 10)) {
    return Reject(RejectReason::kInvalidRating,
                  absl::StrCat("interaction.score is ", interaction.score(), "; must be 0-10"));
  }
  return std::nullopt;
}

std::optional<Rejection> CheckTimestamp(const google::protobuf::Timestamp& occurred_at,
                                        absl::Time now, const EngineOptions& options) {
  if (occurred_at.nanos() < 0 || occurred_at.nanos() > 999'999'999) {
    return Reject(
        RejectReason::kTimestampOutOfRange,
        absl::StrCat("occurred_at.nanos is ", occurred_at.nanos(), "; must be 0-999999999"));
  }
  const absl::Time at = internal::ToTime(occurred_at);
  const auto format = [](absl::Time t) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
  };
  if (at > now + options.max_future_skew) {
    return Reject(RejectReason::kTimestampOutOfRange,
                  absl::StrCat("occurred_at ", format(at), " is more than ",
                               absl::FormatDuration(options.max_future_skew), " after now (",
                               format(now), ")"));
  }
  if (at < now - options.max_past) {
    return Reject(
        RejectReason::kTimestampOutOfRange,
        absl::StrCat("occurred_at ", format(at), " is more than ",
                     absl::FormatDuration(options.max_past), " before now (", format(now), ")"));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Rejection> Engine::Validate(const v1::CustomerEvent& event, absl::Time now) const {
  if (event.event_id().empty()) return Reject(RejectReason::kMissingEventId, "event_id is empty");
  if (event.customer_id().empty()) {
    return Reject(RejectReason::kMissingCustomerId, "customer_id is empty");
  }
  if (!event.has_occurred_at()) {
    return Reject(RejectReason::kMissingOccurredAt, "occurred_at is not set");
  }
  if (auto bad = CheckId("event_id", event.event_id(), options_.max_id_bytes)) return bad;
  if (auto bad = CheckId("customer_id", event.customer_id(), options_.max_id_bytes)) return bad;
  if (event.has_purchase()) {
    if (auto bad =
            CheckId("purchase.order_id", event.purchase().order_id(), options_.max_id_bytes)) {
      return bad;
    }
  }
  if (event.has_refund()) {
    if (auto bad = CheckId("refund.order_id", event.refund().order_id(), options_.max_id_bytes)) {
      return bad;
    }
  }
  if (event.payload_case() == v1::CustomerEvent::PAYLOAD_NOT_SET) {
    return Reject(RejectReason::kMissingPayload,
                  "no payload: set one of purchase, refund, interaction, profile_update, consent, "
                  "erasure");
  }
  if (auto bad = CheckEnums(event)) return bad;
  if (event.has_purchase()) {
    if (auto bad = CheckPurchaseAmounts(event.purchase())) return bad;
    if (auto bad = CheckCurrency("purchase.currency", event.purchase().currency(),
                                 options_.reporting_currency)) {
      return bad;
    }
    if (auto bad = CheckItemsTotal(event.purchase(), options_.items_total_tolerance)) return bad;
  }
  if (event.has_refund()) {
    if (auto bad = CheckAmount("refund.amount", event.refund().amount())) return bad;
    if (auto bad = CheckCurrency("refund.currency", event.refund().currency(),
                                 options_.reporting_currency)) {
      return bad;
    }
  }
  if (event.has_profile_update()) {
    if (auto bad = CheckProfileUpdate(event.profile_update())) return bad;
  }
  if (event.has_interaction()) {
    if (auto bad = CheckInteraction(event.interaction())) return bad;
  }
  return CheckTimestamp(event.occurred_at(), now, options_);
}

}  // namespace cdp::core
