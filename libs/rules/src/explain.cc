#include "cdp/rules/explain.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#include "absl/status/status.h"
#include "cdp/common/suggest.h"
#include "program.h"
#include "text.h"

namespace cdp::rules {
namespace {

using internal::Instruction;
using internal::Op;

TracedValue Traced(const Value& value) {
  if (value.is_number()) return value.number();
  if (value.is_string()) return std::string(value.string());
  if (value.is_bool()) return value.boolean();
  return std::monostate();
}

StepKind KindOf(Op op) {
  switch (op) {
    case Op::kAll:
      return StepKind::kAnd;
    case Op::kAny:
      return StepKind::kOr;
    case Op::kNot:
      return StepKind::kNot;
    case Op::kCompare:
    case Op::kCompareFieldWith:
      return StepKind::kComparison;
    case Op::kIn:
      return StepKind::kIn;
    case Op::kField:
      return StepKind::kField;
    case Op::kHasTag:
    case Op::kConsent:
    case Op::kEverIn:
    case Op::kAttr:
    case Op::kDaysSince:
    case Op::kMonthsSince:
    case Op::kDaysIn:
      return StepKind::kCall;
    case Op::kConstant:
    case Op::kLiteral:
      break;
  }
  return StepKind::kConstant;
}

bool IsTrue(const TracedValue& value) {
  const bool* flag = std::get_if<bool>(&value);
  return flag != nullptr && *flag;
}

// Builds the steps of one evaluation. Each step's value comes from the evaluator Matches uses,
// applied to that step alone, so the explanation cannot disagree with Matches.
class Tracer {
 public:
  Tracer(const Expression& expression, const internal::Node& node, const EvalContext& context)
      : source_(expression.source()), node_(node), context_(context) {}

  std::vector<TraceStep> Run() {
    Add(0, 0, false);
    Decide(0);
    return std::move(steps_);
  }

 private:
  // Adds the step of instruction `index` and, after it, its operands' (literals have none).
  // Returns the step's index.
  std::size_t Add(std::uint32_t index, int depth, bool skipped) {
    const Instruction& in = node_.code[index];
    const TracedValue value = IsCondition(in.op) ? TracedValue(node_.Test(index, context_))
                                                 : Traced(node_.Load(index, context_));
    const std::size_t step = Push(KindOf(in.op), node_.sources[index].text, value, depth, skipped);
    if (in.op == Op::kField) steps_[step].field = in.field;
    switch (in.op) {
      case Op::kAll:
      case Op::kAny: {
        // Matches stops at the first false operand of an `and`, the first true one of an `or`.
        bool decided = false;
        for (std::uint32_t i = in.begin; i < in.end; ++i) {
          const std::size_t operand = Add(node_.operands[i], depth + 1, skipped || decided);
          children_[step].push_back(operand);
          decided = decided || IsTrue(steps_[operand].value) == (in.op == Op::kAny);
        }
        break;
      }
      case Op::kCompare:
        AddOperand(step, in.lhs, depth + 1, skipped);
        AddOperand(step, in.rhs, depth + 1, skipped);
        break;
      case Op::kCompareFieldWith: {
        const std::size_t field = Push(StepKind::kField, node_.sources[index].field,
                                       Traced(context_.field(in.field)), depth + 1, skipped);
        steps_[field].field = in.field;
        children_[step].push_back(field);
        break;
      }
      case Op::kNot:
      case Op::kIn:
      case Op::kDaysSince:
      case Op::kMonthsSince:
        AddOperand(step, in.lhs, depth + 1, skipped);
        break;
      case Op::kConstant:
      case Op::kHasTag:
      case Op::kConsent:
      case Op::kEverIn:
      case Op::kLiteral:
      case Op::kField:
      case Op::kAttr:
      case Op::kDaysIn:
        break;
    }
    return step;
  }

  // Adds an operand of `parent` unless it is a literal.
  void AddOperand(std::size_t parent, std::uint32_t index, int depth, bool skipped) {
    if (node_.code[index].op == Op::kLiteral) return;
    // Adding grows children_: index it afterwards.
    const std::size_t operand = Add(index, depth, skipped);
    children_[parent].push_back(operand);
  }

