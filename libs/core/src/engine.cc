#include "cdp/core/engine.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "cdp/common/stable_hash.h"
#include "cdp/rules/fields.h"
#include "fold.h"
#include "profile_context.h"
#include "time_util.h"

namespace cdp::core {
namespace {

using v1::SegmentChange;

// What the rules say the customer holds: per catalogue segment whether it matches, per catalogue
// dimension the first matching tier (nullptr for none).
struct Membership {
  std::vector<bool> segments;
  std::vector<const rules::Tier*> tiers;
};

Membership Match(const rules::SegmentCatalogue& catalogue, const rules::EvalContext& context) {
  Membership held;
  held.segments.reserve(catalogue.segments.size());
  for (const rules::Segment& segment : catalogue.segments) {
    held.segments.push_back(segment.when.Matches(context));
  }
  held.tiers.reserve(catalogue.dimensions.size());
  for (const rules::Dimension& dimension : catalogue.dimensions) {
    const auto tier = std::find_if(dimension.tiers.begin(), dimension.tiers.end(),
                                   [&](const rules::Tier& t) { return t.when.Matches(context); });
    held.tiers.push_back(tier == dimension.tiers.end() ? nullptr : &*tier);
  }
  return held;
}

Membership Nothing(const rules::SegmentCatalogue& catalogue) {
  return Membership{std::vector<bool>(catalogue.segments.size(), false),
                    std::vector<const rules::Tier*>(catalogue.dimensions.size(), nullptr)};
}

// Why memberships are being recomputed; shared by every change it produces.
struct ChangeCause {
  std::string_view customer_id;
  SegmentChange::Cause cause;
  std::string_view event_id;
  google::protobuf::Timestamp occurred_at;
};

class ChangeSink {
 public:
  ChangeSink(const ChangeCause& cause, const v1::CustomerProfile& profile,
             std::vector<SegmentChange>& out)
      : cause_(cause), profile_(profile), out_(out) {}

  void Segment(std::string_view segment, SegmentChange::Direction direction) {
    Emit(segment, "", direction);
  }

  // A tier change within a dimension: the exit (naming where the customer went) comes first.
  void Move(std::string_view dimension, std::string_view from, std::string_view to) {
    if (!from.empty()) {
      Emit(from, dimension, SegmentChange::exited)->set_next_tier(std::string(to));
    }
    if (!to.empty()) {
      Emit(to, dimension, SegmentChange::entered)->set_previous_tier(std::string(from));
    }
  }

  [[nodiscard]] std::size_t count() const { return count_; }

 private:
  SegmentChange* Emit(std::string_view segment, std::string_view dimension,
                      SegmentChange::Direction direction) {
    SegmentChange& change = out_.emplace_back();
    change.set_customer_id(std::string(cause_.customer_id));
    change.set_segment(std::string(segment));
    change.set_dimension(std::string(dimension));
    change.set_direction(direction);
    *change.mutable_occurred_at() = cause_.occurred_at;
    change.set_cause(cause_.cause);
    change.set_cause_event_id(std::string(cause_.event_id));
    *change.mutable_consent() = profile_.consent();
    // Replaying the same input after a crash regenerates the same id, so consumers can dedupe.
    const std::string when = cause_.event_id.empty() ? std::to_string(cause_.occurred_at.seconds())
                                                     : std::string(cause_.event_id);
    std::string canonical;
    bool first = true;
    for (std::string_view part :
         {std::string_view(change.customer_id()), dimension, segment,
          std::string_view(SegmentChange::Direction_Name(direction)),
          std::string_view(SegmentChange::Cause_Name(cause_.cause)), std::string_view(when)}) {
      if (!first) canonical.push_back('\x1f');
      first = false;
      canonical.append(part);
    }
    change.set_change_id(StableHashHex128(canonical));
    ++count_;
    return &change;
  }

