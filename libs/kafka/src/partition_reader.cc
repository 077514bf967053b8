#include "cdp/kafka/partition_reader.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "conf.h"
#include "metadata.h"

namespace cdp::kafka {
namespace {

using internal::DescribeError;

constexpr std::size_t kBatchSize = 256;

struct QueueReleaser {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};

struct MessageDestroyer {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};

// Errors after which reading this partition cannot succeed, so waiting for the idle timeout
// would only hide them. Anything else (broker down, leader moving) librdkafka retries by itself.
std::optional<absl::StatusCode> FatalToRead(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::StatusCode::kNotFound;
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      return absl::StatusCode::kPermissionDenied;
    // Only with auto.offset.reset=error overridden.
    case RdKafka::ERR__AUTO_OFFSET_RESET:
    case RdKafka::ERR_OFFSET_OUT_OF_RANGE:
      return absl::StatusCode::kOutOfRange;
    default:
      return std::nullopt;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PartitionReader>> PartitionReader::Create(
    const PartitionReaderOptions& options) {
  // librdkafka's KafkaConsumer refuses to start without a group.id even when it only assigns; the
  // group is never joined and nothing is committed to it. One partition is read at a time, so its
  // fetches may be far larger than the 1 MiB default. The end of a partition is reported by a
  // fetch the broker holds for fetch.wait.max.ms (500 ms by default), and the fetch still held
  // for one partition delays the first fetch of the next by as much: a reader reads ranges it
  // knows the end of, so it has no use for long polls.
  const Properties defaults = {
      {"group.id", "cdp-partition-reader"},
      {"auto.offset.reset", "earliest"},
      {"max.partition.fetch.bytes", "16777216"},
      {"fetch.wait.max.ms", "1"},
  };
  // Read's contract rests on these: no offsets written anywhere, and the end of the partition
  // signalled so that a range whose last records were compacted away still ends.
  Properties overrides = options.properties;
  overrides.emplace_back("enable.auto.commit", "false");
  overrides.emplace_back("enable.partition.eof", "true");
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf("partition reader", defaults, options.bootstrap_servers, overrides);
  if (!conf.ok()) return conf.status();

  std::unique_ptr<PartitionReader> reader(new PartitionReader());
  std::string error;
  reader->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (reader->consumer_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create Kafka partition reader: ", error));
  }
  return reader;
}

PartitionReader::~PartitionReader() {
  // Without a subscription close() leaves no group; it stops the fetchers before destruction.
  if (consumer_ != nullptr) consumer_->close();
}

absl::StatusOr<Watermarks> PartitionReader::QueryWatermarks(const TopicPartition& tp,
                                                            absl::Duration timeout) {
  Watermarks watermarks;
  const RdKafka::ErrorCode err =
      consumer_->query_watermark_offsets(tp.topic, tp.partition.value(), &watermarks.low,
                                         &watermarks.high, internal::ToTimeoutMs(timeout));
  if (err == RdKafka::ERR_NO_ERROR) return watermarks;
  const std::string message =
      DescribeError(absl::StrCat("cannot query the watermarks of ", ToString(tp)), err);
  if (const std::optional<absl::StatusCode> code = FatalToRead(err); code.has_value()) {
    return absl::Status(*code, message);
  }
  if (err == RdKafka::ERR__TIMED_OUT) {
    return absl::DeadlineExceededError(
        absl::StrCat(message, " within ", absl::FormatDuration(timeout),
                     "; check that bootstrap.servers reaches the cluster"));
  }
  return absl::UnavailableError(message);
}

absl::Status PartitionReader::Read(const TopicPartition& tp, std::int64_t from, std::int64_t until,
                                   const std::function<absl::Status(const Message&)>& visit,
                                   absl::Duration idle_timeout) {
  if (from < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", ToString(tp), " from offset ", from, ": offsets start at 0"));
  }
  if (until <= from) return absl::OkStatus();
  // librdkafka waits silently for an assigned partition that does not exist.
  if (absl::Status status = CheckExists(tp, idle_timeout); !status.ok()) return status;
  std::unique_ptr<RdKafka::TopicPartition> start(
      RdKafka::TopicPartition::create(tp.topic, tp.partition.value(), from));
  if (const RdKafka::ErrorCode err = consumer_->assign({start.get()});
      err != RdKafka::ERR_NO_ERROR) {
    return absl::InternalError(
        DescribeError(absl::StrCat("librdkafka refused to assign ", ToString(tp)), err));
  }
  absl::Status status = ReadAssigned(tp, from, until, visit, idle_timeout);
  // Drops what was fetched beyond `until`; records of this assignment are never delivered again.
  if (const RdKafka::ErrorCode err = consumer_->unassign();
      err != RdKafka::ERR_NO_ERROR && status.ok()) {
    status = absl::InternalError(
        DescribeError(absl::StrCat("librdkafka refused to unassign ", ToString(tp)), err));
  }
  return status;
}

absl::Status PartitionReader::CheckExists(const TopicPartition& tp, absl::Duration timeout) {
  if (const auto known = partition_counts_.find(tp.topic);
      known != partition_counts_.end() &&
      static_cast<std::size_t>(tp.partition.value()) < known->second) {
    return absl::OkStatus();
  }
  const std::string context = absl::StrCat("cannot read ", ToString(tp));
  absl::StatusOr<std::unique_ptr<RdKafka::Metadata>> metadata =
      internal::QueryTopicMetadata(*consumer_, tp.topic, timeout, context);
  if (!metadata.ok()) return metadata.status();
  const RdKafka::TopicMetadata* found = internal::FindTopic(**metadata, tp.topic);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat(context, ": the cluster does not list the topic"));
  }
  if (const std::optional<absl::StatusCode> code = FatalToRead(found->err()); code.has_value()) {
    return absl::Status(*code, DescribeError(context, found->err()));
  }
  // Other topic errors (no leader yet) pass: librdkafka waits for them, within idle_timeout.
  if (found->err() != RdKafka::ERR_NO_ERROR) return absl::OkStatus();
  partition_counts_[tp.topic] = found->partitions()->size();
  if (static_cast<std::size_t>(tp.partition.value()) >= found->partitions()->size()) {
    return absl::NotFoundError(absl::StrCat(context, ": topic '", tp.topic, "' has ",
                                            found->partitions()->size(), " partitions"));
  }
  return absl::OkStatus();
}

absl::Status PartitionReader::ReadAssigned(const TopicPartition& tp, std::int64_t from,
                                           std::int64_t until,
                                           const std::function<absl::Status(const Message&)>& visit,
                                           absl::Duration idle_timeout) {
  // The lowest offset not delivered yet: guards order and uniqueness whatever librdkafka resends.
  std::int64_t next = from;
  // The end of the partition as last reported (its high watermark then), -1 before that.
  std::int64_t end_seen = -1;
  std::string last_error;
  absl::Time last_record = absl::Now();
  // What is already fetched is taken in batches: a consume call per record (a lock, a clock
  // read) cost a tenth of a restore.
  const std::unique_ptr<rd_kafka_queue_t, QueueReleaser> queue(
      rd_kafka_queue_get_consumer(consumer_->c_ptr()));
  std::array<rd_kafka_message_t*, kBatchSize> fetched{};
  std::vector<std::unique_ptr<rd_kafka_message_t, MessageDestroyer>> batch;
  batch.reserve(kBatchSize);
  for (;;) {
    batch.clear();
    const ssize_t taken = rd_kafka_consume_batch_queue(queue.get(), 0, fetched.data(), kBatchSize);
    for (ssize_t i = 0; i < taken; ++i) batch.emplace_back(fetched[i]);
    if (batch.empty()) {
      // Nothing fetched yet: wait for one record, which returns as soon as it arrives.
      rd_kafka_message_t* waited = rd_kafka_consumer_poll(
          consumer_->c_ptr(), internal::ToTimeoutMs(last_record + idle_timeout - absl::Now()));
      if (waited == nullptr) {
        if (absl::Now() - last_record < idle_timeout) continue;
        return absl::DeadlineExceededError(
            absl::StrCat("no record of ", ToString(tp), " for ", absl::FormatDuration(idle_timeout),
                         " while reading offsets [", from, ", ", until, "): next offset ", next,
                         end_seen >= 0 ? absl::StrCat(", partition end seen at ", end_seen)
                                       : std::string(", partition end not reached"),
                         last_error.empty() ? "" : absl::StrCat("; last error: ", last_error)));
      }
      batch.emplace_back(waited);
    }
    bool got_record = false;
    for (auto& owned : batch) {
      const rd_kafka_message_t& raw = *owned;
      const auto err = static_cast<RdKafka::ErrorCode>(raw.err);
      if (err == RdKafka::ERR_NO_ERROR) {
        got_record = true;
        if (raw.partition != tp.partition.value() || raw.offset < next) continue;
        if (raw.offset >= until) return absl::OkStatus();
        const std::int64_t offset = raw.offset;
        if (absl::Status status = visit(Message(owned.release())); !status.ok()) return status;
        next = offset + 1;
        if (next >= until) return absl::OkStatus();
      } else if (err == RdKafka::ERR__PARTITION_EOF) {
        // The partition holds nothing more: below `until` more records are still to come.
        if (raw.partition != tp.partition.value()) continue;
        end_seen = raw.offset;
        if (end_seen >= until) return absl::OkStatus();
      } else if (err == RdKafka::ERR__FATAL) {
        std::string reason;
        consumer_->fatal_error(reason);
        return absl::InternalError(absl::StrCat("Kafka partition reader failed fatally reading ",
                                                ToString(tp), ": ", reason, "; recreate it"));
      } else if (const std::optional<absl::StatusCode> code = FatalToRead(err); code.has_value()) {
        if (*code == absl::StatusCode::kNotFound) partition_counts_.erase(tp.topic);
        return absl::Status(
            *code, absl::StrCat("cannot read ", ToString(tp), ": ", rd_kafka_message_errstr(&raw),
                                " (", internal::ErrorName(err), ")"));
      } else {
        last_error =
            absl::StrCat(rd_kafka_message_errstr(&raw), " (", internal::ErrorName(err), ")");
      }
    }
    if (got_record) last_record = absl::Now();
  }
}

}  // namespace cdp::kafka
