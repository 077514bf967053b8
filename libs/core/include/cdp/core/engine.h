#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "cdp/core/reject_reason.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/value.h"
#include "cdp/v1/customer_event.pb.h"
#include "cdp/v1/customer_profile.pb.h"
#include "cdp/v1/segment_change.pb.h"

namespace cdp::core {

namespace internal {
class TimePlan;
}  // namespace internal

struct EngineOptions {
  // Amounts in any other currency are rejected as unsupported_currency.
  std::string reporting_currency = "CNY";
  std::size_t max_id_bytes = 128;
  // occurred_at later than now + this, or earlier than now - max_past, is rejected.
  absl::Duration max_future_skew = absl::Hours(24);
  absl::Duration max_past = absl::Hours(24 * 365 * 10);
};

// A field's name and value, for the profile API and explanations.
struct NamedValue {
  std::string_view name;
  rules::Value value;
};

// What the profile looks like at `now`: every catalogue field, the memberships it implies.
struct Evaluation {
  std::vector<NamedValue> fields;                          // every field, in FieldId order
  std::vector<std::string> segments;                       // independent segments held, sorted
  std::vector<std::pair<std::string, std::string>> tiers;  // dimension id -> tier id held
};

// The pure heart of the pipeline: events -> profile -> segments -> changes. No I/O, no clock:
// given the same (profile, event, now) it always gives the same result. Thread-safe (const).
class Engine {
 public:
  Engine(std::shared_ptr<const rules::SegmentCatalogue> catalogue, EngineOptions options);

  // Checks a decoded event against the contract (ids, payload, amounts, currency, enums, dates,
  // timestamp bounds relative to `now`). nullopt when valid.
  [[nodiscard]] std::optional<Rejection> Validate(const v1::CustomerEvent& event,
                                                  absl::Time now) const;

  // Applies a valid event to `profile` (empty for a new customer), re-evaluates every segment at
  // `now` and appends one change per membership change to `changes`. An erasure clears the
  // profile, exits every segment (cause: erasure) and returns true: the caller deletes the state.
  [[nodiscard]] bool Apply(const v1::CustomerEvent& event, absl::Time now,
                           v1::CustomerProfile& profile,
                           std::vector<v1::SegmentChange>& changes) const;

  // Re-evaluates memberships with no new event (time passed, or definitions changed); changes
  // carry `cause` and `occurred_at = now`. Like Apply, sets the profile's timer (timer_due_at).
  void Reevaluate(absl::Time now, v1::SegmentChange::Cause cause, v1::CustomerProfile& profile,
                  std::vector<v1::SegmentChange>& changes) const;

  // Fires the profile's timers due at or before `now`, earliest first: each re-evaluates the
  // memberships at its due instant (cause: time, occurred_at: the due instant) and sets the next
  // timer. Firing again is a no-op, and the same profile always yields the same changes, with the
  // same change ids. Apply fires due timers itself before applying its event. Returns the number
  // of timers fired.
  std::size_t FireTimers(absl::Time now, v1::CustomerProfile& profile,
                         std::vector<v1::SegmentChange>& changes) const;

  // Every field and membership at `now`, without changing the profile.
  [[nodiscard]] Evaluation Evaluate(const v1::CustomerProfile& profile, absl::Time now) const;

  [[nodiscard]] const rules::SegmentCatalogue& catalogue() const { return *catalogue_; }

 private:
  std::shared_ptr<const rules::SegmentCatalogue> catalogue_;
  std::shared_ptr<const internal::TimePlan> time_plan_;
  EngineOptions options_;
};

// When the profile's timer is due (timer_due_at), nullopt when it has none.
[[nodiscard]] std::optional<absl::Time> TimerDue(const v1::CustomerProfile& profile);

}  // namespace cdp::core
