#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cdp/rules/fields.h"
#include "program.h"

namespace cdp::rules::internal {

struct CompiledExpression {
  std::unique_ptr<const Node> program;
  std::vector<FieldId> fields;
  bool time_dependent = false;
  std::vector<TimeFieldUse> time_fields;
};

struct CompileError {
  // Where in the rule's text the problem is.
  std::size_t offset = 0;
  std::string message;
};

// Parses, type-checks and compiles a rule; the first error found stops it.
[[nodiscard]] std::variant<CompiledExpression, CompileError> Compile(std::string_view source);

}  // namespace cdp::rules::internal
