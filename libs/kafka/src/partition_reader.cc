#include "cdp/kafka/partition_reader.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <array>
#include <memory>
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
constexpr std::size_t kMaxPrefetched = 2;

absl::Status FailedFatally(RdKafka::KafkaConsumer& consumer, const TopicPartition& tp) {
  std::string reason;
  consumer.fatal_error(reason);
  return absl::InternalError(absl::StrCat("Kafka partition reader failed fatally reading ",
                                          ToString(tp), ": ", reason, "; recreate it"));
}

struct PartitionListReleaser {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};

struct ErrorReleaser {
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
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
  // librdkafka requires a partition's queue to go before the consumer closes.
  static_cast<void>(DropPrefetched());
  // Without a subscription close() leaves no group; it stops the fetchers before destruction.
  if (consumer_ != nullptr) consumer_->close();
}

void PartitionReader::QueueReleaser::operator()(rd_kafka_queue_t* queue) const {
  rd_kafka_queue_destroy(queue);
}

absl::StatusOr<Watermarks> PartitionReader::QueryWatermarks(const TopicPartition& tp,
                                                            absl::Duration timeout) {
  absl::StatusOr<std::vector<Watermarks>> watermarks =
      QueryWatermarks(std::vector<TopicPartition>{tp}, timeout);
  if (!watermarks.ok()) return watermarks.status();
  return watermarks->front();
}

absl::StatusOr<std::vector<Watermarks>> PartitionReader::QueryWatermarks(
    const std::vector<TopicPartition>& partitions, absl::Duration timeout) {
  const auto failed = [&](const std::string& what, RdKafka::ErrorCode err) {
    const std::string message =
        DescribeError(absl::StrCat("cannot query the watermarks of ", what), err);
    if (const std::optional<absl::StatusCode> code = FatalToRead(err); code.has_value()) {
      return absl::Status(*code, message);
    }
    if (err == RdKafka::ERR__TIMED_OUT) {
      return absl::DeadlineExceededError(
          absl::StrCat(message, " within ", absl::FormatDuration(timeout),
                       "; check that bootstrap.servers reaches the cluster"));
    }
    return absl::UnavailableError(message);
  };
  std::vector<Watermarks> watermarks(partitions.size());
  // ListOffsets takes these two "timestamps" as the first offset and the next offset.
  for (const std::int64_t which : {RdKafka::Topic::OFFSET_BEGINNING, RdKafka::Topic::OFFSET_END}) {
    std::vector<std::unique_ptr<RdKafka::TopicPartition>> owned;
    std::vector<RdKafka::TopicPartition*> query;
    for (const TopicPartition& tp : partitions) {
      owned.emplace_back(RdKafka::TopicPartition::create(tp.topic, tp.partition.value(), which));
      query.push_back(owned.back().get());
    }
    if (const RdKafka::ErrorCode err =
            consumer_->offsetsForTimes(query, internal::ToTimeoutMs(timeout));
        err != RdKafka::ERR_NO_ERROR) {
      return failed(partitions.size() == 1 ? ToString(partitions.front())
                                           : absl::StrCat(partitions.size(), " partitions"),
                    err);
    }
    for (std::size_t i = 0; i < query.size(); ++i) {
      if (query[i]->err() != RdKafka::ERR_NO_ERROR) {
        return failed(ToString(partitions[i]), query[i]->err());
      }
      (which == RdKafka::Topic::OFFSET_BEGINNING ? watermarks[i].low : watermarks[i].high) =
          query[i]->offset();
    }
  }
  return watermarks;
}

absl::Status PartitionReader::Read(const TopicPartition& tp, std::int64_t from, std::int64_t until,
                                   const std::function<absl::Status(const Message&)>& visit,
                                   absl::Duration idle_timeout) {
  if (from < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", ToString(tp), " from offset ", from, ": offsets start at 0"));
  }
  if (until <= from) return absl::OkStatus();
  std::optional<Assigned> assigned;
  if (auto found = FindPrefetched(tp); found != prefetched_.end()) {
    Assigned prefetched = std::move(*found);
    prefetched_.erase(found);
    if (prefetched.from == from) {
      assigned = std::move(prefetched);
    } else if (absl::Status released = Unassign(prefetched); !released.ok()) {
      return released;
    }
  }
  if (!assigned.has_value()) {
    absl::StatusOr<Assigned> started = Assign(tp, from, idle_timeout);
    if (!started.ok()) return started.status();
    assigned = *std::move(started);
  }
  absl::Status status = ReadAssigned(*assigned, until, visit, idle_timeout);
  if (absl::Status released = Unassign(*assigned); !released.ok() && status.ok()) {
    status = released;
  }
  return status;
}

