// Timers: when time alone can next change a customer's memberships, and firing them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "cdp/core/engine.h"
#include "cdp/core/memberships.h"
#include "cdp/rules/fields.h"
#include "test_support.h"

namespace cdp::core {
namespace {

using testing::At;
using testing::Describe;
using ::testing::ElementsAre;
using testing::Envelope;
using ::testing::IsEmpty;

constexpr std::string_view kLifecycle = R"(
timezone: Asia/Shanghai
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned,   when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: at_risk,   when: "orders_total >= 1 and days_since_last_purchase > 90"}
      - {id: new,       when: "orders_total >= 1 and days_since_first_purchase <= 30"}
      - {id: active,    when: "orders_total >= 1"}
)";

class TimerTest : public ::testing::Test {
 protected:
  void Use(std::string_view catalogue) {
    engine_.emplace(testing::ParseCatalogue(catalogue), EngineOptions{});
  }

  std::vector<std::string> Apply(const v1::CustomerEvent& event) {
    changes_.clear();
    const absl::Time at = absl::FromUnixSeconds(event.occurred_at().seconds());
    EXPECT_FALSE(engine_->Validate(event, at));
    EXPECT_FALSE(engine_->Apply(event, at, profile_, changes_));
    return Describe(changes_);
  }

  std::vector<std::string> Fire(std::string_view now) {
    changes_.clear();
    engine_->FireTimers(At(now), profile_, changes_);
    return Describe(changes_);
  }

  // The timer as an RFC 3339 instant in UTC, or "none".
  std::string Due() const {
    const std::optional<absl::Time> due = TimerDue(profile_);
    return due ? absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *due, absl::UTCTimeZone()) : "none";
  }

  std::optional<Engine> engine_;
  v1::CustomerProfile profile_;
  std::vector<v1::SegmentChange> changes_;
};

TEST_F(TimerTest, IsSetForTheStartOfTheLocalDayTheFirstThresholdIsCrossed) {
  Use(kLifecycle);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  EXPECT_THAT(core::HeldTier(profile_, "lifecycle"), "new");
  // `days_since_first_purchase <= 30` stops holding 31 days after 1 March, at midnight in Shanghai.
  EXPECT_EQ(Due(), "2024-03-31T16:00:00Z");
}

TEST_F(TimerTest, FiringMovesTheCustomerAtTheDueInstantAndSetsTheNextTimer) {
  Use(kLifecycle);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  EXPECT_THAT(Fire("2024-03-31T15:59:59Z"), IsEmpty());
  EXPECT_EQ(Due(), "2024-03-31T16:00:00Z");

  EXPECT_THAT(Fire("2024-03-31T16:00:00Z"),
              ElementsAre("exited lifecycle/new to=active cause=time",
                          "entered lifecycle/active from=new cause=time"));
  EXPECT_EQ(changes_[0].occurred_at().seconds(), absl::ToUnixSeconds(At("2024-03-31T16:00:00Z")));
  EXPECT_EQ(changes_[0].cause_event_id(), "");
  EXPECT_EQ(Due(), "2024-05-30T16:00:00Z");  // 91 days after 1 March: at_risk
}

TEST_F(TimerTest, FiringLateCatchesUpEveryChangeInOrderAtItsOwnTime) {
  Use(kLifecycle);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  EXPECT_THAT(Fire("2025-01-01T00:00:00Z"),
              ElementsAre("exited lifecycle/new to=active cause=time",
                          "entered lifecycle/active from=new cause=time",
                          "exited lifecycle/active to=at_risk cause=time",
                          "entered lifecycle/at_risk from=active cause=time",
                          "exited lifecycle/at_risk to=churned cause=time",
                          "entered lifecycle/churned from=at_risk cause=time"));
  EXPECT_EQ(changes_[2].occurred_at().seconds(), absl::ToUnixSeconds(At("2024-05-30T16:00:00Z")));
  EXPECT_EQ(changes_[4].occurred_at().seconds(), absl::ToUnixSeconds(At("2024-08-28T16:00:00Z")));
  EXPECT_EQ(Due(), "none");
}

