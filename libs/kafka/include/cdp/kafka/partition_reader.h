#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/kafka/message.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class KafkaConsumer;
}
struct rd_kafka_queue_s;

namespace cdp::kafka {

struct PartitionReaderOptions {
  std::string bootstrap_servers = {};
  // Applied over the defaults: group.id=cdp-partition-reader (never joined, see PartitionReader),
  // auto.offset.reset=earliest, max.partition.fetch.bytes=16777216 (16 MiB per fetch),
  // fetch.wait.max.ms=1. Read depends on enable.auto.commit=false and enable.partition.eof=true,
  // which cannot be overridden.
  Properties properties = {};
};

struct Watermarks {
  // The first offset still in the partition (retention and compaction move it up).
  std::int64_t low = 0;
  // The offset the next record written will get: the partition holds no record at or above it.
  std::int64_t high = 0;
};

// Reads a range of one partition at a time, e.g. a changelog partition to restore local state
// from. Not a consumer group member: it assigns the partition itself, never subscribes, joins or
// commits. librdkafka's consumer still needs a group.id for that and looks up the group's
// coordinator with it (FindCoordinator); where ACLs deny that, librdkafka logs it and reading goes
// on. Thread-compatible: one caller at a time.
class PartitionReader {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PartitionReader>> Create(
      const PartitionReaderOptions& options);

  PartitionReader(const PartitionReader&) = delete;
  PartitionReader& operator=(const PartitionReader&) = delete;
  ~PartitionReader();

  // Asks the partition's leader for its watermarks. NotFound for a topic or partition the cluster
  // does not have.
  [[nodiscard]] absl::StatusOr<Watermarks> QueryWatermarks(const TopicPartition& tp,
                                                           absl::Duration timeout);
  // The same for many partitions at once, in the order given: two requests to each leader, not two
  // per partition (a restore asks for a new owner's every partition before reading them). One
  // partition's error fails the whole query.
  [[nodiscard]] absl::StatusOr<std::vector<Watermarks>> QueryWatermarks(
      const std::vector<TopicPartition>& partitions, absl::Duration timeout);

  // Calls `visit` for every record of `tp` with from <= offset < until, in offset order; its
  // Message is valid only during the call. Offsets may be missing (compaction, retention): a
  // `from` below the low watermark starts at the low watermark, and reading ends after offset
  // until - 1 or once the partition's end is reached at or after `until`, whichever comes first.
  // An empty range (until <= from) returns at once. Reading `until` = the high watermark from
  // QueryWatermarks therefore reads the partition as it was then, even while records are
  // appended. A `visit` error stops reading and is returned as it is. DeadlineExceeded if no
  // record arrives for `idle_timeout` while records below `until` are still expected (brokers
  // unreachable, or `until` beyond the partition's end); NotFound for an unknown topic or
  // partition (once the reader has seen the cluster list a partition, a topic deleted since may
  // also end in DeadlineExceeded). The partition is released however Read ends, so the reader
  // can read another one.
  [[nodiscard]] absl::Status Read(const TopicPartition& tp, std::int64_t from, std::int64_t until,
                                  const std::function<absl::Status(const Message&)>& visit,
                                  absl::Duration idle_timeout);

  // Starts fetching `tp` from `from` in the background, for a Read of it from there that comes
  // later: a restore reads one partition after the other, and the wait for each one's first
  // records was a third of a small restore's time. Up to two partitions are held prefetched (the
  // one read next and the one after it); a third Prefetch releases the oldest, and a Prefetch or
  // Read of a prefetched partition from another offset releases it. Errors are those of Read.
  [[nodiscard]] absl::Status Prefetch(const TopicPartition& tp, std::int64_t from,
                                      absl::Duration timeout);
  // Releases every prefetched partition: one assigned and never read would be fetched from for
  // as long as the reader lives.
  [[nodiscard]] absl::Status DropPrefetched();

 private:
  struct QueueReleaser {
    void operator()(rd_kafka_queue_s* queue) const;
  };
  // A partition assigned to this reader, its records kept in a queue of its own so that another
  // one can be fetched meanwhile.
  struct Assigned {
    TopicPartition tp;
    std::int64_t from = 0;
    std::unique_ptr<rd_kafka_queue_s, QueueReleaser> queue;
  };

  PartitionReader() = default;
  // NotFound unless the cluster has the partition: a fresh metadata request, not librdkafka's
  // cache, once per topic; partitions below the count it listed are not asked about again.
  [[nodiscard]] absl::Status CheckExists(const TopicPartition& tp, absl::Duration timeout);
  // prefetched_.end() when `tp` is not prefetched.
  [[nodiscard]] std::vector<Assigned>::iterator FindPrefetched(const TopicPartition& tp);
  [[nodiscard]] absl::StatusOr<Assigned> Assign(const TopicPartition& tp, std::int64_t from,
                                                absl::Duration timeout);
  // Drops what was fetched and not read; records of that assignment are never delivered again.
  [[nodiscard]] absl::Status Unassign(Assigned& assigned);
  [[nodiscard]] absl::Status ReadAssigned(Assigned& assigned, std::int64_t until,
                                          const std::function<absl::Status(const Message&)>& visit,
                                          absl::Duration idle_timeout);

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Partitions per topic as the cluster last listed them: a restore reads every partition of the
  // changelog, with one metadata round trip rather than one per partition.
  std::map<std::string, std::size_t, std::less<>> partition_counts_;
  std::vector<Assigned> prefetched_;  // oldest first
};

}  // namespace cdp::kafka
