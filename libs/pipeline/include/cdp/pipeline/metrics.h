#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "cdp/core/reject_reason.h"
#include "cdp/pipeline/records.h"
#include "cdp/rules/catalogue.h"
#include "cdp/v1/customer_event.pb.h"
#include "cdp/v1/segment_change.pb.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace cdp::pipeline {

// Every metric the processor updates, created once up front so the hot path only increments.
// No customer id is ever a label.
class PipelineMetrics {
 public:
  // `repartition_topic` empty: none is consumed.
  PipelineMetrics(prometheus::Registry& registry, const rules::SegmentCatalogue& catalogue,
                  std::string_view input_topic, std::string_view repartition_topic = "");

  void CountConsumed(InputSource source, std::size_t n) {
    (source == InputSource::kInput ? consumed_ : consumed_repartitioned_)
        ->Increment(static_cast<double>(n));
  }
  void CountApplied(v1::CustomerEvent::PayloadCase type);
  void CountRejected(core::RejectReason reason) {
    rejected_[static_cast<std::size_t>(reason)]->Increment();
  }
  void CountDuplicate() { duplicates_->Increment(); }
  void CountRepartitioned() { repartitioned_->Increment(); }
  void CountErasures(std::size_t n) { erasures_->Increment(static_cast<double>(n)); }
  // A batch's segment changes per counter, gathered by TallyChange, which only reads and so may
  // run on several threads at once (one tally each), and added by CountChanges in one update per
  // counter.
  class ChangeTally {
   private:
    friend class PipelineMetrics;
    absl::flat_hash_map<prometheus::Counter*, double> counts_;
  };
  void TallyChange(const v1::SegmentChange& change, ChangeTally& tally) const;
  void CountChanges(const ChangeTally& tally);
  // A committed batch of `events` input records that took `seconds`.
  void CountBatch(double seconds, std::size_t events);
  void CountBatchFailure() { batch_failures_->Increment(); }
  void CountTimersFired(std::size_t n) { timers_fired_->Increment(static_cast<double>(n)); }
  // The latencies of a batch's segment changes, gathered by Add and added to the histograms in
  // one step by ObserveChangeLatencies: one at a time, every change took each histogram's lock.
  class LatencyTally {
   public:
    LatencyTally();
    void Add(double from_occurred_seconds, double from_broker_seconds);

   private:
    friend class PipelineMetrics;
    // Per histogram bucket, as prometheus::Histogram::ObserveMultiple takes them.
    std::vector<double> from_occurred_;
    std::vector<double> from_broker_;
    double from_occurred_sum_ = 0;
    double from_broker_sum_ = 0;
    bool empty_ = true;
  };
  void ObserveChangeLatencies(const LatencyTally& tally);
  void SetCachedProfiles(std::size_t n) { cached_profiles_->Set(static_cast<double>(n)); }
  // Moves a segment's member count; `key` is the segment id or "dimension/tier". Called once per
  // partition and batch, not per change; a segment no catalogue defined gets its gauge then.
  void AddMembers(std::string_view key, std::int64_t delta);
  // Counters and gauges for the segments of a new catalogue (a reloaded segment file).
  void AddCatalogue(const rules::SegmentCatalogue& catalogue);
  void CountReevaluated(std::size_t n) { reevaluated_->Increment(static_cast<double>(n)); }
  void SetPartitionsToReevaluate(std::size_t n) {
    partitions_to_reevaluate_->Set(static_cast<double>(n));
  }

 private:
  struct Direction {
    prometheus::Counter* entered;
    prometheus::Counter* exited;
  };

  void AddSegment(const std::string& dimension, const std::string& segment);

  prometheus::Counter* consumed_;
  prometheus::Counter* consumed_repartitioned_ = nullptr;
  std::array<prometheus::Counter*, 16> applied_{};
  std::array<prometheus::Counter*, static_cast<std::size_t>(core::RejectReason::kCount)>
      rejected_{};
  prometheus::Counter* duplicates_;
  prometheus::Counter* repartitioned_;
  prometheus::Counter* erasures_;
  // Dimension ("" for independent segments), then segment. Hashed: TallyChange looks up every
  // change's names, and a tree walk compared them with a dozen others.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, Direction>> changes_;
  prometheus::Family<prometheus::Counter>* changes_family_;
  // By member key (see AddMembers).
  std::map<std::string, prometheus::Gauge*, std::less<>> members_;
  prometheus::Family<prometheus::Gauge>* members_family_;
  prometheus::Counter* reevaluated_;
  prometheus::Gauge* partitions_to_reevaluate_;
  prometheus::Counter* batches_;
  prometheus::Counter* batch_failures_;
  prometheus::Histogram* batch_seconds_;
  prometheus::Histogram* event_seconds_;
  prometheus::Histogram* latency_from_occurred_;
  prometheus::Histogram* latency_from_broker_;
  prometheus::Gauge* cached_profiles_;
  prometheus::Counter* timers_fired_;
};

}  // namespace cdp::pipeline
