#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/eval_context.h"
#include "cdp/rules/expression.h"
#include "cdp/rules/fields.h"

namespace cdp::rules {

// A value an explanation reports: null, a number, a string or a bool. Unlike Value it owns its
// text, so it outlives the profile it was read from.
using TracedValue = std::variant<std::monostate, double, std::string, bool>;

// As a rule would write it: null, 3, 1234.5, "north", true.
[[nodiscard]] std::string FormatValue(const TracedValue& value);

enum class StepKind : std::uint8_t {
  kOr,
  kAnd,
  kNot,
  kComparison,  // ==, !=, <, <=, >, >=
  kIn,          // in [...], not in [...]
  kField,       // a field read
  kCall,        // has_tag, attr, consent, ever_in, days_in, days_since, months_since
  kConstant,    // true, false
};

// "or", "and", "not", "comparison", "in", "field", "call", "constant".
[[nodiscard]] std::string_view StepKindName(StepKind kind);

// One sub-expression of a rule and what it evaluated to.
struct TraceStep {
  StepKind kind = StepKind::kConstant;
  // Where it is in Expression::source(), in bytes (end exclusive), and that text.
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::string text;
  TracedValue value;
  // 0 for the whole rule; a step's operands follow it, one deeper.
  int depth = 0;
  // Matches() does not evaluate it: an earlier operand of its `and` (`or`) was already false
  // (true). Its value is what it would have been, for the reader.
  bool skipped = false;
  // A condition the result rests on: following the operands that decide each `and`, `or` and
  // `not` down from the whole rule (all of an `and` that holds, its first false operand when
  // not; the first true operand of an `or`, all of one that fails), the conditions reached.
  bool deciding = false;
  // kField: which.
  std::optional<FieldId> field;
};

// How a rule evaluated against one context. Literals are not steps: their text says their value.
struct Explanation {
  bool matches = false;  // what Expression::Matches gives for the same context
  // The whole rule first, then each step's operands depth first, left to right.
  std::vector<TraceStep> steps;
  // Every field the rule reads (Expression::fields()), with its value, in FieldId order.
  std::vector<std::pair<FieldId, TracedValue>> fields;
};

// Evaluates `expression` as Matches does, recording each sub-expression. Slower than Matches
// (each step is evaluated on its own and copies its value); for a person asking why.
[[nodiscard]] Explanation Explain(const Expression& expression, const EvalContext& context);

// The deciding conditions of `explanation` for a person, e.g. "monetary_90d >= 5000 is false
// (monetary_90d = 1234.5)"; several are joined by "; ".
[[nodiscard]] std::string Summarize(const Explanation& explanation);

// A tier of a dimension explained: its own rule, and the first-match-wins order around it.
struct TierExplanation {
  Explanation rule;
  // The earlier tier of the dimension whose rule matches: the customer holds that one, whether
  // this rule matches or not. nullopt when none does.
  std::optional<std::string> matched_first;
  // By the rules alone (min_dwell aside), whether the customer holds this tier.
  [[nodiscard]] bool selected() const { return rule.matches && !matched_first; }
};

// Explains the tier `tier_id` of `dimension`. NotFound for a tier the dimension does not have,
// naming the nearest one.
[[nodiscard]] absl::StatusOr<TierExplanation> ExplainTier(const Dimension& dimension,
                                                          std::string_view tier_id,
                                                          const EvalContext& context);

}  // namespace cdp::rules
