#include "cdp/core/engine.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "cdp/common/stable_hash.h"
#include "cdp/core/memberships.h"
#include "cdp/rules/fields.h"
#include "change_json.h"
#include "fold.h"
#include "profile_context.h"
#include "rule_inputs.h"
#include "time_plan.h"
#include "time_util.h"

namespace cdp::core {
namespace {

using v1::SegmentChange;

// Enough for any realistic catalogue, so matching and diffing allocate nothing per event.
constexpr std::size_t kInlineRules = 32;

// What the rules say the customer holds: per catalogue segment whether it matches, per catalogue
// dimension the first matching tier (nullptr for none).
struct Membership {
  absl::InlinedVector<bool, kInlineRules> segments;
  absl::InlinedVector<const rules::Tier*, kInlineRules> tiers;
};

Membership Nothing(const rules::SegmentCatalogue& catalogue) {
  Membership none;
  none.segments.assign(catalogue.segments.size(), false);
  none.tiers.assign(catalogue.dimensions.size(), nullptr);
  return none;
}

// What the profile holds, indexed like the catalogue, read in one pass over the profile instead of
// one lookup per catalogue entry. Views into the profile.
struct Stored {
  absl::InlinedVector<bool, kInlineRules> segments;
  // The stored tier per dimension; nullptr when the profile has no entry for the dimension.
  absl::InlinedVector<const std::string*, kInlineRules> tiers;
  // What the profile holds that the catalogue no longer defines, sorted.
  absl::InlinedVector<std::string_view, 4> retired_segments;
  absl::InlinedVector<std::pair<std::string_view, std::string_view>, 4> retired_tiers;
};

// Ids mostly differ in length or first letter: deciding on those first saves a memcmp call per
// comparison, and there are dozens per event.
bool SameId(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || (a[0] == b[0] && a == b));
}

// The order of std::string_view's operator<, which compares bytes as unsigned char.
bool IdLess(std::string_view a, std::string_view b) {
  if (!a.empty() && !b.empty() && a[0] != b[0]) {
    return static_cast<unsigned char>(a[0]) < static_cast<unsigned char>(b[0]);
  }
  return a < b;
}

// Index of the entry with `id`, or `entries.size()`. Ids are unique within a catalogue (the loader
// checks), so the first match is the only one.
template <typename Entry>
std::size_t IndexOf(const std::vector<Entry>& entries, std::string_view id) {
  return static_cast<std::size_t>(std::find_if(entries.begin(), entries.end(),
                                               [&](const Entry& e) { return SameId(e.id, id); }) -
                                  entries.begin());
}

Stored Read(const rules::SegmentCatalogue& catalogue, const v1::CustomerProfile& profile) {
  Stored stored;
  stored.segments.assign(catalogue.segments.size(), false);
  for (const std::string& id : profile.segments()) {
    const std::size_t i = IndexOf(catalogue.segments, id);
    if (i < catalogue.segments.size()) {
      stored.segments[i] = true;
    } else {
      stored.retired_segments.push_back(id);
    }
  }
  std::sort(stored.retired_segments.begin(), stored.retired_segments.end(), IdLess);
  stored.tiers.assign(catalogue.dimensions.size(), nullptr);
  for (const v1::CustomerProfile::HeldTier& held : profile.tiers()) {
    const std::size_t i = IndexOf(catalogue.dimensions, held.dimension());
    if (i < catalogue.dimensions.size()) {
      stored.tiers[i] = &held.tier();
    } else {
      stored.retired_tiers.emplace_back(held.dimension(), held.tier());
    }
  }
  std::sort(stored.retired_tiers.begin(), stored.retired_tiers.end());
  return stored;
}

const rules::Tier* FirstMatch(const rules::Dimension& dimension,
                              const rules::EvalContext& context) {
  const auto tier = std::find_if(dimension.tiers.begin(), dimension.tiers.end(),
                                 [&](const rules::Tier& t) { return t.when.Matches(context); });
  return tier == dimension.tiers.end() ? nullptr : &*tier;
}

// Whether the held segment or tier `id` is kept by its min_dwell today, whatever its rule says:
// until the start of the day `min_dwell_days` after the day it was entered.
bool Dwelling(const rules::EvalContext& context, std::string_view id, int min_dwell_days) {
  if (min_dwell_days == 0) return false;
  const std::optional<std::int64_t> entered = context.entered_day(id);
  return entered && context.today() < *entered + min_dwell_days;
}

// What the rules `only` selects say the customer holds, a min_dwell running keeping what is held;
// the others keep what is `stored`.
Membership Match(const rules::SegmentCatalogue& catalogue, const rules::EvalContext& context,
                 const Stored& stored, const RuleSelection& only) {
  Membership held;
  held.segments.reserve(catalogue.segments.size());
  for (std::size_t i = 0; i < catalogue.segments.size(); ++i) {
    const rules::Segment& segment = catalogue.segments[i];
    held.segments.push_back(
        only.segment(i)
            ? (stored.segments[i] && Dwelling(context, segment.id, segment.min_dwell_days)) ||
                  segment.when.Matches(context)
            : stored.segments[i]);
  }
  held.tiers.reserve(catalogue.dimensions.size());
  for (std::size_t i = 0; i < catalogue.dimensions.size(); ++i) {
    const rules::Dimension& dimension = catalogue.dimensions[i];
    if (stored.tiers[i] == nullptr) {
      held.tiers.push_back(only.dimension(i) ? FirstMatch(dimension, context) : nullptr);
      continue;
    }
    // A tier the dimension no longer defines is evaluated away, as a retired segment exits.
    const std::size_t index = IndexOf(dimension.tiers, *stored.tiers[i]);
    if (index < dimension.tiers.size()) {
      const rules::Tier& tier = dimension.tiers[index];
      if (!only.dimension(i) || Dwelling(context, tier.id, tier.min_dwell_days)) {
        held.tiers.push_back(&tier);
        continue;
      }
    }
    held.tiers.push_back(FirstMatch(dimension, context));
  }
  return held;
}

// One membership change, before it becomes a SegmentChange; views into the catalogue and profile.
struct Pending {
  std::string_view segment;
  std::string_view dimension;
  SegmentChange::Direction direction;
  // The other end of a tier move: where an exit went, where an enter came from.
  std::string_view other_tier;
};

using PendingChanges = absl::InlinedVector<Pending, 8>;

// A tier change within a dimension: the exit (naming where the customer went) comes first.
void Move(std::string_view dimension, std::string_view from, std::string_view to,
          PendingChanges& pending) {
  if (!from.empty()) pending.push_back({from, dimension, SegmentChange::exited, to});
  if (!to.empty()) pending.push_back({to, dimension, SegmentChange::entered, from});
}

// One change per difference between `stored` and `next`, in catalogue order: segments, then
// dimensions, then anything held that the catalogue no longer defines.
PendingChanges Diff(const rules::SegmentCatalogue& catalogue, const Stored& stored,
                    const Membership& next) {
  PendingChanges pending;
  for (std::size_t i = 0; i < catalogue.segments.size(); ++i) {
    if (next.segments[i] != stored.segments[i]) {
      pending.push_back({catalogue.segments[i].id,
                         {},
                         next.segments[i] ? SegmentChange::entered : SegmentChange::exited,
                         {}});
    }
  }
  for (std::string_view id : stored.retired_segments) {
    pending.push_back({id, {}, SegmentChange::exited, {}});
  }
  for (std::size_t i = 0; i < catalogue.dimensions.size(); ++i) {
    const std::string_view before =
        stored.tiers[i] == nullptr ? std::string_view() : std::string_view(*stored.tiers[i]);
    const std::string_view after =
        next.tiers[i] == nullptr ? std::string_view() : std::string_view(next.tiers[i]->id);
    if (before != after) Move(catalogue.dimensions[i].id, before, after, pending);
  }
  for (const auto& [dimension, tier] : stored.retired_tiers) Move(dimension, tier, {}, pending);
  return pending;
}

// Why memberships are being recomputed; shared by every change it produces.
struct ChangeCause {
  std::string_view customer_id;
  SegmentChange::Cause cause;
  std::string_view event_id;
  google::protobuf::Timestamp occurred_at;
};

// Appends `pending` to `out` as SegmentChanges carrying `cause` and the profile's consent.
void Emit(const ChangeCause& cause, const v1::CustomerProfile& profile,
          const PendingChanges& pending, std::vector<SegmentChange>& out) {
  if (out.capacity() - out.size() < pending.size()) {
    // Geometric, so that callers appending event after event to one vector stay amortised O(1).
    out.reserve(std::max(out.size() + pending.size(), 2 * out.capacity()));
  }
  // change_id hashes customer id, dimension, segment, direction, cause and the cause event id (or
  // occurred_at seconds), joined by \x1f: the same input after a crash regenerates the same id, so
  // consumers can dedupe. Built in a buffer kept per thread, since it outgrows the small-string
  // buffer and this runs for every change.
  thread_local std::string canonical;
  char seconds[24];
  std::string_view when = cause.event_id;
  if (when.empty()) {
    const char* const end =
        std::to_chars(std::begin(seconds), std::end(seconds), cause.occurred_at.seconds()).ptr;
    when = std::string_view(seconds, static_cast<std::size_t>(end - seconds));
  }
  const std::string_view cause_name = internal::CauseName(cause.cause);
  canonical.assign(cause.customer_id);
  canonical.push_back('\x1f');
  const std::size_t prefix = canonical.size();

  for (const Pending& p : pending) {
    SegmentChange& change = out.emplace_back();
    // Empty strings are left unset: proto3 reads them back as "" anyway, and setting one would
    // still allocate.
    if (!cause.customer_id.empty()) change.set_customer_id(std::string(cause.customer_id));
    change.set_segment(std::string(p.segment));
    if (!p.dimension.empty()) change.set_dimension(std::string(p.dimension));
    change.set_direction(p.direction);
    if (!p.other_tier.empty()) {
      if (p.direction == SegmentChange::exited) {
        change.set_next_tier(std::string(p.other_tier));
      } else {
        change.set_previous_tier(std::string(p.other_tier));
      }
    }
    *change.mutable_occurred_at() = cause.occurred_at;
    change.set_cause(cause.cause);
    if (!cause.event_id.empty()) change.set_cause_event_id(std::string(cause.event_id));
    if (!profile.consent().empty()) *change.mutable_consent() = profile.consent();

    const std::string_view direction_name = internal::DirectionName(p.direction);
    canonical.resize(prefix);
    canonical.append(p.dimension).push_back('\x1f');
    canonical.append(p.segment).push_back('\x1f');
    canonical.append(direction_name).push_back('\x1f');
    canonical.append(cause_name).push_back('\x1f');
    canonical.append(when);
    change.set_change_id(StableHashHex128(canonical));
  }
}

// Makes the profile hold `next`, given that it holds `stored` now and `pending` are the changes
// between the two, which happened at `when`.
void Store(const rules::SegmentCatalogue& catalogue, const internal::TimePlan& plan,
           const Stored& stored, const Membership& next, const PendingChanges& pending,
           const google::protobuf::Timestamp& when, v1::CustomerProfile& profile) {
  // Before the lists change: `pending` views them. Only what rules read or a min_dwell counts from
  // is kept: every profile would otherwise carry an entry per segment it ever held, on every read
  // and write.
  for (const Pending& p : pending) {
    if (!plan.history_kept(p.segment)) continue;
    v1::CustomerProfile::MembershipHistory& entry = MutableHistoryOf(profile, p.segment);
    if (p.direction == SegmentChange::entered) {
      *entry.mutable_last_entered_at() = when;
    } else {
      *entry.mutable_last_exited_at() = when;
    }
  }
  const bool segments_moved = std::any_of(pending.begin(), pending.end(),
                                          [](const Pending& p) { return p.dimension.empty(); });
  // Without a segment change the list already names `next`, sorted, unless something other than
  // Store wrote it (out of order, or an id twice): then it is rewritten, as on any change.
  const auto& listed = profile.segments();
  if (segments_moved ||
      std::adjacent_find(listed.begin(), listed.end(), [](const auto& a, const auto& b) {
        return !IdLess(a, b);
      }) != listed.end()) {
    absl::InlinedVector<std::string_view, kInlineRules> segments;
    for (std::size_t i = 0; i < catalogue.segments.size(); ++i) {
      if (next.segments[i]) segments.push_back(catalogue.segments[i].id);
    }
    std::sort(segments.begin(), segments.end(), IdLess);
    profile.mutable_segments()->Assign(segments.begin(), segments.end());
  }
  // Only the entries that differ are touched: rebuilding the list would free and reallocate every
  // entry and string in it.
  for (std::size_t i = 0; i < catalogue.dimensions.size(); ++i) {
    const std::string& dimension = catalogue.dimensions[i].id;
    if (next.tiers[i] == nullptr) {
      if (stored.tiers[i] != nullptr) ClearHeldTier(profile, dimension);
    } else if (stored.tiers[i] == nullptr || *stored.tiers[i] != next.tiers[i]->id) {
      SetHeldTier(profile, dimension, next.tiers[i]->id);
    }
  }
  for (const auto& [dimension, tier] : stored.retired_tiers) ClearHeldTier(profile, dimension);
}

// Now's date in the catalogue's time zone.
CivilDate Today(absl::Time now, const rules::SegmentCatalogue& catalogue) {
  return CivilFromDays(internal::DayOf(now, catalogue.timezone));
}

// Sets the profile's timer to the start of the next day on which time alone could change a
// membership, or clears it.
void SetTimer(const rules::SegmentCatalogue& catalogue, const internal::TimePlan& plan,
              const internal::ProfileContext& context, v1::CustomerProfile& profile) {
  const std::optional<std::int64_t> day = plan.NextChangeDay(profile, context);
  if (!day) {
    profile.clear_timer_due_at();
    return;
  }
  const absl::Time due = absl::FromCivil(internal::CivilDayOf(*day), catalogue.timezone);
  *profile.mutable_timer_due_at() = internal::ToTimestamp(due);
}

// Brings the profile's timer forward to the start of the next day on which time alone could
// change a membership `plan` sees, if that is earlier.
void AdvanceTimer(const rules::SegmentCatalogue& catalogue, const internal::TimePlan& plan,
                  const internal::ProfileContext& context, v1::CustomerProfile& profile) {
  const std::optional<std::int64_t> day = plan.NextChangeDay(profile, context);
  if (!day) return;
  const absl::Time due = absl::FromCivil(internal::CivilDayOf(*day), catalogue.timezone);
  if (const std::optional<absl::Time> stored = TimerDue(profile); stored && *stored <= due) return;
  *profile.mutable_timer_due_at() = internal::ToTimestamp(due);
}

// Evaluates the rules `first` selects, stores the memberships that result and emits their changes;
// then sets the timer.
// `unchanged_timer_plan`: if no membership moves, the timer only has to come forward to what
// this plan says (see Engine::Reevaluate with a selection); null: it is set from `plan`.
void Update(const rules::SegmentCatalogue& catalogue, const internal::TimePlan& plan,
            const internal::RuleInputs& inputs, CivilDate today, const ChangeCause& cause,
            const RuleSelection& first, const Population& population, v1::CustomerProfile& profile,
            std::vector<SegmentChange>& changes,
            const internal::TimePlan* unchanged_timer_plan = nullptr) {
  // Rules reading membership history (ever_in, days_in) see the memberships as stored before
  // the evaluation, so a change they read can make them hold differently: one more pass settles
  // them (won_back entered, then a segment on days_in("won_back")). More passes could cycle. Only
  // the rules reading the history of a membership that moved can change in it: nothing else did.
  RuleSelection readers;
  const RuleSelection* only = &first;
  for (int pass = 0; pass < 2; ++pass) {
    const internal::ProfileContext context(profile, today, catalogue, population);
    const Stored stored = Read(catalogue, profile);
    const Membership next = Match(catalogue, context, stored, *only);
    const PendingChanges pending = Diff(catalogue, stored, next);
    if (pending.empty()) {
      if (pass > 0 || unchanged_timer_plan == nullptr) {
        SetTimer(catalogue, plan, context, profile);
      } else {
        AdvanceTimer(catalogue, *unchanged_timer_plan, context, profile);
      }
      return;
    }
    bool history_moved = false;
    for (const Pending& p : pending) {
      if (!plan.history_read(p.segment)) continue;
      history_moved = true;
      inputs.AddHistoryReaders(p.segment, readers);
    }
    // Before Store: `pending` views the memberships it replaces.
    Emit(cause, profile, pending, changes);
    Store(catalogue, plan, stored, next, pending, cause.occurred_at, profile);
    if (!history_moved) break;
    if (!first.all()) only = &readers;
  }
  // The timer reads what was stored: when a membership was entered counts for days_in.
  SetTimer(catalogue, plan, internal::ProfileContext(profile, today, catalogue, population),
           profile);
}

}  // namespace

