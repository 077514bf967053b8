#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "cdp/rules/eval_context.h"
#include "cdp/rules/expression.h"
#include "cdp/rules/fields.h"
#include "cdp/rules/value.h"

namespace cdp::rules::internal {

enum class Op : std::uint8_t {
  // Conditions (true or false).
  kConstant,          // value (a bool)
  kAll,               // every instruction in operands[begin, end)
  kAny,               // some instruction in operands[begin, end)
  kNot,               // lhs
  kHasTag,            // value (the tag)
  kConsent,           // value (the channel)
  kEverIn,            // value (a segment or tier id)
  kCompare,           // lhs <comparison> rhs
  kCompareFieldWith,  // field <comparison> value: the common shape, in one step
  kIn,                // lhs in lists[begin, end); `negate` for `not in`
  // Values (possibly null).
  kLiteral,      // value
  kField,        // field
  kAttr,         // value (the key)
  kDaysSince,    // lhs (a date string)
  kMonthsSince,  // lhs (a date string)
  kDaysIn,       // value (a segment or tier id)
};

// Whether the instruction is a condition (Node::Test evaluates it) rather than a value
// (Node::Load): the conditions come first in Op.
constexpr bool IsCondition(Op op) { return op <= Op::kIn; }

enum class Comparison : std::uint8_t {
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual
};

// The comparison with its sides swapped: `a < b` is `b > a`.
inline Comparison Mirror(Comparison comparison) {
  switch (comparison) {
    case Comparison::kLess:
      return Comparison::kGreater;
    case Comparison::kLessEqual:
      return Comparison::kGreaterEqual;
    case Comparison::kGreater:
      return Comparison::kLess;
    case Comparison::kGreaterEqual:
      return Comparison::kLessEqual;
    case Comparison::kEqual:
    case Comparison::kNotEqual:
      break;
  }
  return comparison;
}

struct Instruction {
  Op op = Op::kConstant;
  Comparison comparison = Comparison::kEqual;
  bool negate = false;
  FieldId field = FieldId::kCount;
  std::uint32_t lhs = 0;
  std::uint32_t rhs = 0;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  Value value;
};

// Where an instruction came from in the rule's text (byte offsets, end exclusive), for
// explanations; evaluation never reads it.
struct SourceSpan {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
};

struct InstructionSource {
  SourceSpan text;
  // kCompareFieldWith reads its field without an instruction of its own: where the field is.
  SourceSpan field;
};

// A days_since()/months_since() call and the counts at which its comparisons can flip.
struct DateCall {
  std::uint32_t call = 0;                 // the instruction
  std::vector<std::int64_t> flip_counts;  // ascending, once each; see TimeFieldUse
  bool compared_with_non_literal = false;
};

// An expression compiled to a flat tree: instructions refer to their operands by index, the root
// is instruction 0. Built once, then only read, so evaluation allocates nothing and is thread-safe.
// Never moved after it is built: string Values view `strings`.
struct Node {
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  [[nodiscard]] bool Test(std::uint32_t index, const EvalContext& context) const;
  [[nodiscard]] Value Load(std::uint32_t index, const EvalContext& context) const;
  // See Expression::NextDateChange.
  [[nodiscard]] std::optional<std::int64_t> NextDateChange(const EvalContext& context) const;

  std::vector<Instruction> code;
  std::vector<InstructionSource> sources;  // parallel to `code`
  std::vector<std::uint32_t> operands;
  std::vector<Value> lists;
  // deque: growing it never moves the strings already viewed.
  std::deque<std::string> strings;
  std::vector<DateCall> date_calls;
  std::vector<MembershipRef> membership_refs;
};

// What in `node` can change with time alone; also fills node.date_calls.
[[nodiscard]] std::vector<TimeFieldUse> AnalyseTime(Node& node);

}  // namespace cdp::rules::internal
