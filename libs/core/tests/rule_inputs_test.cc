// What each kind of event can change (rule_inputs.h), which rules that selects, RuleSelection, and
// what an incremental update leaves alone.
#include "rule_inputs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cdp/core/engine.h"
#include "cdp/rules/fields.h"
#include "fold.h"
#include "profile_context.h"
#include "random_events.h"
#include "test_support.h"
#include "time_util.h"

namespace cdp::core {
namespace {

using internal::EventKind;
using internal::Inputs;
using internal::InputsChangedBy;
using internal::KindOf;
using rules::FieldId;
using testing::Describe;
using ::testing::ElementsAre;
using testing::Envelope;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

bool Has(const Inputs& inputs, FieldId field) {
  return inputs.test(static_cast<std::size_t>(field));
}

std::string InputName(std::size_t input) {
  if (input < rules::kFieldCount) {
    return std::string(rules::Field(static_cast<FieldId>(input)).name);
  }
  if (input == internal::kTagsInput) return "tags";
  if (input == internal::kAttributesInput) return "attributes";
  return "consent";
}

// Every input of `profile` as rules see it at `today`, as text.
std::vector<std::string> Snapshot(const v1::CustomerProfile& profile, absl::CivilDay today,
                                  const rules::SegmentCatalogue& catalogue) {
  const internal::ProfileContext context(profile, today, catalogue, Population{});
  std::vector<std::string> inputs;
  for (const rules::FieldInfo& info : rules::Fields()) {
    const rules::Value value = context.field(info.id);
    char number[32];
    std::snprintf(number, sizeof number, "%.17g", value.number());
    inputs.push_back(value.is_null()     ? "null"
                     : value.is_string() ? "s:" + std::string(value.string())
                                         : number);
  }
  std::string tags;
  for (const std::string& tag : profile.tags()) tags += tag + ",";
  inputs.push_back(tags);
  const std::map<std::string, std::string> attributes(profile.attributes().begin(),
                                                      profile.attributes().end());
  std::string text;
  for (const auto& [key, value] : attributes) text += key + "=" + value + ",";
  inputs.push_back(text);
  const std::map<std::string, bool> consent(profile.consent().begin(), profile.consent().end());
  text.clear();
  for (const auto& [channel, granted] : consent) text += channel + (granted ? "+" : "-");
  inputs.push_back(text);
  return inputs;
}

// Folds random events of every kind into random profiles: whatever input an event changes must be
// in its kind's set, and every input of a kind's set is changed by some event of the kind (the
// sets are not wider than folding needs).
TEST(InputsChangedBy, ListsExactlyWhatFoldingEachKindOfEventChanges) {
  const auto catalogue = testing::EmptyCatalogue("Asia/Shanghai");
  const Engine engine(catalogue, EngineOptions{});
  testing::RandomEvents random(11);
  std::vector<Inputs> seen(static_cast<std::size_t>(EventKind::kCount));
  int folded = 0;
  for (int customer = 0; customer < 60; ++customer) {
    v1::CustomerProfile profile;
    absl::Time now = testing::At("2024-02-20T00:00:00Z");
    for (int step = 0; step < 120; ++step) {
      now += absl::Hours(random.Uniform(0, 24 * 6));
      const v1::CustomerEvent event = random.Next(now);
      const absl::CivilDay today = absl::ToCivilDay(now, catalogue->timezone);
      const std::vector<std::string> before = Snapshot(profile, today, *catalogue);
      internal::FoldEvent(event, catalogue->timezone, internal::DayNumber(today), profile);
      const std::vector<std::string> after = Snapshot(profile, today, *catalogue);
      const EventKind kind = KindOf(event);
      const Inputs allowed = InputsChangedBy(kind);
      for (std::size_t input = 0; input < internal::kInputCount; ++input) {
        if (before[input] == after[input]) continue;
        seen[static_cast<std::size_t>(kind)].set(input);
        ASSERT_TRUE(allowed.test(input))
            << InputName(input) << " changed from " << before[input] << " to " << after[input]
            << " by " << event.ShortDebugString();
      }
      ++folded;
    }
  }
  for (std::size_t kind = 0; kind < seen.size(); ++kind) {
    const Inputs unseen = InputsChangedBy(static_cast<EventKind>(kind)) & ~seen[kind];
    for (std::size_t input = 0; input < internal::kInputCount; ++input) {
      EXPECT_FALSE(unseen.test(input))
          << "no event of kind " << kind << " changed " << InputName(input);
    }
  }
  EXPECT_EQ(folded, 60 * 120);
}

TEST(InputsChangedBy, SeparatesPayloadsAndTheInteractionsWithCountersOfTheirOwn) {
  const Inputs purchase = InputsChangedBy(EventKind::kPurchase);
  EXPECT_TRUE(Has(purchase, FieldId::kOrdersTotal));
  EXPECT_TRUE(Has(purchase, FieldId::kTopCategory));
  EXPECT_TRUE(Has(purchase, FieldId::kRfmR));
  EXPECT_FALSE(Has(purchase, FieldId::kRegion));
  EXPECT_FALSE(Has(purchase, FieldId::kInteractionsTotal));
  EXPECT_FALSE(purchase.test(internal::kConsentInput));

  const Inputs page_view = InputsChangedBy(
      KindOf(Envelope("e", "2024-01-01T00:00:00Z", R"("interaction": {"type": "like"})")));
  EXPECT_TRUE(Has(page_view, FieldId::kDaysSinceLastActivity));
  EXPECT_FALSE(Has(page_view, FieldId::kCouponRedeemRate));
  EXPECT_TRUE(Has(InputsChangedBy(EventKind::kCouponClaim), FieldId::kCouponRedeemRate));
  EXPECT_EQ(KindOf(Envelope("e", "2024-01-01T00:00:00Z",
                            R"("interaction": {"type": "survey_response", "score": 3})")),
            EventKind::kSurveyResponse);

  EXPECT_EQ(InputsChangedBy(EventKind::kConsent), Inputs().set(internal::kConsentInput));
  const Inputs update = InputsChangedBy(EventKind::kProfileUpdate);
  EXPECT_TRUE(update.test(internal::kTagsInput));
  EXPECT_TRUE(update.test(internal::kAttributesInput));
  EXPECT_TRUE(Has(update, FieldId::kAge));
  EXPECT_FALSE(Has(update, FieldId::kCurrentMonth));

  EXPECT_EQ(KindOf(Envelope("e", "2024-01-01T00:00:00Z", R"("erasure": {})")), EventKind::kNone);
  EXPECT_TRUE(InputsChangedBy(EventKind::kNone).none());
}

constexpr std::string_view kCatalogue = R"(
timezone: Asia/Shanghai
segments:
  - {id: buyer, when: "orders_total >= 1"}
  - {id: vip, when: 'has_tag("vip")'}
  - {id: sms, when: 'consent("sms")'}
  - {id: anniversary, when: 'days_since(attr("d")) > 3'}
  - {id: was_vip, when: 'ever_in("vip")'}
dimensions:
  - id: lifecycle
    tiers:
      - {id: lapsed, when: "days_since_last_purchase > 30"}
      - {id: active, when: "orders_total >= 1"}
  - id: place
    tiers:
      - {id: east, when: 'region == "east"'}
      - {id: tagged, when: 'has_tag("east")'}
)";

// The indices a selection holds, segments then dimensions, as "s<i>" and "d<i>".
std::vector<std::string> Selected(const RuleSelection& selection, std::size_t segments = 5,
                                  std::size_t dimensions = 2) {
  std::vector<std::string> selected;
  for (std::size_t i = 0; i < segments; ++i) {
    if (selection.segment(i)) selected.push_back("s" + std::to_string(i));
  }
  for (std::size_t i = 0; i < dimensions; ++i) {
    if (selection.dimension(i)) selected.push_back("d" + std::to_string(i));
  }
  return selected;
}

TEST(RuleInputs, SelectsTheRulesThatReadWhatChangesWholeDimensionsAtATime) {
  const internal::RuleInputs inputs(*testing::ParseCatalogue(kCatalogue));
  EXPECT_THAT(Selected(inputs.after_event(EventKind::kPurchase)), ElementsAre("s0", "d0"));
  EXPECT_THAT(Selected(inputs.after_event(EventKind::kRefund)), IsEmpty());
  EXPECT_THAT(Selected(inputs.after_event(EventKind::kProfileUpdate)),
              ElementsAre("s1", "s3", "d1"));
  EXPECT_THAT(Selected(inputs.after_event(EventKind::kConsent)), ElementsAre("s2"));
  EXPECT_THAT(Selected(inputs.after_event(EventKind::kNone)), IsEmpty());
  EXPECT_THAT(Selected(inputs.after_time()), ElementsAre("s3", "d0"));
  RuleSelection readers;
  inputs.AddHistoryReaders("vip", readers);
  EXPECT_THAT(Selected(readers), ElementsAre("s4"));
  inputs.AddHistoryReaders("buyer", readers);
  EXPECT_THAT(Selected(readers), ElementsAre("s4"));
  EXPECT_TRUE(inputs.all().all());
}

TEST(RuleSelection, NamesCatalogueEntriesByKindAndIdIgnoringUnknownOnes) {
  const auto catalogue = testing::ParseCatalogue(kCatalogue);
  const std::vector<rules::RuleRef> refs = {{rules::RuleKind::kSegment, "sms"},
                                            {rules::RuleKind::kDimension, "place"},
                                            {rules::RuleKind::kSegment, "removed"},
                                            {rules::RuleKind::kDimension, "vip"},
                                            {rules::RuleKind::kSegment, "lifecycle"}};
  const RuleSelection selection(*catalogue, refs);
  EXPECT_THAT(Selected(selection), ElementsAre("s2", "d1"));
  EXPECT_FALSE(selection.all());
  EXPECT_FALSE(selection.segment(1000));

  EXPECT_THAT(Selected(RuleSelection()), IsEmpty());
  const std::vector<rules::RuleRef> unknown = {{rules::RuleKind::kSegment, "removed"}};
  EXPECT_THAT(Selected(RuleSelection(*catalogue, unknown)), IsEmpty());

  const RuleSelection all = RuleSelection::All();
  EXPECT_TRUE(all.all());
  EXPECT_TRUE(all.segment(1000));
  EXPECT_TRUE(all.dimension(7));

  RuleSelection sum;
  sum.AddSegment(4);
  sum.Add(selection);
  EXPECT_THAT(Selected(sum), ElementsAre("s2", "s4", "d1"));
  sum.Add(all);
  EXPECT_TRUE(sum.all());
}

class IncrementalEngineTest : public ::testing::Test {
 protected:
  std::vector<std::string> Apply(const Engine& engine, const v1::CustomerEvent& event) {
    changes_.clear();
    const absl::Time at = absl::FromUnixSeconds(event.occurred_at().seconds());
    EXPECT_FALSE(engine.Validate(event, at));
    EXPECT_FALSE(engine.Apply(event, at, profile_, changes_));
    return Describe(changes_);
  }