RuleSelection::RuleSelection(const rules::SegmentCatalogue& catalogue,
                             std::span<const rules::RuleRef> rules) {
  for (const rules::RuleRef& rule : rules) {
    if (rule.kind == rules::RuleKind::kSegment) {
      const std::size_t i = IndexOf(catalogue.segments, rule.id);
      if (i < catalogue.segments.size()) AddSegment(i);
    } else {
      const std::size_t i = IndexOf(catalogue.dimensions, rule.id);
      if (i < catalogue.dimensions.size()) AddDimension(i);
    }
  }
}

RuleSelection RuleSelection::All() {
  RuleSelection all;
  all.all_ = true;
  return all;
}

void RuleSelection::AddSegment(std::size_t index) {
  if (segments_.size() <= index) segments_.resize(index + 1);
  segments_[index] = true;
}

void RuleSelection::AddDimension(std::size_t index) {
  if (dimensions_.size() <= index) dimensions_.resize(index + 1);
  dimensions_[index] = true;
}

void RuleSelection::Add(const RuleSelection& other) {
  all_ = all_ || other.all_;
  for (std::size_t i = 0; i < other.segments_.size(); ++i) {
    if (other.segments_[i]) AddSegment(i);
  }
  for (std::size_t i = 0; i < other.dimensions_.size(); ++i) {
    if (other.dimensions_[i]) AddDimension(i);
  }
}

