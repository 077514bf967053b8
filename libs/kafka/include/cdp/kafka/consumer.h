#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/common/strong_type.h"
#include "cdp/kafka/message.h"
#include "cdp/kafka/stats.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace cdp::kafka {
namespace internal {
class StatsSubscription;
}  // namespace internal

// The pipeline's side of partition ownership. Called on the thread running Consumer::Poll or
// Consumer::Close, never concurrently.
class RebalanceHandler {
 public:
  virtual ~RebalanceHandler() = default;

  // `partitions` now belong to this member. Returns where to start each one (the offset after the
  // last record the local state reflects); a partition left out starts at the group's committed
  // offset, or per auto.offset.reset when there is none. An error is fatal to the consumer: the
  // partitions are not consumed and every later Poll returns the error.
  [[nodiscard]] virtual absl::StatusOr<std::map<TopicPartition, Offset>> OnAssigned(
      const std::vector<TopicPartition>& partitions) = 0;

  // `partitions` are about to be taken away in an orderly rebalance or on Close: finish and
  // persist their work and release their state. Their records are no longer delivered once this
  // returns, not even ones fetched in the Poll that is running.
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;

  // `partitions` were already given to another member (this one missed its session timeout or
  // max.poll.interval.ms): drop their state without committing anything.
  virtual void OnLost(const std::vector<TopicPartition>& partitions) = 0;
};

// For a member that keeps no offsets of its own (a reader, a tool): every assigned partition
// starts at the group's committed offset, or per auto.offset.reset when there is none.
class StartAtCommitted final : public RebalanceHandler {
 public:
  absl::StatusOr<std::map<TopicPartition, Offset>> OnAssigned(
      const std::vector<TopicPartition>& /*partitions*/) override {
    return std::map<TopicPartition, Offset>();
  }
  void OnRevoked(const std::vector<TopicPartition>& /*partitions*/) override {}
  void OnLost(const std::vector<TopicPartition>& /*partitions*/) override {}
};

struct ConsumerOptions {
  std::string bootstrap_servers = {};
  std::string group_id = {};
  std::vector<std::string> topics = {};
  // Applied over the defaults: partition.assignment.strategy=cooperative-sticky,
  // enable.auto.commit=false, enable.auto.offset.store=false, auto.offset.reset=earliest. Every
  // member of a group must use the same assignment strategy.
  Properties properties = {};
  StatsOptions stats = {};
};

// A consumer group member over RdKafka::KafkaConsumer whose partition ownership is driven by a
// RebalanceHandler. Poll, CommitOffsets and Close belong to one thread; Assignment, Committed and
// Lag only read librdkafka state and may be called from any thread.
class Consumer {
 public:
  // `handler` must outlive the consumer.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const ConsumerOptions& options, RebalanceHandler& handler);

  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;
  // Closes the consumer if Close was not called (calling the handler's OnRevoked).
  ~Consumer();

  // Waits up to `timeout` for a first record, then goes on taking records, up to `max_messages`
  // in all, until `fill_wait` has passed since the first (zero: only those already fetched).
  // Rebalance callbacks run inside, and a revoke drops the records of the partitions it takes
  // from the batch being filled. Broker and network errors that librdkafka recovers from by
  // itself are counted (transient_errors) rather than returned; the error is returned only when
  // the consumer cannot go on (a fatal librdkafka error or a failed OnAssigned), in which case it
  // should be closed and recreated.
  [[nodiscard]] absl::StatusOr<std::vector<Message>> Poll(
      std::size_t max_messages, absl::Duration timeout,
      absl::Duration fill_wait = absl::ZeroDuration());

  // Commits the offsets to resume from, asynchronously. The pipeline's own state is the source of
  // truth for where to start, so this only keeps group lag visible to ordinary Kafka tooling;
  // failures are counted as transient errors, and the offsets they were for are kept for
  // TakeFailedCommits. An empty map commits nothing.
  [[nodiscard]] absl::Status CommitOffsets(const std::map<TopicPartition, Offset>& next_offsets);

  // Whether librdkafka found this member's group session expired (no heartbeat reached the
  // coordinator for session.timeout.ms, or max.poll.interval.ms passed without a poll): its
  // partitions are being given to other members, and the next Poll revokes them (OnLost).
  [[nodiscard]] bool AssignmentLost() const;

  // The offsets of the commits that failed since the last call (reported during Poll), to be
  // committed again.
  [[nodiscard]] std::map<TopicPartition, Offset> TakeFailedCommits();

  // The group's committed offsets for `partitions`; a partition with none is absent.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, Offset>> Committed(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout) const;

  [[nodiscard]] absl::StatusOr<std::vector<TopicPartition>> Assignment() const;

  // Records not yet consumed per assigned partition: the cached high watermark from the last fetch
  // minus the consumer's position. No broker round trip. Partitions with no position or
  // watermark yet are absent.
  [[nodiscard]] std::map<TopicPartition, std::int64_t> Lag() const;

  // Errors librdkafka reported and recovers from by itself (broker down, commit failed...). The
  // count may be read from any thread, the last error only from the polling one.
  [[nodiscard]] std::uint64_t transient_errors() const { return transient_errors_.load(); }
  [[nodiscard]] const absl::Status& last_transient_error() const { return last_transient_error_; }

  // Revokes every partition through the handler and leaves the group, so the others take over
  // without waiting for the session timeout. Later calls do nothing.
  [[nodiscard]] absl::Status Close();

 private:
  class Callbacks;

  Consumer(RebalanceHandler& handler, std::unique_ptr<Callbacks> callbacks);

  void RecordTransient(absl::Status error);
  void RecordFatal(absl::Status error);

  RebalanceHandler& handler_;
  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Declared after consumer_: unsubscribed before the client goes.
  std::unique_ptr<internal::StatsSubscription> stats_;
  // The batch being collected by the running Poll; a revoke drops its records for the partitions
  // taken away.
  std::vector<Message> batch_;
  // Partitions whose OnAssigned failed: assigned in librdkafka (to keep the group protocol going
  // until Close) but never consumed, and never reported to the handler again.
  std::vector<TopicPartition> refused_;
  std::map<TopicPartition, Offset> failed_commits_;
  absl::Status fatal_;
  std::atomic<std::uint64_t> transient_errors_ = 0;
  absl::Status last_transient_error_;
  bool closed_ = false;
};

}  // namespace cdp::kafka