TEST_F(TimerTest, FiringIsIdempotentAndDeterministic) {
  Use(kLifecycle);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  const v1::CustomerProfile before = profile_;
  Fire("2024-06-01T00:00:00Z");
  const std::vector<v1::SegmentChange> first = changes_;
  ASSERT_EQ(first.size(), 4u);
  EXPECT_THAT(Fire("2024-06-01T00:00:00Z"), IsEmpty());

  // A crash before the state was committed fires the same timers again from the old profile.
  profile_ = before;
  Fire("2024-06-01T00:00:00Z");
  ASSERT_EQ(changes_.size(), first.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(changes_[i].change_id(), first[i].change_id());
  }
}

TEST_F(TimerTest, AnEventFiresTheTimersDueBeforeIt) {
  Use(kLifecycle);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  EXPECT_THAT(
      Apply(Envelope("e2", "2024-07-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})")),
      ElementsAre("exited lifecycle/new to=active cause=time",
                  "entered lifecycle/active from=new cause=time",
                  "exited lifecycle/active to=at_risk cause=time",
                  "entered lifecycle/at_risk from=active cause=time",
                  "exited lifecycle/at_risk to=active cause=event e2",
                  "entered lifecycle/active from=at_risk cause=event e2"));
  EXPECT_EQ(Due(), "2024-09-29T16:00:00Z");  // 91 days after 1 July
}

TEST_F(TimerTest, AnErasureExitsWhatTheCustomerHoldsOnceDueTimersFired) {
  Use(kLifecycle);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  changes_.clear();
  const v1::CustomerEvent erasure = Envelope("e2", "2024-05-01T10:00:00+08:00", R"("erasure": {})");
  EXPECT_TRUE(engine_->Apply(erasure, At("2024-05-01T10:00:00+08:00"), profile_, changes_));
  EXPECT_THAT(Describe(changes_), ElementsAre("exited lifecycle/new to=active cause=time",
                                              "entered lifecycle/active from=new cause=time",
                                              "exited lifecycle/active cause=erasure e2"));
}

TEST_F(TimerTest, ACustomerWhoChurnedAndBuysAgainIsWonBack) {
  Use(R"(
timezone: Asia/Shanghai
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned,  when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: at_risk,  when: "orders_total >= 1 and days_since_last_purchase > 90"}
      - {id: won_back, when: "ever_in('churned') and days_since_last_purchase <= 90"}
      - {id: active,   when: "orders_total >= 1"}
segments:
  - {id: settled_back, when: "days_in('won_back') >= 30"}
)");
  Apply(Envelope("e1", "2024-01-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  Fire("2024-12-01T00:00:00Z");
  EXPECT_EQ(core::HeldTier(profile_, "lifecycle"), "churned");
  EXPECT_THAT(
      Apply(Envelope("e2", "2024-12-10T10:00:00+08:00", R"("purchase": {"total_amount": 100})")),
      ElementsAre("exited lifecycle/churned to=won_back cause=event e2",
                  "entered lifecycle/won_back from=churned cause=event e2"));
  // days_in counts from the day the customer entered: its threshold is a timer like any other.
  EXPECT_EQ(Due(), "2025-01-08T16:00:00Z");
  EXPECT_THAT(Fire("2025-01-08T16:00:00Z"), ElementsAre("entered settled_back cause=time"));
  EXPECT_THAT(Fire("2025-03-10T16:00:00Z"),
              ElementsAre("exited lifecycle/won_back to=at_risk cause=time",
                          "entered lifecycle/at_risk from=won_back cause=time",
                          // A second pass: the rule reads the tier the first pass left.
                          "exited settled_back cause=time"));
  ASSERT_NE(HistoryOf(profile_, "won_back"), nullptr);
  EXPECT_TRUE(HistoryOf(profile_, "won_back")->has_last_exited_at());
}

TEST_F(TimerTest, RulesWithoutTimeSetNoTimer) {
  Use(R"(
segments:
  - {id: buyer, when: "orders_total >= 1 and region == 'north'"}
)");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 100})"));
  EXPECT_EQ(Due(), "none");
}

