#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "cdp/rules/fields.h"
#include "cdp/rules/value.h"

namespace cdp::rules {

// What an expression reads while it is evaluated: one customer's profile at one instant. The core
// implements it; rules never see a profile directly.
class EvalContext {
 public:
  virtual ~EvalContext() = default;

  [[nodiscard]] virtual Value field(FieldId id) const = 0;
  [[nodiscard]] virtual bool has_tag(std::string_view tag) const = 0;
  // A profile attribute as a string, or null when absent.
  [[nodiscard]] virtual Value attr(std::string_view key) const = 0;
  // Marketing consent for a channel name ("sms", "email"...); false when never given.
  [[nodiscard]] virtual bool consent(std::string_view channel) const = 0;
  // Whether the customer ever held the segment or tier `id` (now included).
  [[nodiscard]] virtual bool ever_in(std::string_view id) const = 0;
  // While the customer holds the segment or tier `id`: the day (days since 1970-01-01, business
  // time zone) they last entered it; nullopt otherwise.
  [[nodiscard]] virtual std::optional<std::int64_t> entered_day(std::string_view id) const = 0;
  // Today's civil day in the business time zone, as days since 1970-01-01; used by
  // days_since()/months_since() on date strings.
  [[nodiscard]] virtual std::int64_t today() const = 0;
};

}  // namespace cdp::rules
