#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cdp/kafka/assigned_consumer.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/partition_reader.h"
#include "cdp/kafka/producer.h"
#include "cdp/pipeline/changelog.h"
#include "cdp/pipeline/processor.h"
#include "cdp/pipeline/records.h"
#include "crash_points.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "unlogged_persister.h"

namespace cdp::service {

// Segment changes, dead letters, changelog and repartition records go to their topics through one
// idempotent producer.
class KafkaSink : public pipeline::OutputSink {
 public:
  KafkaSink(kafka::Producer& producer, std::string change_topic, std::string dlq_topic,
            std::string changelog_topic, std::string repartition_topic,
            CrashPoints* crash_points = nullptr)
      : producer_(producer),
        change_topic_(std::move(change_topic)),
        dlq_topic_(std::move(dlq_topic)),
        changelog_topic_(std::move(changelog_topic)),
        repartition_topic_(std::move(repartition_topic)),
        crash_points_(crash_points) {}

  absl::Status Send(pipeline::OutputRecord record) override;
  absl::Status Flush() override;

 private:
  kafka::Producer& producer_;
  std::string change_topic_;
  std::string dlq_topic_;
  std::string changelog_topic_;
  std::string repartition_topic_;
  CrashPoints* crash_points_;
};

// The changelog topic as a restore reads it.
class KafkaChangelog : public pipeline::ChangelogSource {
 public:
  KafkaChangelog(kafka::PartitionReader& reader, std::string topic)
      : reader_(reader), topic_(std::move(topic)) {}

  // Asks for the extents of `partitions` at once, for the Extent calls of the restores that
  // follow. A query right after a read waits for the reader's fetch to wind down (about 50 ms
  // with the embedded broker, for every partition); back to back they take a fraction of a
  // millisecond.
  [[nodiscard]] absl::Status QueryExtents(const std::vector<Partition>& partitions);

  // Starts fetching `partition` from its beginning for the restore that reads it next, while
  // the one before is read (PartitionReader::Prefetch).
  [[nodiscard]] absl::Status Prefetch(Partition partition);
  // Releases what Prefetch started and no restore read (a restore that failed, or had nothing to
  // read).
  [[nodiscard]] absl::Status DropPrefetched();

  // The extent QueryExtents found (once), or else a query now.
  absl::StatusOr<pipeline::ChangelogExtent> Extent(Partition partition) override;
  absl::Status Read(Partition partition, std::int64_t from, std::int64_t until,
                    const Visitor& visit) override;

 private:
  kafka::PartitionReader& reader_;
  std::string topic_;
  std::map<Partition, pipeline::ChangelogExtent> extents_;
};

// One changelog reader per restore thread: a reader reads one partition at a time.
class RestoreReaders {
 public:
  // `threads` readers of `topic`; 0: one per CPU core.
  [[nodiscard]] static absl::StatusOr<RestoreReaders> Open(
      const kafka::PartitionReaderOptions& options, const std::string& topic, int threads);

  // For Ownership; valid while this lives.
  [[nodiscard]] std::vector<KafkaChangelog*> changelogs() const;

 private:
  std::vector<std::unique_ptr<kafka::PartitionReader>> readers_;
  std::vector<std::unique_ptr<KafkaChangelog>> changelogs_;
};

// What rebalances and restores report, created once up front.
struct OwnershipMetrics {
  // cdp_rebalances_total and the cdp_changelog_* metrics (README, "Metrics").
  [[nodiscard]] static OwnershipMetrics Register(prometheus::Registry& registry);

  // Rebalance callbacks, each for one or more partitions.
  prometheus::Counter& assigned;
  prometheus::Counter& revoked;
  prometheus::Counter& lost;
  prometheus::Counter& records;
  prometheus::Counter& restored;
  prometheus::Counter& up_to_date;
  prometheus::Gauge& restoring;
  prometheus::Gauge& seconds_last;
};

// The repartition topic's partitions follow the input partitions the group assigns.
struct RepartitionReader {
  kafka::AssignedConsumer& consumer;
  std::string topic;
};

// Partition ownership: each assigned partition is first brought up to its changelog (when there
// is one), then starts where its RocksDB state left off, not at the group's committed offset, and
// so does the same partition of the repartition topic; a partition taken away releases its cached
// state and that repartition topic partition.
class Ownership : public kafka::RebalanceHandler {
 public:
  // `lag_family` gets one gauge per owned partition; nullptr for none. `changelogs`: one per
  // restore thread, since a reader reads one partition at a time; the partitions of one
  // assignment are restored on as many threads at once. Empty: no restores (the changelog is
  // off). `repartition` nullptr: no repartition topic.
  Ownership(pipeline::Processor& processor, prometheus::Family<prometheus::Gauge>* lag_family,
            state::Store& store, std::vector<KafkaChangelog*> changelogs, OwnershipMetrics* metrics,
            RepartitionReader* repartition, CrashPoints* crash_points = nullptr)
      : processor_(processor),
        lag_family_(lag_family),
        store_(store),
        changelogs_(std::move(changelogs)),
        metrics_(metrics),
        repartition_(repartition),
        crash_points_(crash_points) {
    if (!changelogs_.empty()) persister_.emplace(store);
  }

