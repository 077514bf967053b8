// Cost of Expression::Matches() on typical rules. Each iteration is one evaluation, so the Time
// column reads as ns/eval.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "cdp/rules/expression.h"

namespace cdp::rules {
namespace {

// A profile held in an array, so the benchmark measures the rule rather than the context.
class ArrayContext : public EvalContext {
 public:
  ArrayContext() {
    fields_[static_cast<std::size_t>(FieldId::kOrdersTotal)] = Value::Number(6);
    fields_[static_cast<std::size_t>(FieldId::kOrders365d)] = Value::Number(3);
    fields_[static_cast<std::size_t>(FieldId::kDaysSinceFirstPurchase)] = Value::Number(400);
    fields_[static_cast<std::size_t>(FieldId::kDaysSinceLastPurchase)] = Value::Number(45);
    fields_[static_cast<std::size_t>(FieldId::kRegion)] = Value::String("zhejiang");
  }
  Value field(FieldId id) const override { return fields_[static_cast<std::size_t>(id)]; }
  bool has_tag(std::string_view tag) const override { return tag == "vip"; }
  Value attr(std::string_view key) const override {
    return key == "baby_birth_date" ? Value::String("2024-01-31") : Value::Null();
  }
  bool consent(std::string_view) const override { return true; }
  bool ever_in(std::string_view id) const override { return id == "churned"; }
  std::optional<std::int64_t> entered_day(std::string_view) const override { return 19700; }
  std::int64_t today() const override { return 19800; }

 private:
  std::array<Value, kFieldCount> fields_{};
};

Expression MustCompile(std::string_view rule) {
  absl::StatusOr<Expression> expression = CompileExpression(rule, SourceLocation{"bench", 1, 1});
  if (!expression.ok()) {
    std::cerr << expression.status() << "\n";
    std::abort();
  }
  return std::move(*expression);
}

void Run(benchmark::State& state, std::string_view rule) {
  const Expression expression = MustCompile(rule);
  const ArrayContext context;
  for (auto _ : state) benchmark::DoNotOptimize(expression.Matches(context));
  state.SetLabel(std::string(rule));
}

void BM_SimpleComparison(benchmark::State& state) { Run(state, "orders_total >= 1"); }
BENCHMARK(BM_SimpleComparison);

// A lifecycle tier, the most common shape: two field comparisons joined by `and`.
void BM_TierRule(benchmark::State& state) {
  Run(state, "orders_total >= 1 and days_since_last_purchase > 90");
}
BENCHMARK(BM_TierRule);

void BM_InListAndTag(benchmark::State& state) {
  Run(state,
      "region in [\"shanghai\", \"jiangsu\", \"zhejiang\", \"anhui\"] and (has_tag(\"vip\") or "
      "orders_365d >= 4)");
}
BENCHMARK(BM_InListAndTag);

void BM_MonthsSince(benchmark::State& state) {
  Run(state,
      "months_since(attr(\"baby_birth_date\")) >= 0 and months_since(attr(\"baby_birth_date\")) < "
      "6");
}
BENCHMARK(BM_MonthsSince);

}  // namespace
}  // namespace cdp::rules

BENCHMARK_MAIN();
