// Why a customer is or is not in a segment: ResolveRuleTargets, ExplainMembership and the JSON
// the profile API and profilectl show.
#include "cdp/core/explain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cdp/core/memberships.h"
#include "cdp/core/profile_json.h"
#include "random_events.h"
#include "test_support.h"

namespace cdp::core {
namespace {

using testing::At;
using ::testing::ElementsAre;
using testing::Envelope;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kExplainCatalogue = R"(
timezone: Asia/Shanghai
segments:
  - {id: big_spender, when: "monetary_total >= 10000"}
  - {id: hot, when: 'has_tag("hot")', min_dwell: 3}
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: at_risk, when: "orders_total >= 1 and days_since_last_purchase > 90"}
      - {id: new,     when: "orders_total >= 1 and days_since_first_purchase <= 30"}
      - {id: active,  when: "orders_total >= 1"}
  - id: value
    tiers:
      - {id: high,  when: "monetary_total >= 1000"}
      - {id: trial, when: 'has_tag("trial")', min_dwell: 7}
      - {id: low,   when: "orders_total >= 1"}
)";

std::vector<std::string> Names(const absl::StatusOr<std::vector<RuleTarget>>& targets) {
  std::vector<std::string> names;
  if (!targets.ok()) return {std::string(targets.status().message())};
  for (const RuleTarget& target : *targets) names.push_back(target.name());
  return names;
}

class ExplainTest : public ::testing::Test {
 protected:
  ExplainTest() : engine_(testing::ParseCatalogue(kExplainCatalogue), EngineOptions{}) {}

  void Apply(const v1::CustomerEvent& event) {
    const absl::Time at = absl::FromUnixSeconds(event.occurred_at().seconds());
    ASSERT_FALSE(engine_.Validate(event, at));
    std::vector<v1::SegmentChange> changes;
    static_cast<void>(engine_.Apply(event, at, profile_, changes));
  }

  MembershipExplanation Explain(std::string_view name, std::string_view now) {
    auto explanations = ExplainMembership(engine_, profile_, name, At(now));
    EXPECT_TRUE(explanations.ok()) << explanations.status();
    EXPECT_EQ(explanations->size(), 1u);
    return explanations->front();
  }

  Engine engine_;
  v1::CustomerProfile profile_;
};

TEST_F(ExplainTest, ResolvesSegmentsTiersAndDimensions) {
  const rules::SegmentCatalogue& catalogue = engine_.catalogue();
  EXPECT_THAT(Names(ResolveRuleTargets(catalogue, "big_spender")), ElementsAre("big_spender"));
  EXPECT_THAT(Names(ResolveRuleTargets(catalogue, "lifecycle/new")), ElementsAre("lifecycle/new"));
  EXPECT_THAT(Names(ResolveRuleTargets(catalogue, "value")),
              ElementsAre("value/high", "value/trial", "value/low"));
  EXPECT_THAT(Names(ResolveRuleTargets(catalogue, "at_risk")), ElementsAre("lifecycle/at_risk"));

  EXPECT_THAT(Names(ResolveRuleTargets(catalogue, "big_spendr")),
              ElementsAre("no segment, dimension or tier 'big_spendr'; did you mean "
                          "'big_spender'?"));
  EXPECT_THAT(Names(ResolveRuleTargets(catalogue, "lifecycle/activ")),
              ElementsAre("dimension 'lifecycle' has no tier 'activ'; did you mean 'active'?"));
  EXPECT_THAT(Names(ResolveRuleTargets(catalogue, "lifecycel/active")),
              ElementsAre("no dimension 'lifecycel'; did you mean 'lifecycle'?"));
  EXPECT_EQ(ResolveRuleTargets(catalogue, "nothing_like_it").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ExplainTest, ATierNamesTheEarlierTierThatWins) {
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 500})"));
  ASSERT_EQ(core::HeldTier(profile_, "lifecycle"), "new");

  const MembershipExplanation active = Explain("lifecycle/active", "2024-03-02T10:00:00+08:00");
  EXPECT_FALSE(active.member);
  EXPECT_FALSE(active.holds_now);
  EXPECT_TRUE(active.trace.matches);
  EXPECT_EQ(active.matched_first, "new");
  EXPECT_EQ(active.dimension_tier, "new");
  EXPECT_EQ(active.rule, "orders_total >= 1");
  EXPECT_EQ(active.reason,
            "not in: the earlier tier 'new' matches first (first match wins); this tier's rule is "
            "true: orders_total >= 1 is true (orders_total = 1)");

  const MembershipExplanation held = Explain("new", "2024-03-02T10:00:00+08:00");
  EXPECT_TRUE(held.member);
  EXPECT_TRUE(held.holds_now);
  EXPECT_EQ(held.reason,
            "in: its rule is true: orders_total >= 1 is true (orders_total = 1); "
            "days_since_first_purchase <= 30 is true (days_since_first_purchase = 1)");
}

