#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cdp/rules/eval_context.h"
#include "cdp/rules/fields.h"

namespace cdp::rules {

namespace internal {
struct Node;
}  // namespace internal

struct Explanation;

// Where an expression's text starts in its file, so errors point at the offending character.
struct SourceLocation {
  std::string file;
  int line = 1;    // 1-based
  int column = 1;  // 1-based
};

// A character's place in a file, 1-based; columns count characters, not bytes.
struct TextPosition {
  int line = 1;
  int column = 1;
};

// A time-dependent field a rule reads, and what it is compared with: enough for the core to work
// out on which days time alone can change the rule's result.
struct TimeFieldUse {
  FieldId field = FieldId::kCount;
  // For a field that counts whole days or months and grows with time (days_since_*): the counts
  // at which a comparison of it with a literal becomes true or false as it grows. `> 90` flips at
  // 91, `<= 30` at 31, `== 7` at 7 and 8, `in [1, 2]` at 1, 2 and 3. Ascending, once each. Between
  // two of them every such comparison keeps its result.
  std::vector<std::int64_t> flip_counts;
  // Also compared with something other than a literal (another field, a function): the result may
  // change on any day the field's value does.
  bool compared_with_non_literal = false;
};

// A segment or tier a rule reads the history of (ever_in, days_in), and where its quoted name
// starts in the rule's text.
struct MembershipRef {
  std::string id;
  std::uint32_t offset = 0;
};

// A boolean rule compiled once at load: parsed, type-checked against the field catalogue.
// Immutable and safe to evaluate from several threads.
class Expression {
 public:
  Expression(Expression&&) noexcept;
  Expression& operator=(Expression&&) noexcept;
  ~Expression();

  // True when the rule holds. Comparisons with null are false; `not` negates that false.
  [[nodiscard]] bool Matches(const EvalContext& context) const;

  [[nodiscard]] std::string_view source() const { return source_; }
  // The fields the rule reads, without repeats, in FieldId order.
  [[nodiscard]] const std::vector<FieldId>& fields() const { return fields_; }
  // Whether the rule reads anything that can change with time alone (a time-dependent field,
  // days_since()/months_since()).
  [[nodiscard]] bool time_dependent() const { return time_dependent_; }
  // Every time-dependent field the rule reads, in FieldId order.
  [[nodiscard]] const std::vector<TimeFieldUse>& time_fields() const { return time_fields_; }
  // The segments and tiers the rule names in ever_in()/days_in(), in the order written.
  [[nodiscard]] const std::vector<MembershipRef>& membership_refs() const;
  // Whether the rule calls days_since(), months_since() or days_in().
  [[nodiscard]] bool calls_date_functions() const;
  // Whether the rule reads the customer's tags (has_tag), attributes (attr) or consent (consent):
  // with fields() and membership_refs(), everything it reads of a profile.
  [[nodiscard]] bool reads_tags() const;
  [[nodiscard]] bool reads_attributes() const;
  [[nodiscard]] bool reads_consent() const;
  // The first day after context.today() (days since 1970-01-01) on which a days_since(),
  // months_since() or days_in() call of the rule can change the rule's result; nullopt when there
  // is none (no such call, or its date is null, not a date, or the membership not held).
  [[nodiscard]] std::optional<std::int64_t> NextDateChange(const EvalContext& context) const;

 private:
  // Walks the compiled program (explain.h).
  friend Explanation Explain(const Expression&, const EvalContext&);
  friend absl::StatusOr<Expression> CompileExpression(std::string_view, const SourceLocation&);
  friend absl::StatusOr<Expression> CompileExpression(std::string_view, std::string_view,
                                                      std::span<const TextPosition>);
  Expression(std::string source, std::unique_ptr<const internal::Node> root,
             std::vector<FieldId> fields, bool time_dependent,
             std::vector<TimeFieldUse> time_fields);

  std::string source_;
  std::unique_ptr<const internal::Node> root_;
  std::vector<FieldId> fields_;
  bool time_dependent_ = false;
  std::vector<TimeFieldUse> time_fields_;
};

// Errors read "file:line:column: message", e.g.
// "segments.yaml:12:9: unknown field 'monetry_90d'; did you mean 'monetary_90d'?".
[[nodiscard]] absl::StatusOr<Expression> CompileExpression(std::string_view source,
                                                           const SourceLocation& origin);

// The same, for text that is not a verbatim copy of its file (a YAML scalar with escapes or folded
// over several lines): `positions[i]` is where byte i of `source` sits in `file`, and one extra
// last entry is where the text ends, so there are source.size() + 1 positions.
[[nodiscard]] absl::StatusOr<Expression> CompileExpression(std::string_view source,
                                                           std::string_view file,
                                                           std::span<const TextPosition> positions);

}  // namespace cdp::rules
