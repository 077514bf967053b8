// Memberships and the changes between them: Engine::Apply, Reevaluate and Evaluate with rules.
#include "cdp/core/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "test_support.h"

namespace cdp::core {
namespace {

using testing::Describe;
using ::testing::ElementsAre;
using testing::Envelope;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr std::string_view kCatalogue = R"(
timezone: Asia/Shanghai
segments:
  - id: big_spender
    when: "monetary_total >= 10000"
  - id: vip
    when: 'has_tag("vip")'
  - id: sms_reachable
    when: 'consent("sms")'
  - id: baby_0_6m
    when: 'months_since(attr("baby_birth_date")) < 6'
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned,   when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: at_risk,   when: "orders_total >= 1 and days_since_last_purchase > 90"}
      - {id: loyal,     when: "orders_365d >= 4"}
      - {id: new,       when: "orders_total >= 1 and days_since_first_purchase <= 30"}
      - {id: active,    when: "orders_total >= 1"}
      - {id: potential, when: "interactions_total >= 1"}
  - id: value
    tiers:
      - {id: high, when: "monetary_365d >= 10000"}
      - {id: low,  when: "orders_total >= 1"}
)";

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : engine_(testing::ParseCatalogue(kCatalogue), EngineOptions{}) {}

  // Validates and applies `event` at `now` (default: its own time); returns the changes as lines.
  std::vector<std::string> Apply(const v1::CustomerEvent& event,
                                 std::optional<absl::Time> now = std::nullopt) {
    changes_.clear();
    const absl::Time at = now.value_or(absl::FromUnixSeconds(event.occurred_at().seconds()));
    const auto rejection = engine_.Validate(event, at);
    EXPECT_FALSE(rejection) << rejection->detail;
    erased_ = engine_.Apply(event, at, profile_, changes_);
    return Describe(changes_);
  }

  std::vector<std::string> Reevaluate(std::string_view now,
                                      v1::SegmentChange::Cause cause = v1::SegmentChange::time) {
    changes_.clear();
    engine_.Reevaluate(testing::At(now), cause, profile_, changes_);
    return Describe(changes_);
  }

  Engine engine_;
  v1::CustomerProfile profile_;
  std::vector<v1::SegmentChange> changes_;
  bool erased_ = false;
};

TEST_F(EngineTest, AFirstPurchaseEntersTiersWithEveryFieldOfTheChangeSet) {
  EXPECT_THAT(
      Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1000})")),
      ElementsAre("entered lifecycle/new cause=event e1", "entered value/low cause=event e1"));
  EXPECT_FALSE(erased_);
  const v1::SegmentChange& change = changes_[0];
  EXPECT_EQ(change.customer_id(), "c1");
  EXPECT_EQ(change.segment(), "new");
  EXPECT_EQ(change.dimension(), "lifecycle");
  EXPECT_EQ(change.direction(), v1::SegmentChange::entered);
  EXPECT_EQ(change.previous_tier(), "");
  EXPECT_EQ(change.next_tier(), "");
  EXPECT_EQ(change.occurred_at().seconds(),
            absl::ToUnixSeconds(testing::At("2024-03-01T10:00:00Z")));
  EXPECT_EQ(change.cause(), v1::SegmentChange::event);
  EXPECT_EQ(change.cause_event_id(), "e1");
  EXPECT_THAT(change.change_id(), MatchesRegex("[0-9a-f]{32}"));
  EXPECT_THAT(testing::Tiers(profile_),
              UnorderedElementsAre(Pair("lifecycle", "new"), Pair("value", "low")));
  EXPECT_THAT(profile_.segments(), IsEmpty());
}

TEST_F(EngineTest, ChangesComeInCatalogueOrderSegmentsFirst) {
  Apply(
      Envelope("e0", "2024-03-01T09:00:00Z", R"("consent": {"channel": "sms", "granted": true})"));
  EXPECT_THAT(
      Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 20000})")),
      ElementsAre("entered big_spender cause=event e1", "entered lifecycle/new cause=event e1",
                  "entered value/high cause=event e1"));
  EXPECT_THAT(profile_.segments(), ElementsAre("big_spender", "sms_reachable"));
}

TEST_F(EngineTest, AnEventThatChangesNoMembershipEmitsNothing) {
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1000})"));
  EXPECT_THAT(Apply(Envelope("e2", "2024-03-02T10:00:00Z", R"("interaction": {"type": "like"})")),
              IsEmpty());
  EXPECT_THAT(Apply(Envelope("e3", "2024-03-02T11:00:00Z", R"("purchase": {"total_amount": 1})")),
              IsEmpty());
  EXPECT_THAT(testing::Tiers(profile_),
              UnorderedElementsAre(Pair("lifecycle", "new"), Pair("value", "low")));
}

