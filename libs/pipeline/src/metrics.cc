#include "cdp/pipeline/metrics.h"

#include <algorithm>
#include <vector>

namespace cdp::pipeline {
namespace {

std::string_view PayloadName(v1::CustomerEvent::PayloadCase type) {
  switch (type) {
    case v1::CustomerEvent::kPurchase:
      return "purchase";
    case v1::CustomerEvent::kRefund:
      return "refund";
    case v1::CustomerEvent::kInteraction:
      return "interaction";
    case v1::CustomerEvent::kProfileUpdate:
      return "profile_update";
    case v1::CustomerEvent::kConsent:
      return "consent";
    case v1::CustomerEvent::kErasure:
      return "erasure";
    case v1::CustomerEvent::PAYLOAD_NOT_SET:
      break;
  }
  return "none";
}

// Latencies from sub-millisecond (in-process) to minutes (a lagging consumer).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries boundaries = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return boundaries;
}

}  // namespace

PipelineMetrics::PipelineMetrics(prometheus::Registry& registry,
                                 const rules::SegmentCatalogue& catalogue,
                                 std::string_view input_topic, std::string_view repartition_topic) {
  auto& consumed = prometheus::BuildCounter()
                       .Name("cdp_events_consumed_total")
                       .Help(
                           "Input records consumed, valid or not: from the input topic, and "
                           "passed on to this instance through the repartition topic.")
                       .Register(registry);
  consumed_ = &consumed.Add({{"topic", std::string(input_topic)}});
  if (!repartition_topic.empty()) {
    consumed_repartitioned_ = &consumed.Add({{"topic", std::string(repartition_topic)}});
  }
  auto& applied = prometheus::BuildCounter()
                      .Name("cdp_events_applied_total")
                      .Help("Events applied to a profile, by payload type.")
                      .Register(registry);
  for (auto type : {v1::CustomerEvent::kPurchase, v1::CustomerEvent::kRefund,
                    v1::CustomerEvent::kInteraction, v1::CustomerEvent::kProfileUpdate,
                    v1::CustomerEvent::kConsent, v1::CustomerEvent::kErasure}) {
    applied_[static_cast<std::size_t>(type)] = &applied.Add(
        {{"type", std::string(PayloadName(type))}, {"topic", std::string(input_topic)}});
  }
  auto& rejected = prometheus::BuildCounter()
                       .Name("cdp_events_rejected_total")
                       .Help("Input records sent to the dead-letter topic, by reason.")
                       .Register(registry);
  for (std::size_t r = 0; r < rejected_.size(); ++r) {
    rejected_[r] = &rejected.Add(
        {{"reason", std::string(core::ReasonName(static_cast<core::RejectReason>(r)))}});
  }
  duplicates_ = &prometheus::BuildCounter()
                     .Name("cdp_events_duplicate_total")
                     .Help(
                         "Events skipped because their event_id was already applied, or because "
                         "they are a replay of a record passed on through the repartition "
                         "topic, or came from there before the record passed on ahead of "
                         "them (both come again).")
                     .Register(registry)
                     .Add({});
  repartitioned_ = &prometheus::BuildCounter()
                        .Name("cdp_events_repartitioned_total")
                        .Help(
                            "Valid input events whose customer belongs to another partition, "
                            "passed on to it through the repartition topic.")
                        .Register(registry)
                        .Add({});
  erasures_ = &prometheus::BuildCounter()
                   .Name("cdp_erasures_total")
                   .Help(
                       "Customers erased (erasure events committed): their profile, timer, dedup "
                       "entries and memberships deleted. For audit; it names no one.")
                   .Register(registry)
                   .Add({});
  changes_family_ = &prometheus::BuildCounter()
                         .Name("cdp_segment_changes_total")
                         .Help("Segment membership changes emitted, by segment and direction.")
                         .Register(registry);
  members_family_ =
      &prometheus::BuildGauge()
           .Name("cdp_segment_members")
           .Help(
               "Customers of this instance's partitions in each segment (tiers: with their "
               "dimension), kept from the changes as they commit.")
           .Register(registry);
  AddCatalogue(catalogue);
  auto& batches = prometheus::BuildCounter()
                      .Name("cdp_batches_total")
                      .Help("Input batches and rounds of timers processed, by outcome.")
                      .Register(registry);
  batches_ = &batches.Add({{"outcome", "committed"}});
  batch_failures_ = &batches.Add({{"outcome", "failed"}});
  timers_fired_ = &prometheus::BuildCounter()
                       .Name("cdp_timers_fired_total")
                       .Help("Customer timers fired: re-evaluations because time passed.")
                       .Register(registry)
                       .Add({});
  batch_seconds_ = &prometheus::BuildHistogram()
                        .Name("cdp_batch_duration_seconds")
                        .Help("Time to process one input batch, from decode to state commit.")
                        .Register(registry)
                        .Add({}, LatencyBuckets());
  event_seconds_ = &prometheus::BuildHistogram()
                        .Name("cdp_event_processing_seconds")
                        .Help(
                            "Time to process one input event: that of the batch it was in, from "
                            "decode to state commit, counted once per event.")
                        .Register(registry)
                        .Add({}, LatencyBuckets());
  auto& latency = prometheus::BuildHistogram()
                      .Name("cdp_event_to_change_latency_seconds")
                      .Help(
                          "From an event to its segment change being delivered, measured from "
                          "the event's occurred_at or from its broker timestamp.")
                      .Register(registry);
  latency_from_occurred_ = &latency.Add({{"from", "occurred_at"}}, LatencyBuckets());
  latency_from_broker_ = &latency.Add({{"from", "broker"}}, LatencyBuckets());
  reevaluated_ = &prometheus::BuildCounter()
                      .Name("cdp_definition_reevaluated_profiles_total")
                      .Help(
                          "Stored profiles re-evaluated because the segment definitions they "
                          "were computed with changed.")
                      .Register(registry)
                      .Add({});
  partitions_to_reevaluate_ =
      &prometheus::BuildGauge()
           .Name("cdp_definition_reevaluation_partitions")
           .Help(
               "Partitions of this instance whose stored profiles are still being re-evaluated "
               "for changed segment definitions; 0 when every profile follows them.")
           .Register(registry)
           .Add({});
  cached_profiles_ = &prometheus::BuildGauge()
                          .Name("cdp_profile_cache_entries")
                          .Help("Profiles held in the in-memory cache in front of RocksDB.")
                          .Register(registry)
                          .Add({});
}

