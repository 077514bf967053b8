#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/kafka/stats.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class Producer;
}
struct rd_kafka_topic_s;

namespace cdp::kafka {
namespace internal {
class StatsSubscription;
}  // namespace internal

struct ProducerOptions {
  std::string bootstrap_servers = {};
  // Applied over the defaults: enable.idempotence=true, acks=all, compression.type=lz4,
  // linger.ms=5, partitioner=murmur2_random (keys land on the partitions Java clients pick).
  Properties properties = {};
  // How long Produce keeps retrying while librdkafka's local queue is full.
  absl::Duration queue_full_timeout = absl::Seconds(10);
  StatsOptions stats = {};
};

// An idempotent producer over RdKafka::Producer that tracks delivery so a caller can tell whether
// everything it produced reached the brokers before it commits its own state. Thread-safe.
class Producer {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const ProducerOptions& options);

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;
  // Does not wait: call Flush first, or queued records are dropped.
  ~Producer();

  // Queues a record; key, value and headers are copied. nullopt sends a null key/value, distinct
  // from an empty one. `partition` nullopt lets the partitioner pick by key; a value sends the
  // record to exactly that partition whatever its key (a changelog record goes to the partition
  // of the input it came from). A partition the topic does not have fails with NotFound, or, while
  // the producer does not know the topic's partitions yet, fails the delivery (reported by Flush).
  // When the queue is full, serves delivery reports and retries until queue_full_timeout, then
  // fails with ResourceExhausted.
  [[nodiscard]] absl::Status Produce(std::string_view topic, std::optional<std::string_view> key,
                                     std::optional<std::string_view> value,
                                     std::span<const Header> headers = {},
                                     std::optional<Partition> partition = std::nullopt);

  // Waits until every record produced before the call is delivered or has failed. Not OK if any
  // delivery failed since the previous Flush (with the first failure's librdkafka error), if any
  // record was acknowledged without a log offset (Unavailable: its delivery was inferred, not
  // confirmed; see producer.cc), or if records are still undelivered at `timeout` (they are
  // reported by a later Flush). Whatever the failure, producing the records again is safe.
  [[nodiscard]] absl::Status Flush(absl::Duration timeout);

 private:
  class DeliveryTracker;

  Producer(std::unique_ptr<DeliveryTracker> tracker, absl::Duration queue_full_timeout);

  // Every kPollEvery-th Produce serves delivery reports, so they do not pile up between flushes.
  static constexpr std::uint64_t kPollEvery = 1024;

  [[nodiscard]] rd_kafka_topic_s* TopicHandle(std::string_view topic);

  std::unique_ptr<DeliveryTracker> tracker_;
  std::unique_ptr<RdKafka::Producer> producer_;
  // Declared after producer_: unsubscribed before the client goes.
  std::unique_ptr<internal::StatsSubscription> stats_;
  absl::Duration queue_full_timeout_;
  std::atomic<std::uint64_t> produced_ = 0;
  std::shared_mutex topics_mutex_;
  std::map<std::string, rd_kafka_topic_s*, std::less<>> topics_;
};

}  // namespace cdp::kafka
