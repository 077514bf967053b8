#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class KafkaConsumer;
class TopicPartition;
}  // namespace RdKafka

namespace cdp::kafka::internal {

// Owns the RdKafka::TopicPartition objects librdkafka's list-based calls fill in.
class PartitionList {
 public:
  PartitionList() = default;
  explicit PartitionList(const std::vector<TopicPartition>& partitions);
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList();

  std::vector<RdKafka::TopicPartition*>& get() { return list_; }

 private:
  std::vector<RdKafka::TopicPartition*> list_;
};

[[nodiscard]] TopicPartition FromRdKafka(const RdKafka::TopicPartition& tp);
[[nodiscard]] std::vector<TopicPartition> FromRdKafka(
    const std::vector<RdKafka::TopicPartition*>& list);

// "topic[0], topic[1]" for error messages.
[[nodiscard]] std::string Describe(const std::vector<TopicPartition>& partitions);

// The partitions `consumer` is assigned, from librdkafka's state (no broker round trip).
[[nodiscard]] absl::StatusOr<std::vector<TopicPartition>> Assignment(
    RdKafka::KafkaConsumer& consumer);

// Per assigned partition, the cached high watermark from the last fetch minus the position.
// Partitions with no position or watermark yet are absent.
[[nodiscard]] std::map<TopicPartition, std::int64_t> Lag(RdKafka::KafkaConsumer& consumer);

}  // namespace cdp::kafka::internal
