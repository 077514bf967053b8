#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/core/population.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/explain.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::core {

// An independent segment, or a tier of a dimension.
struct RuleTarget {
  std::string dimension;  // empty for an independent segment
  std::string id;         // the segment's or the tier's

  // "id", or "dimension/id" for a tier: how the metrics and partition state name it.
  [[nodiscard]] std::string name() const;
};

// What `name` designates in `catalogue`: an independent segment's id, "dimension/tier", a
// dimension's id (each of its tiers, in order), or a tier id that a single dimension has.
// NotFound otherwise, naming the nearest name when one is close.
[[nodiscard]] absl::StatusOr<std::vector<RuleTarget>> ResolveRuleTargets(
    const rules::SegmentCatalogue& catalogue, std::string_view name);

// Why a customer is or is not in a segment or tier.
struct MembershipExplanation {
  RuleTarget target;
  std::string rule;  // its `when`, as written
  // The profile holds it: what its last update decided, as the profile API lists it.
  bool member = false;
  // Evaluating the profile at `now` has the customer hold it (Engine::Evaluate): its rule
  // matches (for a tier: and no earlier tier's does), or its running min_dwell keeps it. It can
  // differ from `member` until the profile's next update: a timer due, an event, the sweep after
  // a segment file change.
  bool holds_now = false;
  // The rule's evaluation at `now`, step by step.
  rules::Explanation trace;
  // A tier: the earlier tier of its dimension whose rule matches first.
  std::optional<std::string> matched_first;
  // A tier: the tier its dimension holds at `now`, if any.
  std::optional<std::string> dimension_tier;
  // While the customer holds it and its min_dwell runs: the end of the dwell (the start of a day
  // in the catalogue's time zone), until which it is kept whatever the rules say.
  std::optional<absl::Time> held_until;
  // The above in a sentence or two, for a person.
  std::string reason;
};

// Explains what `name` designates (see ResolveRuleTargets, whose errors it returns) in the
// engine's catalogue for `profile` at `now`, as Engine::Evaluate sees it. `population`: the
// customer's partition's, as for the engine's other calls.
[[nodiscard]] absl::StatusOr<std::vector<MembershipExplanation>> ExplainMembership(
    const Engine& engine, const v1::CustomerProfile& profile, std::string_view name, absl::Time now,
    const Population& population = {});

}  // namespace cdp::core
