#include "cdp/rules/digest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "cdp/common/stable_hash.h"
#include "parse_catalogue.h"

namespace cdp::rules {
namespace {

using ::cdp::rules::testing::Parse;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<DefinitionDigest> Digests(std::string_view yaml) {
  return DefinitionDigests(Parse(yaml));
}

std::vector<RuleRef> Changed(std::string_view before, std::string_view after) {
  return ChangedDefinitions(Digests(before), Digests(after));
}

RuleRef SegmentRef(std::string id) { return RuleRef{RuleKind::kSegment, std::move(id)}; }
RuleRef DimensionRef(std::string id) { return RuleRef{RuleKind::kDimension, std::move(id)}; }

constexpr std::string_view kBase = R"(
timezone: Asia/Shanghai
segments:
  - {id: vip, when: 'has_tag("vip")'}
  - {id: buyer, description: Buys, when: "orders_total >= 1"}
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: active, when: "orders_total >= 1"}
  - id: value
    tiers:
      - {id: high, when: "monetary_365d >= 10000"}
)";

TEST(DefinitionDigests, OnePerSegmentAndDimensionSortedByKindThenId) {
  const std::vector<DefinitionDigest> digests = Digests(kBase);
  std::vector<RuleRef> refs;
  for (const DefinitionDigest& d : digests) refs.push_back(RuleRef{d.kind, d.id});
  EXPECT_THAT(refs, ElementsAre(SegmentRef("buyer"), SegmentRef("vip"), DimensionRef("lifecycle"),
                                DimensionRef("value")));
  EXPECT_THAT(digests[0].defines, ElementsAre("buyer"));
  EXPECT_THAT(digests[2].defines, ElementsAre("churned", "active"));
  EXPECT_THAT(digests[2].references, IsEmpty());
}

TEST(DefinitionDigests, AreTheSameForTheSameDefinitionsAndStableAcrossBuilds) {
  const std::vector<DefinitionDigest> first = Digests(kBase);
  const std::vector<DefinitionDigest> again = Digests(kBase);
  ASSERT_EQ(first.size(), again.size());
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].digest, again[i].digest);
  // Stored digests are compared with those of a later build: the encoding must not drift. Each
  // part is length-prefixed: version, time zone, the 12 RFM breakpoints (shortest round-trip
  // text), kind, rule.
  EXPECT_EQ(first[0].digest,
            StableHash64("17:cdp-definition-v113:Asia/Shanghai2:302:903:1803:3651:21:31:51:8"
                         "5:200005:500005:1e+055:3e+057:segment17:orders_total >= 1"));
  // Descriptions and the order of entries in the file do not change any result.
  EXPECT_THAT(Changed(kBase, R"(
timezone: Asia/Shanghai
segments:
  - {id: buyer, description: Buys things, when: "orders_total >= 1"}
  - {id: vip, when: 'has_tag("vip")'}
dimensions:
  - id: value
    description: Worth
    tiers:
      - {id: high, description: Big, when: "monetary_365d >= 10000"}
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: active, when: "orders_total >= 1"}
)"),
              IsEmpty());
}

TEST(ChangedDefinitions, AChangedRuleMarksItsSegmentOrDimensionOnly) {
  EXPECT_THAT(Changed(kBase, R"(
timezone: Asia/Shanghai
segments:
  - {id: vip, when: 'has_tag("vip")'}
  - {id: buyer, when: "orders_total >= 2"}
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: active, when: "orders_total >= 1"}
  - id: value
    tiers:
      - {id: high, when: "monetary_365d >= 20000"}
)"),
              ElementsAre(SegmentRef("buyer"), DimensionRef("value")));
}

TEST(ChangedDefinitions, AMinDwellIsPartOfTheDefinition) {
  std::string segment_dwell(kBase);
  segment_dwell.replace(segment_dwell.find("'has_tag(\"vip\")'}"), 17,
                        "'has_tag(\"vip\")', min_dwell: 3}");
  EXPECT_THAT(Changed(kBase, segment_dwell), ElementsAre(SegmentRef("vip")));
  std::string tier_dwell(kBase);
  tier_dwell.replace(tier_dwell.find("\"orders_total >= 1\"}\n  - id: value"), 20,
                     "\"orders_total >= 1\", min_dwell: 3}");
  EXPECT_THAT(Changed(kBase, tier_dwell), ElementsAre(DimensionRef("lifecycle")));
  std::string longer(tier_dwell);
  longer.replace(longer.find("min_dwell: 3"), 12, "min_dwell: 4");
  EXPECT_THAT(Changed(tier_dwell, longer), ElementsAre(DimensionRef("lifecycle")));
}

TEST(ChangedDefinitions, TierOrderAndTierIdsAreTheDimensionsDefinition) {
  EXPECT_THAT(Changed(kBase, R"(
timezone: Asia/Shanghai
segments:
  - {id: vip, when: 'has_tag("vip")'}
  - {id: buyer, when: "orders_total >= 1"}
dimensions:
  - id: lifecycle
    tiers:
      - {id: active, when: "orders_total >= 1"}
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
  - id: value
    tiers:
      - {id: top, when: "monetary_365d >= 10000"}
)"),
              ElementsAre(DimensionRef("lifecycle"), DimensionRef("value")));
}