  std::size_t Push(StepKind kind, internal::SourceSpan span, TracedValue value, int depth,
                   bool skipped) {
    TraceStep step;
    step.kind = kind;
    step.begin = span.begin;
    step.end = span.end;
    step.text = std::string(source_.substr(span.begin, span.end - span.begin));
    step.value = std::move(value);
    step.depth = depth;
    step.skipped = skipped;
    steps_.push_back(std::move(step));
    children_.emplace_back();
    return steps_.size() - 1;
  }

  void Decide(std::size_t step) {
    const TraceStep& s = steps_[step];
    const std::vector<std::size_t>& children = children_[step];
    const bool holds = IsTrue(s.value);
    switch (s.kind) {
      case StepKind::kAnd:
      case StepKind::kOr: {
        // An `and` that holds rests on every operand, one that fails on its first false one; an
        // `or` the other way round.
        const bool every = holds == (s.kind == StepKind::kAnd);
        for (std::size_t child : children) {
          if (every) {
            Decide(child);
          } else if (IsTrue(steps_[child].value) == holds) {
            Decide(child);
            break;
          }
        }
        break;
      }
      case StepKind::kNot:
        Decide(children.front());
        break;
      default:
        steps_[step].deciding = true;
        break;
    }
  }

  std::string_view source_;
  const internal::Node& node_;
  const EvalContext& context_;
  std::vector<TraceStep> steps_;
  std::vector<std::vector<std::size_t>> children_;  // parallel to steps_
};

// `text` on one line: a rule written over several lines of YAML reads the same in a sentence.
std::string OneLine(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string FormatValue(const TracedValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isnan(v)) return "nan";
          if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
          return internal::Cat(v);
        } else {
          std::string quoted = "\"";
          for (char c : v) {
            if (c == '"' || c == '\\') quoted.push_back('\\');
            quoted.push_back(c);
          }
          return internal::SpellOutControls(quoted + "\"");
        }
      },
      value);
}

std::string_view StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kOr:
      return "or";
    case StepKind::kAnd:
      return "and";
    case StepKind::kNot:
      return "not";
    case StepKind::kComparison:
      return "comparison";
    case StepKind::kIn:
      return "in";
    case StepKind::kField:
      return "field";
    case StepKind::kCall:
      return "call";
    case StepKind::kConstant:
      return "constant";
  }
  return "constant";
}

Explanation Explain(const Expression& expression, const EvalContext& context) {
  Explanation explanation;
  explanation.matches = expression.Matches(context);
  explanation.steps = Tracer(expression, *expression.root_, context).Run();
  for (FieldId field : expression.fields()) {
    explanation.fields.emplace_back(field, Traced(context.field(field)));
  }
  return explanation;
}

std::string Summarize(const Explanation& explanation) {
  const std::vector<TraceStep>& steps = explanation.steps;
  std::string summary;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!steps[i].deciding) continue;
    if (!summary.empty()) summary += "; ";
    summary += internal::Cat(OneLine(steps[i].text), " is ", FormatValue(steps[i].value));
    // What the condition read: the fields and calls among its operands.
    std::string reads;
    for (std::size_t j = i + 1; j < steps.size() && steps[j].depth > steps[i].depth; ++j) {
      if (steps[j].kind != StepKind::kField && steps[j].kind != StepKind::kCall) continue;
      if (!reads.empty()) reads += ", ";
      reads += internal::Cat(OneLine(steps[j].text), " = ", FormatValue(steps[j].value));
    }
    if (!reads.empty()) summary += internal::Cat(" (", reads, ")");
  }
  return summary;
}

absl::StatusOr<TierExplanation> ExplainTier(const Dimension& dimension, std::string_view tier_id,
                                            const EvalContext& context) {
  const auto tier = std::find_if(dimension.tiers.begin(), dimension.tiers.end(),
                                 [&](const Tier& t) { return t.id == tier_id; });
  if (tier == dimension.tiers.end()) {
    std::vector<std::string_view> ids;
    for (const Tier& t : dimension.tiers) ids.push_back(t.id);
    std::string message =
        internal::Cat("dimension '", dimension.id, "' has no tier '", tier_id, "'");
    if (const std::optional<std::string> match = Suggest(tier_id, ids)) {
      message += internal::Cat("; did you mean '", *match, "'?");
    }
    return absl::NotFoundError(message);
  }
  TierExplanation result;
  for (auto earlier = dimension.tiers.begin(); earlier != tier; ++earlier) {
    if (earlier->when.Matches(context)) {
      result.matched_first = earlier->id;
      break;
    }
  }
  result.rule = Explain(tier->when, context);
  return result;
}

}  // namespace cdp::rules
