#include "cdp/rules/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fake_context.h"
#include "parse_catalogue.h"

namespace cdp::rules {
namespace {

using ::cdp::rules::testing::FakeContext;
using ::cdp::rules::testing::Parse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Expression CompileRule(std::string_view rule) {
  absl::StatusOr<Expression> expression = CompileExpression(rule, SourceLocation{"test", 1, 1});
  if (!expression.ok()) {
    ADD_FAILURE() << rule << ": " << expression.status();
    return std::move(*CompileExpression("false", SourceLocation{}));
  }
  return std::move(*expression);
}

// "depth kind text = value", with " skipped" and " deciding" when set: a whole trace at a glance.
std::vector<std::string> Lines(const Explanation& explanation) {
  std::vector<std::string> lines;
  for (const TraceStep& step : explanation.steps) {
    lines.push_back(std::to_string(step.depth) + " " + std::string(StepKindName(step.kind)) + " " +
                    step.text + " = " + FormatValue(step.value) + (step.skipped ? " skipped" : "") +
                    (step.deciding ? " deciding" : ""));
  }
  return lines;
}

TEST(Explain, AComparisonShowsTheFieldItRead) {
  FakeContext c;
  c.Set("monetary_90d", 1234.5);
  const Expression rule = CompileRule("monetary_90d >= 5000");
  const Explanation explanation = Explain(rule, c);
  EXPECT_FALSE(explanation.matches);
  EXPECT_THAT(Lines(explanation), ElementsAre("0 comparison monetary_90d >= 5000 = false deciding",
                                              "1 field monetary_90d = 1234.5"));
  EXPECT_EQ(explanation.steps[1].field, FieldId::kMonetary90d);
  EXPECT_EQ(explanation.steps[1].begin, 0u);
  EXPECT_EQ(explanation.steps[1].end, 12u);
  EXPECT_EQ(Summarize(explanation), "monetary_90d >= 5000 is false (monetary_90d = 1234.5)");
  ASSERT_EQ(explanation.fields.size(), 1u);
  EXPECT_EQ(explanation.fields[0].first, FieldId::kMonetary90d);
  EXPECT_EQ(explanation.fields[0].second, TracedValue(1234.5));
}

TEST(Explain, AFieldWrittenOnTheRightKeepsItsPlace) {
  FakeContext c;
  c.Set("orders_total", 7);
  const Explanation explanation = Explain(CompileRule("5 <  orders_total"), c);
  EXPECT_TRUE(explanation.matches);
  EXPECT_THAT(Lines(explanation), ElementsAre("0 comparison 5 <  orders_total = true deciding",
                                              "1 field orders_total = 7"));
  EXPECT_EQ(explanation.steps[1].begin, 5u);
}

TEST(Explain, AnAndThatFailsRestsOnItsFirstFalseOperand) {
  FakeContext c;
  c.Set("orders_total", 0.0).Set("days_since_last_purchase", 200);
  const Explanation explanation =
      Explain(CompileRule("orders_total >= 1 and days_since_last_purchase > 180"), c);
  EXPECT_FALSE(explanation.matches);
  EXPECT_THAT(
      Lines(explanation),
      ElementsAre("0 and orders_total >= 1 and days_since_last_purchase > 180 = false",
                  "1 comparison orders_total >= 1 = false deciding", "2 field orders_total = 0",
                  "1 comparison days_since_last_purchase > 180 = true skipped",
                  "2 field days_since_last_purchase = 200 skipped"));
  EXPECT_EQ(Summarize(explanation), "orders_total >= 1 is false (orders_total = 0)");
}

TEST(Explain, AnAndThatHoldsRestsOnEveryOperand) {
  FakeContext c;
  c.Set("orders_total", 2).Set("days_since_last_purchase", 200);
  const Explanation explanation =
      Explain(CompileRule("orders_total >= 1 and days_since_last_purchase > 180"), c);
  EXPECT_TRUE(explanation.matches);
  EXPECT_EQ(Summarize(explanation),
            "orders_total >= 1 is true (orders_total = 2); days_since_last_purchase > 180 is true "
            "(days_since_last_purchase = 200)");
}

TEST(Explain, AnOrRestsOnItsFirstTrueOperandOrOnAll) {
  FakeContext c;
  c.Set("region", "north").Set("orders_30d", 0.0);
  const Expression rule = CompileRule("orders_30d >= 3 or region == 'north' or has_tag('vip')");
  const Explanation holds = Explain(rule, c);
  EXPECT_TRUE(holds.matches);
  EXPECT_THAT(Lines(holds),
              ElementsAre("0 or orders_30d >= 3 or region == 'north' or has_tag('vip') = true",
                          "1 comparison orders_30d >= 3 = false", "2 field orders_30d = 0",
                          "1 comparison region == 'north' = true deciding",
                          "2 field region = \"north\"", "1 call has_tag('vip') = false skipped"));

  c.Set("region", "south");
  const Explanation fails = Explain(rule, c);
  EXPECT_FALSE(fails.matches);
  EXPECT_EQ(Summarize(fails),
            "orders_30d >= 3 is false (orders_30d = 0); region == 'north' is false (region = "
            "\"south\"); has_tag('vip') is false");
}

TEST(Explain, OnlyTheFirstOperandThatDecidesIsDeciding) {
  FakeContext c;
  c.Set("orders_total", 0.0).Set("interactions_total", 0.0);
  EXPECT_EQ(Summarize(Explain(CompileRule("orders_total >= 1 and interactions_total >= 1"), c)),
            "orders_total >= 1 is false (orders_total = 0)");
  EXPECT_EQ(Summarize(Explain(CompileRule("orders_total < 1 or interactions_total < 1"), c)),
            "orders_total < 1 is true (orders_total = 0)");
}

TEST(Explain, NotAndNull) {
  FakeContext c;
  const Explanation explanation = Explain(CompileRule("not (avg_survey_score >= 7)"), c);
  EXPECT_TRUE(explanation.matches);
  EXPECT_THAT(Lines(explanation),
              ElementsAre("0 not not (avg_survey_score >= 7) = true",
                          "1 comparison (avg_survey_score >= 7) = false deciding",
                          "2 field avg_survey_score = null"));
}

TEST(Explain, FunctionsAndLists) {
  FakeContext c;
  c.SetToday(2024, 3, 15).Attr("baby_birth_date", "2024-03-01").Set("city", "上海");
  const Explanation explanation = Explain(
      CompileRule("days_since(attr(\"baby_birth_date\")) < 180 and city not in ['北京', '深圳']"),
      c);
  EXPECT_TRUE(explanation.matches);
  EXPECT_THAT(
      Lines(explanation),
      ElementsAre(
          "0 and days_since(attr(\"baby_birth_date\")) < 180 and city not in ['北京', '深圳'] = "
          "true",
          "1 comparison days_since(attr(\"baby_birth_date\")) < 180 = true deciding",
          "2 call days_since(attr(\"baby_birth_date\")) = 14",
          "3 call attr(\"baby_birth_date\") = \"2024-03-01\"",
          "1 in city not in ['北京', '深圳'] = true deciding", "2 field city = \"上海\""));
}

TEST(Explain, ARuleOverSeveralLinesIsSummarizedOnOne) {
  FakeContext c;
  c.Set("orders_total", 0.0);
  const Explanation explanation = Explain(CompileRule("orders_total\n   >= 1"), c);
  EXPECT_EQ(explanation.steps[0].text, "orders_total\n   >= 1");
  EXPECT_EQ(Summarize(explanation), "orders_total >= 1 is false (orders_total = 0)");
}

TEST(Explain, Constants) {
  FakeContext c;
  EXPECT_THAT(Lines(Explain(CompileRule("true"), c)),
              ElementsAre("0 constant true = true deciding"));
  EXPECT_THAT(Lines(Explain(CompileRule("false or true"), c)),
              ElementsAre("0 or false or true = true", "1 constant false = false",
                          "1 constant true = true deciding"));
}

TEST(FormatValue, AsARuleWritesIt) {
  EXPECT_EQ(FormatValue(std::monostate()), "null");
  EXPECT_EQ(FormatValue(3.0), "3");
  EXPECT_EQ(FormatValue(-0.25), "-0.25");
  EXPECT_EQ(FormatValue(std::string("a\"b\\c\n")), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(FormatValue(true), "true");
}

// A context whose every input is drawn at random, including null, so that rules go both ways.
FakeContext RandomContext(std::mt19937& random) {
  FakeContext c;
  const double numbers[] = {0, 1, 2, 3, 4, 5, 7, 30, 31, 90, 91, 180, 181, 5000, 300000, 0.25};
  const char* strings[] = {"north", "south", "apparel", "female", "gold", "2023-01-15", ""};
  for (const FieldInfo& field : Fields()) {
    if (random() % 4 == 0) continue;  // null
    if (field.type == ValueType::kNumber) {
      c.Set(field.name, numbers[random() % std::size(numbers)]);
    } else {
      c.Set(field.name, strings[random() % std::size(strings)]);
    }
  }
  for (const char* tag : {"vip", "new_parent", "newsletter", "student"}) {
    if (random() % 2) c.Tag(tag);
  }
  if (random() % 2) c.Attr("baby_birth_date", "2023-10-01");
  for (const char* channel : {"sms", "email", "wechat"}) c.Consent(channel, random() % 2);
  for (const char* id : {"churned", "loyal", "at_risk", "won_back", "new"}) {
    if (random() % 3 == 0) {
      c.Membership(id, random() % 2 ? std::optional(absl::CivilDay(2024, 1, 1)) : std::nullopt);
    }
  }
  return c;
}

// Every rule of the shipped catalogue and of the fuzz seeds: the explanation's result is Matches',
// the whole rule comes first, each step's text is its span of the rule, and the fields listed are
// the ones the rule reads.
TEST(Explain, AgreesWithMatches) {
  std::vector<Expression> rules;
  const auto catalogue =
      LoadSegmentCatalogue(std::string(CDP_SOURCE_DIR) + "/deploy/config/segments.yaml");
  ASSERT_TRUE(catalogue.ok()) << catalogue.status();
  std::vector<std::string> sources;
  for (const Segment& segment : catalogue->segments) sources.emplace_back(segment.when.source());
  for (const Dimension& dimension : catalogue->dimensions) {
    for (const Tier& tier : dimension.tiers) sources.emplace_back(tier.when.source());
  }
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(CDP_SOURCE_DIR) + "/libs/rules/fuzz/corpus/expression")) {
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    sources.push_back(text.str());
  }
  std::mt19937 random(7);
  int compiled = 0;
  int matched = 0;
  int explained = 0;
  for (const std::string& source : sources) {
    auto rule = CompileExpression(source, SourceLocation{});
    if (!rule.ok()) continue;  // some seeds are errors on purpose
    ++compiled;
    for (int i = 0; i < 50; ++i) {
      const FakeContext context = RandomContext(random);
      const Explanation explanation = Explain(*rule, context);
      ++explained;
      ASSERT_EQ(explanation.matches, rule->Matches(context)) << source;
      matched += explanation.matches;
      ASSERT_FALSE(explanation.steps.empty()) << source;
      EXPECT_EQ(explanation.steps[0].value, TracedValue(explanation.matches)) << source;
      EXPECT_EQ(explanation.steps[0].depth, 0);
      EXPECT_FALSE(Summarize(explanation).empty()) << source;
      for (const TraceStep& step : explanation.steps) {
        ASSERT_LE(step.end, source.size()) << source;
        EXPECT_EQ(step.text, source.substr(step.begin, step.end - step.begin)) << source;
      }
      ASSERT_EQ(explanation.fields.size(), rule->fields().size()) << source;
      for (std::size_t f = 0; f < explanation.fields.size(); ++f) {
        EXPECT_EQ(explanation.fields[f].first, rule->fields()[f]);
      }
    }
  }
  EXPECT_GT(compiled, 40);
  // Both outcomes were seen often: the contexts exercise the rules.
  EXPECT_GT(matched, explained / 10);
  EXPECT_LT(matched, explained * 9 / 10);
}

TEST(ExplainTier, NamesTheEarlierTierThatMatchesFirst) {
  const SegmentCatalogue catalogue = Parse(R"(
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: at_risk, when: "orders_total >= 1 and days_since_last_purchase > 90"}
      - {id: active,  when: "orders_total >= 1"}
)");
  ASSERT_EQ(catalogue.dimensions.size(), 1u);
  const Dimension& lifecycle = catalogue.dimensions[0];
  FakeContext c;
  c.Set("orders_total", 3).Set("days_since_last_purchase", 100);

  auto active = ExplainTier(lifecycle, "active", c);
  ASSERT_TRUE(active.ok()) << active.status();
  EXPECT_TRUE(active->rule.matches);
  EXPECT_EQ(active->matched_first, "at_risk");
  EXPECT_FALSE(active->selected());

  auto at_risk = ExplainTier(lifecycle, "at_risk", c);
  ASSERT_TRUE(at_risk.ok()) << at_risk.status();
  EXPECT_EQ(at_risk->matched_first, std::nullopt) << "churned does not match";
  EXPECT_TRUE(at_risk->selected());

  auto churned = ExplainTier(lifecycle, "churned", c);
  ASSERT_TRUE(churned.ok()) << churned.status();
  EXPECT_FALSE(churned->selected());
  EXPECT_EQ(Summarize(churned->rule),
            "days_since_last_purchase > 180 is false (days_since_last_purchase = 100)");

  const auto unknown = ExplainTier(lifecycle, "activ", c);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("dimension 'lifecycle' has no tier 'activ'; did you mean 'active'?"));
}

}  // namespace
}  // namespace cdp::rules
