#include "cdp/kafka/assigned_consumer.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "conf.h"
#include "consumer_internal.h"

namespace cdp::kafka {

absl::StatusOr<std::unique_ptr<AssignedConsumer>> AssignedConsumer::Create(
    const AssignedConsumerOptions& options) {
  // librdkafka's KafkaConsumer needs a group.id even when it only assigns; here it also names the
  // group whose committed offsets partitions resume from.
  if (options.group_id.empty()) {
    return absl::InvalidArgumentError(
        "Kafka assigned consumer needs a group id (whose committed offsets it resumes from)");
  }
  const Properties defaults = {
      {"group.id", options.group_id},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"enable.partition.eof", "false"},
  };
  // The group belongs to other consumers: committing to it would move their offsets.
  Properties overrides = options.properties;
  overrides.emplace_back("enable.auto.commit", "false");
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf("assigned consumer", defaults, options.bootstrap_servers, overrides);
  if (!conf.ok()) return conf.status();

  std::unique_ptr<AssignedConsumer> consumer(new AssignedConsumer());
  std::string error;
  consumer->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (consumer->consumer_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create Kafka assigned consumer: ", error));
  }
  return consumer;
}

AssignedConsumer::~AssignedConsumer() {
  // Without a subscription close() leaves no group; it stops the fetchers before destruction.
  if (consumer_ != nullptr) consumer_->close();
}

absl::Status AssignedConsumer::Assign(const TopicPartition& tp, std::optional<Offset> start) {
  if (tp.partition.value() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot assign ", ToString(tp), ": partitions start at 0"));
  }
  if (start.has_value() && start->value() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot assign ", ToString(tp), " at offset ",
                                                   start->value(), ": offsets start at 0"));
  }
  internal::PartitionList list;
  list.get().push_back(RdKafka::TopicPartition::create(
      tp.topic, tp.partition.value(),
      start.has_value() ? start->value() : RdKafka::Topic::OFFSET_STORED));
  std::unique_ptr<RdKafka::Error> error(consumer_->incremental_assign(list.get()));
  if (error == nullptr) return absl::OkStatus();
  // librdkafka checks this against its assignment atomically; _CONFLICT is its answer.
  if (error->code() == RdKafka::ERR__CONFLICT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot assign ", ToString(tp), ": it is already assigned"));
  }
  return absl::InternalError(
      absl::StrCat("librdkafka refused to assign ", ToString(tp), ": ", error->str()));
}

absl::Status AssignedConsumer::Unassign(const std::vector<TopicPartition>& partitions) {
  absl::StatusOr<std::vector<TopicPartition>> assigned = internal::Assignment(*consumer_);
  if (!assigned.ok()) return assigned.status();
  // librdkafka refuses to unassign a partition that is not assigned; the contract ignores it.
  std::vector<TopicPartition> leaving;
  for (TopicPartition& tp : *assigned) {
    if (std::find(partitions.begin(), partitions.end(), tp) != partitions.end()) {
      leaving.push_back(std::move(tp));
    }
  }
  if (leaving.empty()) return absl::OkStatus();
  internal::PartitionList list(leaving);
  // librdkafka stops the partitions' fetchers and bumps their fetch version before this returns,
  // and consume() discards queued records of an outdated version: none is returned after this.
  std::unique_ptr<RdKafka::Error> error(consumer_->incremental_unassign(list.get()));
  if (error != nullptr) {
    return absl::InternalError(absl::StrCat("librdkafka refused to unassign ",
                                            internal::Describe(leaving), ": ", error->str()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Message>> AssignedConsumer::Poll(std::size_t max_messages,
                                                            absl::Duration timeout) {
  if (max_messages == 0) return absl::InvalidArgumentError("Poll needs max_messages >= 1");
  if (!fatal_.ok()) return fatal_;

  std::vector<Message> batch;
  int wait_ms = internal::ToTimeoutMs(timeout);
  // Errors count towards the bound so that a burst of them cannot keep Poll looping.
  for (std::size_t polled = 0; polled < max_messages; ++polled) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(wait_ms));
    wait_ms = 0;
    const RdKafka::ErrorCode err = message->err();
    if (err == RdKafka::ERR_NO_ERROR) {
      batch.emplace_back(std::move(message));
    } else if (err == RdKafka::ERR__TIMED_OUT) {
      break;
    } else if (err == RdKafka::ERR__FATAL) {
      std::string reason;
      consumer_->fatal_error(reason);
      fatal_ = absl::InternalError(
          absl::StrCat("Kafka assigned consumer failed fatally: ", reason, "; recreate it"));
      return fatal_;
    } else if (err != RdKafka::ERR__PARTITION_EOF) {
      transient_errors_.fetch_add(1);
      last_transient_error_ = absl::UnavailableError(absl::StrCat(
          "Kafka assigned consumer: ", message->errstr(), " (", internal::ErrorName(err), ")"));
    }
  }
  return batch;
}

absl::StatusOr<std::vector<TopicPartition>> AssignedConsumer::Assignment() const {
  return internal::Assignment(*consumer_);
}

std::map<TopicPartition, std::int64_t> AssignedConsumer::Lag() const {
  return internal::Lag(*consumer_);
}

}  // namespace cdp::kafka
