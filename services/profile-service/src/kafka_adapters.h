#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cdp/kafka/consumer.h"
#include "cdp/kafka/producer.h"
#include "cdp/pipeline/processor.h"
#include "cdp/pipeline/records.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"

namespace cdp::service {

// Segment changes and dead letters go to their topics through one idempotent producer.
class KafkaSink : public pipeline::OutputSink {
 public:
  KafkaSink(kafka::Producer& producer, std::string change_topic, std::string dlq_topic)
      : producer_(producer),
        change_topic_(std::move(change_topic)),
        dlq_topic_(std::move(dlq_topic)) {}

  absl::Status Send(pipeline::OutputRecord record) override;
  absl::Status Flush() override;

 private:
  kafka::Producer& producer_;
  std::string change_topic_;
  std::string dlq_topic_;
};

// Partition ownership: each assigned partition starts where its RocksDB state left off, not at
// the group's committed offset; a partition taken away releases its cached state.
class Ownership : public kafka::RebalanceHandler {
 public:
  // `lag_family` gets one gauge per owned partition; nullptr for none.
  Ownership(pipeline::Processor& processor, prometheus::Family<prometheus::Gauge>* lag_family)
      : processor_(processor), lag_family_(lag_family) {}

  absl::StatusOr<std::map<kafka::TopicPartition, Offset>> OnAssigned(
      const std::vector<kafka::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnLost(const std::vector<kafka::TopicPartition>& partitions) override;

  void UpdateLag(const std::map<kafka::TopicPartition, std::int64_t>& lag);

 private:
  void Release(const std::vector<kafka::TopicPartition>& partitions);

  pipeline::Processor& processor_;
  prometheus::Family<prometheus::Gauge>* lag_family_;
  std::mutex mutex_;
  std::map<kafka::TopicPartition, prometheus::Gauge*> lag_;
};

// Polls until `max_records` are in hand or `max_wait` has passed since the first record, so that
// each batch (and the delivery wait and state commit it costs) covers many records. Returns an
// empty batch after `idle_timeout` without records.
[[nodiscard]] absl::StatusOr<std::vector<kafka::Message>> PollBatch(kafka::Consumer& consumer,
                                                                    std::size_t max_records,
                                                                    absl::Duration max_wait,
                                                                    absl::Duration idle_timeout);

// Views over consumed messages, valid while `messages` lives.
[[nodiscard]] std::vector<pipeline::InputRecord> ToInputRecords(
    const std::vector<kafka::Message>& messages);

// The next offset of every partition in a consumed batch, for the group's committed offsets.
[[nodiscard]] std::map<kafka::TopicPartition, Offset> NextOffsets(
    const std::vector<kafka::Message>& messages);

}  // namespace cdp::service