  std::vector<std::string> Reevaluate(const Engine& engine, std::string_view now,
                                      const RuleSelection& only) {
    changes_.clear();
    engine.Reevaluate(testing::At(now), v1::SegmentChange::definition_change, only, profile_,
                      changes_);
    return Describe(changes_);
  }

  const Engine engine_{testing::ParseCatalogue(kCatalogue), EngineOptions{}};
  v1::CustomerProfile profile_;
  std::vector<v1::SegmentChange> changes_;
};

TEST_F(IncrementalEngineTest, AnEventLeavesTheRulesItCannotChangeAsStored) {
  Apply(engine_,
        Envelope("e1", "2024-03-01T10:00:00Z", R"("profile_update": {"add_tags": ["vip"]})"));
  EXPECT_THAT(profile_.segments(), ElementsAre("vip", "was_vip"));
  // What the engine stored is what it trusts: a purchase does not evaluate vip again...
  profile_.clear_segments();
  EXPECT_THAT(
      Apply(engine_, Envelope("e2", "2024-03-01T11:00:00Z", R"("purchase": {"total_amount": 1})")),
      ElementsAre("entered buyer cause=event e2", "entered lifecycle/active cause=event e2"));
  EXPECT_THAT(profile_.segments(), ElementsAre("buyer"));
  // ...where evaluating every rule does.
  EngineOptions full;
  full.incremental = false;
  const Engine reference(testing::ParseCatalogue(kCatalogue), full);
  EXPECT_THAT(Apply(reference, Envelope("e3", "2024-03-01T12:00:00Z",
                                        R"("consent": {"channel": "email", "granted": true})")),
              ElementsAre("entered vip cause=event e3", "entered was_vip cause=event e3"));
}

TEST_F(IncrementalEngineTest, AProfileWithoutEventsIsEvaluatedWhole) {
  const Engine engine(testing::ParseCatalogue(R"(
segments:
  - {id: untagged, when: 'not has_tag("x")'}
  - {id: sms, when: 'consent("sms")'}
)"),
                      EngineOptions{});
  // A purchase reads neither, but nothing was stored for the new customer yet.
  EXPECT_THAT(
      Apply(engine, Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1})")),
      ElementsAre("entered untagged cause=event e1"));
}

