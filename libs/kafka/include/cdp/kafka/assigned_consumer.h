#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/common/strong_type.h"
#include "cdp/kafka/message.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace cdp::kafka {

struct AssignedConsumerOptions {
  std::string bootstrap_servers = {};
  // The group whose committed offsets a partition assigned without a start offset resumes from.
  // The consumer never joins it (never subscribes) and never commits to it: it only reads its
  // committed offsets.
  std::string group_id = {};
  // Applied over the defaults: enable.auto.offset.store=false, auto.offset.reset=earliest,
  // enable.partition.eof=false. enable.auto.commit=false cannot be overridden.
  Properties properties = {};
};

// A consumer outside any consumer group: the caller assigns and unassigns partitions itself,
// incrementally and at any time, and polls the records of every assigned partition. It lets a
// member of a group also read the partitions of another topic that go with the ones the group gave
// it (e.g. partition P of a repartition topic co-partitioned with input partition P), which no
// assignment strategy guarantees for two topics.
//
// Assign, Unassign and Poll belong to one thread (or must be serialized by the caller);
// Assignment, Lag and transient_errors only read librdkafka state and may be called from any
// thread.
class AssignedConsumer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AssignedConsumer>> Create(
      const AssignedConsumerOptions& options);

  AssignedConsumer(const AssignedConsumer&) = delete;
  AssignedConsumer& operator=(const AssignedConsumer&) = delete;
  ~AssignedConsumer();

  // Starts consuming `tp` at `start`, or, when nullopt, at the group's committed offset, or per
  // auto.offset.reset (earliest) when the group has none. FailedPrecondition if `tp` is already
  // assigned. Whether the cluster has `tp` is not checked here (PartitionCount can): librdkafka
  // waits for a missing partition.
  [[nodiscard]] absl::Status Assign(const TopicPartition& tp, std::optional<Offset> start);

  // Stops consuming `partitions`: records of theirs already fetched are never returned by a later
  // Poll. Partitions that are not assigned are ignored.
  [[nodiscard]] absl::Status Unassign(const std::vector<TopicPartition>& partitions);

  // Waits up to `timeout` for a first record (zero: does not wait), then takes what is already
  // fetched, up to `max_messages` in all, in offset order per partition. Errors librdkafka recovers
  // from by itself (broker down, unknown topic, no committed offset readable yet) are counted
  // (transient_errors) rather than returned; a fatal error is returned by this and every later
  // Poll: recreate the consumer.
  [[nodiscard]] absl::StatusOr<std::vector<Message>> Poll(std::size_t max_messages,
                                                          absl::Duration timeout);

  [[nodiscard]] absl::StatusOr<std::vector<TopicPartition>> Assignment() const;

  // Records not yet consumed per assigned partition: the cached high watermark from the last fetch
  // minus the position. No broker round trip. Partitions with no position or watermark yet are
  // absent.
  [[nodiscard]] std::map<TopicPartition, std::int64_t> Lag() const;

  // Errors librdkafka reported and recovers from by itself. The count may be read from any
  // thread, the last error only from the polling one.
  [[nodiscard]] std::uint64_t transient_errors() const { return transient_errors_.load(); }
  [[nodiscard]] const absl::Status& last_transient_error() const { return last_transient_error_; }

 private:
  AssignedConsumer() = default;

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  absl::Status fatal_;
  std::atomic<std::uint64_t> transient_errors_ = 0;
  absl::Status last_transient_error_;
};

}  // namespace cdp::kafka
