#include "cdp/rules/expression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fake_context.h"

namespace cdp::rules {
namespace {

using ::cdp::rules::testing::FakeContext;
using ::testing::ElementsAre;

Expression Compile(std::string_view rule) {
  absl::StatusOr<Expression> expression = CompileExpression(rule, SourceLocation{"test", 1, 1});
  if (!expression.ok()) {
    ADD_FAILURE() << rule << ": " << expression.status();
    return std::move(*CompileExpression("false", SourceLocation{}));
  }
  return std::move(*expression);
}

bool Eval(std::string_view rule, const FakeContext& context) {
  return Compile(rule).Matches(context);
}

// The message of the compile error, origin "r.yaml" line 1 column 1.
std::string ErrorOf(std::string_view rule) {
  absl::StatusOr<Expression> expression = CompileExpression(rule, SourceLocation{"r.yaml", 1, 1});
  if (expression.ok()) return "compiled";
  EXPECT_EQ(expression.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(expression.status().message());
}

TEST(Comparison, Numbers) {
  FakeContext c;
  c.Set("orders_total", 3);
  EXPECT_TRUE(Eval("orders_total == 3", c));
  EXPECT_FALSE(Eval("orders_total == 4", c));
  EXPECT_TRUE(Eval("orders_total != 4", c));
  EXPECT_FALSE(Eval("orders_total != 3", c));
  EXPECT_TRUE(Eval("orders_total < 4", c));
  EXPECT_FALSE(Eval("orders_total < 3", c));
  EXPECT_TRUE(Eval("orders_total <= 3", c));
  EXPECT_FALSE(Eval("orders_total <= 2", c));
  EXPECT_TRUE(Eval("orders_total > 2", c));
  EXPECT_FALSE(Eval("orders_total > 3", c));
  EXPECT_TRUE(Eval("orders_total >= 3", c));
  EXPECT_FALSE(Eval("orders_total >= 4", c));
}

TEST(Comparison, LiteralOnTheLeftMirrorsTheOperator) {
  FakeContext c;
  c.Set("orders_total", 3);
  EXPECT_TRUE(Eval("4 > orders_total", c));
  EXPECT_FALSE(Eval("3 > orders_total", c));
  EXPECT_TRUE(Eval("3 >= orders_total", c));
  EXPECT_TRUE(Eval("2 < orders_total", c));
  EXPECT_FALSE(Eval("3 < orders_total", c));
  EXPECT_TRUE(Eval("3 <= orders_total", c));
  EXPECT_TRUE(Eval("3 == orders_total", c));
  EXPECT_TRUE(Eval("2 != orders_total", c));
}

TEST(Comparison, FieldWithField) {
  FakeContext c;
  c.Set("birth_month", 5).Set("current_month", 5).Set("orders_30d", 1).Set("orders_90d", 4);
  EXPECT_TRUE(Eval("birth_month == current_month", c));
  EXPECT_TRUE(Eval("orders_30d < orders_90d", c));
  EXPECT_FALSE(Eval("orders_30d >= orders_90d", c));
}

TEST(Comparison, StringsCompareByteWise) {
  FakeContext c;
  c.Set("region", "north").Set("city", "上海");
  EXPECT_TRUE(Eval("region == \"north\"", c));
  EXPECT_TRUE(Eval("region != 'south'", c));
  EXPECT_FALSE(Eval("region == 'North'", c));
  EXPECT_TRUE(Eval("region < 'south'", c));
  EXPECT_TRUE(Eval("region > 'east'", c));
  EXPECT_TRUE(Eval("region >= 'north'", c));
  EXPECT_TRUE(Eval("region <= 'north'", c));
  EXPECT_TRUE(Eval("city == '上海'", c));
}

TEST(Comparison, Conditions) {
  FakeContext c;
  c.Tag("vip");
  EXPECT_TRUE(Eval("has_tag('vip') == true", c));
  EXPECT_TRUE(Eval("has_tag('new') == false", c));
  EXPECT_TRUE(Eval("has_tag('vip') != has_tag('new')", c));
  EXPECT_TRUE(Eval("(1 < 2) == true", c));
  EXPECT_TRUE(Eval("true", c));
  EXPECT_FALSE(Eval("false", c));
  EXPECT_TRUE(Eval("true == true", c));
}

TEST(Comparison, LiteralWithLiteral) {
  FakeContext c;
  EXPECT_TRUE(Eval("1 < 2", c));
  EXPECT_FALSE(Eval("'a' == 'b'", c));
}

TEST(Logic, AndOrNot) {
  FakeContext c;
  EXPECT_TRUE(Eval("true and true", c));
  EXPECT_FALSE(Eval("true and false", c));
  EXPECT_FALSE(Eval("false and true", c));
  EXPECT_TRUE(Eval("true or false", c));
  EXPECT_TRUE(Eval("false or true", c));
  EXPECT_FALSE(Eval("false or false", c));
  EXPECT_FALSE(Eval("not true", c));
  EXPECT_TRUE(Eval("not false", c));
  EXPECT_TRUE(Eval("not not true", c));
  EXPECT_TRUE(Eval("true and true and true and true", c));
  EXPECT_FALSE(Eval("true and true and false and true", c));
  EXPECT_TRUE(Eval("false or false or false or true", c));
}

TEST(Logic, Precedence) {
  FakeContext c;
  // `and` binds tighter than `or`.
  EXPECT_TRUE(Eval("true or true and false", c));
  EXPECT_TRUE(Eval("false and true or true", c));
  EXPECT_FALSE(Eval("(true or true) and false", c));
  // `not` binds tighter than `and` and `or`, looser than a comparison.
  EXPECT_FALSE(Eval("not true and false", c));
  EXPECT_TRUE(Eval("not (true and false)", c));
  EXPECT_TRUE(Eval("not false or false", c));
  EXPECT_FALSE(Eval("not (false or true)", c));
  EXPECT_TRUE(Eval("not 1 > 2", c));
  EXPECT_TRUE(Eval("(((true)))", c));
  EXPECT_TRUE(Eval("(false or true) and (true or false)", c));
  EXPECT_TRUE(Eval("(true and true) and (true and true)", c));
}

TEST(Logic, ShortCircuits) {
  FakeContext c;
  c.Set("orders_total", 1).Set("monetary_total", 1);
  EXPECT_TRUE(Eval("orders_total > 0 or monetary_total > 0", c));
  EXPECT_EQ(c.field_reads(), 1);
  EXPECT_FALSE(Eval("orders_total > 5 and monetary_total > 0", c));
  EXPECT_EQ(c.field_reads(), 2);
}

TEST(Literals, Numbers) {
  FakeContext c;
  c.Set("discount_ratio", 0.25).Set("orders_total", 100000).Set("monetary_total", -3);
  EXPECT_TRUE(Eval("discount_ratio == 0.25", c));
  EXPECT_TRUE(Eval("discount_ratio > 0.2", c));
  EXPECT_TRUE(Eval("orders_total == 100000", c));
  EXPECT_TRUE(Eval("monetary_total == -3", c));
  EXPECT_TRUE(Eval("monetary_total == - 3", c));
  EXPECT_TRUE(Eval("monetary_total < -2.5", c));
  EXPECT_TRUE(Eval("-3 == monetary_total", c));
  EXPECT_TRUE(Eval("0 == 0.0", c));
  EXPECT_TRUE(Eval("007 == 7", c));
}

TEST(Literals, Strings) {
  FakeContext c;
  c.Set("city", "it's").Set("region", "say \"hi\"").Set("gender", "a\\b");
  c.Set("income_band", "x\ny\tz");
  EXPECT_TRUE(Eval(R"(city == "it's")", c));
  EXPECT_TRUE(Eval(R"(city == 'it\'s')", c));
  EXPECT_TRUE(Eval(R"(region == 'say "hi"')", c));
  EXPECT_TRUE(Eval(R"(region == "say \"hi\"")", c));
  EXPECT_TRUE(Eval(R"(gender == 'a\\b')", c));
  EXPECT_TRUE(Eval(R"(income_band == "x\ny\tz")", c));
  EXPECT_TRUE(Eval(R"('' == "")", c));
}

TEST(Literals, WhitespaceIsFree) {
  FakeContext c;
  c.Set("orders_total", 2);
  EXPECT_TRUE(Eval("orders_total>1", c));
  EXPECT_TRUE(Eval("  orders_total\n>=\t2  ", c));
  EXPECT_TRUE(Eval("(orders_total>1)and(orders_total<3)", c));
}

TEST(Null, EveryComparisonWithNullIsFalse) {
  FakeContext c;  // every field null
  for (const char* rule : {"orders_total == 1",
                           "orders_total != 1",
                           "orders_total < 1",
                           "orders_total <= 1",
                           "orders_total > 1",
                           "orders_total >= 1",
                           "1 < orders_total",
                           "region == 'a'",
                           "region != 'a'",
                           "region < 'a'",
                           "region >= 'a'",
                           "orders_total == orders_30d",
                           "orders_total != orders_30d",
                           "orders_total in [1, 2]",
                           "orders_total not in [1, 2]",
                           "region in ['a']",
                           "region not in ['a']",
                           "attr('missing') == 'x'",
                           "attr('missing') != 'x'",
                           "days_since(attr('missing')) >= 0",
                           "months_since(attr('missing')) != 3"}) {
    EXPECT_FALSE(Eval(rule, c)) << rule;
  }
}

TEST(Null, NotNegatesTheFalse) {
  FakeContext c;
  EXPECT_TRUE(Eval("not (orders_total > 1)", c));
  EXPECT_TRUE(Eval("not orders_total > 1", c));
  EXPECT_TRUE(Eval("not (orders_total != 1)", c));
  EXPECT_TRUE(Eval("not region == 'a'", c));
  EXPECT_TRUE(Eval("not orders_total in [1]", c));
  EXPECT_TRUE(Eval("not (orders_total not in [1])", c));
  EXPECT_FALSE(Eval("not not (orders_total > 1)", c));
  EXPECT_TRUE(Eval("orders_total > 1 or not (orders_total > 1)", c));
  EXPECT_FALSE(Eval("orders_total > 1 or orders_total <= 1", c));
}

TEST(Null, ValueOfTheWrongTypeIsTreatedAsUnknown) {
  FakeContext c;
  c.Set("orders_total", Value::String("3")).Set("region", Value::Number(3));
  EXPECT_FALSE(Eval("orders_total == 3", c));
  EXPECT_FALSE(Eval("orders_total != 3", c));
  EXPECT_FALSE(Eval("region == 'north'", c));
  EXPECT_FALSE(Eval("orders_total in [3]", c));
}

TEST(In, Lists) {
  FakeContext c;
  c.Set("region", "north").Set("orders_total", 2).Tag("vip");
  EXPECT_TRUE(Eval("region in ['north', 'south']", c));
  EXPECT_TRUE(Eval("region in [\"south\", \"north\"]", c));
  EXPECT_FALSE(Eval("region in ['east']", c));
  EXPECT_FALSE(Eval("region not in ['north', 'south']", c));
  EXPECT_TRUE(Eval("region not in ['east', 'west']", c));
  EXPECT_TRUE(Eval("orders_total in [1, 2, 3]", c));
  EXPECT_TRUE(Eval("orders_total in [-1, 2.0]", c));
  EXPECT_FALSE(Eval("orders_total in [1.5]", c));
  EXPECT_TRUE(Eval("has_tag('vip') in [true]", c));
  EXPECT_TRUE(Eval("attr('x') not in ['a'] or true", c));
  EXPECT_TRUE(Eval("region in ['north'] and orders_total not in [5]", c));
}

TEST(Functions, HasTag) {
  FakeContext c;
  c.Tag("vip");
  EXPECT_TRUE(Eval("has_tag('vip')", c));
  EXPECT_TRUE(Eval("has_tag(\"vip\")", c));
  EXPECT_FALSE(Eval("has_tag('VIP')", c));
  EXPECT_TRUE(Eval("not has_tag('new')", c));
}

TEST(Functions, Attr) {
  FakeContext c;
  c.Attr("plan", "gold").Attr("empty", "");
  EXPECT_TRUE(Eval("attr('plan') == 'gold'", c));
  EXPECT_TRUE(Eval("attr('plan') in ['silver', 'gold']", c));
  EXPECT_TRUE(Eval("attr('empty') == ''", c));
  EXPECT_FALSE(Eval("attr('absent') == ''", c));
  EXPECT_TRUE(Eval("attr('plan') > 'a'", c));
}

TEST(Functions, Consent) {
  FakeContext c;
  c.Consent("sms", true).Consent("email", false);
  EXPECT_TRUE(Eval("consent('sms')", c));
  EXPECT_FALSE(Eval("consent('email')", c));
  EXPECT_FALSE(Eval("consent('wechat')", c));
  EXPECT_TRUE(Eval("consent('sms') and not consent('email')", c));
}

TEST(Functions, DaysSince) {
  FakeContext c;  // today is 2024-03-15
  c.Attr("d", "2024-03-15").Attr("leap", "2024-02-29").Attr("future", "2024-03-20");
  c.Attr("bad", "2023-02-29").Attr("junk", "15/03/2024").Attr("year", "2023-03-15");
  EXPECT_TRUE(Eval("days_since(attr('d')) == 0", c));
  EXPECT_TRUE(Eval("days_since(attr('leap')) == 15", c));
  EXPECT_TRUE(Eval("days_since(attr('future')) == -5", c));
  EXPECT_TRUE(Eval("days_since(attr('year')) == 366", c));
  EXPECT_TRUE(Eval("days_since('2024-01-01') == 74", c));
  EXPECT_FALSE(Eval("days_since(attr('bad')) >= 0", c));
  EXPECT_FALSE(Eval("days_since(attr('bad')) < 0", c));
  EXPECT_FALSE(Eval("days_since(attr('junk')) >= 0", c));
  EXPECT_TRUE(Eval("not days_since(attr('junk')) >= 0", c));
  c.Set("city", "2024-03-14");
  EXPECT_TRUE(Eval("days_since(city) == 1", c));
}

TEST(Functions, MonthsSince) {
  FakeContext c;
  c.Attr("baby", "2024-01-31");
  c.SetToday(2024, 2, 28);
  EXPECT_TRUE(Eval("months_since(attr('baby')) == 0", c));
  c.SetToday(2024, 2, 29);  // the last day of a month shorter than the 31st
  EXPECT_TRUE(Eval("months_since(attr('baby')) == 1", c));
  c.SetToday(2024, 3, 30);
  EXPECT_TRUE(Eval("months_since(attr('baby')) == 1", c));
  c.SetToday(2024, 3, 31);
  EXPECT_TRUE(Eval("months_since(attr('baby')) == 2", c));
  c.SetToday(2025, 1, 31);
  EXPECT_TRUE(Eval("months_since(attr('baby')) == 12", c));
  c.SetToday(2024, 1, 1);  // before the date: rounded down, so never 0 ahead of it
  EXPECT_TRUE(Eval("months_since(attr('baby')) == -1", c));
  c.SetToday(2024, 3, 15);
  EXPECT_FALSE(Eval("months_since(attr('missing')) >= 0", c));
  EXPECT_FALSE(Eval("months_since('2024-13-01') >= 0", c));
  EXPECT_TRUE(Eval("months_since('2023-09-15') == 6", c));
  EXPECT_TRUE(Eval("months_since('2023-09-16') == 5", c));
}

TEST(Functions, MonthsSinceLeapDay) {
  FakeContext c;
  c.Attr("born", "2024-02-29");
  c.SetToday(2025, 2, 28);
  EXPECT_TRUE(Eval("months_since(attr('born')) == 12", c));
  c.SetToday(2025, 2, 27);
  EXPECT_TRUE(Eval("months_since(attr('born')) == 11", c));
  c.SetToday(2024, 3, 29);
  EXPECT_TRUE(Eval("months_since(attr('born')) == 1", c));
  c.SetToday(2024, 3, 28);
  EXPECT_TRUE(Eval("months_since(attr('born')) == 0", c));
}

TEST(Metadata, FieldsAreUniqueAndInFieldIdOrder) {
  const Expression e = Compile(
      "monetary_total > 1 and orders_total > 1 and (orders_total < 5 or 3 > monetary_total)"
      " and region in ['a'] and days_since(city) > 1");
  EXPECT_THAT(e.fields(), ElementsAre(FieldId::kOrdersTotal, FieldId::kMonetaryTotal,
                                      FieldId::kRegion, FieldId::kCity));
  EXPECT_TRUE(Compile("has_tag('x')").fields().empty());
}

TEST(Metadata, TimeDependence) {
  EXPECT_FALSE(Compile("orders_total > 1").time_dependent());
  EXPECT_FALSE(Compile("has_tag('a') and attr('b') == 'c' and consent('sms')").time_dependent());
  EXPECT_TRUE(Compile("orders_30d > 1").time_dependent());
  EXPECT_TRUE(Compile("orders_total > 1 or days_since_last_purchase > 1").time_dependent());
  EXPECT_TRUE(Compile("birth_month == current_month").time_dependent());
  EXPECT_TRUE(Compile("age >= 18").time_dependent());
  EXPECT_TRUE(Compile("rfm_r >= 3").time_dependent());
  EXPECT_TRUE(Compile("days_since(attr('x')) > 1").time_dependent());
  EXPECT_TRUE(Compile("months_since(attr('x')) > 1").time_dependent());
}

TEST(Metadata, SourceAndMoves) {
  Expression e = Compile("orders_total >= 2");
  EXPECT_EQ(e.source(), "orders_total >= 2");
  Expression moved = std::move(e);
  FakeContext c;
  c.Set("orders_total", 2);
  EXPECT_TRUE(moved.Matches(c));
  Expression other = Compile("false");
  other = std::move(moved);
  EXPECT_TRUE(other.Matches(c));
  EXPECT_EQ(other.source(), "orders_total >= 2");
}

TEST(Metadata, StringLiteralsOutliveMoves) {
  std::vector<Expression> rules;
  for (int i = 0; i < 20; ++i) rules.push_back(Compile("region in ['a', 'b'] or city == 'c'"));
  FakeContext c;
  c.Set("city", "c");
  for (const Expression& rule : rules) EXPECT_TRUE(rule.Matches(c));
}

TEST(Errors, UnknownFieldSuggestsTheClosest) {
  EXPECT_EQ(ErrorOf("monetry_90d > 5"),
            "r.yaml:1:1: unknown field 'monetry_90d'; did you mean 'monetary_90d'?");
  EXPECT_EQ(ErrorOf("orders_total >= 1 and ordres_total < 3"),
            "r.yaml:1:23: unknown field 'ordres_total'; did you mean 'orders_total'?");
  EXPECT_EQ(ErrorOf("Orders_Total > 1"),
            "r.yaml:1:1: unknown field 'Orders_Total'; did you mean 'orders_total'?");
  EXPECT_EQ(ErrorOf("lifetime_value > 1"), "r.yaml:1:1: unknown field 'lifetime_value'");
  EXPECT_EQ(ErrorOf("has_tag == true"),
            "r.yaml:1:1: 'has_tag' is a function; call it, e.g. has_tag(\"vip\")");
  EXPECT_EQ(ErrorOf("NOT has_tag('x')"),
            "r.yaml:1:1: unknown field 'NOT'; keywords are lowercase: did you mean 'not'?");
  EXPECT_EQ(ErrorOf("True"),
            "r.yaml:1:1: unknown field 'True'; keywords are lowercase: did you mean 'true'?");
}

TEST(Errors, ColumnsCountFromTheOrigin) {
  absl::StatusOr<Expression> e = CompileExpression("orders_total >= 1 and monetry_90d > 5",
                                                   SourceLocation{"segments.yaml", 12, 9});
  EXPECT_EQ(std::string(e.status().message()),
            "segments.yaml:12:31: unknown field 'monetry_90d'; did you mean 'monetary_90d'?");
  e = CompileExpression("orders_total >= 1 and\n  monetry_90d > 5",
                        SourceLocation{"s.yaml", 3, 11});
  EXPECT_EQ(std::string(e.status().message()),
            "s.yaml:4:3: unknown field 'monetry_90d'; did you mean 'monetary_90d'?");
  // Columns count characters, not bytes.
  e = CompileExpression("city == '上海' and bogus > 1", SourceLocation{"s.yaml", 1, 1});
  EXPECT_EQ(std::string(e.status().message()), "s.yaml:1:18: unknown field 'bogus'");
  e = CompileExpression("bogus > 1", SourceLocation{});
  EXPECT_EQ(std::string(e.status().message()), "1:1: unknown field 'bogus'");
}

TEST(Errors, ExplicitPositions) {
  const std::vector<TextPosition> positions = {{2, 5}, {2, 6}, {3, 1}, {3, 2}};
  absl::StatusOr<Expression> e = CompileExpression("a b", "f.yaml", positions);
  EXPECT_EQ(std::string(e.status().message()), "f.yaml:2:5: unknown field 'a'");
  e = CompileExpression("1 x", "f.yaml", positions);
  EXPECT_EQ(std::string(e.status().message()),
            "f.yaml:3:1: unexpected 'x'; expected 'and', 'or' or the end of the rule");
  e = CompileExpression("(1", "f.yaml", std::span(positions).first(3));
  EXPECT_EQ(std::string(e.status().message()),
            "f.yaml:3:1: expected ')' to close the '(', found the end of the rule");
  e = CompileExpression("abc", "f.yaml", std::span(positions).first(2));
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(e.status().message()),
            "CompileExpression needs 4 positions for a 3-byte rule, got 2");
}

TEST(Errors, Types) {
  EXPECT_EQ(ErrorOf("orders_total == \"5\""),
            "r.yaml:1:17: cannot compare number field 'orders_total' with string \"5\"; write 5 "
            "without quotes");
  EXPECT_EQ(ErrorOf("orders_total == 'five'"),
            "r.yaml:1:17: cannot compare number field 'orders_total' with string 'five'");
  EXPECT_EQ(ErrorOf("region == 5"),
            "r.yaml:1:11: cannot compare string field 'region' with number 5; put it in quotes: "
            "\"5\"");
  EXPECT_EQ(ErrorOf("region == city or orders_total == region"),
            "r.yaml:1:35: cannot compare number field 'orders_total' with string field 'region'");
  EXPECT_EQ(ErrorOf("has_tag('a') == 1"),
            "r.yaml:1:17: cannot compare bool has_tag('a') with number 1");
  EXPECT_EQ(ErrorOf("has_tag('a') < true"),
            "r.yaml:1:14: '<' cannot order conditions; use '==' or '!='");
  EXPECT_EQ(ErrorOf("orders_total"),
            "r.yaml:1:1: expected a condition, found number field 'orders_total'; compare it, e.g. "
            "'orders_total > 0'");
  EXPECT_EQ(ErrorOf("attr('x')"),
            "r.yaml:1:1: expected a condition, found string attr('x'); compare it, e.g. "
            "'attr('x') == \"some value\"'");
  EXPECT_EQ(ErrorOf("orders_total and orders_30d > 1"),
            "r.yaml:1:1: expected a condition on each side of 'and', found number field "
            "'orders_total'");
  EXPECT_EQ(ErrorOf("true or (region)"),
            "r.yaml:1:9: expected a condition on each side of 'or', found string field 'region'");
  EXPECT_EQ(ErrorOf("not region"),
            "r.yaml:1:5: expected a condition after 'not', found string field 'region'");
  EXPECT_EQ(ErrorOf("region in ['a', 1]"),
            "r.yaml:1:17: cannot compare string field 'region' with number 1 in the list; put it "
            "in quotes: \"1\"");
  EXPECT_EQ(ErrorOf("orders_total not in ['1']"),
            "r.yaml:1:22: cannot compare number field 'orders_total' with string '1' in the list; "
            "write 1 without quotes");
}

TEST(Errors, Syntax) {
  EXPECT_EQ(ErrorOf(""), "r.yaml:1:1: empty rule; write a condition such as 'orders_total >= 1'");
  EXPECT_EQ(ErrorOf("   "),
            "r.yaml:1:1: empty rule; write a condition such as 'orders_total >= 1'");
  EXPECT_EQ(ErrorOf("orders_total = 5"),
            "r.yaml:1:14: '=' is not a comparison; did you mean '=='?");
  EXPECT_EQ(ErrorOf("true and orders_total = 5"),
            "r.yaml:1:23: '=' is not a comparison; did you mean '=='?");
  EXPECT_EQ(ErrorOf("orders_total > 1 && true"), "r.yaml:1:18: '&&' is not an operator; use 'and'");
  EXPECT_EQ(ErrorOf("true & true"), "r.yaml:1:6: '&' is not an operator; use 'and'");
  EXPECT_EQ(ErrorOf("true || true"), "r.yaml:1:6: '||' is not an operator; use 'or'");
  EXPECT_EQ(ErrorOf("!has_tag('x')"), "r.yaml:1:1: '!' is not an operator; use 'not'");
  EXPECT_EQ(ErrorOf("orders_total <> 1"),
            "r.yaml:1:14: '<>' is not an operator; did you mean '!='?");
  EXPECT_EQ(ErrorOf("orders_total => 1"),
            "r.yaml:1:14: '=>' is not an operator; did you mean '>='?");
  EXPECT_EQ(ErrorOf("orders_total =< 1"),
            "r.yaml:1:14: '=<' is not an operator; did you mean '<='?");
  EXPECT_EQ(ErrorOf("region == \"north"), "r.yaml:1:11: unterminated string; add the closing \"");
  EXPECT_EQ(ErrorOf("region == 'north"), "r.yaml:1:11: unterminated string; add the closing '");
  EXPECT_EQ(ErrorOf("region == 'no\\"), "r.yaml:1:11: unterminated string; add the closing '");
  EXPECT_EQ(ErrorOf("region == 'a\\qb'"),
            "r.yaml:1:13: unknown escape '\\q'; use \\\\, \\\", \\', \\n or \\t");
  EXPECT_EQ(ErrorOf("(orders_total > 1"),
            "r.yaml:1:18: expected ')' to close the '(', found the end of the rule");
  EXPECT_EQ(ErrorOf("orders_total > 1)"),
            "r.yaml:1:17: unexpected ')'; expected 'and', 'or' or the end of the rule");
  EXPECT_EQ(ErrorOf("orders_total > 1 orders_30d > 1"),
            "r.yaml:1:18: unexpected 'orders_30d'; expected 'and', 'or' or the end of the rule");
  EXPECT_EQ(ErrorOf("orders_total > 1 AND true"),
            "r.yaml:1:18: unexpected 'AND'; keywords are lowercase: did you mean 'and'?");
  EXPECT_EQ(ErrorOf("orders_total >"),
            "r.yaml:1:15: expected a field, a value or a function call, found the end of the rule");
  EXPECT_EQ(ErrorOf("orders_total > and"),
            "r.yaml:1:16: expected a field, a value or a function call, found 'and'");
  EXPECT_EQ(ErrorOf("1 < orders_total < 5"),
            "r.yaml:1:18: comparisons cannot be chained; join them with 'and', e.g. 'age >= 18 "
            "and age < 30'");
  EXPECT_EQ(ErrorOf("orders_total not > 5"),
            "r.yaml:1:14: expected 'in' after 'not' here; to negate a comparison, write 'not (a > "
            "b)'");
  EXPECT_EQ(ErrorOf("orders_total @ 5"), "r.yaml:1:14: unexpected character '@'");
  EXPECT_EQ(ErrorOf("city == 上海"), "r.yaml:1:9: unexpected character '上'");
  EXPECT_EQ(ErrorOf("orders_total > -"),
            "r.yaml:1:17: expected a number after '-', found the end of the rule");
  EXPECT_EQ(ErrorOf("orders_total > 1."), "r.yaml:1:16: invalid number '1.'");
  EXPECT_EQ(ErrorOf("orders_total > 12abc"), "r.yaml:1:16: invalid number '12abc'");
  EXPECT_EQ(ErrorOf("discount_ratio > .5"),
            "r.yaml:1:18: a number must start with a digit; write 0.5, not .5");
  EXPECT_EQ(ErrorOf("orders_total > " + std::string(400, '9')),
            "r.yaml:1:16: number '" + std::string(400, '9') + "' is out of range");
}

TEST(Errors, Lists) {
  EXPECT_EQ(ErrorOf("region in 'a'"),
            "r.yaml:1:11: expected '[' after 'in', found 'a'; write a list such as region in "
            "[\"north\", \"south\"]");
  EXPECT_EQ(ErrorOf("region in []"), "r.yaml:1:12: empty list; 'in' needs at least one value");
  EXPECT_EQ(ErrorOf("region in ['a' 'b']"),
            "r.yaml:1:16: expected ',' or ']' in the list, found 'b'");
  EXPECT_EQ(ErrorOf("region in ['a',]"),
            "r.yaml:1:16: expected a number, string, true or false in the list, found ']'");
  EXPECT_EQ(ErrorOf("region in [city]"),
            "r.yaml:1:12: expected a number, string, true or false in the list, found 'city'");
  EXPECT_EQ(ErrorOf("region in ['a'"),
            "r.yaml:1:15: expected ',' or ']' in the list, found the end of the rule");
}

TEST(Errors, Functions) {
  EXPECT_EQ(ErrorOf("has_tags('vip')"),
            "r.yaml:1:1: unknown function 'has_tags'; did you mean 'has_tag'?");
  EXPECT_EQ(ErrorOf("month_since(attr('b')) > 1"),
            "r.yaml:1:1: unknown function 'month_since'; did you mean 'months_since'?");
  EXPECT_EQ(ErrorOf("is_member('x')"),
            "r.yaml:1:1: unknown function 'is_member'; the functions are has_tag, attr, consent, "
            "days_since, months_since, ever_in and days_in");
  EXPECT_EQ(ErrorOf("orders_total('x')"), "r.yaml:1:1: 'orders_total' is a field, not a function");
  EXPECT_EQ(ErrorOf("has_tag()"),
            "r.yaml:1:1: has_tag() takes one argument, e.g. has_tag(\"vip\")");
  EXPECT_EQ(ErrorOf("consent('sms', 'email')"),
            "r.yaml:1:1: consent() takes one argument, e.g. consent(\"sms\")");
  EXPECT_EQ(ErrorOf("has_tag(region)"),
            "r.yaml:1:9: has_tag() takes a quoted name, e.g. has_tag(\"vip\"), found string field "
            "'region'");
  EXPECT_EQ(
      ErrorOf("attr(1) == 'x'"),
      "r.yaml:1:6: attr() takes a quoted name, e.g. attr(\"baby_birth_date\"), found number 1");
  EXPECT_EQ(
      ErrorOf("days_since(orders_total) > 1"),
      "r.yaml:1:12: days_since() takes a date string, e.g. days_since(attr(\"signup_date\")), "
      "found number field 'orders_total'");
  EXPECT_EQ(ErrorOf("has_tag('a'"),
            "r.yaml:1:12: expected ')' after the argument of has_tag(), found the end of the rule");
}

TEST(Errors, NestingIsBounded) {
  EXPECT_EQ(Eval(std::string(60, '(') + "true" + std::string(60, ')'), FakeContext()), true);
  EXPECT_EQ(ErrorOf(std::string(100, '(') + "true" + std::string(100, ')')),
            "r.yaml:1:65: the rule is nested more than 64 levels deep; simplify it");
  std::string nots;
  for (int i = 0; i < 100; ++i) nots += "not ";
  EXPECT_EQ(ErrorOf(nots + "true"),
            "r.yaml:1:253: the rule is nested more than 64 levels deep; simplify it");
}

TEST(Errors, LongChainsAreNotNesting) {
  std::string rule = "true";
  for (int i = 0; i < 500; ++i) rule += " and orders_total >= 0 or false";
  FakeContext c;
  c.Set("orders_total", 1);
  EXPECT_TRUE(Eval(rule, c));
}

// Days since 1970-01-01.
std::int64_t Day(int year, int month, int day) {
  return absl::CivilDay(year, month, day) - absl::CivilDay(1970, 1, 1);
}

// Where a day count's comparisons can flip, for the core's timers.
std::vector<std::int64_t> FlipCounts(std::string_view rule) {
  const Expression expression = Compile(rule);
  if (expression.time_fields().size() != 1) {
    ADD_FAILURE() << rule << " reads " << expression.time_fields().size() << " time fields";
    return {};
  }
  return expression.time_fields()[0].flip_counts;
}

TEST(TimeFields, FlipCountsFollowTheOperator) {
  EXPECT_THAT(FlipCounts("days_since_last_purchase > 90"), ElementsAre(91));
  EXPECT_THAT(FlipCounts("days_since_last_purchase >= 90"), ElementsAre(90));
  EXPECT_THAT(FlipCounts("days_since_last_purchase < 30"), ElementsAre(30));
  EXPECT_THAT(FlipCounts("days_since_last_purchase <= 30"), ElementsAre(31));
  EXPECT_THAT(FlipCounts("days_since_last_purchase == 7"), ElementsAre(7, 8));
  EXPECT_THAT(FlipCounts("days_since_last_purchase != 7"), ElementsAre(7, 8));
  EXPECT_THAT(FlipCounts("days_since_last_purchase == 7.5"), ElementsAre());
  EXPECT_THAT(FlipCounts("days_since_last_purchase > 2.5"), ElementsAre(3));
  EXPECT_THAT(FlipCounts("days_since_last_purchase < 2.5"), ElementsAre(3));
  EXPECT_THAT(FlipCounts("days_since_last_purchase in [1, 2, 10]"), ElementsAre(1, 2, 3, 10, 11));
  EXPECT_THAT(FlipCounts("days_since_last_purchase not in [4]"), ElementsAre(4, 5));
}

TEST(TimeFields, ALiteralOnTheLeftFlipsLikeItsMirror) {
  EXPECT_THAT(FlipCounts("90 < days_since_last_purchase"), ElementsAre(91));
  EXPECT_THAT(FlipCounts("30 >= days_since_last_purchase"), ElementsAre(31));
}

TEST(TimeFields, EveryComparisonOfAFieldIsMerged) {
  const Expression expression = Compile(
      "days_since_last_purchase > 90 and not (days_since_last_purchase > 180) and "
      "orders_30d >= 2 and region == 'north'");
  ASSERT_EQ(expression.time_fields().size(), 2u);
  EXPECT_EQ(expression.time_fields()[0].field, FieldId::kOrders30d);
  EXPECT_EQ(expression.time_fields()[1].field, FieldId::kDaysSinceLastPurchase);
  EXPECT_THAT(expression.time_fields()[1].flip_counts, ElementsAre(91, 181));
  EXPECT_FALSE(expression.time_fields()[1].compared_with_non_literal);
}

TEST(TimeFields, AComparisonWithAnotherValueMayFlipAnyDay) {
  const Expression expression =
      Compile("days_since_last_purchase > days_since_first_purchase or region == 'x'");
  ASSERT_EQ(expression.time_fields().size(), 2u);
  EXPECT_TRUE(expression.time_fields()[0].compared_with_non_literal);
  EXPECT_TRUE(expression.time_fields()[1].compared_with_non_literal);
}

TEST(TimeFields, RulesWithoutTimeHaveNone) {
  EXPECT_TRUE(Compile("orders_total >= 1 and has_tag('vip')").time_fields().empty());
  EXPECT_FALSE(Compile("orders_total >= 1").calls_date_functions());
}

TEST(Reads, TagsAttributesAndConsentAreReportedWhereverTheyAreCalled) {
  const Expression plain = Compile("orders_total >= 1 and region == 'x'");
  EXPECT_FALSE(plain.reads_tags());
  EXPECT_FALSE(plain.reads_attributes());
  EXPECT_FALSE(plain.reads_consent());
  const Expression tags = Compile("orders_total >= 1 or not has_tag('vip')");
  EXPECT_TRUE(tags.reads_tags());
  EXPECT_FALSE(tags.reads_attributes());
  EXPECT_FALSE(tags.reads_consent());
  // Inside a date function, a comparison and a list.
  EXPECT_TRUE(Compile("days_since(attr('d')) > 3").reads_attributes());
  EXPECT_TRUE(Compile("'x' == attr('k')").reads_attributes());
  EXPECT_TRUE(Compile("attr('k') in ['a', 'b']").reads_attributes());
  const Expression consent = Compile("ever_in('churned') and (consent('sms') or false)");
  EXPECT_TRUE(consent.reads_consent());
  EXPECT_FALSE(consent.reads_tags());
  EXPECT_FALSE(consent.reads_attributes());
}

TEST(NextDateChange, DaysSinceFlipsOnTheDayTheCountCrossesALiteral) {
  FakeContext context;
  context.Attr("d", "2024-03-01").SetToday(2024, 3, 5);
  const Expression rule = Compile("days_since(attr('d')) > 10");
  EXPECT_TRUE(rule.calls_date_functions());
  EXPECT_EQ(rule.NextDateChange(context), Day(2024, 3, 12));
  context.SetToday(2024, 3, 12);
  EXPECT_EQ(rule.NextDateChange(context), std::nullopt);
}

TEST(NextDateChange, MonthsSinceFlipsOnTheAnniversaryTheRuleNames) {
  FakeContext context;
  context.Attr("baby", "2023-08-31").SetToday(2023, 9, 10);
  const Expression rule =
      Compile("months_since(attr('baby')) >= 6 and months_since(attr('baby')) < 12");
  EXPECT_EQ(rule.NextDateChange(context), Day(2024, 2, 29));
  context.SetToday(2024, 2, 29);
  EXPECT_EQ(rule.NextDateChange(context), Day(2024, 8, 31));
  context.SetToday(2024, 8, 31);
  EXPECT_EQ(rule.NextDateChange(context), std::nullopt);
}

TEST(NextDateChange, EachDateFlipsAtItsOwnCounts) {
  FakeContext context;
  context.Attr("a", "2024-01-20").Attr("b", "2024-02-10").SetToday(2024, 2, 15);
  EXPECT_EQ(Compile("months_since(attr('a')) >= 2 or months_since(attr('b')) >= 1")
                .NextDateChange(context),
            Day(2024, 3, 10));
  EXPECT_EQ(Compile("months_since(attr('a')) >= 2 or days_since(attr('a')) >= 30")
                .NextDateChange(context),
            Day(2024, 2, 19));
}

TEST(NextDateChange, NothingWithoutADate) {
  FakeContext context;
  context.SetToday(2024, 3, 5);
  const Expression rule = Compile("months_since(attr('baby')) < 6");
  EXPECT_EQ(rule.NextDateChange(context), std::nullopt);
  context.Attr("baby", "not a date");
  EXPECT_EQ(rule.NextDateChange(context), std::nullopt);
}

TEST(NextDateChange, ComparedWithAnotherValueMeansTheNextChangeOfTheCount) {
  FakeContext context;
  context.Attr("a", "2024-01-31").Attr("b", "2024-01-01").SetToday(2024, 2, 10);
  EXPECT_EQ(Compile("days_since(attr('a')) > days_since(attr('b'))").NextDateChange(context),
            Day(2024, 2, 11));
  EXPECT_EQ(Compile("months_since(attr('a')) == months_since(attr('b'))").NextDateChange(context),
            Day(2024, 2, 29));
}

TEST(History, EverInAndDaysIn) {
  FakeContext context;
  context.SetToday(2024, 3, 15)
      .Membership("churned", std::nullopt)
      .Membership("loyal", absl::CivilDay(2024, 3, 1));
  EXPECT_TRUE(Eval("ever_in('churned')", context));
  EXPECT_TRUE(Eval("ever_in('loyal')", context));
  EXPECT_FALSE(Eval("ever_in('at_risk')", context));
  EXPECT_TRUE(Eval("days_in('loyal') == 14", context));
  // Not held now: null, so every comparison is false.
  EXPECT_FALSE(Eval("days_in('churned') >= 0", context));
  EXPECT_TRUE(Eval("not (days_in('churned') >= 0)", context));
}

TEST(History, DaysInIsTimeDependentAndFlipsOnItsCount) {
  FakeContext context;
  context.SetToday(2024, 3, 15).Membership("loyal", absl::CivilDay(2024, 3, 1));
  const Expression rule = Compile("days_in('loyal') > 30");
  EXPECT_TRUE(rule.time_dependent());
  EXPECT_TRUE(rule.calls_date_functions());
  EXPECT_EQ(rule.NextDateChange(context), Day(2024, 4, 1));
  EXPECT_FALSE(Compile("ever_in('churned')").time_dependent());
}

TEST(History, NamesAreReportedWithWhereTheyAre) {
  const Expression rule = Compile("ever_in('churned') and days_in(\"won_back\") < 3");
  ASSERT_EQ(rule.membership_refs().size(), 2u);
  EXPECT_EQ(rule.membership_refs()[0].id, "churned");
  EXPECT_EQ(rule.membership_refs()[0].offset, 8u);
  EXPECT_EQ(rule.membership_refs()[1].id, "won_back");
  EXPECT_EQ(rule.membership_refs()[1].offset, 31u);
  EXPECT_EQ(
      ErrorOf("ever_in(region)"),
      "r.yaml:1:9: ever_in() takes a quoted name, e.g. ever_in(\"churned\"), found string field "
      "'region'");
}

}  // namespace
}  // namespace cdp::rules
