// Incremental evaluation (EngineOptions::incremental) against evaluating every rule on every
// update: over random event sequences, the same profiles byte for byte and the same changes.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "cdp/core/engine.h"
#include "cdp/proto/deterministic.h"
#include "cdp/rules/digest.h"
#include "random_events.h"
#include "test_support.h"

namespace cdp::core {
namespace {

// One segment per field, each input a rule can read besides fields (tags, attributes, consent,
// dates in attributes, membership history), fields compared with each other, and dimensions whose
// tiers read inputs that different events change. Thresholds sit where random events cross them.
// A time zone with daylight saving time, and RFM breakpoints other than the defaults.
constexpr std::string_view kEveryInput = R"yaml(
timezone: America/New_York
rfm:
  recency_days: [3, 10, 30, 90]
  frequency_orders_365d: [1, 2, 4, 6]
  monetary_365d: [1000, 20000, 60000, 150000]
segments:
  - {id: f_orders_total, when: "orders_total >= 2"}
  - {id: f_monetary_total, when: "monetary_total >= 30000"}
  - {id: f_orders_30d, when: "orders_30d >= 2"}
  - {id: f_orders_90d, when: "orders_90d >= 3"}
  - {id: f_orders_365d, when: "orders_365d >= 4"}
  - {id: f_monetary_30d, when: "monetary_30d >= 20000"}
  - {id: f_monetary_90d, when: "monetary_90d > 40000"}
  - {id: f_monetary_365d, when: "monetary_365d >= 60000"}
  - {id: f_avg_order_value, when: "avg_order_value >= 20000"}
  - {id: f_avg_unit_price, when: "avg_unit_price >= 25000"}
  - {id: f_discount_ratio, when: "discount_ratio >= 0.1"}
  - {id: f_coupon_redeem_rate, when: "coupon_redeem_rate >= 0.5"}
  - {id: f_refunds_total, when: "refunds_total >= 9000"}
  - {id: f_interactions_total, when: "interactions_total >= 5"}
  - {id: f_interactions_30d, when: "interactions_30d >= 3"}
  - {id: f_days_since_first_purchase, when: "days_since_first_purchase <= 20"}
  - {id: f_days_since_last_purchase, when: "days_since_last_purchase > 7"}
  - {id: f_days_since_last_activity, when: "days_since_last_activity in [0, 1, 5]"}
  - {id: f_rfm_r, when: "rfm_r >= 4"}
  - {id: f_rfm_f, when: "rfm_f >= 3"}
  - {id: f_rfm_m, when: "rfm_m == 3"}
  - {id: f_top_category, when: 'top_category == "toys"'}
  - {id: f_region, when: 'region == "Zhejiang"'}
  - {id: f_city, when: 'city in ["Shanghai"]'}
  - {id: f_gender, when: 'gender != "male"'}
  - {id: f_age, when: "age >= 30 and age < 40"}
  - {id: f_income_band, when: 'income_band == "15k_30k"'}
  - {id: f_membership_level, when: 'membership_level >= "h"'}
  - {id: f_birth_month, when: "birth_month == current_month"}
  - {id: f_referrals_total, when: "referrals_total >= 1"}
  - {id: f_community_posts_total, when: "community_posts_total >= 2"}
  - {id: f_avg_survey_score, when: "not (avg_survey_score >= 7)"
}
  - {id: f_surveys_total, when: "surveys_total >= 2"}
  - {id: f_avg_review_rating, when: "avg_review_rating <= 2.5"}
  - {id: f_reviews_total, when: "reviews_total >= 2"}
  - {id: f_current_month, when: "current_month in [1, 4, 7, 10]"}
  - {id: tag_vip, when: 'has_tag("vip")', min_dwell: 2}
  - {id: no_tag_b, when: 'not has_tag("b")'}
  - {id: attr_tier, when: 'attr("tier") == "gold"', min_dwell: 4}
  - {id: consent_sms, when: 'consent("sms")'}
  - {id: no_email, when: 'not consent("email")'}
  - id: anniversary_week
    when: 'days_since(attr("anniversary_date")) >= -3 and days_since(attr("anniversary_date")) <= 3'
  - {id: baby_young, when: 'months_since(attr("baby_birth_date")) < 4'}
  - {id: active_since_first, when: "days_since_last_activity < days_since_first_purchase"}
  - {id: was_vip, when: 'ever_in("tag_vip")'}
  - {id: settled_buyer, when: 'days_in("f_orders_total") >= 10'}
  - {id: new_regular, when: 'days_in("regular") <= 5 and not ever_in("lapsed")'}
dimensions:
  - id: engagement_mix
    tiers:
      - {id: lapsed, when: "days_since_last_activity > 20"}
      - {id: regular, when: 'orders_90d >= 2 or has_tag("vip")'}
      - id: reachable
        when: 'consent("wechat") or attr("customisation") == "requested"'
        min_dwell: 5
      - {id: reviewer, when: "reviews_total >= 1 or surveys_total >= 1"}
  - id: demo
    tiers:
      - {id: young_woman, when: 'gender == "female" and age < 30'}
      - {id: local, when: 'city == "Chengdu"'}
      - {id: unknown_age, when: "not (age >= 0)"}
)yaml";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `text` with `from` replaced by `to`, which must be there.
std::string Replace(std::string text, std::string_view from, std::string_view to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Map entries in key order, so that equal messages give equal bytes.
std::string Bytes(const google::protobuf::Message& message) {
  std::string bytes;
  EXPECT_TRUE(proto::AppendDeterministic(message, bytes));
  return bytes;
}

std::string Bytes(const std::vector<v1::SegmentChange>& changes) {
  std::string bytes;
  for (const v1::SegmentChange& change : changes) bytes += Bytes(change) + '\n';
  return bytes;
}

std::string Lines(const std::vector<v1::SegmentChange>& changes) {
  std::string lines;
  for (const std::string& line : testing::Describe(changes)) lines += "\n  " + line;
  return lines;
}

EngineOptions Full() {
  EngineOptions options;
  options.incremental = false;
  return options;
}

// Drives two profiles of one customer through the same updates, one engine evaluating
// incrementally and one evaluating everything, and checks that they never differ.
class Twins {
 public:
  Twins(std::shared_ptr<const rules::SegmentCatalogue> catalogue, testing::RandomEvents& random)
      : incremental_(catalogue, EngineOptions{}), full_(catalogue, Full()), random_(random) {}

  // Moves `now` on by minutes to months, then applies a random event, fires timers or
  // re-evaluates (cause time); checks both profiles and their changes.
  void Step() {
    const int advance = random_.Uniform(1, 100);
    if (advance <= 60) {
      now_ += absl::Minutes(random_.Uniform(0, 600));
    } else if (advance <= 95) {
      now_ += absl::Hours(24 * random_.Uniform(1, 12));
    } else {
      now_ += absl::Hours(24 * random_.Uniform(30, 200));
    }
    std::vector<v1::SegmentChange> incremental_changes;
    std::vector<v1::SegmentChange> full_changes;
    std::string update;
    const int roll = random_.Uniform(1, 100);
    if (roll <= 2) {
      // A burst of interactions, enough for the busiest engagement tiers.
      update = "Apply a burst of interactions";
      for (int i = 0; i < 25; ++i) {
        const v1::CustomerEvent event =
            random_.Interaction(now_, random_.Pick(testing::RandomEvents::kInteractionTypes));
        ASSERT_EQ(incremental_.Apply(event, now_, incremental_profile_, incremental_changes),
                  full_.Apply(event, now_, full_profile_, full_changes));
      }
    } else if (roll <= 80) {
      const v1::CustomerEvent event = random_.Next(now_, /*erasure=*/true);
      update = "Apply " + event.ShortDebugString();
      ASSERT_FALSE(incremental_.Validate(event, now_)) << update;
      ASSERT_EQ(incremental_.Apply(event, now_, incremental_profile_, incremental_changes),
                full_.Apply(event, now_, full_profile_, full_changes))
          << update;
    } else if (roll <= 90) {
      update = "FireTimers";
      ASSERT_EQ(incremental_.FireTimers(now_, incremental_profile_, incremental_changes),
                full_.FireTimers(now_, full_profile_, full_changes));
    } else {
      update = "Reevaluate time";
      incremental_.Reevaluate(now_, v1::SegmentChange::time, incremental_profile_,
                              incremental_changes);
      full_.Reevaluate(now_, v1::SegmentChange::time, full_profile_, full_changes);
    }
    Check(update, incremental_changes, full_changes);
  }

  // Both profiles re-evaluated for new definitions: the full one with every rule of `full`, the
  // incremental one with `incremental` and only the `changed` rules, as a service sweeps stored
  // profiles after a reload. From then on both go on with the new engines.
  void Reload(const Engine& incremental, const Engine& full,
              const std::vector<rules::RuleRef>& changed) {
    // Some time after the last update: timers may be due.
    now_ += absl::Hours(random_.Uniform(0, 24 * 60));
    std::vector<v1::SegmentChange> incremental_changes;
    std::vector<v1::SegmentChange> full_changes;
    incremental.Reevaluate(now_, v1::SegmentChange::definition_change,
                           RuleSelection(incremental.catalogue(), changed), incremental_profile_,
                           incremental_changes);
    full.Reevaluate(now_, v1::SegmentChange::definition_change, full_profile_, full_changes);
    Check("Reload", incremental_changes, full_changes);
  }

  void Use(std::shared_ptr<const rules::SegmentCatalogue> catalogue) {
    incremental_ = Engine(catalogue, EngineOptions{});
    full_ = Engine(catalogue, Full());
  }

  void Restart() {
    incremental_profile_.Clear();
    full_profile_.Clear();
    now_ = testing::At("2024-01-01T00:00:00Z") + absl::Hours(random_.Uniform(0, 24 * 400));
    ++customers_;
  }

  std::int64_t changes() const { return changes_; }
  // The segments and tiers entered or exited so far.
  const std::set<std::string>& moved() const { return moved_; }

 private:
  void Check(const std::string& update, const std::vector<v1::SegmentChange>& incremental_changes,
             const std::vector<v1::SegmentChange>& full_changes) {
    const std::string where =
        "customer " + std::to_string(customers_) + " at " + absl::FormatTime(now_) + ", " + update;
    // Not ASSERT_EQ: the bytes themselves would say little.
    ASSERT_TRUE(Bytes(incremental_changes) == Bytes(full_changes))
        << where << "\nincremental:" << Lines(incremental_changes)
        << "\nfull:" << Lines(full_changes);
    ASSERT_TRUE(Bytes(incremental_profile_) == Bytes(full_profile_))
        << where << "\nincremental: " << incremental_profile_.ShortDebugString()
        << "\nfull: " << full_profile_.ShortDebugString();
    changes_ += static_cast<std::int64_t>(full_changes.size());
    for (const v1::SegmentChange& change : full_changes) moved_.insert(change.segment());
  }

  Engine incremental_;
  Engine full_;
  testing::RandomEvents& random_;
  v1::CustomerProfile incremental_profile_;
  v1::CustomerProfile full_profile_;
  absl::Time now_;
  int customers_ = 0;
  std::int64_t changes_ = 0;
  std::set<std::string> moved_;
};

void ExpectSameAsFullEvaluation(std::string_view catalogue_text, std::uint32_t seed) {
  testing::RandomEvents random(seed);
  const auto catalogue = testing::ParseCatalogue(catalogue_text);
  Twins twins(catalogue, random);
  for (int customer = 0; customer < 150; ++customer) {
    twins.Restart();
    for (int step = 0; step < 80; ++step) {
      twins.Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  // Sequences that moved no membership would prove nothing: every rule must have held and not.
  EXPECT_GT(twins.changes(), 10000);
  for (const rules::Segment& segment : catalogue->segments) {
    EXPECT_TRUE(twins.moved().contains(segment.id)) << segment.id << " never moved";
  }
  for (const rules::Dimension& dimension : catalogue->dimensions) {
    for (const rules::Tier& tier : dimension.tiers) {
      EXPECT_TRUE(twins.moved().contains(tier.id)) << tier.id << " never moved";
    }
  }
}

TEST(Incremental, GivesWhatEvaluatingEveryRuleGivesWithTheShippedCatalogue) {
  ExpectSameAsFullEvaluation(ReadFile(CDP_DEFAULT_CATALOGUE), 20241101);
}

TEST(Incremental, GivesWhatEvaluatingEveryRuleGivesForEveryInput) {
  ExpectSameAsFullEvaluation(kEveryInput, 7);
}

// A reload's sweep (only the changed definitions, found from digests) leaves every profile as
// re-evaluating every rule does, and incremental updates go on from there alike.
TEST(Incremental, ASweepOfTheChangedDefinitionsGivesWhatEvaluatingEveryRuleGives) {
  const std::string before_text = ReadFile(CDP_DEFAULT_CATALOGUE);
  std::string after_text = Replace(before_text, "avg_unit_price >= 30000", "avg_unit_price >= 900");
  // Moves the lifecycle tiers that won_back and the new segment read the history of.
  after_text = Replace(after_text, "when: orders_365d >= 4", "when: orders_365d >= 2");
  after_text = Replace(after_text, "  - id: male\n    description: Gender given as male.\n",
                       "  - id: was_loyal\n    when: ever_in(\"loyal\")\n  - id: male2\n");
  const auto before = testing::ParseCatalogue(before_text);
  const auto after = testing::ParseCatalogue(after_text);
  const std::vector<rules::RuleRef> changed = rules::ChangedDefinitions(
      rules::DefinitionDigests(*before), rules::DefinitionDigests(*after));
  ASSERT_EQ(changed, (std::vector<rules::RuleRef>{{rules::RuleKind::kSegment, "high_end"},
                                                  {rules::RuleKind::kSegment, "male"},
                                                  {rules::RuleKind::kSegment, "male2"},
                                                  {rules::RuleKind::kSegment, "was_loyal"},
                                                  {rules::RuleKind::kDimension, "lifecycle"}}));
  const Engine incremental(after, EngineOptions{});
  const Engine full(after, Full());

  testing::RandomEvents random(99);
  Twins twins(before, random);
  for (int customer = 0; customer < 100; ++customer) {
    twins.Use(before);
    twins.Restart();
    for (int step = 0; step < 60; ++step) {
      if (step == 40) {
        twins.Reload(incremental, full, changed);
        twins.Use(after);
      } else {
        twins.Step();
      }
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  EXPECT_GT(twins.changes(), 5000);
}

constexpr std::string_view kLapsedBefore = R"(
segments:
  - id: lapsed
    when: days_since_last_purchase > 30
  - id: big
    when: monetary_total >= 100
)";

// lapsed no longer depends on time; big is as it was.
constexpr std::string_view kLapsedAfter = R"(
segments:
  - id: lapsed
    when: orders_total >= 3
  - id: big
    when: monetary_total >= 100
)";

// The definitions that differ between the engines' catalogues, as a reload finds them.
std::vector<rules::RuleRef> ChangedBetween(const Engine& before, const Engine& after) {
  return rules::ChangedDefinitions(rules::DefinitionDigests(before.catalogue()),
                                   rules::DefinitionDigests(after.catalogue()));
}

// A customer who bought for 500 on 2024-03-01 under kLapsedBefore: big, with a timer for the day
// lapsed would flip.
v1::CustomerProfile BigSpender(const Engine& before) {
  v1::CustomerProfile profile;
  std::vector<v1::SegmentChange> changes;
  (void)before.Apply(testing::Envelope("p1", "2024-03-01T10:00:00Z",
                                       R"("purchase": {"order_id": "o1", "total_amount": 500})"),
                     testing::At("2024-03-01T10:00:00Z"), profile, changes);
  EXPECT_EQ(testing::Describe(changes), std::vector<std::string>{"entered big cause=event p1"});
  EXPECT_EQ(TimerDue(profile), testing::At("2024-04-01T00:00:00Z"));
  return profile;
}

TEST(Incremental, ASweepOfRulesThatDoNotDependOnTimeKeepsTheTimerWhenNothingMoves) {
  const Engine before(testing::ParseCatalogue(kLapsedBefore), EngineOptions{});
  const Engine after(testing::ParseCatalogue(kLapsedAfter), EngineOptions{});
  v1::CustomerProfile profile = BigSpender(before);
  const std::vector<rules::RuleRef> changed = ChangedBetween(before, after);
  ASSERT_EQ(changed, (std::vector<rules::RuleRef>{{rules::RuleKind::kSegment, "lapsed"}}));

  std::vector<v1::SegmentChange> changes;
  after.Reevaluate(testing::At("2024-03-05T00:00:00Z"), v1::SegmentChange::definition_change,
                   RuleSelection(after.catalogue(), changed), profile, changes);
  EXPECT_TRUE(changes.empty());
  // Early rather than missing: the old rule's flip day, which no rule needs any more.
  EXPECT_EQ(TimerDue(profile), testing::At("2024-04-01T00:00:00Z"));
  // Firing it finds nothing and sets the timer the new rules need: none.
  EXPECT_EQ(after.FireTimers(testing::At("2024-04-01T00:00:00Z"), profile, changes), 1u);
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(TimerDue(profile), std::nullopt);
}

// A changed rule that depends on time can only bring the timer forward when nothing moves: the
// rules not re-evaluated still need it when it was set for.
TEST(Incremental, ASweepOfATimeDependentRuleBringsTheTimerForwardOnly) {
  const Engine before(testing::ParseCatalogue(kLapsedBefore), EngineOptions{});
  auto sweep = [&](std::string_view lapsed_rule) {
    const Engine after(
        testing::ParseCatalogue("segments:\n  - id: lapsed\n    when: " + std::string(lapsed_rule) +
                                "\n  - id: big\n    when: monetary_total >= 100\n"),
        EngineOptions{});
    v1::CustomerProfile profile = BigSpender(before);
    const std::vector<rules::RuleRef> changed = ChangedBetween(before, after);
    EXPECT_EQ(changed, (std::vector<rules::RuleRef>{{rules::RuleKind::kSegment, "lapsed"}}));
    std::vector<v1::SegmentChange> changes;
    after.Reevaluate(testing::At("2024-03-05T00:00:00Z"), v1::SegmentChange::definition_change,
                     after.Prepare(RuleSelection(after.catalogue(), changed)), profile, changes);
    EXPECT_TRUE(changes.empty());
    return TimerDue(profile);
  };
  // Flips after 10 days: earlier than the timer set for 30.
  EXPECT_EQ(sweep("days_since_last_purchase > 10"), testing::At("2024-03-12T00:00:00Z"));
  // Flips after 60 days: the timer stays, early rather than missing.
  EXPECT_EQ(sweep("days_since_last_purchase > 60"), testing::At("2024-04-01T00:00:00Z"));
}

TEST(Incremental, ASweepThatMovesAMembershipSetsTheTimerAgain) {
  const Engine before(testing::ParseCatalogue(kLapsedBefore), EngineOptions{});
  // lapsed removed, big raised: nothing depends on time any more.
  const Engine after(testing::ParseCatalogue(R"(
segments:
  - id: big
    when: monetary_total >= 1000
)"),
                     EngineOptions{});
  v1::CustomerProfile profile = BigSpender(before);
  std::vector<v1::SegmentChange> changes;
  const std::vector<rules::RuleRef> big = ChangedBetween(before, after);
  after.Reevaluate(testing::At("2024-03-05T00:00:00Z"), v1::SegmentChange::definition_change,
                   RuleSelection(after.catalogue(), big), profile, changes,
                   testing::At("2024-03-04T12:00:00Z"));
  EXPECT_EQ(testing::Describe(changes),
            std::vector<std::string>{"exited big cause=definition_change"});
  // Stamped with the instant given, which the change id hashes.
  EXPECT_EQ(changes.at(0).occurred_at().seconds(),
            absl::ToUnixSeconds(testing::At("2024-03-04T12:00:00Z")));
  std::vector<v1::SegmentChange> again;
  v1::CustomerProfile redo = BigSpender(before);
  after.Reevaluate(testing::At("2024-03-06T00:00:00Z"), v1::SegmentChange::definition_change,
                   RuleSelection(after.catalogue(), big), redo, again,
                   testing::At("2024-03-04T12:00:00Z"));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].change_id(), changes[0].change_id());
  EXPECT_EQ(TimerDue(profile), std::nullopt);
}

}  // namespace
}  // namespace cdp::core