TEST_F(TimerTest, AWindowMovesWhenAPurchaseDayLeavesIt) {
  Use(R"(
segments:
  - {id: frequent, when: "orders_30d >= 2"}
)");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 100})"));
  EXPECT_EQ(Due(), "2024-03-31T00:00:00Z");
  EXPECT_THAT(Apply(Envelope("e2", "2024-03-05T10:00:00Z", R"("purchase": {"total_amount": 100})")),
              ElementsAre("entered frequent cause=event e2"));
  EXPECT_EQ(Due(), "2024-03-31T00:00:00Z");
  EXPECT_THAT(Fire("2024-03-31T00:00:00Z"), ElementsAre("exited frequent cause=time"));
  EXPECT_EQ(Due(), "2024-04-04T00:00:00Z");
  EXPECT_THAT(Fire("2024-04-04T00:00:00Z"), IsEmpty());
  EXPECT_EQ(Due(), "none");
}

TEST_F(TimerTest, InteractionWindowsFollowInteractionDaysOnly) {
  Use(R"(
segments:
  - {id: engaged, when: "interactions_30d >= 1"}
)");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 100})"));
  EXPECT_EQ(Due(), "none");
  EXPECT_THAT(Apply(Envelope("e2", "2024-03-02T10:00:00Z", R"("interaction": {"type": "like"})")),
              ElementsAre("entered engaged cause=event e2"));
  EXPECT_EQ(Due(), "2024-04-01T00:00:00Z");
  EXPECT_THAT(Fire("2024-04-01T00:00:00Z"), ElementsAre("exited engaged cause=time"));
}

TEST_F(TimerTest, EachWindowFollowsTheFirstDayOfItsOwnKindInsideIt) {
  Use(R"(
segments:
  - {id: buyer, when: "orders_90d >= 1"}
  - {id: engaged, when: "interactions_30d >= 1"}
)");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("interaction": {"type": "like"})"));
  Apply(Envelope("e2", "2024-03-10T10:00:00Z", R"("purchase": {"total_amount": 100})"));
  // The interaction day leaves the 30-day window first; the purchase day the 90-day one later.
  EXPECT_EQ(Due(), "2024-03-31T00:00:00Z");
  EXPECT_THAT(Fire("2024-03-31T00:00:00Z"), ElementsAre("exited engaged cause=time"));
  EXPECT_EQ(Due(), "2024-06-08T00:00:00Z");
  EXPECT_THAT(Fire("2024-06-08T00:00:00Z"), ElementsAre("exited buyer cause=time"));
  EXPECT_EQ(Due(), "none");
}

TEST_F(TimerTest, ABirthdayInALeapDayStepsUpOnTheFirstOfMarchInOtherYears) {
  Use(R"(
segments:
  - {id: adult, when: "age >= 23"}
)");
  Apply(
      Envelope("e1", "2023-02-20T10:00:00Z", R"("profile_update": {"birth_date": "2000-02-29"})"));
  EXPECT_EQ(Due(), "2023-03-01T00:00:00Z");
  EXPECT_THAT(Fire("2023-03-01T00:00:00Z"), ElementsAre("entered adult cause=time"));
  EXPECT_EQ(Due(), "2024-02-29T00:00:00Z");
}

TEST_F(TimerTest, ANewMonthIsATimerAcrossTheYearEnd) {
  Use(R"(
timezone: Asia/Shanghai
segments:
  - {id: birthday_this_month, when: "birth_month == current_month"}
)");
  Apply(Envelope("e1", "2024-11-20T10:00:00+08:00",
                 R"("profile_update": {"birth_date": "1990-12-17"})"));
  EXPECT_EQ(Due(), "2024-11-30T16:00:00Z");
  EXPECT_THAT(Fire("2024-11-30T16:00:00Z"), ElementsAre("entered birthday_this_month cause=time"));
  EXPECT_EQ(Due(), "2024-12-31T16:00:00Z");
  EXPECT_THAT(Fire("2024-12-31T16:00:00Z"), ElementsAre("exited birthday_this_month cause=time"));
  EXPECT_EQ(Due(), "2025-01-31T16:00:00Z");
}

