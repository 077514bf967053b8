#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "cdp/core/population.h"
#include "cdp/core/reject_reason.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/digest.h"
#include "cdp/rules/value.h"
#include "cdp/v1/customer_event.pb.h"
#include "cdp/v1/customer_profile.pb.h"
#include "cdp/v1/segment_change.pb.h"

namespace cdp::core {

namespace internal {
class RuleInputs;
class TimePlan;
}  // namespace internal

struct EngineOptions {
  // Amounts in any other currency are rejected as unsupported_currency.
  std::string reporting_currency = "CNY";
  std::size_t max_id_bytes = 128;
  // A purchase listing items is rejected as inconsistent_total when their value (unit_price x
  // quantity, summed) and total_amount + discount_amount differ by more than this fraction of the
  // larger: room for shipping, tax and rounding, not for a price in the wrong unit.
  double items_total_tolerance = 0.5;
  // occurred_at later than now + this, or earlier than now - max_past, is rejected.
  absl::Duration max_future_skew = absl::Hours(24);
  absl::Duration max_past = absl::Hours(24 * 365 * 10);
  // true: after an event only the rules reading what the event can change are evaluated, after a
  // timer only the time-dependent ones; the others keep what the profile holds. false: evaluate
  // every rule on every update (the reference the incremental path is tested against).
  bool incremental = true;
};

// Which segments and dimensions of an engine's catalogue to evaluate; the others keep what the
// profile holds. Indexed like the catalogue it is built against, which must be the engine's.
class RuleSelection {
 public:
  // Nothing.
  RuleSelection() = default;
  // The segments and dimensions of `catalogue` that `rules` name, e.g. the ChangedDefinitions of
  // a reloaded segment file. Ids the catalogue does not define are ignored: what a profile holds
  // of those is exited on any evaluation.
  RuleSelection(const rules::SegmentCatalogue& catalogue, std::span<const rules::RuleRef> rules);
  // Every segment and dimension.
  [[nodiscard]] static RuleSelection All();

  void AddSegment(std::size_t index);
  void AddDimension(std::size_t index);
  // Adds what `other` selects.
  void Add(const RuleSelection& other);

  [[nodiscard]] bool all() const { return all_; }
  [[nodiscard]] bool segment(std::size_t index) const {
    return all_ || (index < segments_.size() && segments_[index]);
  }
  [[nodiscard]] bool dimension(std::size_t index) const {
    return all_ || (index < dimensions_.size() && dimensions_[index]);
  }

 private:
  bool all_ = false;
  std::vector<bool> segments_;
  std::vector<bool> dimensions_;
};

// A selection prepared once for re-evaluating many profiles with it (Engine::Prepare): what its
// rules need of the timer is worked out up front. Only for the engine that prepared it.
class PreparedSelection {
 public:
  [[nodiscard]] const RuleSelection& rules() const { return rules_; }

 private:
  friend class Engine;
  PreparedSelection(RuleSelection rules, std::shared_ptr<const internal::TimePlan> time_plan)
      : rules_(std::move(rules)), time_plan_(std::move(time_plan)) {}

  RuleSelection rules_;
  // The plan of the selected rules alone.
  std::shared_ptr<const internal::TimePlan> time_plan_;
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

  // Applies a valid event to `profile` (empty for a new customer), re-evaluates the segments at
  // `now` and appends one change per membership change to `changes`. Only the rules reading what
  // the event can change are evaluated (EngineOptions::incremental): due timers are fired first,
  // so what the profile holds is what every other rule says. An erasure clears the profile, exits
  // every segment (cause: erasure) and returns true: the caller deletes the state.
  // `population`: what rfm quintiles rank the customer against (its partition's), with
  // quintile scoring; the same argument of the other calls means the same.
  [[nodiscard]] bool Apply(const v1::CustomerEvent& event, absl::Time now,
                           v1::CustomerProfile& profile, std::vector<v1::SegmentChange>& changes,
                           const Population& population = {}) const;

  // Re-evaluates memberships with no new event (time passed, or definitions changed); changes
  // carry `cause` and `occurred_at = now`. Like Apply, sets the profile's timer (timer_due_at).
  // Evaluates every rule, but for cause `time` only the time-dependent ones: nothing else can
  // have changed since the profile's last update.
  void Reevaluate(absl::Time now, v1::SegmentChange::Cause cause, v1::CustomerProfile& profile,
                  std::vector<v1::SegmentChange>& changes, const Population& population = {}) const;

  // The same, evaluating only the segments and dimensions `only` selects (and the rules reading
  // the history of a membership that moves; and the time-dependent rules when the profile's timer
  // is due by `now`); the others keep what the profile holds. After a segment file reload,
  // re-evaluating each stored profile with the changed definitions (rules::ChangedDefinitions)
  // gives what evaluating every rule would. Memberships the catalogue no longer defines are
  // exited whatever `only` selects. The timer is set from every rule, as after any update, unless
  // nothing changed: then the rules evaluated can only bring it forward, to the next day time
  // could change one of them. The rules not evaluated are the same as when the timer was set,
  // and one it was set for that is gone or changed leaves it early, which only fires to find
  // nothing. The changes carry `occurred_at` (and their ids hash it): `now` unless given, e.g.
  // the instant the definitions changed, so that redoing a re-evaluation gives the same ids.
  void Reevaluate(absl::Time now, v1::SegmentChange::Cause cause, const PreparedSelection& only,
                  v1::CustomerProfile& profile, std::vector<v1::SegmentChange>& changes,
                  std::optional<absl::Time> occurred_at = std::nullopt,
                  const Population& population = {}) const;
  // The same with `only` prepared for this one call.
  void Reevaluate(absl::Time now, v1::SegmentChange::Cause cause, const RuleSelection& only,
                  v1::CustomerProfile& profile, std::vector<v1::SegmentChange>& changes,
                  std::optional<absl::Time> occurred_at = std::nullopt,
                  const Population& population = {}) const;

  // `only` prepared for re-evaluating many profiles with it.
  [[nodiscard]] PreparedSelection Prepare(RuleSelection only) const;

  // Fires the profile's timers due at or before `now`, earliest first: each re-evaluates the
  // memberships at its due instant (cause: time, occurred_at: the due instant) and sets the next
  // timer. Firing again is a no-op, and the same profile always yields the same changes, with the
  // same change ids. Apply fires due timers itself before applying its event. Returns the number
  // of timers fired.
  std::size_t FireTimers(absl::Time now, v1::CustomerProfile& profile,
                         std::vector<v1::SegmentChange>& changes,
                         const Population& population = {}) const;

  // Every field and membership at `now`, without changing the profile.
  [[nodiscard]] Evaluation Evaluate(const v1::CustomerProfile& profile, absl::Time now,
                                    const Population& population = {}) const;

  [[nodiscard]] const rules::SegmentCatalogue& catalogue() const { return *catalogue_; }

 private:
  // What `only` becomes for `profile`: everything when updates are not incremental, or when the
  // profile holds no memberships the engine evaluated (no event applied yet).
  [[nodiscard]] const RuleSelection& Effective(const RuleSelection& only,
                                               const v1::CustomerProfile& profile) const;

  std::shared_ptr<const rules::SegmentCatalogue> catalogue_;
  std::shared_ptr<const internal::TimePlan> time_plan_;
  std::shared_ptr<const internal::RuleInputs> rule_inputs_;
  EngineOptions options_;
};

// When the profile's timer is due (timer_due_at), nullopt when it has none.
[[nodiscard]] std::optional<absl::Time> TimerDue(const v1::CustomerProfile& profile);

}  // namespace cdp::core
