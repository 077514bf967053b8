#include "cdp/rules/expression.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "compiler.h"
#include "program.h"
#include "source_text.h"
#include "text.h"

namespace cdp::rules {

Expression::Expression(std::string source, std::unique_ptr<const internal::Node> root,
                       std::vector<FieldId> fields, bool time_dependent,
                       std::vector<TimeFieldUse> time_fields)
    : source_(std::move(source)),
      root_(std::move(root)),
      fields_(std::move(fields)),
      time_dependent_(time_dependent),
      time_fields_(std::move(time_fields)) {}

Expression::Expression(Expression&&) noexcept = default;
Expression& Expression::operator=(Expression&&) noexcept = default;
Expression::~Expression() = default;

bool Expression::Matches(const EvalContext& context) const { return root_->Test(0, context); }

bool Expression::calls_date_functions() const { return !root_->date_calls.empty(); }

namespace {

bool Uses(const internal::Node& node, internal::Op op) {
  return std::any_of(node.code.begin(), node.code.end(),
                     [&](const internal::Instruction& in) { return in.op == op; });
}

}  // namespace

bool Expression::reads_tags() const { return Uses(*root_, internal::Op::kHasTag); }

bool Expression::reads_attributes() const { return Uses(*root_, internal::Op::kAttr); }

bool Expression::reads_consent() const { return Uses(*root_, internal::Op::kConsent); }

const std::vector<MembershipRef>& Expression::membership_refs() const {
  return root_->membership_refs;
}

std::optional<std::int64_t> Expression::NextDateChange(const EvalContext& context) const {
  return root_->NextDateChange(context);
}

absl::StatusOr<Expression> CompileExpression(std::string_view source, std::string_view file,
                                             std::span<const TextPosition> positions) {
  if (positions.size() != source.size() + 1) {
    return absl::InvalidArgumentError(internal::Cat("CompileExpression needs ", source.size() + 1,
                                                    " positions for a ", source.size(),
                                                    "-byte rule, got ", positions.size()));
  }
  std::variant<internal::CompiledExpression, internal::CompileError> result =
      internal::Compile(source);
  if (auto* error = std::get_if<internal::CompileError>(&result)) {
    const TextPosition at = positions[error->offset];
    return absl::InvalidArgumentError(internal::Cat(file, file.empty() ? "" : ":", at.line, ":",
                                                    at.column, ": ",
                                                    internal::SpellOutControls(error->message)));
  }
  auto& compiled = std::get<internal::CompiledExpression>(result);
  return Expression(std::string(source), std::move(compiled.program), std::move(compiled.fields),
                    compiled.time_dependent, std::move(compiled.time_fields));
}

absl::StatusOr<Expression> CompileExpression(std::string_view source,
                                             const SourceLocation& origin) {
  return CompileExpression(
      source, origin.file,
      internal::VerbatimPositions(source, TextPosition{origin.line, origin.column}));
}

}  // namespace cdp::rules