TEST(ChangedDefinitions, TheTimeZoneOrRfmBreakpointsMarkEverything) {
  const std::vector<RuleRef> all = {SegmentRef("buyer"), SegmentRef("vip"),
                                    DimensionRef("lifecycle"), DimensionRef("value")};
  std::string zone(kBase);
  zone.replace(zone.find("Asia/Shanghai"), 13, "UTC");
  EXPECT_EQ(Changed(kBase, zone), all);
  std::string rfm(kBase);
  rfm.insert(rfm.find("segments:"), "rfm:\n  recency_days: [30, 90, 180, 366]\n");
  EXPECT_EQ(Changed(kBase, rfm), all);
  // The defaults written out are the same breakpoints.
  std::string defaults(kBase);
  defaults.insert(defaults.find("segments:"), "rfm:\n  recency_days: [30, 90, 180, 365]\n");
  EXPECT_THAT(Changed(kBase, defaults), IsEmpty());
  std::string quintiles(kBase);
  quintiles.insert(quintiles.find("segments:"), "rfm: {scoring: quintiles}\n");
  EXPECT_EQ(Changed(kBase, quintiles), all);
}

TEST(DefinitionsReading, TheRulesReadingTheFieldsAndTheirHistoryReaders) {
  const SegmentCatalogue catalogue = Parse(R"(
rfm: {scoring: quintiles}
segments:
  - {id: best, when: "rfm_m == 5"}
  - {id: was_best, when: 'ever_in("best")'}
  - {id: was_top, when: 'ever_in("top")'}
  - {id: buyer, when: "orders_total >= 1"}
dimensions:
  - id: value
    tiers:
      - {id: low, when: "orders_total >= 1"}
      - {id: top, when: "rfm_r >= 4"}
  - id: lifecycle
    tiers:
      - {id: active, when: "orders_total >= 1"}
)");
  constexpr FieldId kRfm[] = {FieldId::kRfmR, FieldId::kRfmF, FieldId::kRfmM};
  EXPECT_THAT(DefinitionsReading(catalogue, kRfm),
              ElementsAre(SegmentRef("best"), SegmentRef("was_best"), SegmentRef("was_top"),
                          DimensionRef("value")));
  constexpr FieldId kNothingRead[] = {FieldId::kAge};
  EXPECT_THAT(DefinitionsReading(catalogue, kNothingRead), IsEmpty());
}

TEST(ChangedDefinitions, AddedAndRemovedIdsAreChangesAndKindsAreApart) {
  EXPECT_THAT(Changed(kBase, R"(
timezone: Asia/Shanghai
segments:
  - {id: buyer, when: "orders_total >= 1"}
  - {id: value, when: "monetary_total >= 1"}
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: active, when: "orders_total >= 1"}
  - id: region
    tiers:
      - {id: east, when: 'region == "east"'}
)"),
              ElementsAre(SegmentRef("value"), SegmentRef("vip"), DimensionRef("region"),
                          DimensionRef("value")));
  EXPECT_THAT(ChangedDefinitions({}, Digests(kBase)).size(), 4u);
  EXPECT_THAT(ChangedDefinitions(Digests(kBase), {}).size(), 4u);
}

TEST(ChangedDefinitions, RulesReadingTheHistoryOfAChangedIdFollowTransitively) {
  constexpr std::string_view kChained = R"(
segments:
  - {id: buyer, when: "orders_total >= 1"}
  - {id: was_buyer, when: 'ever_in("buyer")'}
  - {id: settled, when: 'days_in("won_back") > 30'}
  - {id: unrelated, when: 'ever_in("vip")'}
  - {id: vip, when: 'has_tag("vip")'}
dimensions:
  - id: lifecycle
    tiers:
      - {id: won_back, when: 'ever_in("was_buyer") and orders_total >= 2'}
      - {id: active, when: "orders_total >= 1"}
)";
  std::string changed(kChained);
  changed.replace(changed.find("orders_total >= 1\"}"), 17, "orders_total >= 3");
  // buyer -> was_buyer (reads buyer) -> lifecycle (a tier reads was_buyer) -> settled (reads the
  // tier won_back).
  EXPECT_THAT(Changed(kChained, changed),
              ElementsAre(SegmentRef("buyer"), SegmentRef("settled"), SegmentRef("was_buyer"),
                          DimensionRef("lifecycle")));
  // Only `after` needs what rules define and read: a stored `before` carries digests alone.
  std::vector<DefinitionDigest> stored = Digests(kChained);
  for (DefinitionDigest& d : stored) {
    d.defines.clear();
    d.references.clear();
  }
  EXPECT_EQ(ChangedDefinitions(stored, Digests(changed)), Changed(kChained, changed));
}

}  // namespace
}  // namespace cdp::rules
