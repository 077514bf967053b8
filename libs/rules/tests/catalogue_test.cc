#include "cdp/rules/catalogue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "fake_context.h"
#include "parse_catalogue.h"

namespace cdp::rules {
namespace {

using ::cdp::rules::testing::FakeContext;
using ::cdp::rules::testing::Parse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The reported errors, one per element.
std::vector<std::string> Errors(std::string_view yaml) {
  absl::StatusOr<SegmentCatalogue> catalogue = ParseSegmentCatalogue(yaml, "t.yaml");
  if (catalogue.ok()) return {"parsed"};
  EXPECT_EQ(catalogue.status().code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(std::string(catalogue.status().message()), '\n');
}

// The tier a customer holds in a dimension, or "" for none.
std::string TierOf(const Dimension& dimension, const EvalContext& context) {
  for (const Tier& tier : dimension.tiers) {
    if (tier.when.Matches(context)) return tier.id;
  }
  return "";
}

const Dimension& DimensionOf(const SegmentCatalogue& catalogue, std::string_view id) {
  for (const Dimension& dimension : catalogue.dimensions) {
    if (dimension.id == id) return dimension;
  }
  throw std::invalid_argument(std::string(id));
}

TEST(Catalogue, ParsesEveryPart) {
  const SegmentCatalogue catalogue = Parse(R"(
timezone: Asia/Shanghai
rfm:
  recency_days: [10, 20, 30, 40]
  frequency_orders_365d: [1, 2, 3, 4]
  monetary_365d: [100, 200, 300, 400.5]
segments:
  - id: birthday_this_month
    description: Birthday offers
    when: birth_month == current_month
  - id: vip
    when: 'has_tag("vip")'
dimensions:
  - id: lifecycle
    description: Where the customer is
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: active, description: Buys, when: "orders_total >= 1"}
)");
  EXPECT_EQ(catalogue.timezone_name, "Asia/Shanghai");
  EXPECT_EQ(catalogue.timezone.name(), "Asia/Shanghai");
  EXPECT_THAT(catalogue.rfm.recency_days, ElementsAre(10, 20, 30, 40));
  EXPECT_THAT(catalogue.rfm.frequency_orders_365d, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(catalogue.rfm.monetary_365d, ElementsAre(100, 200, 300, 400.5));
  ASSERT_EQ(catalogue.segments.size(), 2u);
  EXPECT_EQ(catalogue.segments[0].id, "birthday_this_month");
  EXPECT_EQ(catalogue.segments[0].description, "Birthday offers");
  EXPECT_EQ(catalogue.segments[0].when.source(), "birth_month == current_month");
  EXPECT_EQ(catalogue.segments[1].id, "vip");
  EXPECT_EQ(catalogue.segments[1].description, "");
  EXPECT_EQ(catalogue.segments[1].when.source(), "has_tag(\"vip\")");
  ASSERT_EQ(catalogue.dimensions.size(), 1u);
  const Dimension& lifecycle = catalogue.dimensions[0];
  EXPECT_EQ(lifecycle.id, "lifecycle");
  EXPECT_EQ(lifecycle.description, "Where the customer is");
  ASSERT_EQ(lifecycle.tiers.size(), 2u);
  EXPECT_EQ(lifecycle.tiers[0].id, "churned");
  EXPECT_EQ(lifecycle.tiers[1].description, "Buys");

  FakeContext c;
  EXPECT_EQ(TierOf(lifecycle, c), "");
  c.Set("orders_total", 2).Set("days_since_last_purchase", 200);
  EXPECT_EQ(TierOf(lifecycle, c), "churned");
  c.Set("days_since_last_purchase", 20);
  EXPECT_EQ(TierOf(lifecycle, c), "active");
  EXPECT_FALSE(catalogue.segments[1].when.Matches(c));
  c.Tag("vip");
  EXPECT_TRUE(catalogue.segments[1].when.Matches(c));
}

TEST(Catalogue, DefaultsWhenOmitted) {
  const SegmentCatalogue catalogue = Parse("segments: []\n");
  EXPECT_EQ(catalogue.timezone_name, "UTC");
  EXPECT_EQ(catalogue.timezone, absl::UTCTimeZone());
  EXPECT_THAT(catalogue.rfm.recency_days, ElementsAre(30, 90, 180, 365));
  EXPECT_THAT(catalogue.rfm.frequency_orders_365d, ElementsAre(2, 3, 5, 8));
  EXPECT_THAT(catalogue.rfm.monetary_365d, ElementsAre(20000, 50000, 100000, 300000));
  EXPECT_TRUE(catalogue.segments.empty());
  EXPECT_TRUE(catalogue.dimensions.empty());
  EXPECT_TRUE(Parse("dimensions:\n").dimensions.empty());
  // Breakpoints not given keep their default.
  const SegmentCatalogue partial = Parse("rfm:\n  recency_days: [1, 2, 3, 4]\nsegments: []\n");
  EXPECT_THAT(partial.rfm.recency_days, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(partial.rfm.monetary_365d, ElementsAre(20000, 50000, 100000, 300000));
}

TEST(Catalogue, RuleErrorsPointIntoEveryScalarStyle) {
  EXPECT_THAT(
      Errors(R"(segments:
  - id: plain
    when: orders_total > 1 and bogus_a > 1
  - id: single
    when: 'has_tag("x") and bogus_b'
  - id: double
    when: "has_tag(\"x\") and bogus_c"
  - id: folded
    when: orders_total > 1 and
      bogus_d > 1
  - id: block
    when: |
      orders_total > 1 and
      bogus_e > 1
  - id: folded_block
    when: >-
      orders_total > 1
      and bogus_f > 1
  - id: single_folded
    when: 'has_tag(''x'') and
      bogus_g'
)"),
      ElementsAre("t.yaml:3:32: unknown field 'bogus_a'", "t.yaml:5:29: unknown field 'bogus_b'",
                  "t.yaml:7:31: unknown field 'bogus_c'", "t.yaml:10:7: unknown field 'bogus_d'",
                  "t.yaml:14:7: unknown field 'bogus_e'", "t.yaml:18:11: unknown field 'bogus_f'",
                  "t.yaml:21:7: unknown field 'bogus_g'"));
}

TEST(Catalogue, RuleErrorsInFlowMappings) {
  EXPECT_THAT(Errors(R"(dimensions:
  - id: d
    tiers:
      - {id: a, when: "monetry_90d > 5"}
      - {id: b, when: orders_total = 1}
)"),
              ElementsAre("t.yaml:4:24: unknown field 'monetry_90d'; did you mean 'monetary_90d'?",
                          "t.yaml:5:36: '=' is not a comparison; did you mean '=='?"));
}

TEST(Catalogue, HistoryFunctionsNameOneSegmentOrTierOfTheFile) {
  EXPECT_THAT(
      Errors(R"yaml(segments:
  - {id: vip, when: "ever_in('chruned')"}
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "days_in('vip') > 3"}
      - {id: high, when: "ever_in('high')"}
  - id: value
    tiers:
      - {id: high, when: "orders_total > 1"}
)yaml"),
      ElementsAre("t.yaml:2:30: 'chruned' is no segment or tier of this file; did you "
                  "mean 'churned'?",
                  "t.yaml:7:35: 'high' is a tier of 'lifecycle' and a tier of 'value'; give "
                  "the tiers ids unique in the file to read their history"));
}

TEST(Catalogue, ReportsEveryErrorInFileOrder) {
  EXPECT_THAT(
      Errors(R"(timezone: Asia/Shangai
rfm:
  recency_days: [30, 90, 80, 365]
  frequency_orders_365d: [1, 2]
  monetary: [1, 2, 3, 4]
segments:
  - id: ok
    whn: orders_total > 1
  - id: Bad-Id
    when: orders_total > 1
  - id: ok
    when: true
  - just text
  - when: true
dimensions:
  - id: lifecycle
    tiers: []
  - id: lifecycle
    tiers:
      - {id: ok, when: "true"}
      - {id: a, when: "true"}
      - {id: a, when: "true"}
  - id: value
    tier: []
)"),
      ElementsAre(
          "t.yaml:1:11: unknown time zone 'Asia/Shangai'; use an IANA name such as "
          "'Asia/Shanghai' or 'UTC'",
          "t.yaml:3:26: 'recency_days' must be ascending: 80 is not above the number before it",
          "t.yaml:4:26: 'frequency_orders_365d' needs 4 ascending numbers, e.g. [2, 3, 5, 8], "
          "found 2 numbers",
          "t.yaml:5:3: unknown key 'monetary'; did you mean 'monetary_365d'?",
          "t.yaml:7:5: segment 'ok' is missing 'when', its condition",
          "t.yaml:8:5: unknown key 'whn'; did you mean 'when'?",
          "t.yaml:9:9: invalid id 'Bad-Id': use lowercase letters, digits and '_', starting with "
          "a letter, at most 64 characters",
          "t.yaml:11:9: duplicate segment id 'ok'; the first is on line 7",
          "t.yaml:13:5: expected a segment (a mapping with id, description, when, min_dwell), "
          "found "
          "text",
          "t.yaml:14:5: a segment is missing 'id'",
          "t.yaml:17:12: dimension 'lifecycle' has no tiers; add at least one",
          "t.yaml:18:9: duplicate dimension id 'lifecycle'; the first is on line 16",
          "t.yaml:20:14: tier id 'ok' is also the id of the segment on line 7; rename one so that "
          "changes tell them apart",
          "t.yaml:22:14: duplicate tier id 'a' in dimension 'lifecycle'; the first is on line 21",
          "t.yaml:23:5: dimension 'value' is missing 'tiers'",
          "t.yaml:24:5: unknown key 'tier'; did you mean 'tiers'?"));
}

TEST(Catalogue, Ids) {
  const std::string longest(64, 'a');
  EXPECT_EQ(Parse("segments:\n  - {id: " + longest + ", when: 'true'}\n").segments[0].id, longest);
  EXPECT_EQ(Parse("segments:\n  - {id: a1_b, when: 'true'}\n").segments[0].id, "a1_b");
  for (const std::string& id : {std::string(65, 'a'), std::string("1a"), std::string("_a"),
                                std::string("aB"), std::string("a-b"), std::string("a b")}) {
    EXPECT_THAT(Errors("segments:\n  - {id: '" + id + "', when: 'true'}\n"),
                ElementsAre(HasSubstr("invalid id '" + id + "'")));
  }
  // Control characters the file holds are spelled out: each error stays on its line.
  EXPECT_THAT(Errors("segments:\n  - {id: \"a\\nb\\x01\", when: 'true'}\n"),
              ElementsAre(HasSubstr("invalid id 'a\\nb\\x01'")));
  EXPECT_THAT(Errors("segments:\n  - {id: [a], when: 'true'}\n"),
              ElementsAre("t.yaml:2:10: expected text for 'id', found a list"));
  EXPECT_THAT(Errors("segments:\n  - {id: , when: 'true'}\n"),
              ElementsAre("t.yaml:2:6: expected text for 'id', found nothing"));
}

TEST(Catalogue, TierIdsMayRepeatAcrossDimensions) {
  const SegmentCatalogue catalogue = Parse(R"(dimensions:
  - {id: spend, tiers: [{id: high, when: "monetary_365d > 1"}]}
  - {id: visits, tiers: [{id: high, when: "interactions_30d > 1"}]}
)");
  ASSERT_EQ(catalogue.dimensions.size(), 2u);
  EXPECT_EQ(catalogue.dimensions[1].tiers[0].id, "high");
}

TEST(Catalogue, UnknownKeysEverywhere) {
  EXPECT_THAT(Errors("segment: []\n"),
              ElementsAre("t.yaml:1:1: unknown key 'segment'; did you mean 'segments'?"));
  EXPECT_THAT(Errors("timezon: UTC\ncolour: red\n"),
              ElementsAre("t.yaml:1:1: unknown key 'timezon'; did you mean 'timezone'?",
                          "t.yaml:2:1: unknown key 'colour'; expected one of timezone, rfm, "
                          "segments, dimensions"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', descripton: x}\n"),
              ElementsAre("t.yaml:2:27: unknown key 'descripton'; did you mean 'description'?"));
  EXPECT_THAT(Errors("dimensions:\n  - {id: a, tiers: [{id: b, wen: 'true'}]}\n"),
              ElementsAre("t.yaml:2:21: tier 'b' is missing 'when', its condition",
                          "t.yaml:2:29: unknown key 'wen'; did you mean 'when'?"));
  EXPECT_THAT(Errors("rfm:\n  recency: [1, 2, 3, 4]\n"),
              ElementsAre("t.yaml:2:3: unknown key 'recency'; did you mean 'recency_days'?"));
}

TEST(Catalogue, WrongKinds) {
  EXPECT_THAT(Errors("- a\n"),
              ElementsAre("t.yaml:1:1: expected a mapping with keys timezone, rfm, segments and "
                          "dimensions, found a list"));
  EXPECT_THAT(Errors("segments: {a: 1}\n"),
              ElementsAre("t.yaml:1:11: expected a list for 'segments', found a mapping"));
  EXPECT_THAT(Errors("dimensions: x\n"),
              ElementsAre("t.yaml:1:13: expected a list for 'dimensions', found text"));
  EXPECT_THAT(Errors("dimensions:\n  - {id: d, tiers: x}\n"),
              ElementsAre("t.yaml:2:20: expected a list for 'tiers', found text"));
  EXPECT_THAT(Errors("dimensions:\n  - {id: d, tiers: [x]}\n"),
              ElementsAre("t.yaml:2:21: expected a tier (a mapping with id, description, when, "
                          "min_dwell), found text"));
  EXPECT_THAT(Errors("dimensions:\n  - [x]\n"),
              ElementsAre("t.yaml:2:5: expected a dimension (a mapping with id, description, "
                          "tiers), found a list"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: [x]}\n"),
              ElementsAre("t.yaml:2:19: expected text for 'when', found a list"));
  EXPECT_THAT(Errors("segments:\n  - id: a\n    when:\n"),
              ElementsAre("t.yaml:3:5: 'when' of segment 'a' is empty; write a condition"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', description: {x: 1}}\n"),
              ElementsAre("t.yaml:2:40: expected text for 'description', found a mapping"));
  EXPECT_THAT(Errors("timezone: [UTC]\n"),
              ElementsAre("t.yaml:1:11: expected text for 'timezone', found a list"));
  EXPECT_THAT(Errors("timezone: ''\n"),
              ElementsAre("t.yaml:1:11: unknown time zone ''; use an IANA name such as "
                          "'Asia/Shanghai' or 'UTC'"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 5}\n"),
              ElementsAre("t.yaml:2:19: expected a condition, found number 5; compare it, e.g. "
                          "'5 > 0'"));
}

TEST(Catalogue, RfmBreakpoints) {
  EXPECT_THAT(Errors("rfm: 5\n"),
              ElementsAre("t.yaml:1:6: expected a mapping for 'rfm' with keys scoring, "
                          "recency_days, frequency_orders_365d, monetary_365d, found text"));
  EXPECT_THAT(Errors("rfm:\n  recency_days: [1, a, 3, 4]\n"),
              ElementsAre("t.yaml:2:21: 'recency_days' needs numbers of at least 0, found 'a'"));
  EXPECT_THAT(Errors("rfm:\n  recency_days: [-1, 2, 3, 4]\n"),
              ElementsAre("t.yaml:2:18: 'recency_days' needs numbers of at least 0, found '-1'"));
  EXPECT_THAT(Errors("rfm:\n  recency_days: [1, [2], 3, 4]\n"),
              ElementsAre("t.yaml:2:21: 'recency_days' needs numbers of at least 0, found a list"));
  EXPECT_THAT(Errors("rfm:\n  monetary_365d: [1, 2, 2, 4]\n"),
              ElementsAre("t.yaml:2:25: 'monetary_365d' must be ascending: 2 is not above the "
                          "number before it"));
  EXPECT_THAT(Errors("rfm:\n  monetary_365d: [1, 2, 3, 4, 5]\n"),
              ElementsAre("t.yaml:2:18: 'monetary_365d' needs 4 ascending numbers, e.g. [20000, "
                          "50000, 100000, 300000], found 5 numbers"));
  EXPECT_THAT(Errors("rfm:\n  monetary_365d: 5\n"),
              ElementsAre("t.yaml:2:18: 'monetary_365d' needs 4 ascending numbers, e.g. [20000, "
                          "50000, 100000, 300000], found text"));
  EXPECT_THAT(
      Errors("rfm:\n  monetary_365d: [1, 2, .inf, 4]\n"),
      ElementsAre("t.yaml:2:25: 'monetary_365d' needs numbers of at least 0, found '.inf'"));
}

TEST(Catalogue, RfmScoring) {
  EXPECT_EQ(Parse("segments: []\n").rfm_scoring, RfmScoring::kBreakpoints);
  EXPECT_EQ(Parse("rfm: {scoring: breakpoints}\n").rfm_scoring, RfmScoring::kBreakpoints);
  EXPECT_EQ(Parse("rfm: {scoring: quintiles}\n").rfm_scoring, RfmScoring::kQuintiles);
  EXPECT_THAT(Errors("rfm: {scoring: deciles}\n"),
              ElementsAre("t.yaml:1:16: 'scoring' is 'breakpoints' (the default: the numbers "
                          "below) or 'quintiles' (computed from the customers), found 'deciles'"));
  EXPECT_THAT(Errors("rfm:\n  scoring: quintiles\n  recency_days: [1, 2, 3, 4]\n"),
              ElementsAre("t.yaml:3:3: 'recency_days' cannot be set with 'scoring: quintiles', "
                          "which computes the breakpoints; remove it"));
}

TEST(Catalogue, MinDwellOnSegmentsAndTiers) {
  const SegmentCatalogue catalogue = Parse(R"(segments:
  - {id: hot, when: 'has_tag("hot")', min_dwell: 7}
  - {id: cold, when: 'has_tag("cold")'}
dimensions:
  - id: value
    tiers:
      - {id: high, when: "monetary_total >= 1000", min_dwell: 30}
      - {id: low, when: "orders_total >= 1"}
)");
  ASSERT_EQ(catalogue.segments.size(), 2u);
  EXPECT_EQ(catalogue.segments[0].min_dwell_days, 7);
  EXPECT_EQ(catalogue.segments[1].min_dwell_days, 0);
  ASSERT_EQ(catalogue.dimensions.size(), 1u);
  EXPECT_EQ(catalogue.dimensions[0].tiers[0].min_dwell_days, 30);
  EXPECT_EQ(catalogue.dimensions[0].tiers[1].min_dwell_days, 0);
}

TEST(Catalogue, MinDwellIsAWholePositiveNumberOfDays) {
  const std::string expected =
      "needs a whole number of days from 1 to 36500, e.g. 'min_dwell: 7', found ";
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', min_dwell: 0}\n"),
              ElementsAre("t.yaml:2:38: 'min_dwell' of segment 'a' " + expected + "'0'"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', min_dwell: -3}\n"),
              ElementsAre("t.yaml:2:38: 'min_dwell' of segment 'a' " + expected + "'-3'"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', min_dwell: 1.5}\n"),
              ElementsAre("t.yaml:2:38: 'min_dwell' of segment 'a' " + expected + "'1.5'"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', min_dwell: 7d}\n"),
              ElementsAre("t.yaml:2:38: 'min_dwell' of segment 'a' " + expected + "'7d'"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', min_dwell: 36501}\n"),
              ElementsAre("t.yaml:2:38: 'min_dwell' of segment 'a' " + expected + "'36501'"));
  EXPECT_THAT(Errors("segments:\n  - {id: a, when: 'true', min_dwell: [7]}\n"),
              ElementsAre("t.yaml:2:38: 'min_dwell' of segment 'a' " + expected + "a list"));
  EXPECT_THAT(Errors("segments:\n  - id: a\n    when: 'true'\n    min_dwell:\n"),
              ElementsAre("t.yaml:4:5: 'min_dwell' of segment 'a' " + expected + "nothing"));
  EXPECT_THAT(Errors("dimensions:\n  - id: d\n    tiers:\n"
                     "      - {id: t, when: 'true', min_dwell: 0}\n"),
              ElementsAre("t.yaml:4:42: 'min_dwell' of tier 't' " + expected + "'0'"));
}

TEST(Catalogue, MinDwellGoesOnTiersNotOnTheirDimension) {
  EXPECT_THAT(Errors("dimensions:\n  - id: d\n    min_dwell: 7\n"
                     "    tiers: [{id: t, when: 'true'}]\n"),
              ElementsAre("t.yaml:3:5: 'min_dwell' goes on a tier, not on a dimension; write it "
                          "in each tier to be held that long"));
}

TEST(Catalogue, ATierWithMinDwellHasAnIdUniqueInTheFile) {
  EXPECT_THAT(Errors(R"(dimensions:
  - {id: spend, tiers: [{id: high, when: "monetary_365d > 1", min_dwell: 7}]}
  - {id: visits, tiers: [{id: high, when: "interactions_30d > 1"}]}
)"),
              ElementsAre("t.yaml:2:74: tier 'high' has a min_dwell but is a tier of spend and "
                          "visits; give it an id unique in the file"));
}

TEST(Catalogue, DuplicateKeys) {
  EXPECT_THAT(Errors("segments:\n  - id: a\n    when: 'true'\n    when: 'false'\n"),
              ElementsAre("t.yaml:4:5: duplicate key 'when'; it is already on line 3"));
}

TEST(Catalogue, YamlSyntaxErrors) {
  EXPECT_THAT(Errors("segments:\n  - id: a\n    when: 'true'\n   - id: b\n"),
              ElementsAre(HasSubstr("t.yaml:4:")));
  EXPECT_THAT(Errors("segments: [\n"), ElementsAre(HasSubstr("t.yaml:")));
}

TEST(Catalogue, EmptyFile) {
  EXPECT_THAT(Errors(""),
              ElementsAre("t.yaml:1:1: the segment file is empty; it needs 'segments' or "
                          "'dimensions'"));
  EXPECT_THAT(Errors("# only a comment\n"),
              ElementsAre("t.yaml:1:1: the segment file is empty; it needs 'segments' or "
                          "'dimensions'"));
}

TEST(Catalogue, ColumnsCountCharacters) {
  EXPECT_THAT(Errors("segments:\n  - {id: a, description: 生日, when: bogus}\n"),
              ElementsAre("t.yaml:2:36: unknown field 'bogus'"));
}

TEST(LoadSegmentCatalogue, ReadsAFile) {
  const std::string path = ::testing::TempDir() + "/rules_test_segments.yaml";
  {
    std::ofstream out(path);
    out << "segments:\n  - {id: a, when: 'bogus'}\n";
  }
  absl::StatusOr<SegmentCatalogue> catalogue = LoadSegmentCatalogue(path);
  EXPECT_EQ(std::string(catalogue.status().message()), path + ":2:20: unknown field 'bogus'");
  {
    std::ofstream out(path);
    out << "segments:\n  - {id: a, when: 'true'}\n";
  }
  catalogue = LoadSegmentCatalogue(path);
  ASSERT_TRUE(catalogue.ok()) << catalogue.status();
  EXPECT_EQ(catalogue->segments.size(), 1u);
  std::remove(path.c_str());
}

TEST(LoadSegmentCatalogue, MissingOrUnreadableFile) {
  absl::StatusOr<SegmentCatalogue> catalogue = LoadSegmentCatalogue("/nonexistent/segments.yaml");
  EXPECT_EQ(catalogue.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(catalogue.status().message()),
            "cannot read segment file '/nonexistent/segments.yaml': No such file or directory");
  catalogue = LoadSegmentCatalogue(::testing::TempDir());
  EXPECT_FALSE(catalogue.ok());
  EXPECT_THAT(std::string(catalogue.status().message()), HasSubstr("Is a directory"));
}

class ShippedCatalogue : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<SegmentCatalogue> loaded =
        LoadSegmentCatalogue(std::string(CDP_SOURCE_DIR) + "/deploy/config/segments.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    catalogue_ = new SegmentCatalogue(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete catalogue_;
    catalogue_ = nullptr;
  }
  static const SegmentCatalogue& catalogue() { return *catalogue_; }

 private:
  static SegmentCatalogue* catalogue_;
};

SegmentCatalogue* ShippedCatalogue::catalogue_ = nullptr;

TEST_F(ShippedCatalogue, LoadsWithUniqueIds) {
  EXPECT_EQ(catalogue().timezone_name, "Asia/Shanghai");
  std::set<std::string> ids;
  for (const Segment& segment : catalogue().segments) {
    EXPECT_TRUE(ids.insert(segment.id).second) << segment.id;
  }
  for (const Dimension& dimension : catalogue().dimensions) {
    for (const Tier& tier : dimension.tiers) {
      EXPECT_TRUE(ids.insert(tier.id).second) << tier.id << " is not unique across the file";
    }
  }
}

TEST_F(ShippedCatalogue, CoversTheDomainTable) {
  std::set<std::string> ids;
  std::set<std::string> dimensions;
  for (const Segment& segment : catalogue().segments) ids.insert(segment.id);
  for (const Dimension& dimension : catalogue().dimensions) {
    dimensions.insert(dimension.id);
    for (const Tier& tier : dimension.tiers) ids.insert(tier.id);
  }
  for (const char* id : {"high_value",
                         "mid_value",
                         "low_value",
                         "high_frequency",
                         "mid_frequency",
                         "low_frequency",
                         "high_engagement",
                         "mid_engagement",
                         "low_engagement",
                         "potential",
                         "new",
                         "active",
                         "loyal",
                         "at_risk",
                         "churned",
                         "price_sensitive",
                         "high_end",
                         "personalised",
                         "east_china",
                         "tier1_city",
                         "female",
                         "male",
                         "age_18_24",
                         "high_income",
                         "birthday_this_month",
                         "baby_0_6_months",
                         "baby_6_12_months",
                         "gold_member",
                         "referrer",
                         "community_contributor",
                         "promoter",
                         "detractor"}) {
    EXPECT_TRUE(ids.contains(id)) << id;
  }
  for (const char* id : {"value", "purchase_frequency", "engagement", "lifecycle", "age_band",
                         "baby_stage", "membership", "satisfaction"}) {
    EXPECT_TRUE(dimensions.contains(id)) << id;
  }
}

TEST_F(ShippedCatalogue, LifecycleFollowsTheDomain) {
  const Dimension& lifecycle = DimensionOf(catalogue(), "lifecycle");
  FakeContext c;
  EXPECT_EQ(TierOf(lifecycle, c), "");
  c.Set("interactions_total", 3);
  EXPECT_EQ(TierOf(lifecycle, c), "potential");
  c.Set("orders_total", 1).Set("orders_365d", 1);
  c.Set("days_since_first_purchase", 5).Set("days_since_last_purchase", 5);
  EXPECT_EQ(TierOf(lifecycle, c), "new");
  c.Set("days_since_first_purchase", 40).Set("days_since_last_purchase", 40);
  EXPECT_EQ(TierOf(lifecycle, c), "active");
  c.Set("orders_total", 4).Set("orders_365d", 4).Set("days_since_last_purchase", 10);
  EXPECT_EQ(TierOf(lifecycle, c), "loyal");
  c.Set("days_since_last_purchase", 91);
  EXPECT_EQ(TierOf(lifecycle, c), "at_risk");
  c.Set("days_since_last_purchase", 181);
  EXPECT_EQ(TierOf(lifecycle, c), "churned");
}

TEST_F(ShippedCatalogue, BabyStages) {
  const Dimension& stage = DimensionOf(catalogue(), "baby_stage");
  FakeContext c;
  c.SetToday(2024, 7, 1);
  EXPECT_EQ(TierOf(stage, c), "");
  c.Attr("baby_birth_date", "2024-08-01");  // expected
  EXPECT_EQ(TierOf(stage, c), "");
  c.Attr("baby_birth_date", "2024-07-01");
  EXPECT_EQ(TierOf(stage, c), "baby_0_6_months");
  c.Attr("baby_birth_date", "2024-01-02");
  EXPECT_EQ(TierOf(stage, c), "baby_0_6_months");
  c.Attr("baby_birth_date", "2024-01-01");
  EXPECT_EQ(TierOf(stage, c), "baby_6_12_months");
  c.Attr("baby_birth_date", "2023-07-01");
  EXPECT_EQ(TierOf(stage, c), "");
}

TEST_F(ShippedCatalogue, MembershipAndSatisfaction) {
  const Dimension& membership = DimensionOf(catalogue(), "membership");
  const Dimension& satisfaction = DimensionOf(catalogue(), "satisfaction");
  FakeContext c;
  EXPECT_EQ(TierOf(membership, c), "");
  EXPECT_EQ(TierOf(satisfaction, c), "");
  c.Set("membership_level", "gold").Set("avg_survey_score", 9.5);
  EXPECT_EQ(TierOf(membership, c), "gold_member");
  EXPECT_EQ(TierOf(satisfaction, c), "promoter");
  c.Set("membership_level", "diamond").Set("avg_survey_score", 6.9);
  EXPECT_EQ(TierOf(membership, c), "member");
  EXPECT_EQ(TierOf(satisfaction, c), "detractor");
}

}  // namespace
}  // namespace cdp::rules