TEST_F(EngineTest, ASegmentIsExitedWhenItsRuleStopsHolding) {
  EXPECT_THAT(
      Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("profile_update": {"add_tags": ["vip"]})")),
      ElementsAre("entered vip cause=event e1"));
  EXPECT_THAT(profile_.segments(), ElementsAre("vip"));
  EXPECT_THAT(Apply(Envelope("e2", "2024-03-02T10:00:00Z",
                             R"("profile_update": {"remove_tags": ["vip"]})")),
              ElementsAre("exited vip cause=event e2"));
  EXPECT_THAT(profile_.segments(), IsEmpty());
}

TEST_F(EngineTest, ATierMoveExitsTheOldTierBeforeEnteringTheNew) {
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("interaction": {"type": "page_view"})"));
  EXPECT_THAT(testing::Tiers(profile_), UnorderedElementsAre(Pair("lifecycle", "potential")));
  EXPECT_THAT(Apply(Envelope("e2", "2024-03-02T10:00:00Z", R"("purchase": {"total_amount": 1})")),
              ElementsAre("exited lifecycle/potential to=new cause=event e2",
                          "entered lifecycle/new from=potential cause=event e2",
                          "entered value/low cause=event e2"));
  EXPECT_EQ(changes_[0].next_tier(), "new");
  EXPECT_EQ(changes_[1].previous_tier(), "potential");
}

TEST_F(EngineTest, ATierMoveLeavesTheOtherMembershipsStored) {
  Apply(Envelope("e1", "2024-03-01T09:00:00Z", R"("profile_update": {"add_tags": ["vip"]})"));
  Apply(Envelope("e2", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1})"));
  EXPECT_THAT(Reevaluate("2024-04-15T00:00:00Z"),
              ElementsAre("exited lifecycle/new to=active cause=time",
                          "entered lifecycle/active from=new cause=time"));
  EXPECT_THAT(profile_.segments(), ElementsAre("vip"));
  EXPECT_THAT(testing::Tiers(profile_),
              UnorderedElementsAre(Pair("lifecycle", "active"), Pair("value", "low")));
}

TEST_F(EngineTest, AnyChangeRewritesASegmentListOutOfOrder) {
  Apply(Envelope("e1", "2024-03-01T09:00:00Z", R"("profile_update": {"add_tags": ["vip"]})"));
  // Not as the engine writes it: the same segment twice.
  profile_.add_segments("vip");
  EXPECT_THAT(
      Apply(Envelope("e2", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1})")),
      ElementsAre("entered lifecycle/new cause=event e2", "entered value/low cause=event e2"));
  EXPECT_THAT(profile_.segments(), ElementsAre("vip"));
}

TEST_F(EngineTest, TimeAloneMovesTiersWithTheInstantAsOccurredAt) {
  // 10:00Z is 18:00 on 03-01 in Shanghai.
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1000})"));
  // Day 30 after the first purchase still counts as new; day 31 (from 16:00Z on 03-31) does not.
  EXPECT_THAT(Reevaluate("2024-03-31T15:59:59Z"), IsEmpty());
  EXPECT_THAT(Reevaluate("2024-03-31T16:00:00Z"),
              ElementsAre("exited lifecycle/new to=active cause=time",
                          "entered lifecycle/active from=new cause=time"));
  EXPECT_EQ(changes_[0].occurred_at().seconds(),
            absl::ToUnixSeconds(testing::At("2024-03-31T16:00:00Z")));
  EXPECT_EQ(changes_[0].cause_event_id(), "");
  EXPECT_THAT(Reevaluate("2024-06-01T00:00:00Z"),
              ElementsAre("exited lifecycle/active to=at_risk cause=time",
                          "entered lifecycle/at_risk from=active cause=time"));
  EXPECT_THAT(Reevaluate("2024-09-01T00:00:00Z"),
              ElementsAre("exited lifecycle/at_risk to=churned cause=time",
                          "entered lifecycle/churned from=at_risk cause=time"));
  // Only the first matching tier is held, although at_risk and active match too.
  EXPECT_THAT(testing::Tiers(profile_),
              UnorderedElementsAre(Pair("lifecycle", "churned"), Pair("value", "low")));
  EXPECT_THAT(Apply(Envelope("e2", "2024-09-02T00:00:00Z", R"("purchase": {"total_amount": 1})")),
              ElementsAre("exited lifecycle/churned to=active cause=event e2",
                          "entered lifecycle/active from=churned cause=event e2"));
}