TEST_F(ExplainTest, SaysWhenTheStoredMembershipIsBehindTime) {
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 500})"));
  // 106 days later, before any timer fired: the profile still says `new`.
  const MembershipExplanation at_risk = Explain("lifecycle/at_risk", "2024-06-15T10:00:00+08:00");
  EXPECT_FALSE(at_risk.member);
  EXPECT_TRUE(at_risk.holds_now);
  EXPECT_THAT(at_risk.reason,
              StartsWith("in: its rule is true: orders_total >= 1 is true (orders_total = 1); "
                         "days_since_last_purchase > 90 is true (days_since_last_purchase = "
                         "106). The stored profile still lacks it"));
}

TEST_F(ExplainTest, AMinDwellHoldsASegmentWhoseRuleNoLongerMatches) {
  Apply(Envelope("e1", "2024-03-02T10:00:00+08:00", R"("profile_update": {"add_tags": ["hot"]})"));
  Apply(
      Envelope("e2", "2024-03-03T10:00:00+08:00", R"("profile_update": {"remove_tags": ["hot"]})"));
  const MembershipExplanation hot = Explain("hot", "2024-03-03T11:00:00+08:00");
  EXPECT_TRUE(hot.member);
  EXPECT_TRUE(hot.holds_now);
  EXPECT_FALSE(hot.trace.matches);
  EXPECT_EQ(hot.held_until, At("2024-03-05T00:00:00+08:00"));
  EXPECT_EQ(hot.reason,
            "in: held by its min_dwell until 2024-03-04T16:00:00Z although its rule is false: "
            "has_tag(\"hot\") is false");

  // Once the dwell ends, evaluation lets go, though the timer has not updated the profile yet.
  const MembershipExplanation after = Explain("hot", "2024-03-05T00:00:00+08:00");
  EXPECT_TRUE(after.member);
  EXPECT_FALSE(after.holds_now);
  EXPECT_EQ(after.held_until, std::nullopt);
}

TEST_F(ExplainTest, AMinDwellTierKeepsTheCustomerFromAnEarlierTier) {
  Apply(
      Envelope("e1", "2024-03-01T10:00:00+08:00", R"("profile_update": {"add_tags": ["trial"]})"));
  Apply(Envelope("e2", "2024-03-02T10:00:00+08:00", R"("purchase": {"total_amount": 5000})"));
  const MembershipExplanation high = Explain("value/high", "2024-03-02T11:00:00+08:00");
  EXPECT_TRUE(high.trace.matches);
  EXPECT_EQ(high.matched_first, std::nullopt);
  EXPECT_FALSE(high.holds_now);
  EXPECT_EQ(high.dimension_tier, "trial");
  EXPECT_THAT(high.reason, StartsWith("not in: the customer holds tier 'trial' while its "
                                      "min_dwell runs, until 2024-03-07T16:00:00Z; this tier's "
                                      "rule is true"));

  const MembershipExplanation trial = Explain("value/trial", "2024-03-02T11:00:00+08:00");
  EXPECT_TRUE(trial.holds_now);
  EXPECT_EQ(trial.held_until, At("2024-03-08T00:00:00+08:00"));
  EXPECT_EQ(trial.reason,
            "in: held by its min_dwell until 2024-03-07T16:00:00Z although the earlier tier 'high' "
            "matches first");
}

