#include "cdp/core/explain.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"
#include "cdp/common/suggest.h"
#include "cdp/core/memberships.h"
#include "profile_context.h"
#include "time_util.h"

namespace cdp::core {
namespace {

template <typename Entry>
const Entry* FindId(const std::vector<Entry>& entries, std::string_view id) {
  const auto it =
      std::find_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.id == id; });
  return it == entries.end() ? nullptr : &*it;
}

absl::Status Unknown(std::string message, std::string_view name,
                     const std::vector<std::string>& candidates) {
  const std::vector<std::string_view> views(candidates.begin(), candidates.end());
  if (const std::optional<std::string> match = Suggest(name, views)) {
    absl::StrAppend(&message, "; did you mean '", *match, "'?");
  }
  return absl::NotFoundError(message);
}

// Until when a running min_dwell keeps the held segment or tier `id`, as the engine applies it:
// until the start of the day `min_dwell_days` after the day it was entered.
std::optional<absl::Time> DwellEnd(const internal::ProfileContext& context,
                                   const rules::SegmentCatalogue& catalogue, std::string_view id,
                                   int min_dwell_days) {
  if (min_dwell_days == 0) return std::nullopt;
  const std::optional<std::int64_t> entered = context.entered_day(id);
  if (!entered || context.today() >= *entered + min_dwell_days) return std::nullopt;
  return absl::FromCivil(internal::CivilDayOf(*entered + min_dwell_days), catalogue.timezone);
}

std::string Instant(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

// Why the rule says what it says, as a clause: "its rule is false: orders_total >= 1 is false
// (orders_total = 0)"; `whose` is "its" or "this tier's".
std::string RuleClause(std::string_view whose, const rules::Explanation& trace) {
  return absl::StrCat(ToAbsl(whose), " rule is ", trace.matches ? "true" : "false", ": ",
                      rules::Summarize(trace));
}

std::string Reason(const MembershipExplanation& e, std::optional<absl::Time> dimension_dwell_end) {
  std::string reason;
  if (e.holds_now) {
    const bool by_rules = e.trace.matches && !e.matched_first;
    if (by_rules) {
      reason = absl::StrCat("in: ", RuleClause("its", e.trace));
    } else {
      reason = absl::StrCat("in: held by its min_dwell",
                            e.held_until ? " until " + Instant(*e.held_until) : "", " although ");
      if (e.matched_first) {
        absl::StrAppend(&reason, "the earlier tier '", *e.matched_first, "' matches first");
      } else {
        absl::StrAppend(&reason, RuleClause("its", e.trace));
      }
    }
  } else if (e.dimension_tier && dimension_dwell_end) {
    reason = absl::StrCat("not in: the customer holds tier '", *e.dimension_tier,
                          "' while its min_dwell runs, until ", Instant(*dimension_dwell_end), "; ",
                          RuleClause("this tier's", e.trace));
  } else if (e.matched_first) {
    reason =
        absl::StrCat("not in: the earlier tier '", *e.matched_first,
                     "' matches first (first match wins); ", RuleClause("this tier's", e.trace));
  } else {
    reason = absl::StrCat("not in: ", RuleClause("its", e.trace));
  }
  if (e.member != e.holds_now) {
    absl::StrAppend(&reason, ". The stored profile still ", e.member ? "holds" : "lacks",
                    " it: evaluated at its last update, it changes at the next one (a timer "
                    "due, an event, the sweep after a segment file change)");
  }
  return reason;
}

}  // namespace

std::string RuleTarget::name() const {
  return dimension.empty() ? id : absl::StrCat(dimension, "/", id);
}

