// Fuzzes the rule compiler with any text as a rule: it compiles, or is refused with an error that
// points into it on one line (file:line:column, as a person fixing a segment file needs). A
// compiled rule evaluates, works out its next date change and explains itself (agreeing with
// Matches), against a profile with nothing set and one with every field, tag, attribute, consent
// and membership a rule may ask for.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "cdp/rules/explain.h"
#include "cdp/rules/expression.h"
#include "cdp/rules/fields.h"
#include "fake_context.h"

namespace {

using cdp::rules::testing::FakeContext;

const FakeContext& Unset() {
  static const FakeContext* const context = new FakeContext();
  return *context;
}

const FakeContext& EverythingSet() {
  static const FakeContext* const context = [] {
    auto* context = new FakeContext();
    for (const auto& field : cdp::rules::Fields()) {
      switch (field.type) {
        case cdp::rules::ValueType::kNumber:
          context->Set(field.name, 42.0);
          break;
        case cdp::rules::ValueType::kString:
          context->Set(field.name, "2023-12-24");
          break;
        case cdp::rules::ValueType::kBool:
          context->Set(field.name, cdp::rules::Value::Bool(true));
          break;
      }
    }
    context->Tag("vip").Attr("baby_birth_date", "2024-01-15").Consent("sms", true);
    context->Membership("loyal", absl::CivilDay(2024, 1, 1)).Membership("churned", std::nullopt);
    return context;
  }();
  return *context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  const auto expression =
      cdp::rules::CompileExpression(source, cdp::rules::SourceLocation{"fuzz.yaml", 7, 11});
  if (!expression.ok()) {
    const auto message = expression.status().message();
    if (!absl::StartsWith(message, "fuzz.yaml:") || absl::StrContains(message, '\n')) {
      std::fprintf(stderr, "expression_fuzzer: not one error with its location: %s\n",
                   std::string(expression.status().message()).c_str());
      std::abort();
    }
    return 0;
  }
  for (const FakeContext* context : {&Unset(), &EverythingSet()}) {
    const bool matches = expression->Matches(*context);
    static_cast<void>(expression->NextDateChange(*context));
    const cdp::rules::Explanation explanation = cdp::rules::Explain(*expression, *context);
    if (explanation.matches != matches || explanation.steps.empty() ||
        explanation.steps.front().value != cdp::rules::TracedValue(matches)) {
      std::fprintf(stderr, "expression_fuzzer: Explain disagrees with Matches\n");
      std::abort();
    }
    for (const cdp::rules::TraceStep& step : explanation.steps) {
      if (step.begin > step.end || step.end > source.size()) {
        std::fprintf(stderr, "expression_fuzzer: a step's span is outside the rule\n");
        std::abort();
      }
    }
  }
  return 0;
}
