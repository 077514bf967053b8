#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/kafka/message.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class KafkaConsumer;
}

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

 private:
  PartitionReader() = default;

  // NotFound unless the cluster has the partition: a fresh metadata request, not librdkafka's
  // cache, once per topic; partitions below the count it listed are not asked about again.
  [[nodiscard]] absl::Status CheckExists(const TopicPartition& tp, absl::Duration timeout);

  [[nodiscard]] absl::Status ReadAssigned(const TopicPartition& tp, std::int64_t from,
                                          std::int64_t until,
                                          const std::function<absl::Status(const Message&)>& visit,
                                          absl::Duration idle_timeout);

  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // Partitions per topic as the cluster last listed them. A restore reads every partition of the
  // changelog, and a metadata request per partition was a third of a small one's time.
  std::map<std::string, std::size_t, std::less<>> partition_counts_;
};

}  // namespace cdp::kafka