Engine::Engine(std::shared_ptr<const rules::SegmentCatalogue> catalogue, EngineOptions options)
    : catalogue_(std::move(catalogue)),
      time_plan_(std::make_shared<const internal::TimePlan>(*catalogue_)),
      rule_inputs_(std::make_shared<const internal::RuleInputs>(*catalogue_)),
      options_(std::move(options)) {}

const RuleSelection& Engine::Effective(const RuleSelection& only,
                                       const v1::CustomerProfile& profile) const {
  // What a profile holds is only known to match the rules once the engine has stored what they
  // say, which it does on every event: a new profile (or one built by hand) may hold nothing
  // although a rule such as `not has_tag("x")` holds for it.
  if (!options_.incremental || profile.events_applied() == 0) return rule_inputs_->all();
  return only;
}

std::optional<absl::Time> TimerDue(const v1::CustomerProfile& profile) {
  if (!profile.has_timer_due_at()) return std::nullopt;
  return internal::ToTime(profile.timer_due_at());
}

bool Engine::Apply(const v1::CustomerEvent& event, absl::Time now, v1::CustomerProfile& profile,
                   std::vector<SegmentChange>& changes, const Population& population) const {
  // Time-driven changes due before the event happen first, as if their timers had fired on time:
  // the changes are then the same however late the timer service runs, and in event-time mode
  // however the input is batched. An erasure too exits what the customer holds by then.
  FireTimers(now, profile, changes, population);
  if (event.has_erasure()) {
    const ChangeCause cause{event.customer_id(), SegmentChange::erasure, event.event_id(),
                            event.occurred_at()};
    Emit(cause, profile, Diff(*catalogue_, Read(*catalogue_, profile), Nothing(*catalogue_)),
         changes);
    profile.Clear();
    return true;
  }
  // Before folding, which counts the event.
  const RuleSelection& only =
      Effective(rule_inputs_->after_event(internal::KindOf(event)), profile);
  const std::int64_t today = internal::DayOf(now, catalogue_->timezone);
  internal::FoldEvent(event, catalogue_->timezone, today, profile);
  const ChangeCause cause{event.customer_id(), SegmentChange::event, event.event_id(),
                          event.occurred_at()};
  Update(*catalogue_, *time_plan_, *rule_inputs_, CivilFromDays(today), cause, only, population,
         profile, changes);
  return false;
}