TEST_F(EngineTest, TheFirstMatchingTierWinsOverLaterOnes) {
  for (int i = 1; i <= 3; ++i) {
    Apply(Envelope("e" + std::to_string(i), "2024-03-01T10:00:00Z",
                   R"("purchase": {"total_amount": 1})"));
  }
  EXPECT_THAT(Apply(Envelope("e4", "2024-03-01T11:00:00Z", R"("purchase": {"total_amount": 1})")),
              ElementsAre("exited lifecycle/new to=loyal cause=event e4",
                          "entered lifecycle/loyal from=new cause=event e4"));
  const Evaluation evaluation = engine_.Evaluate(profile_, testing::At("2024-03-02T00:00:00Z"));
  EXPECT_THAT(evaluation.tiers, ElementsAre(Pair("lifecycle", "loyal"), Pair("value", "low")));
}

TEST_F(EngineTest, ErasureExitsEverythingHeldAndClearsTheProfile) {
  Apply(
      Envelope("e1", "2024-03-01T09:00:00Z", R"("consent": {"channel": "sms", "granted": true})"));
  Apply(Envelope("e2", "2024-03-01T10:00:00Z", R"("profile_update": {"add_tags": ["vip"]})"));
  Apply(Envelope("e3", "2024-03-01T11:00:00Z", R"("purchase": {"total_amount": 50000})"));
  EXPECT_THAT(
      Apply(Envelope("e4", "2024-03-02T10:00:00Z", R"("erasure": {"reason": "gdpr"})")),
      ElementsAre("exited big_spender cause=erasure e4", "exited vip cause=erasure e4",
                  "exited sms_reachable cause=erasure e4", "exited lifecycle/new cause=erasure e4",
                  "exited value/high cause=erasure e4"));
  EXPECT_TRUE(erased_);
  EXPECT_EQ(profile_.ByteSizeLong(), 0u);
  for (const auto& change : changes_) {
    EXPECT_EQ(change.customer_id(), "c1");
    EXPECT_EQ(change.occurred_at().seconds(),
              absl::ToUnixSeconds(testing::At("2024-03-02T10:00:00Z")));
    // Consent as it was before the erasure.
    EXPECT_THAT(change.consent(), UnorderedElementsAre(Pair("sms", true)));
  }
}

TEST_F(EngineTest, ErasingAnUnknownCustomerEmitsNothing) {
  EXPECT_THAT(Apply(Envelope("e1", "2024-03-02T10:00:00Z", R"("erasure": {})")), IsEmpty());
  EXPECT_TRUE(erased_);
}

TEST_F(EngineTest, ChangesCarryTheConsentKnownWhenTheyHappen) {
  Apply(Envelope("e1", "2024-03-01T09:00:00Z",
                 R"("consent": {"channel": "email", "granted": true})"));
  Apply(Envelope("e2", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1})"));
  for (const auto& change : changes_) {
    EXPECT_THAT(change.consent(), UnorderedElementsAre(Pair("email", true)));
  }
  EXPECT_THAT(Apply(Envelope("e3", "2024-03-01T11:00:00Z",
                             R"("consent": {"channel": "sms", "granted": true})")),
              ElementsAre("entered sms_reachable cause=event e3"));
  EXPECT_THAT(changes_[0].consent(), UnorderedElementsAre(Pair("email", true), Pair("sms", true)));
}

TEST_F(EngineTest, RulesReadAttributesAgainstTheLocalToday) {
  // 2024-03-01 + 6 months = 2024-09-01 in Shanghai, which starts at 16:00Z on 08-31.
  EXPECT_THAT(
      Apply(Envelope("e1", "2024-03-05T10:00:00Z",
                     R"("profile_update": {"attributes": {"baby_birth_date": "2024-03-01"}})")),
      ElementsAre("entered baby_0_6m cause=event e1"));
  EXPECT_THAT(Reevaluate("2024-08-31T15:59:59Z"), IsEmpty());
  EXPECT_THAT(Reevaluate("2024-08-31T16:00:00Z"), ElementsAre("exited baby_0_6m cause=time"));
}

