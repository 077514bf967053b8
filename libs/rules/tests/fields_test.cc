#include "cdp/rules/fields.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace cdp::rules {
namespace {

TEST(Fields, ListsEveryFieldInIdOrderWithUniqueNames) {
  ASSERT_EQ(Fields().size(), kFieldCount);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    const FieldInfo& field = Fields()[i];
    EXPECT_EQ(static_cast<std::size_t>(field.id), i);
    EXPECT_EQ(&Field(field.id), &field);
    EXPECT_TRUE(names.insert(field.name).second) << field.name;
    EXPECT_EQ(FindField(field.name), field.id);
    EXPECT_FALSE(field.description.empty()) << field.name;
  }
  EXPECT_EQ(FindField("no_such_field"), std::nullopt);
  EXPECT_EQ(FindField("Orders_Total"), std::nullopt);
}

TEST(Fields, NamesTypesAndTimeDependenceFollowTheContract) {
  const std::set<std::string_view> strings = {"top_category", "region",      "city",
                                              "gender",       "income_band", "membership_level"};
  const std::set<std::string_view> time_dependent = {"orders_30d",
                                                     "orders_90d",
                                                     "orders_365d",
                                                     "monetary_30d",
                                                     "monetary_90d",
                                                     "monetary_365d",
                                                     "interactions_30d",
                                                     "days_since_first_purchase",
                                                     "days_since_last_purchase",
                                                     "days_since_last_activity",
                                                     "rfm_r",
                                                     "rfm_f",
                                                     "rfm_m",
                                                     "age",
                                                     "current_month"};
  for (const FieldInfo& field : Fields()) {
    EXPECT_EQ(field.type, strings.contains(field.name) ? ValueType::kString : ValueType::kNumber)
        << field.name;
    EXPECT_EQ(field.time_dependent, time_dependent.contains(field.name)) << field.name;
  }
  for (std::string_view name :
       {"orders_total", "monetary_total", "avg_order_value", "avg_unit_price", "discount_ratio",
        "coupon_redeem_rate", "refunds_total", "interactions_total", "birth_month",
        "referrals_total", "community_posts_total", "avg_survey_score", "surveys_total",
        "avg_review_rating", "reviews_total"}) {
    EXPECT_TRUE(FindField(name).has_value()) << name;
  }
}

TEST(Fields, TypeNames) {
  EXPECT_EQ(TypeName(ValueType::kNumber), "number");
  EXPECT_EQ(TypeName(ValueType::kString), "string");
  EXPECT_EQ(TypeName(ValueType::kBool), "bool");
}

TEST(Fields, ReadmeDocumentsEveryField) {
  std::ifstream in(std::string(CDP_SOURCE_DIR) + "/libs/rules/README.md");
  ASSERT_TRUE(in) << "libs/rules/README.md is missing";
  std::stringstream readme;
  readme << in.rdbuf();
  for (const FieldInfo& field : Fields()) {
    const std::string row =
        "| `" + std::string(field.name) + "` | " + std::string(TypeName(field.type)) + " | " +
        (field.time_dependent ? "yes" : "no") + " | " + std::string(field.description) + " |";
    EXPECT_NE(readme.str().find(row), std::string::npos) << "README lacks the row: " << row;
  }
}

TEST(Value, KindsAndEquality) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_TRUE(Value::Null().is_null());
  EXPECT_EQ(Value::Number(2).number(), 2);
  EXPECT_EQ(Value::String("a").string(), "a");
  EXPECT_TRUE(Value::Bool(true).boolean());
  EXPECT_EQ(Value::Number(1), Value::Number(1));
  EXPECT_NE(Value::Number(1), Value::String("1"));
  EXPECT_EQ(Value::Null(), Value());
}

}  // namespace
}  // namespace cdp::rules