void Engine::Reevaluate(absl::Time now, SegmentChange::Cause cause, v1::CustomerProfile& profile,
                        std::vector<SegmentChange>& changes, const Population& population) const {
  // With no event, only time can have changed what rules read since the last update, unless the
  // definitions did.
  const RuleSelection& only =
      cause == SegmentChange::time ? rule_inputs_->after_time() : rule_inputs_->all();
  const ChangeCause change_cause{profile.customer_id(), cause, "", internal::ToTimestamp(now)};
  Update(*catalogue_, *time_plan_, *rule_inputs_, Today(now, *catalogue_), change_cause,
         Effective(only, profile), population, profile, changes);
}

void Engine::Reevaluate(absl::Time now, SegmentChange::Cause cause, const PreparedSelection& only,
                        v1::CustomerProfile& profile, std::vector<SegmentChange>& changes,
                        std::optional<absl::Time> occurred_at, const Population& population) const {
  const ChangeCause change_cause{profile.customer_id(), cause, "",
                                 internal::ToTimestamp(occurred_at.value_or(now))};
  const RuleSelection* selected = &Effective(only.rules(), profile);
  const internal::TimePlan* unchanged_timer_plan =
      selected->all() ? nullptr : only.time_plan_.get();
  // A timer due by now has not fired: what time changed since is evaluated too, or the timer set
  // after this update would skip it; and it is set from every rule.
  RuleSelection with_time;
  const std::optional<absl::Time> due = TimerDue(profile);
  if (!selected->all() && due && *due <= now) {
    with_time = *selected;
    with_time.Add(rule_inputs_->after_time());
    selected = &with_time;
    unchanged_timer_plan = nullptr;
  }
  Update(*catalogue_, *time_plan_, *rule_inputs_, Today(now, *catalogue_), change_cause, *selected,
         population, profile, changes, unchanged_timer_plan);
}

