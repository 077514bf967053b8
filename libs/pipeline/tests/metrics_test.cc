#include "cdp/pipeline/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "test_support.h"

namespace cdp::pipeline {
namespace {

class MetricsTest : public ::testing::Test {
 protected:
  std::optional<prometheus::ClientMetric> Series(
      std::string_view name, const std::map<std::string, std::string>& labels) const {
    for (const auto& family : registry_.Collect()) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> have;
        for (const auto& label : metric.label) have[label.name] = label.value;
        if (have == labels) return metric;
      }
    }
    return std::nullopt;
  }

  std::optional<prometheus::ClientMetric> Latency(const std::string& from) const {
    return Series("cdp_event_to_change_latency_seconds", {{"from", from}});
  }

  std::optional<double> Changes(const std::string& dimension, const std::string& segment,
                                const std::string& direction) const {
    const auto series =
        Series("cdp_segment_changes_total",
               {{"dimension", dimension}, {"segment", segment}, {"direction", direction}});
    if (!series.has_value()) return std::nullopt;
    return series->counter.value;
  }

  prometheus::Registry registry_;
  PipelineMetrics metrics_{registry_, test_support::TestEngine()->catalogue(), "customer-events"};
};

v1::SegmentChange Change(const std::string& dimension, const std::string& segment,
                         v1::SegmentChange::Direction direction) {
  v1::SegmentChange change;
  change.set_dimension(dimension);
  change.set_segment(segment);
  change.set_direction(direction);
  return change;
}

TEST_F(MetricsTest, LatencyTallyFillsTheBucketsObservingEachLatencyWould) {
  // On a bucket's bound, between bounds, below the first (clock skew) and past the last.
  const std::vector<double> from_occurred = {0.0005, 0.0007, 0.3, -0.2, 45, 100};
  const std::vector<double> from_broker = {0.001, 0.001, 2.5, 0.02, 61, 0.0001};
  PipelineMetrics::LatencyTally tally;
  for (std::size_t i = 0; i < from_occurred.size(); ++i)
    tally.Add(from_occurred[i], from_broker[i]);
  metrics_.ObserveChangeLatencies(tally);

  for (const auto& [from, values] : std::map<std::string, std::vector<double>>{
           {"occurred_at", from_occurred}, {"broker", from_broker}}) {
    SCOPED_TRACE(from);
    const auto got = Latency(from);
    ASSERT_TRUE(got.has_value());
    // What a histogram of the same bounds reports when each value is observed on its own.
    prometheus::Histogram::BucketBoundaries bounds;
    for (const auto& bucket : got->histogram.bucket) {
      if (bucket.upper_bound != std::numeric_limits<double>::infinity()) {
        bounds.push_back(bucket.upper_bound);
      }
    }
    prometheus::Histogram reference(bounds);
    for (double value : values) reference.Observe(value);
    const prometheus::ClientMetric want = reference.Collect();
    EXPECT_EQ(got->histogram.sample_count, values.size());
    EXPECT_DOUBLE_EQ(got->histogram.sample_sum, want.histogram.sample_sum);
    ASSERT_EQ(got->histogram.bucket.size(), want.histogram.bucket.size());
    for (std::size_t b = 0; b < want.histogram.bucket.size(); ++b) {
      EXPECT_EQ(got->histogram.bucket[b].cumulative_count,
                want.histogram.bucket[b].cumulative_count)
          << "bucket le=" << want.histogram.bucket[b].upper_bound;
    }
  }
}

TEST_F(MetricsTest, TalliesAddUpAcrossBatches) {
  PipelineMetrics::LatencyTally first;
  first.Add(0.01, 0.02);
  metrics_.ObserveChangeLatencies(first);
  PipelineMetrics::LatencyTally second;
  second.Add(0.04, 0.05);
  second.Add(0.06, 0.07);
  metrics_.ObserveChangeLatencies(second);
  const auto got = Latency("occurred_at");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->histogram.sample_count, 3u);
  EXPECT_DOUBLE_EQ(got->histogram.sample_sum, 0.11);
}

TEST_F(MetricsTest, AnEmptyTallyObservesNothing) {
  metrics_.ObserveChangeLatencies(PipelineMetrics::LatencyTally());
  const auto got = Latency("broker");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->histogram.sample_count, 0u);
  EXPECT_EQ(got->histogram.sample_sum, 0.0);
}

TEST_F(MetricsTest, CountsChangesBySegmentAndDirection) {
  PipelineMetrics::ChangeTally tally;
  metrics_.TallyChange(Change("", "buyer", v1::SegmentChange::entered), tally);
  metrics_.TallyChange(Change("", "buyer", v1::SegmentChange::entered), tally);
  metrics_.TallyChange(Change("lifecycle", "active", v1::SegmentChange::exited), tally);
  // No catalogue defines it: no series is made for it on the hot path.
  metrics_.TallyChange(Change("lifecycle", "vip", v1::SegmentChange::entered), tally);
  EXPECT_EQ(Changes("", "buyer", "entered"), 0.0) << "a tally counts nothing until added";
  metrics_.CountChanges(tally);

  EXPECT_EQ(Changes("", "buyer", "entered"), 2.0);
  EXPECT_EQ(Changes("", "buyer", "exited"), 0.0);
  EXPECT_EQ(Changes("lifecycle", "active", "exited"), 1.0);
  EXPECT_EQ(Changes("lifecycle", "at_risk", "entered"), 0.0);
  EXPECT_EQ(Changes("lifecycle", "vip", "entered"), std::nullopt);
}

TEST_F(MetricsTest, ChangeTalliesOfSeveralLanesAddUp) {
  PipelineMetrics::ChangeTally first;
  PipelineMetrics::ChangeTally second;
  metrics_.TallyChange(Change("", "buyer", v1::SegmentChange::entered), first);
  metrics_.TallyChange(Change("", "buyer", v1::SegmentChange::entered), second);
  metrics_.TallyChange(Change("", "buyer", v1::SegmentChange::exited), second);
  metrics_.CountChanges(first);
  metrics_.CountChanges(second);

  EXPECT_EQ(Changes("", "buyer", "entered"), 2.0);
  EXPECT_EQ(Changes("", "buyer", "exited"), 1.0);
}

}  // namespace
}  // namespace cdp::pipeline