  const ChangeCause& cause_;
  const v1::CustomerProfile& profile_;
  std::vector<SegmentChange>& out_;
  std::size_t count_ = 0;
};

bool Holds(const v1::CustomerProfile& profile, std::string_view segment) {
  return std::find(profile.segments().begin(), profile.segments().end(), segment) !=
         profile.segments().end();
}

// Emits one change per difference between the stored memberships and `next`, in catalogue
// order: segments, then dimensions, then anything held that the catalogue no longer defines.
void Diff(const rules::SegmentCatalogue& catalogue, const Membership& next,
          const v1::CustomerProfile& profile, ChangeSink& sink) {
  for (std::size_t i = 0; i < catalogue.segments.size(); ++i) {
    const std::string& id = catalogue.segments[i].id;
    const bool before = Holds(profile, id);
    if (next.segments[i] && !before) sink.Segment(id, SegmentChange::entered);
    if (!next.segments[i] && before) sink.Segment(id, SegmentChange::exited);
  }
  std::vector<std::string_view> retired;
  for (const std::string& id : profile.segments()) {
    if (std::none_of(catalogue.segments.begin(), catalogue.segments.end(),
                     [&](const rules::Segment& s) { return s.id == id; })) {
      retired.push_back(id);
    }
  }
  std::sort(retired.begin(), retired.end());
  for (std::string_view id : retired) sink.Segment(id, SegmentChange::exited);

  for (std::size_t i = 0; i < catalogue.dimensions.size(); ++i) {
    const std::string& dimension = catalogue.dimensions[i].id;
    const auto stored = profile.tiers().find(dimension);
    // Both branches must be views: `cond ? "" : some_string` would view a destroyed temporary.
    const std::string_view before =
        stored == profile.tiers().end() ? std::string_view() : std::string_view(stored->second);
    const std::string_view after =
        next.tiers[i] == nullptr ? std::string_view() : std::string_view(next.tiers[i]->id);
    if (before != after) sink.Move(dimension, before, after);
  }
  std::vector<std::pair<std::string_view, std::string_view>> retired_tiers;
  for (const auto& [dimension, tier] : profile.tiers()) {
    if (std::none_of(catalogue.dimensions.begin(), catalogue.dimensions.end(),
                     [&](const rules::Dimension& d) { return d.id == dimension; })) {
      retired_tiers.emplace_back(dimension, tier);
    }
  }
  std::sort(retired_tiers.begin(), retired_tiers.end());
  for (const auto& [dimension, tier] : retired_tiers) sink.Move(dimension, tier, "");
}

void Store(const rules::SegmentCatalogue& catalogue, const Membership& held,
           v1::CustomerProfile& profile) {
  std::vector<std::string_view> segments;
  for (std::size_t i = 0; i < catalogue.segments.size(); ++i) {
    if (held.segments[i]) segments.push_back(catalogue.segments[i].id);
  }
  std::sort(segments.begin(), segments.end());
  profile.mutable_segments()->Assign(segments.begin(), segments.end());
  auto& tiers = *profile.mutable_tiers();
  tiers.clear();
  for (std::size_t i = 0; i < catalogue.dimensions.size(); ++i) {
    if (held.tiers[i] != nullptr) tiers[catalogue.dimensions[i].id] = held.tiers[i]->id;
  }
}

void Update(const rules::SegmentCatalogue& catalogue, absl::Time now, const ChangeCause& cause,
            v1::CustomerProfile& profile, std::vector<SegmentChange>& changes) {
  const internal::ProfileContext context(profile, now, catalogue);
  const Membership held = Match(catalogue, context);
  ChangeSink sink(cause, profile, changes);
  Diff(catalogue, held, profile, sink);
  // Without a change the stored memberships already equal `held`; skip the rewrite.
  if (sink.count() > 0) Store(catalogue, held, profile);
}

}  // namespace

Engine::Engine(std::shared_ptr<const rules::SegmentCatalogue> catalogue, EngineOptions options)
    : catalogue_(std::move(catalogue)), options_(std::move(options)) {}

bool Engine::Apply(const v1::CustomerEvent& event, absl::Time now, v1::CustomerProfile& profile,
                   std::vector<SegmentChange>& changes) const {
  if (event.has_erasure()) {
    const ChangeCause cause{event.customer_id(), SegmentChange::erasure, event.event_id(),
                            event.occurred_at()};
    ChangeSink sink(cause, profile, changes);
    Diff(*catalogue_, Nothing(*catalogue_), profile, sink);
    profile.Clear();
    return true;
  }
  internal::FoldEvent(event, catalogue_->timezone, internal::DayOf(now, catalogue_->timezone),
                      profile);
  const ChangeCause cause{event.customer_id(), SegmentChange::event, event.event_id(),
                          event.occurred_at()};
  Update(*catalogue_, now, cause, profile, changes);
  return false;
}

void Engine::Reevaluate(absl::Time now, SegmentChange::Cause cause, v1::CustomerProfile& profile,
                        std::vector<SegmentChange>& changes) const {
  const ChangeCause change_cause{profile.customer_id(), cause, "", internal::ToTimestamp(now)};
  Update(*catalogue_, now, change_cause, profile, changes);
}

Evaluation Engine::Evaluate(const v1::CustomerProfile& profile, absl::Time now) const {
  const internal::ProfileContext context(profile, now, *catalogue_);
  Evaluation evaluation;
  evaluation.fields.reserve(rules::kFieldCount);
  for (const rules::FieldInfo& info : rules::Fields()) {
    evaluation.fields.push_back(NamedValue{info.name, context.field(info.id)});
  }
  const Membership held = Match(*catalogue_, context);
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