void Engine::Reevaluate(absl::Time now, SegmentChange::Cause cause, const RuleSelection& only,
                        v1::CustomerProfile& profile, std::vector<SegmentChange>& changes,
                        std::optional<absl::Time> occurred_at, const Population& population) const {
  Reevaluate(now, cause, Prepare(only), profile, changes, occurred_at, population);
}

PreparedSelection Engine::Prepare(RuleSelection only) const {
  auto time_plan = std::make_shared<const internal::TimePlan>(*catalogue_, only);
  return PreparedSelection(std::move(only), std::move(time_plan));
}

std::size_t Engine::FireTimers(absl::Time now, v1::CustomerProfile& profile,
                               std::vector<SegmentChange>& changes,
                               const Population& population) const {
  std::size_t fired = 0;
  for (std::optional<absl::Time> due = TimerDue(profile); due && *due <= now;) {
    Reevaluate(*due, SegmentChange::time, profile, changes, population);
    ++fired;
    const std::optional<absl::Time> next = TimerDue(profile);
    // Each timer is set for a later day than the one it was evaluated on; this only guards
    // against a time zone whose day start does not move forward.
    if (next && *next <= *due) {
      profile.clear_timer_due_at();
      break;
    }
    due = next;
  }
  return fired;
}

Evaluation Engine::Evaluate(const v1::CustomerProfile& profile, absl::Time now,
                            const Population& population) const {
  const internal::ProfileContext context(profile, Today(now, *catalogue_), *catalogue_, population);
  Evaluation evaluation;
  evaluation.fields.reserve(rules::kFieldCount);
  for (const rules::FieldInfo& info : rules::Fields()) {
    evaluation.fields.push_back(NamedValue{info.name, context.field(info.id)});
  }
  const Membership held =
      Match(*catalogue_, context, Read(*catalogue_, profile), rule_inputs_->all());
  for (std::size_t i = 0; i < catalogue_->segments.size(); ++i) {
    if (held.segments[i]) evaluation.segments.push_back(catalogue_->segments[i].id);
  }
  std::sort(evaluation.segments.begin(), evaluation.segments.end());
  for (std::size_t i = 0; i < catalogue_->dimensions.size(); ++i) {
    if (held.tiers[i] != nullptr) {
      evaluation.tiers.emplace_back(catalogue_->dimensions[i].id, held.tiers[i]->id);
    }
  }
  return evaluation;
}

}  // namespace cdp::core
