#include "cdp/kafka/producer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "conf.h"
#include "stats.h"

namespace cdp::kafka {
namespace {

using internal::DescribeError;

// librdkafka sends a null key/value for a null pointer, so an empty one needs a non-null pointer.
const char kEmpty[] = "";

// More headers than this per record still work, on the heap.
constexpr std::size_t kInlineHeaders = 2;

const char* DataOrEmpty(std::string_view bytes) {
  return bytes.data() != nullptr ? bytes.data() : kEmpty;
}

// "topic[partition]" of a delivery report.
std::string PartitionOf(const RdKafka::Message& message) {
  return absl::StrCat(message.topic_name(), "[", message.partition(), "]");
}

}  // namespace

// Counts, between two Flush calls, the records that failed delivery and those acknowledged
// without a log offset. Delivery reports are served by poll() and flush(), which may run on
// several threads at once.
//
// An acknowledgement without an offset is librdkafka's idempotent producer inferring a record's
// delivery from a later request's success, after the record's own request failed: a real broker
// would have refused that later request (out of sequence) had the record not been written. The
// embedded broker checks no sequence numbers for a producer outside a transaction, so there the
// record may be missing from the log; it counts as unconfirmed, and the caller sends it again.
class Producer::DeliveryTracker : public RdKafka::DeliveryReportCb {
 public:
  struct Report {
    std::uint64_t failures = 0;
    std::string first_failure;
    std::uint64_t unconfirmed = 0;
    std::string first_unconfirmed;
  };

  void dr_cb(RdKafka::Message& message) override {
    if (message.err() == RdKafka::ERR_NO_ERROR) {
      // acks=0 leaves every record without an offset and only possibly persisted.
      if (message.offset() >= 0 || message.status() != RdKafka::Message::MSG_STATUS_PERSISTED) {
        return;
      }
      std::lock_guard lock(mutex_);
      if (report_.unconfirmed++ == 0) report_.first_unconfirmed = PartitionOf(message);
      return;
    }
    std::lock_guard lock(mutex_);
    if (report_.failures++ == 0) {
      report_.first_failure = DescribeError(PartitionOf(message), message.err());
    }
  }

  // What was reported since the previous call.
  Report Take() {
    std::lock_guard lock(mutex_);
    return std::exchange(report_, Report());
  }

 private:
  std::mutex mutex_;
  Report report_;
};

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const ProducerOptions& options) {
  const Properties defaults = {
      {"enable.idempotence", "true"},    {"acks", "all"},
      {"compression.type", "lz4"},       {"linger.ms", "5"},
      {"partitioner", "murmur2_random"},
  };
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf("producer", defaults, options.bootstrap_servers, options.properties);
  if (!conf.ok()) return conf.status();

  if (absl::Status stats = internal::StatsSubscription::Configure(**conf, options.stats);
      !stats.ok()) {
    return stats;
  }
  auto tracker = std::make_unique<DeliveryTracker>();
  std::string error;
  if ((*conf)->set("dr_cb", tracker.get(), error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("cannot install the delivery callback: ", error));
  }
  std::unique_ptr<Producer> producer(new Producer(std::move(tracker), options.queue_full_timeout));
  producer->producer_.reset(RdKafka::Producer::create(conf->get(), error));
  if (producer->producer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka producer: ", error));
  }
  if (options.stats.callback) {
    producer->stats_ =
        std::make_unique<internal::StatsSubscription>(producer->producer_->c_ptr(), options.stats);
  }
  return producer;
}

Producer::Producer(std::unique_ptr<DeliveryTracker> tracker, absl::Duration queue_full_timeout)
    : tracker_(std::move(tracker)), queue_full_timeout_(queue_full_timeout) {}

Producer::~Producer() {
  for (const auto& [name, handle] : topics_) rd_kafka_topic_destroy(handle);
}

rd_kafka_topic_t* Producer::TopicHandle(std::string_view topic) {
  {
    std::shared_lock lock(topics_mutex_);
    if (auto it = topics_.find(topic); it != topics_.end()) return it->second;
  }
  std::unique_lock lock(topics_mutex_);
  if (auto it = topics_.find(topic); it != topics_.end()) return it->second;
  rd_kafka_topic_t* handle =
      rd_kafka_topic_new(producer_->c_ptr(), std::string(topic).c_str(), nullptr);
  if (handle != nullptr) topics_.emplace(std::string(topic), handle);
  return handle;
}