absl::StatusOr<std::vector<RuleTarget>> ResolveRuleTargets(const rules::SegmentCatalogue& catalogue,
                                                           std::string_view name) {
  if (const std::size_t slash = name.find('/'); slash != std::string_view::npos) {
    const std::string_view dimension_id = name.substr(0, slash);
    const std::string_view tier_id = name.substr(slash + 1);
    const rules::Dimension* dimension = FindId(catalogue.dimensions, dimension_id);
    if (dimension == nullptr) {
      std::vector<std::string> ids;
      for (const rules::Dimension& d : catalogue.dimensions) ids.push_back(d.id);
      return Unknown(absl::StrCat("no dimension '", ToAbsl(dimension_id), "'"), dimension_id, ids);
    }
    if (FindId(dimension->tiers, tier_id) == nullptr) {
      std::vector<std::string> ids;
      for (const rules::Tier& t : dimension->tiers) ids.push_back(t.id);
      return Unknown(
          absl::StrCat("dimension '", dimension->id, "' has no tier '", ToAbsl(tier_id), "'"),
          tier_id, ids);
    }
    return std::vector<RuleTarget>{{dimension->id, std::string(tier_id)}};
  }
  std::vector<RuleTarget> targets;
  if (FindId(catalogue.segments, name) != nullptr) targets.push_back({"", std::string(name)});
  if (const rules::Dimension* dimension = FindId(catalogue.dimensions, name)) {
    for (const rules::Tier& tier : dimension->tiers) targets.push_back({dimension->id, tier.id});
  }
  if (!targets.empty()) return targets;
  std::vector<std::string> dimensions_with_tier;
  for (const rules::Dimension& dimension : catalogue.dimensions) {
    if (FindId(dimension.tiers, name) != nullptr) dimensions_with_tier.push_back(dimension.id);
  }
  if (dimensions_with_tier.size() == 1) {
    return std::vector<RuleTarget>{{dimensions_with_tier.front(), std::string(name)}};
  }
  if (!dimensions_with_tier.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tier '", ToAbsl(name), "' is in several dimensions: write ", dimensions_with_tier.front(),
        "/", ToAbsl(name), " or ", dimensions_with_tier.back(), "/", ToAbsl(name)));
  }
  std::vector<std::string> names;
  for (const rules::Segment& segment : catalogue.segments) names.push_back(segment.id);
  for (const rules::Dimension& dimension : catalogue.dimensions) {
    names.push_back(dimension.id);
    for (const rules::Tier& tier : dimension.tiers) {
      names.push_back(absl::StrCat(dimension.id, "/", tier.id));
    }
  }
  return Unknown(absl::StrCat("no segment, dimension or tier '", ToAbsl(name), "'"), name, names);
}

absl::StatusOr<std::vector<MembershipExplanation>> ExplainMembership(
    const Engine& engine, const v1::CustomerProfile& profile, std::string_view name, absl::Time now,
    const Population& population) {
  const rules::SegmentCatalogue& catalogue = engine.catalogue();
  absl::StatusOr<std::vector<RuleTarget>> targets = ResolveRuleTargets(catalogue, name);
  if (!targets.ok()) return targets.status();
  const internal::ProfileContext context(
      profile, CivilFromDays(internal::DayOf(now, catalogue.timezone)), catalogue, population);
  // What the engine decides at `now`, min_dwell included: the explanations must agree with it.
  const Evaluation evaluation = engine.Evaluate(profile, now, population);

  std::vector<MembershipExplanation> explanations;
  for (RuleTarget& target : *targets) {
    MembershipExplanation e;
    std::optional<absl::Time> dimension_dwell_end;
    if (target.dimension.empty()) {
      const rules::Segment& segment = *FindId(catalogue.segments, target.id);
      e.rule = std::string(segment.when.source());
      e.member = std::find(profile.segments().begin(), profile.segments().end(), segment.id) !=
                 profile.segments().end();
      e.holds_now =
          std::binary_search(evaluation.segments.begin(), evaluation.segments.end(), segment.id);
      e.trace = rules::Explain(segment.when, context);
      e.held_until = DwellEnd(context, catalogue, segment.id, segment.min_dwell_days);
    } else {
      const rules::Dimension& dimension = *FindId(catalogue.dimensions, target.dimension);
      const rules::Tier& tier = *FindId(dimension.tiers, target.id);
      absl::StatusOr<rules::TierExplanation> tier_explanation =
          rules::ExplainTier(dimension, tier.id, context);
      if (!tier_explanation.ok()) return tier_explanation.status();
      e.rule = std::string(tier.when.source());
      e.trace = std::move(tier_explanation->rule);
      e.matched_first = std::move(tier_explanation->matched_first);
      e.member = HeldTier(profile, dimension.id) == tier.id;
      for (const auto& [dimension_id, tier_id] : evaluation.tiers) {
        if (dimension_id == dimension.id) e.dimension_tier = tier_id;
      }
      e.holds_now = e.dimension_tier == tier.id;
      e.held_until = DwellEnd(context, catalogue, tier.id, tier.min_dwell_days);
      if (e.dimension_tier && !e.holds_now) {
        const rules::Tier* held = FindId(dimension.tiers, *e.dimension_tier);
        dimension_dwell_end = DwellEnd(context, catalogue, held->id, held->min_dwell_days);
      }
    }
    e.target = std::move(target);
    e.reason = Reason(e, dimension_dwell_end);
    explanations.push_back(std::move(e));
  }
  return explanations;
}

}  // namespace cdp::core