  // Partitions being restored right now (readable from any thread).
  [[nodiscard]] int restoring() const { return restoring_.load(); }

  // Not OK once a revoked partition of the repartition topic could not be released: its records
  // would go on arriving for a partition another instance owns, so the caller must stop. Read on
  // the polling thread.
  [[nodiscard]] const absl::Status& failure() const { return failure_; }

  absl::StatusOr<std::map<kafka::TopicPartition, Offset>> OnAssigned(
      const std::vector<kafka::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<kafka::TopicPartition>& partitions) override;
  void OnLost(const std::vector<kafka::TopicPartition>& partitions) override;

  void UpdateLag(const std::map<kafka::TopicPartition, std::int64_t>& lag);

  // The group's committed offsets only serve lag monitoring (the state holds the offsets processing
  // resumes from), but they must not stay behind: a partition is owed a commit of its resume
  // offset when assigned and of its next offset after each batch, until a commit of it succeeds,
  // even if the partition gets no more records. Later offsets replace earlier ones; the offsets
  // of a failed commit are tried again unless a later one or a revoke came in the meantime.
  void AddOffsetsToCommit(const std::map<kafka::TopicPartition, Offset>& offsets);
  void RetryOffsetsToCommit(const std::map<kafka::TopicPartition, Offset>& offsets);
  [[nodiscard]] std::map<kafka::TopicPartition, Offset> TakeOffsetsToCommit();

 private:
  void Release(const std::vector<kafka::TopicPartition>& partitions);
  // Under mutex_: from now on `tp` is this instance's, with a lag gauge and owed a commit of
  // `offset`.
  void Own(const kafka::TopicPartition& tp, std::optional<Offset> offset);
  void Disown(const kafka::TopicPartition& tp);

  // Restore for each of `partitions`, spread over the changelogs' threads: for each, in order,
  // whether its changelog partition is empty. On a failure the threads stop and it is returned.
  [[nodiscard]] absl::StatusOr<std::vector<bool>> RestoreAll(
      const std::vector<kafka::TopicPartition>& partitions);
  // Restores the partition from the changelog if its local state is not the changelog's. True
  // when the changelog partition is empty (the local state, if any, has to be written to it).
  // Thread-safe for distinct partitions and changelogs.
  [[nodiscard]] absl::StatusOr<bool> Restore(const kafka::TopicPartition& tp,
                                             KafkaChangelog& changelog);

  pipeline::Processor& processor_;
  prometheus::Family<prometheus::Gauge>* lag_family_;
  state::Store& store_;
  std::vector<KafkaChangelog*> changelogs_;
  OwnershipMetrics* metrics_;
  RepartitionReader* repartition_;
  CrashPoints* crash_points_;
  std::atomic<int> restoring_ = 0;
  absl::Status failure_;
  std::mutex mutex_;
  std::map<kafka::TopicPartition, prometheus::Gauge*> lag_;
  std::set<kafka::TopicPartition> owned_;
  std::map<kafka::TopicPartition, Offset> to_commit_;
  // Last: it persists what restores wrote as the rest is taken down. Only with restores.
  std::optional<UnloggedPersister> persister_;
};

// The input topic's partition count, checking that each of `followers` (empty names skipped) has
// as many: a customer's partition must mean the same in all of them.
[[nodiscard]] absl::StatusOr<int> CheckCoPartitioned(std::string_view bootstrap,
                                                     const kafka::Properties& properties,
                                                     std::string_view input_topic,
                                                     const std::vector<std::string>& followers);

// Views over consumed messages, valid while `messages` lives. Those of `repartition_topic` are
// marked as such.
[[nodiscard]] std::vector<pipeline::InputRecord> ToInputRecords(
    const std::vector<kafka::Message>& messages, std::string_view repartition_topic);

// The next offset of every partition in a consumed batch, for the group's committed offsets.
[[nodiscard]] std::map<kafka::TopicPartition, Offset> NextOffsets(
    const std::vector<kafka::Message>& messages);

}  // namespace cdp::service
