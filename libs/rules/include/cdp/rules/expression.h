#pragma once

#include <memory>
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

 private:
  friend absl::StatusOr<Expression> CompileExpression(std::string_view, const SourceLocation&);
  friend absl::StatusOr<Expression> CompileExpression(std::string_view, std::string_view,
                                                      std::span<const TextPosition>);
  Expression(std::string source, std::unique_ptr<const internal::Node> root,
             std::vector<FieldId> fields, bool time_dependent);

  std::string source_;
  std::unique_ptr<const internal::Node> root_;
  std::vector<FieldId> fields_;
  bool time_dependent_ = false;
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
