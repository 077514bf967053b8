#pragma once

#include <span>
#include <string_view>

#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/core/explain.h"
#include "cdp/core/population.h"
#include "cdp/v1/customer_profile.pb.h"
#include "nlohmann/json.hpp"

namespace cdp::core {

// What the profile API (and profilectl, from a state directory) shows of a customer: every
// field by its domain name (null when it has no value), current segments, the tier held in each
// dimension, and the customer's own attributes. `population`: the customer's partition's, which
// rfm quintile scores rank against.
[[nodiscard]] nlohmann::json ProfileJson(const v1::CustomerProfile& profile, const Engine& engine,
                                         absl::Time now, const Population& population);

// The explain API's answer for `requested` (the segment, tier or dimension asked about), which
// ExplainMembership resolved into `explanations`: {"customer_id", "as_of", "segment",
// "explanations": [{"segment", "dimension", "name", "rule", "member", "holds_now",
// "rule_matches", "matched_first", "dimension_tier", "held_until", "reason", "fields", "trace":
// [{"depth", "kind", "text", "begin", "end", "value", "skipped", "deciding"}]}]}.
[[nodiscard]] nlohmann::json ExplanationJson(std::string_view customer_id,
                                             std::string_view requested, absl::Time now,
                                             std::span<const MembershipExplanation> explanations);

}  // namespace cdp::core