TEST_F(TimerTest, AttributeDatesFlipOnTheirAnniversaries) {
  Use(R"(
segments:
  - {id: baby_6_12m, when: "months_since(attr('baby_birth_date')) >= 6 and months_since(attr('baby_birth_date')) < 12"}
  - {id: trial_over, when: "days_since(attr('trial_start')) > 14"}
)");
  Apply(Envelope("e1", "2023-09-10T10:00:00Z",
                 R"("profile_update": {"attributes": {"baby_birth_date": "2023-08-31",
                                                      "trial_start": "2023-09-01"}})"));
  EXPECT_EQ(Due(), "2023-09-16T00:00:00Z");
  EXPECT_THAT(Fire("2023-09-16T00:00:00Z"), ElementsAre("entered trial_over cause=time"));
  EXPECT_EQ(Due(), "2024-02-29T00:00:00Z");
  EXPECT_THAT(Fire("2024-02-29T00:00:00Z"), ElementsAre("entered baby_6_12m cause=time"));
  EXPECT_EQ(Due(), "2024-08-31T00:00:00Z");
  EXPECT_THAT(Fire("2024-08-31T00:00:00Z"), ElementsAre("exited baby_6_12m cause=time"));
  EXPECT_EQ(Due(), "none");
}

TEST_F(TimerTest, DueTimesAreLocalMidnightsAcrossADaylightSavingChange) {
  Use(R"(
timezone: America/New_York
segments:
  - {id: lapsed, when: "days_since_last_purchase > 9"}
)");
  // New York moves to daylight saving time on 10 March 2024.
  Apply(Envelope("e1", "2024-03-01T10:00:00-05:00", R"("purchase": {"total_amount": 100})"));
  EXPECT_EQ(Due(), "2024-03-11T04:00:00Z");
  EXPECT_THAT(Fire("2024-03-11T04:00:00Z"), ElementsAre("entered lapsed cause=time"));
}

TEST_F(TimerTest, ACountComparedWithAnotherValueIsCheckedDaily) {
  Use(R"(
segments:
  - {id: odd, when: "days_since_last_activity > days_since_first_purchase"}
)");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 100})"));
  EXPECT_EQ(Due(), "2024-03-02T00:00:00Z");
}

TEST_F(TimerTest, RfmRecencyStepsAtItsBreakpoints) {
  Use(R"(
rfm:
  recency_days: [10, 20, 30, 40]
segments:
  - {id: recent, when: "rfm_r == 5"}
)");
  Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 100})"));
  EXPECT_EQ(Due(), "2024-03-12T00:00:00Z");
  EXPECT_THAT(Fire("2024-03-12T00:00:00Z"), ElementsAre("exited recent cause=time"));
}

// A time-dependent field that the timer planning forgot would leave customers stuck in segments.
TEST_F(TimerTest, EveryTimeDependentFieldGetsATimer) {
  for (const rules::FieldInfo& field : rules::Fields()) {
    if (!field.time_dependent) continue;
    SCOPED_TRACE(std::string(field.name));
    Use("segments:\n  - {id: s, when: \"" + std::string(field.name) + " >= 5\"}\n");
    profile_.Clear();
    Apply(Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 100})"));
    Apply(Envelope("e2", "2024-03-01T11:00:00Z", R"("interaction": {"type": "like"})"));
    Apply(Envelope("e3", "2024-03-01T12:00:00Z",
                   R"("profile_update": {"birth_date": "1990-05-05"})"));
    EXPECT_NE(Due(), "none");
  }
}

// min_dwell: a membership entered is held until the start of the day that many days after the day
// of entry, in the catalogue's time zone; a timer fires then.
constexpr std::string_view kDwell = R"(
timezone: Asia/Shanghai
segments:
  - {id: hot, when: 'has_tag("hot")', min_dwell: 3}
  - {id: recent_buyer, when: "days_since_last_purchase <= 30"}
dimensions:
  - id: value
    tiers:
      - {id: high, when: "monetary_total >= 1000"}
      - {id: trial, when: 'has_tag("trial")', min_dwell: 7}
      - {id: low, when: "orders_total >= 1"}
)";