absl::Status Producer::Produce(std::string_view topic, std::optional<std::string_view> key,
                               std::optional<std::string_view> value,
                               std::span<const Header> headers,
                               std::optional<Partition> partition) {
  // A negative partition would be librdkafka's "unassigned" and silently mean "by key".
  if (partition.has_value() && partition->value() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot produce to partition ", partition->value(), " of topic '",
                     internal::ToAbsl(topic), "': partitions are numbered from 0"));
  }
  // A cached topic handle: naming the topic on every record takes a client-wide write lock.
  rd_kafka_topic_t* topic_handle = TopicHandle(topic);
  if (topic_handle == nullptr) {
    return absl::InvalidArgumentError(
        DescribeError(absl::StrCat("cannot produce to topic '", internal::ToAbsl(topic), "'"),
                      static_cast<RdKafka::ErrorCode>(rd_kafka_last_error())));
  }
  // Header names must be NUL-terminated for librdkafka. Inline storage: this runs for every
  // record, and records carry a header or two, so the heap is left alone.
  absl::InlinedVector<std::string, kInlineHeaders> header_names;
  header_names.reserve(headers.size());
  absl::InlinedVector<rd_kafka_vu_t, 5 + kInlineHeaders> fields(4 + headers.size() +
                                                                (partition.has_value() ? 1 : 0));
  fields[0].vtype = RD_KAFKA_VTYPE_RKT;
  fields[0].u.rkt = topic_handle;
  fields[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  fields[1].u.i = RD_KAFKA_MSG_F_COPY;
  // librdkafka copies (RD_KAFKA_MSG_F_COPY) and never writes through these pointers.
  fields[2].vtype = RD_KAFKA_VTYPE_VALUE;
  fields[2].u.mem = {value ? const_cast<char*>(DataOrEmpty(*value)) : nullptr,
                     value ? value->size() : 0};
  fields[3].vtype = RD_KAFKA_VTYPE_KEY;
  fields[3].u.mem = {key ? const_cast<char*>(DataOrEmpty(*key)) : nullptr, key ? key->size() : 0};
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const std::string& name = header_names.emplace_back(headers[i].name);
    fields[4 + i].vtype = RD_KAFKA_VTYPE_HEADER;
    fields[4 + i].u.header = {name.c_str(), DataOrEmpty(headers[i].value),
                              static_cast<ssize_t>(headers[i].value.size())};
  }
  if (partition.has_value()) {
    fields.back().vtype = RD_KAFKA_VTYPE_PARTITION;
    fields.back().u.i32 = partition->value();
  }

  // Read the clock only once the queue is full: this runs for every record, and a clock read
  // costs tens of nanoseconds on a virtual machine.
  std::optional<absl::Time> deadline;
  for (;;) {
    rd_kafka_error_t* error = rd_kafka_produceva(producer_->c_ptr(), fields.data(), fields.size());
    const RdKafka::ErrorCode err =
        error == nullptr ? RdKafka::ERR_NO_ERROR
                         : static_cast<RdKafka::ErrorCode>(rd_kafka_error_code(error));
    if (error != nullptr) rd_kafka_error_destroy(error);
    if (err == RdKafka::ERR_NO_ERROR) {
      // Delivery reports are served in bulk rather than per record: Flush serves the rest.
      if (produced_.fetch_add(1, std::memory_order_relaxed) % kPollEvery == 0) {
        producer_->poll(0);
      }
      return absl::OkStatus();
    }
    if (err == RdKafka::ERR__FATAL) {
      std::string reason;
      producer_->fatal_error(reason);
      return absl::InternalError(absl::StrCat("Kafka producer failed fatally: ", reason,
                                              "; flush, then recreate the producer"));
    }
    if (err != RdKafka::ERR__QUEUE_FULL) {
      const std::string context =
          partition.has_value()
              ? absl::StrCat("cannot produce to ",
                             ToString(TopicPartition{std::string(topic), *partition}))
              : absl::StrCat("cannot produce to topic '", internal::ToAbsl(topic), "'");
      switch (err) {
        case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
          return absl::InvalidArgumentError(DescribeError(context, err));
        case RdKafka::ERR__UNKNOWN_PARTITION:
          return absl::NotFoundError(DescribeError(context, err));
        default:
          return absl::UnavailableError(DescribeError(context, err));
      }
    }
    const absl::Time now = absl::Now();
    if (!deadline.has_value()) deadline = now + queue_full_timeout_;
    if (now >= *deadline) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "Kafka producer queue still full after ", absl::FormatDuration(queue_full_timeout_),
          ": the brokers are slow or unreachable, or queue.buffering.max.messages/kbytes is too "
          "small for the load"));
    }
    // Delivering queued records is what frees room in the queue.
    producer_->poll(100);
  }
}

absl::Status Producer::Flush(absl::Duration timeout) {
  // rd_kafka_flush() checks whether all is delivered only every 10 ms, however early the last
  // delivery report came: a caller flushing per batch paid that for nothing. Flushes of 1 ms
  // each still send at once what lingers, and return within a millisecond of the last report.
  const absl::Time deadline = absl::Now() + timeout;
  RdKafka::ErrorCode flushed = RdKafka::ERR__TIMED_OUT;
  do {
    flushed = producer_->flush(1);
  } while (flushed == RdKafka::ERR__TIMED_OUT && absl::Now() < deadline);
  const DeliveryTracker::Report report = tracker_->Take();
  std::string pending;
  if (flushed == RdKafka::ERR__TIMED_OUT) {
    pending = absl::StrCat(producer_->outq_len(), " records still undelivered after ",
                           absl::FormatDuration(timeout),
                           " (check that the brokers in bootstrap.servers are reachable)");
  } else if (flushed != RdKafka::ERR_NO_ERROR) {
    pending = DescribeError("flushing the Kafka producer failed", flushed);
  }
  std::vector<std::string> problems;
  if (report.failures > 0) {
    problems.push_back(absl::StrCat(
        report.failures,
        " Kafka record(s) failed delivery since the last flush; first: ", report.first_failure));
  }
  if (report.unconfirmed > 0) {
    problems.push_back(absl::StrCat(
        report.unconfirmed,
        " Kafka record(s) acknowledged without a log offset since the last flush, first in ",
        report.first_unconfirmed,
        ": their delivery was inferred after their own request failed, which only a broker that "
        "checks the idempotent producer's sequence numbers makes safe; send them again"));
  }
  if (!problems.empty()) {
    if (!pending.empty()) problems.push_back(pending);
    return absl::UnavailableError(absl::StrJoin(problems, "; "));
  }
  if (flushed == RdKafka::ERR__TIMED_OUT) return absl::DeadlineExceededError(pending);
  if (!pending.empty()) return absl::UnavailableError(pending);
  return absl::OkStatus();
}

}  // namespace cdp::kafka