TEST_F(IncrementalEngineTest, ASelectionReevaluatesOnlyWhatItNamesAndRetiresWhatIsGone) {
  Apply(engine_, Envelope("e0", "2024-03-01T08:00:00Z",
                          R"("consent": {"channel": "sms", "granted": true})"));
  Apply(engine_, Envelope("e1", "2024-03-01T09:00:00Z",
                          R"("profile_update": {"add_tags": ["vip"], "region": "east"})"));
  Apply(engine_, Envelope("e2", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1})"));
  EXPECT_THAT(profile_.segments(), ElementsAre("buyer", "sms", "vip", "was_vip"));
  EXPECT_THAT(testing::Tiers(profile_),
              UnorderedElementsAre(Pair("lifecycle", "active"), Pair("place", "east")));
  const auto reloaded = testing::ParseCatalogue(R"(
timezone: Asia/Shanghai
segments:
  - {id: buyer, when: "orders_total >= 2"}
  - {id: vip, when: 'has_tag("gold")'}
  - {id: was_vip, when: 'ever_in("vip")'}
dimensions:
  - id: lifecycle
    tiers:
      - {id: lapsed, when: "days_since_last_purchase > 30"}
      - {id: active, when: "orders_total >= 1"}
  - id: place
    tiers:
      - {id: west, when: 'region == "west"'}
)");
  const Engine engine(reloaded, EngineOptions{});
  const std::vector<rules::RuleRef> changed = {{rules::RuleKind::kSegment, "buyer"},
                                               {rules::RuleKind::kSegment, "sms"}};
  // vip changed too but is not selected: it keeps what is stored. sms is gone, so it is exited;
  // place holds a tier it no longer defines, so it is evaluated.
  EXPECT_THAT(
      Reevaluate(engine, "2024-03-02T00:00:00Z", RuleSelection(*reloaded, changed)),
      ElementsAre("exited buyer cause=definition_change", "exited sms cause=definition_change",
                  "exited place/east cause=definition_change"));
  EXPECT_THAT(profile_.segments(), ElementsAre("vip", "was_vip"));
  EXPECT_THAT(testing::Tiers(profile_), UnorderedElementsAre(Pair("lifecycle", "active")));
  EXPECT_THAT(Reevaluate(engine, "2024-03-02T00:00:00Z", RuleSelection()), IsEmpty());
  // was_vip, which reads vip's history, is evaluated again with it, and still holds.
  const std::vector<rules::RuleRef> vip = {{rules::RuleKind::kSegment, "vip"}};
  EXPECT_THAT(Reevaluate(engine, "2024-03-02T00:00:00Z", RuleSelection(*reloaded, vip)),
              ElementsAre("exited vip cause=definition_change"));
  EXPECT_THAT(profile_.segments(), ElementsAre("was_vip"));
}

TEST_F(IncrementalEngineTest, ASelectionAlsoCatchesUpOnATimerDueByThen) {
  Apply(engine_, Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 1})"));
  EXPECT_THAT(testing::Tiers(profile_), UnorderedElementsAre(Pair("lifecycle", "active")));
  ASSERT_TRUE(TimerDue(profile_));
  // Past the timer, not fired: lifecycle moves although only buyer is selected, as it would with
  // every rule evaluated; the next timer is set from there.
  const std::vector<rules::RuleRef> buyer = {{rules::RuleKind::kSegment, "buyer"}};
  EXPECT_THAT(
      Reevaluate(engine_, "2024-05-01T00:00:00Z", RuleSelection(engine_.catalogue(), buyer)),
      ElementsAre("exited lifecycle/active to=lapsed cause=definition_change",
                  "entered lifecycle/lapsed from=active cause=definition_change"));
  EXPECT_FALSE(TimerDue(profile_));
}

}  // namespace
}  // namespace cdp::core