TEST_F(EngineTest, ReevaluatingWithNewDefinitionsRetiresWhatTheyNoLongerDefine) {
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("profile_update": {"add_tags": ["vip", "b"]})"));
  Apply(Envelope("e2", "2024-03-01T11:00:00Z", R"("purchase": {"total_amount": 1})"));
  const Engine changed(testing::ParseCatalogue(R"(
timezone: Asia/Shanghai
segments:
  - id: tagged_b
    when: 'has_tag("b")'
dimensions:
  - id: lifecycle
    tiers:
      - {id: buyer, when: "orders_total >= 1"}
)"),
                       EngineOptions{});
  changes_.clear();
  changed.Reevaluate(testing::At("2024-03-02T00:00:00Z"), v1::SegmentChange::definition_change,
                     profile_, changes_);
  EXPECT_THAT(
      Describe(changes_),
      ElementsAre("entered tagged_b cause=definition_change", "exited vip cause=definition_change",
                  "exited lifecycle/new to=buyer cause=definition_change",
                  "entered lifecycle/buyer from=new cause=definition_change",
                  "exited value/low cause=definition_change"));
  EXPECT_THAT(profile_.segments(), ElementsAre("tagged_b"));
  EXPECT_THAT(testing::Tiers(profile_), UnorderedElementsAre(Pair("lifecycle", "buyer")));
}

TEST_F(EngineTest, ChangeIdsAreDeterministicAndUnique) {
  const std::vector<v1::CustomerEvent> events = {
      Envelope("e1", "2024-03-01T10:00:00Z", R"("interaction": {"type": "page_view"})"),
      Envelope("e2", "2024-03-02T10:00:00Z", R"("purchase": {"total_amount": 20000})"),
      Envelope("e3", "2024-03-03T10:00:00Z", R"("profile_update": {"add_tags": ["vip"]})"),
      Envelope("e4", "2024-03-04T10:00:00Z", R"("profile_update": {"remove_tags": ["vip"]})"),
      Envelope("e5", "2024-03-05T10:00:00Z", R"("profile_update": {"add_tags": ["vip"]})"),
      Envelope("e6", "2024-03-06T10:00:00Z", R"("erasure": {})"),
  };
  const auto run = [&] {
    v1::CustomerProfile profile;
    std::vector<v1::SegmentChange> changes;
    for (const auto& event : events) {
      (void)engine_.Apply(event, absl::FromUnixSeconds(event.occurred_at().seconds()), profile,
                          changes);
    }
    engine_.Reevaluate(testing::At("2025-01-01T00:00:00Z"), v1::SegmentChange::time, profile,
                       changes);
    std::vector<std::string> ids;
    for (const auto& change : changes) ids.push_back(change.change_id());
    return ids;
  };
  const std::vector<std::string> first = run();
  EXPECT_EQ(first, run());
  ASSERT_GE(first.size(), 8u);
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), first.size());
}

TEST_F(EngineTest, TheSameChangeAtAnotherTimeOrForAnotherCustomerGetsAnotherId) {
  const auto id_of = [&](std::string_view customer, std::string_view now) {
    v1::CustomerProfile profile;
    profile.set_customer_id(std::string(customer));
    profile.add_tags("vip");
    std::vector<v1::SegmentChange> changes;
    engine_.Reevaluate(testing::At(now), v1::SegmentChange::time, profile, changes);
    EXPECT_EQ(changes.size(), 1u);
    return changes.empty() ? "" : changes[0].change_id();
  };
  const std::string base = id_of("c1", "2024-03-01T00:00:00Z");
  EXPECT_EQ(id_of("c1", "2024-03-01T00:00:00Z"), base);
  EXPECT_NE(id_of("c1", "2024-03-01T00:00:01Z"), base);
  EXPECT_NE(id_of("c2", "2024-03-01T00:00:00Z"), base);
}

TEST_F(EngineTest, EvaluateReportsMembershipsWithoutChangingTheProfile) {
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("profile_update": {"add_tags": ["vip"]})"));
  Apply(Envelope("e2", "2024-03-01T11:00:00Z", R"("purchase": {"total_amount": 30000})"));
  const std::string before = profile_.SerializeAsString();
  const Evaluation later = engine_.Evaluate(profile_, testing::At("2024-12-01T00:00:00Z"));
  EXPECT_THAT(later.segments, ElementsAre("big_spender", "vip"));
  EXPECT_THAT(later.tiers, ElementsAre(Pair("lifecycle", "churned"), Pair("value", "high")));
  EXPECT_EQ(profile_.SerializeAsString(), before);
  EXPECT_THAT(testing::Tiers(profile_),
              UnorderedElementsAre(Pair("lifecycle", "new"), Pair("value", "high")));
}

}  // namespace
}  // namespace cdp::core