void PipelineMetrics::AddSegment(const std::string& dimension, const std::string& segment) {
  auto& by_segment = changes_[dimension];
  if (!by_segment.contains(segment)) {
    by_segment[segment] =
        Direction{&changes_family_->Add(
                      {{"dimension", dimension}, {"segment", segment}, {"direction", "entered"}}),
                  &changes_family_->Add(
                      {{"dimension", dimension}, {"segment", segment}, {"direction", "exited"}})};
  }
  const std::string key = dimension.empty() ? segment : dimension + "/" + segment;
  if (!members_.contains(key)) {
    members_[key] = &members_family_->Add({{"dimension", dimension}, {"segment", segment}});
  }
}

void PipelineMetrics::AddCatalogue(const rules::SegmentCatalogue& catalogue) {
  for (const auto& segment : catalogue.segments) AddSegment("", segment.id);
  for (const auto& dimension : catalogue.dimensions) {
    for (const auto& tier : dimension.tiers) AddSegment(dimension.id, tier.id);
  }
}

void PipelineMetrics::AddMembers(std::string_view key, std::int64_t delta) {
  auto gauge = members_.find(key);
  if (gauge == members_.end()) {
    // Held by stored profiles but defined by no catalogue this process loaded: a segment that
    // was removed, whose members leave as their profiles are re-evaluated.
    const std::size_t slash = key.find('/');
    const std::string dimension(slash == std::string_view::npos ? "" : key.substr(0, slash));
    const std::string segment(slash == std::string_view::npos ? key : key.substr(slash + 1));
    AddSegment(dimension, segment);
    gauge = members_.find(key);
  }
  gauge->second->Increment(static_cast<double>(delta));
}

void PipelineMetrics::CountApplied(v1::CustomerEvent::PayloadCase type) {
  const auto index = static_cast<std::size_t>(type);
  if (index < applied_.size() && applied_[index] != nullptr) applied_[index]->Increment();
}

void PipelineMetrics::TallyChange(const v1::SegmentChange& change, ChangeTally& tally) const {
  // absl's string_view, which the hashed maps look up without building a key.
  const auto dimension = changes_.find(absl::string_view(change.dimension()));
  if (dimension == changes_.end()) return;
  const auto segment = dimension->second.find(absl::string_view(change.segment()));
  if (segment == dimension->second.end()) return;
  tally.counts_[change.direction() == v1::SegmentChange::entered ? segment->second.entered
                                                                 : segment->second.exited] += 1;
}

void PipelineMetrics::CountChanges(const ChangeTally& tally) {
  for (const auto& [counter, count] : tally.counts_) counter->Increment(count);
}

void PipelineMetrics::CountBatch(double seconds, std::size_t events) {
  batches_->Increment();
  batch_seconds_->Observe(seconds);
  // Every event of the batch lands in the same bucket: one update, not one per event.
  const prometheus::Histogram::BucketBoundaries& boundaries = LatencyBuckets();
  std::vector<double> increments(boundaries.size() + 1, 0.0);
  const auto bucket = std::lower_bound(boundaries.begin(), boundaries.end(), seconds);
  increments[static_cast<std::size_t>(bucket - boundaries.begin())] = static_cast<double>(events);
  event_seconds_->ObserveMultiple(increments, seconds * static_cast<double>(events));
}

PipelineMetrics::LatencyTally::LatencyTally()
    : from_occurred_(LatencyBuckets().size() + 1, 0.0),
      from_broker_(LatencyBuckets().size() + 1, 0.0) {}

void PipelineMetrics::LatencyTally::Add(double from_occurred_seconds, double from_broker_seconds) {
  // The first bucket whose upper bound holds the value, as prometheus::Histogram::Observe picks.
  const auto bucket_of = [&boundaries = LatencyBuckets()](double seconds) {
    return static_cast<std::size_t>(
        std::lower_bound(boundaries.begin(), boundaries.end(), seconds) - boundaries.begin());
  };
  from_occurred_[bucket_of(from_occurred_seconds)] += 1;
  from_broker_[bucket_of(from_broker_seconds)] += 1;
  from_occurred_sum_ += from_occurred_seconds;
  from_broker_sum_ += from_broker_seconds;
  empty_ = false;
}

void PipelineMetrics::ObserveChangeLatencies(const LatencyTally& tally) {
  if (tally.empty_) return;
  latency_from_occurred_->ObserveMultiple(tally.from_occurred_, tally.from_occurred_sum_);
  latency_from_broker_->ObserveMultiple(tally.from_broker_, tally.from_broker_sum_);
}

}  // namespace cdp::pipeline
