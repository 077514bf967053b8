#include "program.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string_view>

#include "dates.h"

namespace cdp::rules::internal {
namespace {

template <typename T>
bool Holds(Comparison comparison, const T& a, const T& b) {
  switch (comparison) {
    case Comparison::kEqual:
      return a == b;
    case Comparison::kNotEqual:
      return a != b;
    case Comparison::kLess:
      return a < b;
    case Comparison::kLessEqual:
      return a <= b;
    case Comparison::kGreater:
      return a > b;
    case Comparison::kGreaterEqual:
      return a >= b;
  }
  return false;
}

// False when either side is null, or when the context returned a value of another type than the
// field's: a comparison with nothing known holds for no operator.
bool Holds(Comparison comparison, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return Holds(comparison, a.number(), b.number());
  if (a.is_string() && b.is_string()) return Holds(comparison, a.string(), b.string());
  if (a.is_bool() && b.is_bool()) return Holds(comparison, a.boolean(), b.boolean());
  return false;
}

}  // namespace

bool Node::Test(std::uint32_t index, const EvalContext& context) const {
  const Instruction& in = code[index];
  switch (in.op) {
    case Op::kConstant:
      return in.value.boolean();
    case Op::kAll:
      for (std::uint32_t i = in.begin; i < in.end; ++i) {
        if (!Test(operands[i], context)) return false;
      }
      return true;
    case Op::kAny:
      for (std::uint32_t i = in.begin; i < in.end; ++i) {
        if (Test(operands[i], context)) return true;
      }
      return false;
    case Op::kNot:
      return !Test(in.lhs, context);
    case Op::kHasTag:
      return context.has_tag(in.value.string());
    case Op::kConsent:
      return context.consent(in.value.string());
    case Op::kEverIn:
      return context.ever_in(in.value.string());
    case Op::kCompare:
      return Holds(in.comparison, Load(in.lhs, context), Load(in.rhs, context));
    case Op::kCompareFieldWith:
      return Holds(in.comparison, context.field(in.field), in.value);
    case Op::kIn: {
      const Value needle = Load(in.lhs, context);
      if (needle.is_null()) return false;
      bool found = false;
      for (std::uint32_t i = in.begin; i < in.end && !found; ++i) {
        found = Holds(Comparison::kEqual, needle, lists[i]);
      }
      return found != in.negate;
    }
    case Op::kLiteral:
    case Op::kField:
    case Op::kAttr:
    case Op::kDaysSince:
    case Op::kMonthsSince:
    case Op::kDaysIn:
      break;
  }
  return false;  // the type checker only lets conditions reach here
}

Value Node::Load(std::uint32_t index, const EvalContext& context) const {
  const Instruction& in = code[index];
  switch (in.op) {
    case Op::kLiteral:
      return in.value;
    case Op::kField:
      return context.field(in.field);
    case Op::kAttr:
      return context.attr(in.value.string());
    case Op::kDaysSince:
    case Op::kMonthsSince: {
      const Value date = Load(in.lhs, context);
      if (!date.is_string()) return Value::Null();
      const std::optional<CivilDate> day = ParseIsoCivilDate(date.string());
      if (!day) return Value::Null();
      const std::int64_t today = context.today();
      const std::int64_t elapsed = in.op == Op::kDaysSince
                                       ? today - DaysFromCivil(*day)
                                       : MonthsBetween(*day, CivilFromDays(today));
      return Value::Number(static_cast<double>(elapsed));
    }
    case Op::kDaysIn: {
      const std::optional<std::int64_t> entered = context.entered_day(in.value.string());
      if (!entered) return Value::Null();
      return Value::Number(static_cast<double>(context.today() - *entered));
    }
    default:
      return Value::Bool(Test(index, context));
  }
}

namespace {

// Counts further out than this (about 27,000 years in days) are never reached.
constexpr double kFarthestCount = 1e7;

// What a time-dependent count is compared with.
struct Comparands {
  std::vector<std::int64_t> flip_counts;
  bool non_literal = false;
};

// Adds where `count <comparison> value` (the count on the left) can change truth as the count
// grows one by one.
void AddFlips(Comparison comparison, const Value& value, Comparands& comparands) {
  if (!value.is_number() || std::abs(value.number()) > kFarthestCount) return;
  const double c = value.number();
  auto add = [&](double count) {
    comparands.flip_counts.push_back(static_cast<std::int64_t>(count));
  };
  switch (comparison) {
    case Comparison::kLess:
    case Comparison::kGreaterEqual:
      add(std::ceil(c));
      break;
    case Comparison::kLessEqual:
    case Comparison::kGreater:
      add(std::floor(c) + 1);
      break;
    case Comparison::kEqual:
    case Comparison::kNotEqual:
      // A whole count never equals a fraction.
      if (c == std::floor(c)) {
        add(c);
        add(c + 1);
      }
      break;
  }
}

void Normalise(std::vector<std::int64_t>& counts) {
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
}

bool IsTimeInput(const Instruction& in) {
  return in.op == Op::kDaysSince || in.op == Op::kMonthsSince || in.op == Op::kDaysIn ||
         (in.op == Op::kField && Field(in.field).time_dependent);
}

// Whether date calls `a` and `b` of `node` count from the same date: the same function of the same
// attribute, literal date or membership.
bool SameDate(const Node& node, const Instruction& a, const Instruction& b) {
  if (a.op != b.op) return false;
  if (a.op == Op::kDaysIn) return a.value == b.value;
  const Instruction& from_a = node.code[a.lhs];
  const Instruction& from_b = node.code[b.lhs];
  return from_a.op == from_b.op && (from_a.op == Op::kAttr || from_a.op == Op::kLiteral) &&
         from_a.value == from_b.value;
}

// The first of `counts` above `current`, or nullopt.
std::optional<std::int64_t> NextCount(const std::vector<std::int64_t>& counts,
                                      std::int64_t current) {
  const auto it = std::upper_bound(counts.begin(), counts.end(), current);
  return it == counts.end() ? std::nullopt : std::optional<std::int64_t>(*it);
}

}  // namespace

std::vector<TimeFieldUse> AnalyseTime(Node& node) {
  // Who uses each instruction: every operand has exactly one user, the tree being a tree.
  std::vector<std::optional<std::uint32_t>> user(node.code.size());
  for (std::uint32_t i = 0; i < node.code.size(); ++i) {
    const Instruction& in = node.code[i];
    switch (in.op) {
      case Op::kCompare:
        user[in.lhs] = i;
        user[in.rhs] = i;
        break;
      case Op::kIn:
      case Op::kNot:
      case Op::kDaysSince:
      case Op::kMonthsSince:
        user[in.lhs] = i;
        break;
      default:
        break;
    }
  }
  auto comparands_of = [&](std::uint32_t operand) {
    Comparands comparands;
    if (!user[operand]) {
      comparands.non_literal = true;
      return comparands;
    }
    const Instruction& parent = node.code[*user[operand]];
    if (parent.op == Op::kCompare) {
      const bool on_left = parent.lhs == operand;
      const Instruction& other = node.code[on_left ? parent.rhs : parent.lhs];
      if (other.op == Op::kLiteral) {
        AddFlips(on_left ? parent.comparison : Mirror(parent.comparison), other.value, comparands);
      } else {
        comparands.non_literal = true;
      }
    } else if (parent.op == Op::kIn) {
      for (std::uint32_t i = parent.begin; i < parent.end; ++i) {
        AddFlips(Comparison::kEqual, node.lists[i], comparands);
      }
    } else {
      comparands.non_literal = true;
    }
    return comparands;
  };

  std::map<FieldId, TimeFieldUse> fields;
  auto use_field = [&](FieldId field, const Comparands& comparands) {
    TimeFieldUse& use = fields[field];
    use.field = field;
    use.flip_counts.insert(use.flip_counts.end(), comparands.flip_counts.begin(),
                           comparands.flip_counts.end());
    use.compared_with_non_literal = use.compared_with_non_literal || comparands.non_literal;
  };
  node.date_calls.clear();
  for (std::uint32_t i = 0; i < node.code.size(); ++i) {
    const Instruction& in = node.code[i];
    if (in.op == Op::kCompareFieldWith && Field(in.field).time_dependent) {
      Comparands comparands;
      AddFlips(in.comparison, in.value, comparands);
      use_field(in.field, comparands);
    } else if (IsTimeInput(in)) {
      Comparands comparands = comparands_of(i);
      if (in.op == Op::kField) {
        use_field(in.field, comparands);
      } else {
        // Calls counting from the same date (a range test names it twice) flip on the days either
        // one's counts are reached: one entry for both spares the timer reading the date twice.
        auto call = std::find_if(
            node.date_calls.begin(), node.date_calls.end(),
            [&](const DateCall& other) { return SameDate(node, node.code[other.call], in); });
        if (call == node.date_calls.end()) {
          call = node.date_calls.insert(call, DateCall{i, {}, false});
        }
        call->flip_counts.insert(call->flip_counts.end(), comparands.flip_counts.begin(),
                                 comparands.flip_counts.end());
        Normalise(call->flip_counts);
        call->compared_with_non_literal = call->compared_with_non_literal || comparands.non_literal;
      }
    }
  }
  std::vector<TimeFieldUse> result;
  for (auto& [field, use] : fields) {
    Normalise(use.flip_counts);
    result.push_back(std::move(use));
  }
  return result;
}

std::optional<std::int64_t> Node::NextDateChange(const EvalContext& context) const {
  const std::int64_t today = context.today();
  std::optional<std::int64_t> next;
  auto consider = [&](std::int64_t day) {
    if (day > today && (!next || day < *next)) next = day;
  };
  // Today as a date only once, and only for months_since calls.
  std::optional<CivilDate> today_date;
  for (const DateCall& call : date_calls) {
    const Instruction& in = code[call.call];
    if (in.op == Op::kMonthsSince) {
      const Value date = Load(in.lhs, context);
      const std::optional<CivilDate> from =
          date.is_string() ? ParseIsoCivilDate(date.string()) : std::nullopt;
      if (!from) continue;
      if (!today_date) today_date = CivilFromDays(today);
      const std::int64_t current = MonthsBetween(*from, *today_date);
      std::optional<std::int64_t> k = current + 1;
      if (!call.compared_with_non_literal) k = NextCount(call.flip_counts, current);
      if (k) consider(AddMonths(*from, *k));
      continue;
    }
    std::optional<std::int64_t> from;
    if (in.op == Op::kDaysIn) {
      from = context.entered_day(in.value.string());
    } else if (const Value date = Load(in.lhs, context); date.is_string()) {
      from = ParseIsoDate(date.string());
    }
    if (!from) continue;
    // The count grows by one a day: it reaches count k on day from + k.
    const std::int64_t current = today - *from;
    if (call.compared_with_non_literal) {
      consider(today + 1);
    } else if (auto k = NextCount(call.flip_counts, current)) {
      consider(*from + *k);
    }
  }
  return next;
}

}  // namespace cdp::rules::internal