TEST_F(TimerTest, ADwellKeepsASegmentUntilTheLocalMidnightItEndsAt) {
  Use(kDwell);
  // 1 a.m. in Shanghai is still the day before in UTC: the dwell counts Shanghai days, from 2
  // March.
  EXPECT_THAT(Apply(Envelope("e1", "2024-03-02T01:00:00+08:00",
                             R"("profile_update": {"add_tags": ["hot"]})")),
              ElementsAre("entered hot cause=event e1"));
  EXPECT_EQ(Due(), "2024-03-04T16:00:00Z");
  EXPECT_NE(HistoryOf(profile_, "hot"), nullptr);

  // The rule stops matching the next day; the customer stays in.
  EXPECT_THAT(Apply(Envelope("e2", "2024-03-03T10:00:00+08:00",
                             R"("profile_update": {"remove_tags": ["hot"]})")),
              IsEmpty());
  EXPECT_THAT(profile_.segments(), ElementsAre("hot"));
  EXPECT_EQ(Due(), "2024-03-04T16:00:00Z");

  EXPECT_THAT(Fire("2024-03-04T15:59:59Z"), IsEmpty());
  EXPECT_THAT(Fire("2024-03-04T16:00:00Z"), ElementsAre("exited hot cause=time"));
  EXPECT_EQ(changes_[0].occurred_at().seconds(),
            testing::Ts("2024-03-05T00:00:00+08:00").seconds());
  EXPECT_THAT(profile_.segments(), IsEmpty());
  EXPECT_EQ(Due(), "none");
}

TEST_F(TimerTest, ADwellTierBlocksAMoveUntilItEnds) {
  Use(kDwell);
  EXPECT_THAT(Apply(Envelope("e1", "2024-03-01T10:00:00+08:00",
                             R"("profile_update": {"add_tags": ["trial"]})")),
              ElementsAre("entered value/trial cause=event e1"));
  // `high`, listed first, matches now, but `trial` is held until 8 March.
  EXPECT_THAT(
      Apply(Envelope("e2", "2024-03-02T10:00:00+08:00", R"("purchase": {"total_amount": 5000})")),
      ElementsAre("entered recent_buyer cause=event e2"));
  EXPECT_EQ(core::HeldTier(profile_, "value"), "trial");
  // The dwell end comes before recent_buyer's 31st day.
  EXPECT_EQ(Due(), "2024-03-07T16:00:00Z");
  EXPECT_THAT(Fire("2024-03-07T16:00:00Z"),
              ElementsAre("exited value/trial to=high cause=time",
                          "entered value/high from=trial cause=time"));
  EXPECT_EQ(Due(), "2024-04-01T16:00:00Z");
}

TEST_F(TimerTest, TheTimerIsTheDwellEndWhenThatIsTheEarliestCandidate) {
  Use(kDwell);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00", R"("purchase": {"total_amount": 100})"));
  EXPECT_EQ(Due(), "2024-03-31T16:00:00Z");
  Apply(Envelope("e2", "2024-03-10T10:00:00+08:00", R"("profile_update": {"add_tags": ["hot"]})"));
  EXPECT_EQ(Due(), "2024-03-12T16:00:00Z");
  // Still tagged when the dwell ends: nothing changes, and the next candidate is the timer.
  EXPECT_THAT(Fire("2024-03-12T16:00:00Z"), IsEmpty());
  EXPECT_THAT(profile_.segments(), ElementsAre("hot", "recent_buyer"));
  EXPECT_EQ(Due(), "2024-03-31T16:00:00Z");
}

TEST_F(TimerTest, ErasureAndRetirementIgnoreADwell) {
  Use(kDwell);
  Apply(Envelope("e1", "2024-03-01T10:00:00+08:00",
                 R"("profile_update": {"add_tags": ["hot", "trial"]})"));
  const v1::CustomerProfile held = profile_;
  changes_.clear();
  const v1::CustomerEvent erasure = Envelope("e2", "2024-03-02T10:00:00+08:00", R"("erasure": {})");
  EXPECT_TRUE(
      engine_->Apply(erasure, testing::At("2024-03-02T10:00:00+08:00"), profile_, changes_));
  EXPECT_THAT(Describe(changes_),
              ElementsAre("exited hot cause=erasure e2", "exited value/trial cause=erasure e2"));

  // A file without `hot` exits it at once, its dwell running or not.
  profile_ = held;
  Use(R"(
timezone: Asia/Shanghai
dimensions:
  - id: value
    tiers:
      - {id: trial, when: 'has_tag("trial")', min_dwell: 7}
)");
  changes_.clear();
  engine_->Reevaluate(testing::At("2024-03-02T10:00:00+08:00"),
                      v1::SegmentChange::definition_change, profile_, changes_);
  EXPECT_THAT(Describe(changes_), ElementsAre("exited hot cause=definition_change"));
}

}  // namespace
}  // namespace cdp::core