TEST_F(ExplainTest, UnknownNamesAreErrorsWithASuggestion) {
  const auto explanations =
      ExplainMembership(engine_, profile_, "lifecycle/chruned", At("2024-03-01T00:00:00Z"));
  EXPECT_EQ(explanations.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(explanations.status().message(), HasSubstr("did you mean 'churned'?"));
}

// Right after an update the stored memberships are what evaluation says, for every rule of the
// shipped catalogue, over random histories; and the JSON's field values are the profile API's.
TEST(ExplainMembership, AgreesWithTheStoredProfileAfterEachUpdate) {
  const auto catalogue = testing::ParseCatalogue(R"yaml(
segments:
  - {id: spender, when: "monetary_90d >= 30000 or orders_30d >= 2"}
  - {id: vip, when: 'has_tag("vip") and consent("sms")'}
  - {id: not_surveyed, when: "not (avg_survey_score >= 7)"}
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 60"}
      - {id: active, when: "orders_total >= 1"}
      - {id: potential, when: "interactions_total >= 1"}
)yaml");
  const Engine engine(catalogue, EngineOptions{});
  int members = 0;
  int checked = 0;
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    testing::RandomEvents random(seed);
    v1::CustomerProfile profile;
    absl::Time now = At("2024-01-01T00:00:00Z");
    for (int i = 0; i < 30; ++i) {
      now += absl::Hours(random.Uniform(1, 24 * 20));
      const v1::CustomerEvent event = random.Next(now);
      if (engine.Validate(event, now)) continue;
      std::vector<v1::SegmentChange> changes;
      static_cast<void>(engine.Apply(event, now, profile, changes));
      for (const std::string_view name : {"spender", "vip", "not_surveyed", "lifecycle"}) {
        const auto explanations = ExplainMembership(engine, profile, name, now);
        ASSERT_TRUE(explanations.ok()) << explanations.status();
        for (const MembershipExplanation& e : *explanations) {
          ASSERT_EQ(e.member, e.holds_now) << e.target.name() << " seed " << seed;
          members += e.member;
          ++checked;
        }
        const nlohmann::json json = ExplanationJson("c1", name, now, *explanations);
        const nlohmann::json profile_json = ProfileJson(profile, engine, now, {});
        for (const nlohmann::json& e : json["explanations"]) {
          for (const auto& [field, value] : e["fields"].items()) {
            ASSERT_EQ(value, profile_json["fields"][field]) << field;
          }
        }
      }
    }
  }
  EXPECT_GT(members, checked / 10);
}

TEST_F(ExplainTest, ExplanationJson) {
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 500})"));
  const absl::Time now = At("2024-03-02T10:00:00+08:00");
  const auto explanations = ExplainMembership(engine_, profile_, "big_spender", now);
  ASSERT_TRUE(explanations.ok());
  const nlohmann::json json = ExplanationJson("c1", "big_spender", now, *explanations);
  EXPECT_EQ(json["customer_id"], "c1");
  EXPECT_EQ(json["segment"], "big_spender");
  EXPECT_EQ(json["as_of"], "2024-03-02T02:00:00+00:00");
  ASSERT_EQ(json["explanations"].size(), 1u);
  const nlohmann::json& e = json["explanations"][0];
  EXPECT_EQ(e["name"], "big_spender");
  EXPECT_EQ(e["dimension"], nullptr);
  EXPECT_EQ(e["rule"], "monetary_total >= 10000");
  EXPECT_EQ(e["member"], false);
  EXPECT_EQ(e["rule_matches"], false);
  EXPECT_EQ(e["fields"], nlohmann::json({{"monetary_total", 500}}));
  EXPECT_EQ(e["trace"], nlohmann::json::parse(R"([
              {"depth": 0, "kind": "comparison", "text": "monetary_total >= 10000", "begin": 0,
               "end": 23, "value": false, "skipped": false, "deciding": true},
              {"depth": 1, "kind": "field", "text": "monetary_total", "begin": 0, "end": 14,
               "value": 500, "skipped": false, "deciding": false}])"));
}

}  // namespace
}  // namespace cdp::core
