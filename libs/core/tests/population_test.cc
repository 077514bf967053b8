#include "cdp/core/population.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "cdp/core/engine.h"
#include "test_support.h"

namespace cdp::core {
namespace {

using testing::At;
using testing::Envelope;
using testing::ParseCatalogue;
using testing::Ts;

v1::CustomerProfile Buyer(std::int64_t orders, std::int64_t monetary, std::string_view last) {
  v1::CustomerProfile profile;
  profile.set_customer_id("c");
  profile.set_orders_total(orders);
  profile.set_monetary_total(monetary);
  *profile.mutable_last_purchase_at() = Ts(last);
  return profile;
}

TEST(RfmBucket, IsExactBelow128AndWithinOneIn128Above) {
  for (std::int64_t value = 0; value < 128; ++value) {
    EXPECT_EQ(RfmBucket(value), value);
    EXPECT_EQ(RfmBucketUpper(RfmBucket(value)), value);
  }
  EXPECT_EQ(RfmBucket(-5), 0);
  std::mt19937_64 random(7);
  std::int64_t previous_bucket = RfmBucket(127);
  for (std::int64_t value = 128; value < 10'000'000; value += 1 + value / 300) {
    const std::int64_t bucket = RfmBucket(value);
    EXPECT_GE(bucket, previous_bucket) << value;
    previous_bucket = bucket;
    const std::int64_t upper = RfmBucketUpper(bucket);
    EXPECT_GE(upper, value);
    EXPECT_LE(static_cast<double>(upper - value), static_cast<double>(value) / 128) << value;
    EXPECT_EQ(RfmBucket(upper), bucket) << value;
    EXPECT_EQ(RfmBucket(upper + 1), bucket + 1) << value;
  }
  const std::int64_t huge = std::int64_t{1} << 62;
  EXPECT_GE(RfmBucketUpper(RfmBucket(huge)), huge);
}

TEST(RfmSample, CountsOnlyCustomersWithAPurchase) {
  v1::CustomerProfile browser;
  browser.set_interactions_total(3);
  EXPECT_EQ(SampleOf(browser), std::nullopt);
  // The UTC day, whatever the business time zone.
  EXPECT_EQ(
      SampleOf(Buyer(3, 500, "2024-01-02T23:30:00Z")),
      (RfmSample{
          .last_purchase_day = 19724, .orders_bucket = 3, .monetary_bucket = RfmBucket(500)}));
}

TEST(RfmSample, DaysBeforeTheEpochRoundDown) {
  EXPECT_EQ(SampleOf(Buyer(1, 1, "1969-12-31T23:00:00Z"))->last_purchase_day, -1);
  EXPECT_EQ(SampleOf(Buyer(1, 1, "1970-01-01T00:00:00Z"))->last_purchase_day, 0);
  EXPECT_EQ(SampleOf(Buyer(1, 1, "1969-12-31T00:00:00Z"))->last_purchase_day, -1);
}

TEST(RfmPopulation, RemovingWhatWasAddedLeavesNothing) {
  v1::RfmPopulation population;
  const auto a = SampleOf(Buyer(1, 100, "2024-01-01T00:00:00Z"));
  const auto b = SampleOf(Buyer(2, 300, "2024-01-05T00:00:00Z"));
  UpdatePopulation(std::nullopt, a, population);
  UpdatePopulation(std::nullopt, a, population);
  UpdatePopulation(a, b, population);
  EXPECT_EQ(population.customers(), 2);
  EXPECT_EQ(population.orders().at(1), 1);
  EXPECT_EQ(population.orders().at(2), 1);
  UpdatePopulation(b, b, population);
  EXPECT_EQ(population.customers(), 2);
  UpdatePopulation(a, std::nullopt, population);
  UpdatePopulation(b, std::nullopt, population);
  EXPECT_EQ(population.customers(), 0);
  EXPECT_TRUE(population.last_purchase_days().empty());
  EXPECT_TRUE(population.orders().empty());
  EXPECT_TRUE(population.monetary().empty());
}

TEST(RfmQuintiles, NoneForAnEmptyPopulation) {
  EXPECT_EQ(ComputeQuintiles(v1::RfmPopulation(), 19724, At("2024-01-02T00:00:00Z")), std::nullopt);
  EXPECT_FALSE(PopulationOf(v1::PartitionState()).rfm_quintiles.has_value());
}

// Scores from the breakpoints, as the rfm fields compute them.
int Reached(std::int64_t value, const google::protobuf::RepeatedField<double>& breakpoints) {
  return 1 + static_cast<int>(std::count_if(breakpoints.begin(), breakpoints.end(), [&](double b) {
           return static_cast<double>(value) >= b;
         }));
}

// The exact quintile score: 1 + the number of k in 1..4 whose k-th quintile value (the value at
// rank ceil(k * n / 5), ascending) the value exceeds.
int ExactScore(std::int64_t value, std::vector<std::int64_t> all) {
  std::sort(all.begin(), all.end());
  const auto n = static_cast<std::int64_t>(all.size());
  int score = 1;
  for (std::int64_t k = 1; k <= 4; ++k) {
    if (value > all[static_cast<std::size_t>((k * n + 4) / 5 - 1)]) ++score;
  }
  return score;
}

TEST(RfmQuintiles, FiveCustomersTakeOneScoreEach) {
  v1::RfmPopulation population;
  for (int i = 1; i <= 5; ++i) {
    UpdatePopulation(std::nullopt,
                     SampleOf(Buyer(i, 1000 * i, absl::StrCat("2024-01-0", i, "T12:00:00Z"))),
                     population);
  }
  const auto quintiles = ComputeQuintiles(population, 19727, At("2024-01-06T08:00:00Z"));
  ASSERT_TRUE(quintiles.has_value());
  EXPECT_EQ(quintiles->day(), 19727);
  EXPECT_EQ(quintiles->customers(), 5);
  // Days since the last purchase on 2024-01-06: 1 (most recent) to 5.
  EXPECT_THAT(quintiles->recency_days(), ::testing::ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(quintiles->frequency(), ::testing::ElementsAre(2, 3, 4, 5));
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(Reached(i, quintiles->frequency()), i);
    EXPECT_EQ(Reached(1000 * i, quintiles->monetary()), i);
  }
}

TEST(RfmQuintiles, MatchExactRanksForSmallCountsAndStayWithinTheBucketWidthForAmounts) {
  std::mt19937_64 random(42);
  for (int round = 0; round < 50; ++round) {
    const int customers = 1 + static_cast<int>(random() % 400);
    std::vector<std::int64_t> orders;
    std::vector<std::int64_t> amounts;
    v1::RfmPopulation population;
    for (int i = 0; i < customers; ++i) {
      // Skewed, with ties: most customers buy once or twice.
      orders.push_back(1 + static_cast<std::int64_t>(std::pow(random() % 1000 / 1000.0, 4) * 60));
      amounts.push_back(100 + static_cast<std::int64_t>(random() % 5'000'000));
      v1::CustomerProfile profile = Buyer(orders.back(), amounts.back(), "2024-01-01T00:00:00Z");
      UpdatePopulation(std::nullopt, SampleOf(profile), population);
    }
    const auto quintiles = ComputeQuintiles(population, 19724, At("2024-01-02T00:00:00Z"));
    ASSERT_TRUE(quintiles.has_value());
    for (int i = 0; i < customers; ++i) {
      EXPECT_EQ(Reached(orders[i], quintiles->frequency()), ExactScore(orders[i], orders));
    }
    // Each monetary breakpoint is one past the largest value of the exact quintile's bucket.
    std::vector<std::int64_t> sorted = amounts;
    std::sort(sorted.begin(), sorted.end());
    for (int k = 1; k <= 4; ++k) {
      const std::int64_t exact = sorted[static_cast<std::size_t>((k * customers + 4) / 5 - 1)];
      const double breakpoint = quintiles->monetary(k - 1);
      EXPECT_GT(breakpoint, static_cast<double>(exact));
      EXPECT_LE(breakpoint - 1 - static_cast<double>(exact), static_cast<double>(exact) / 128);
    }
  }
}

constexpr std::string_view kQuintileCatalogue = R"(
timezone: Asia/Shanghai
rfm: {scoring: quintiles}
segments:
  - {id: top_recent, when: "rfm_r == 5"}
  - {id: top_frequency, when: "rfm_f == 5"}
  - {id: top_spend, when: "rfm_m == 5"}
)";

Population Quintiles(std::vector<double> recency, std::vector<double> frequency,
                     std::vector<double> monetary) {
  rules::RfmBreakpoints breakpoints;
  std::copy(recency.begin(), recency.end(), breakpoints.recency_days.begin());
  std::copy(frequency.begin(), frequency.end(), breakpoints.frequency_orders_365d.begin());
  std::copy(monetary.begin(), monetary.end(), breakpoints.monetary_365d.begin());
  return Population{breakpoints};
}

double Field(const Evaluation& evaluation, std::string_view name) {
  for (const NamedValue& field : evaluation.fields) {
    if (field.name == name) return field.value.is_null() ? -1 : field.value.number();
  }
  return -2;
}

TEST(RfmQuintiles, ScoreLifetimeTotalsAgainstThePopulationGiven) {
  const Engine engine(ParseCatalogue(kQuintileCatalogue), EngineOptions{});
  v1::CustomerProfile profile;
  std::vector<v1::SegmentChange> changes;
  const Population population = Quintiles({1, 3, 10, 30}, {2, 3, 4, 6}, {1000, 2000, 5000, 9000});
  // Orders a year and more apart: none in the last 365 days but the latest, which the lifetime
  // totals do not care about.
  for (const char* at : {"2021-01-05T10:00:00Z", "2022-03-05T10:00:00Z", "2023-06-05T10:00:00Z",
                         "2024-06-05T10:00:00Z", "2025-06-05T10:00:00Z", "2026-06-05T10:00:00Z"}) {
    ASSERT_FALSE(
        engine.Apply(Envelope(absl::StrCat("e", at), at, R"("purchase": {"total_amount": 2000})"),
                     At(at), profile, changes, population));
  }
  const Evaluation evaluation = engine.Evaluate(profile, At("2026-06-05T12:00:00Z"), population);
  EXPECT_EQ(Field(evaluation, "rfm_r"), 5);
  EXPECT_EQ(Field(evaluation, "rfm_f"), 5) << "6 orders in all reach every breakpoint";
  EXPECT_EQ(Field(evaluation, "rfm_m"), 5) << "12000 in all";
  EXPECT_THAT(profile.segments(),
              ::testing::ElementsAre("top_frequency", "top_recent", "top_spend"));
  // Without quintiles (a partition before its first buyer counted) the scores are null.
  const Evaluation none = engine.Evaluate(profile, At("2026-06-05T12:00:00Z"));
  EXPECT_EQ(Field(none, "rfm_r"), -1);
  EXPECT_EQ(Field(none, "rfm_f"), -1);
  EXPECT_EQ(Field(none, "rfm_m"), -1);
}

TEST(RfmQuintiles, TheRecencyTimerFollowsThePartitionsBreakpoints) {
  const Engine engine(ParseCatalogue(kQuintileCatalogue), EngineOptions{});
  std::vector<v1::SegmentChange> changes;
  for (const auto& [recency, due] : std::vector<std::pair<double, std::string>>{
           {1, "2026-06-07T00:00:00+08:00"}, {4, "2026-06-10T00:00:00+08:00"}}) {
    v1::CustomerProfile profile;
    const Population population = Quintiles({recency, 20, 30, 40}, {2, 3, 4, 6}, {1, 2, 3, 4});
    ASSERT_FALSE(engine.Apply(
        Envelope("e1", "2026-06-05T10:00:00Z", R"("purchase": {"total_amount": 2000})"),
        At("2026-06-05T10:00:00Z"), profile, changes, population));
    ASSERT_TRUE(TimerDue(profile).has_value());
    // The score drops once the days since the purchase exceed the first breakpoint.
    EXPECT_EQ(*TimerDue(profile), At(due)) << recency;
  }
}

}  // namespace
}  // namespace cdp::core
