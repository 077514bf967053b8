#include "program.h"

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
      const std::optional<std::int64_t> day = ParseIsoDate(date.string());
      if (!day) return Value::Null();
      const std::int64_t today = context.today();
      const std::int64_t elapsed =
          in.op == Op::kDaysSince ? today - *day : MonthsBetween(*day, today);
      return Value::Number(static_cast<double>(elapsed));
    }
    default:
      return Value::Bool(Test(index, context));
  }
}

}  // namespace cdp::rules::internal