absl::Status PartitionReader::Prefetch(const TopicPartition& tp, std::int64_t from,
                                       absl::Duration timeout) {
  if (from < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot prefetch ", ToString(tp),
                                                   " from offset ", from, ": offsets start at 0"));
  }
  const auto release = [&](std::vector<Assigned>::iterator prefetched) {
    absl::Status released = Unassign(*prefetched);
    prefetched_.erase(prefetched);
    return released;
  };
  if (auto found = FindPrefetched(tp); found != prefetched_.end()) {
    if (found->from == from) return absl::OkStatus();
    if (absl::Status released = release(found); !released.ok()) return released;
  }
  if (prefetched_.size() == kMaxPrefetched) {
    if (absl::Status released = release(prefetched_.begin()); !released.ok()) return released;
  }
  absl::StatusOr<Assigned> started = Assign(tp, from, timeout);
  if (!started.ok()) return started.status();
  prefetched_.push_back(*std::move(started));
  return absl::OkStatus();
}

std::vector<PartitionReader::Assigned>::iterator PartitionReader::FindPrefetched(
    const TopicPartition& tp) {
  return std::find_if(prefetched_.begin(), prefetched_.end(),
                      [&](const Assigned& prefetched) { return prefetched.tp == tp; });
}

absl::Status PartitionReader::DropPrefetched() {
  absl::Status first_failure = absl::OkStatus();
  for (Assigned& prefetched : prefetched_) first_failure.Update(Unassign(prefetched));
  prefetched_.clear();
  return first_failure;
}

absl::StatusOr<PartitionReader::Assigned> PartitionReader::Assign(const TopicPartition& tp,
                                                                  std::int64_t from,
                                                                  absl::Duration timeout) {
  // librdkafka waits silently for an assigned partition that does not exist.
  if (absl::Status status = CheckExists(tp, timeout); !status.ok()) return status;
  rd_kafka_t* const client = consumer_->c_ptr();
  // Taken off the consumer's queue before the partition is assigned, so that none of its records
  // land there: librdkafka keeps an application's forwarding when it starts fetching.
  Assigned assigned{
      .tp = tp,
      .from = from,
      .queue = std::unique_ptr<rd_kafka_queue_t, QueueReleaser>(
          rd_kafka_queue_get_partition(client, tp.topic.c_str(), tp.partition.value()))};
  if (assigned.queue == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", ToString(tp), ": librdkafka has no such partition"));
  }
  rd_kafka_queue_forward(assigned.queue.get(), nullptr);
  const std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListReleaser> list(
      rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value())->offset =
      from;
  if (const std::unique_ptr<rd_kafka_error_t, ErrorReleaser> error(
          rd_kafka_incremental_assign(client, list.get()));
      error != nullptr) {
    return absl::InternalError(absl::StrCat("librdkafka refused to assign ", ToString(tp), ": ",
                                            rd_kafka_error_string(error.get())));
  }
  return assigned;
}

absl::Status PartitionReader::Unassign(Assigned& assigned) {
  const std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListReleaser> list(
      rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), assigned.tp.topic.c_str(),
                                    assigned.tp.partition.value());
  const std::unique_ptr<rd_kafka_error_t, ErrorReleaser> error(
      rd_kafka_incremental_unassign(consumer_->c_ptr(), list.get()));
  assigned.queue.reset();
  if (error != nullptr) {
    return absl::InternalError(absl::StrCat("librdkafka refused to unassign ",
                                            ToString(assigned.tp), ": ",
                                            rd_kafka_error_string(error.get())));
  }
  return absl::OkStatus();
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

absl::Status PartitionReader::ReadAssigned(Assigned& assigned, std::int64_t until,
                                           const std::function<absl::Status(const Message&)>& visit,
                                           absl::Duration idle_timeout) {
  const TopicPartition& tp = assigned.tp;
  const std::int64_t from = assigned.from;
  // The lowest offset not delivered yet: guards order and uniqueness whatever librdkafka resends.
  std::int64_t next = from;
  // The end of the partition as last reported (its high watermark then), -1 before that.
  std::int64_t end_seen = -1;
  std::string last_error;
  absl::Time last_record = absl::Now();
  // What is already fetched is taken in batches: a consume call per record (a lock, a clock
  // read) cost a tenth of a restore.
  rd_kafka_queue_t* const queue = assigned.queue.get();
  std::array<rd_kafka_message_t*, kBatchSize> fetched{};
  std::vector<std::unique_ptr<rd_kafka_message_t, Message::RawMessageDeleter>> batch;
  batch.reserve(kBatchSize);
  for (;;) {
    batch.clear();
    const ssize_t taken = rd_kafka_consume_batch_queue(queue, 0, fetched.data(), kBatchSize);
    for (ssize_t i = 0; i < taken; ++i) batch.emplace_back(fetched[i]);
    if (batch.empty()) {
      // Nothing fetched yet: wait for one record, which returns as soon as it arrives.
      rd_kafka_message_t* waited = rd_kafka_consume_queue(
          queue, internal::ToTimeoutMs(last_record + idle_timeout - absl::Now()));
      if (waited == nullptr) {
        // Fatal errors are reported on the consumer's queue, not the partition's.
        if (std::string reason; consumer_->fatal_error(reason) != RdKafka::ERR_NO_ERROR) {
          return FailedFatally(*consumer_, tp);
        }
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
        return FailedFatally(*consumer_, tp);
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
