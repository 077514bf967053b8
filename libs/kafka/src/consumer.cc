#include "cdp/kafka/consumer.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "conf.h"
#include "consumer_internal.h"
#include "stats.h"

namespace cdp::kafka {
namespace {

using internal::Describe;
using internal::DescribeError;
using internal::ErrorName;
using internal::FromRdKafka;
using internal::PartitionList;

bool Contains(const std::vector<TopicPartition>& partitions, const TopicPartition& tp) {
  return std::find(partitions.begin(), partitions.end(), tp) != partitions.end();
}

}  // namespace

// librdkafka's callbacks, served inside KafkaConsumer::consume() and close() on the polling
// thread.
class Consumer::Callbacks : public RdKafka::RebalanceCb, public RdKafka::OffsetCommitCb {
 public:
  void set_owner(Consumer* owner) { owner_ = owner; }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    switch (err) {
      case RdKafka::ERR__ASSIGN_PARTITIONS:
        Assign(*consumer, cooperative, partitions);
        return;
      case RdKafka::ERR__REVOKE_PARTITIONS:
        Revoke(*consumer, cooperative, partitions, consumer->assignment_lost());
        return;
      default: {
        // librdkafka's contract for a failed rebalance: drop the whole assignment.
        owner_->RecordTransient(
            absl::UnavailableError(DescribeError("Kafka consumer group rebalance failed", err)));
        PartitionList current;
        if (consumer->assignment(current.get()) != RdKafka::ERR_NO_ERROR) current.get().clear();
        Revoke(*consumer, /*cooperative=*/false, current.get(), /*lost=*/true);
        return;
      }
    }
  }

  void offset_commit_cb(RdKafka::ErrorCode err,
                        std::vector<RdKafka::TopicPartition*>& offsets) override {
    // _NO_OFFSET: there was nothing to commit.
    if (err == RdKafka::ERR__NO_OFFSET) return;
    if (err != RdKafka::ERR_NO_ERROR) {
      owner_->RecordTransient(
          absl::UnavailableError(DescribeError("committing Kafka offsets failed", err)));
    }
    for (const RdKafka::TopicPartition* tp : offsets) {
      if (err == RdKafka::ERR_NO_ERROR && tp->err() == RdKafka::ERR_NO_ERROR) continue;
      if (err == RdKafka::ERR_NO_ERROR) {
        owner_->RecordTransient(absl::UnavailableError(DescribeError(
            absl::StrCat("committing the Kafka offset of ", ToString(FromRdKafka(*tp)), " failed"),
            tp->err())));
      }
      if (tp->offset() >= 0) owner_->failed_commits_[FromRdKafka(*tp)] = Offset(tp->offset());
    }
  }

 private:
  void Assign(RdKafka::KafkaConsumer& consumer, bool cooperative,
              std::vector<RdKafka::TopicPartition*>& partitions) {
    const std::vector<TopicPartition> assigned = FromRdKafka(partitions);
    absl::StatusOr<std::map<TopicPartition, Offset>> starts = owner_->handler_.OnAssigned(assigned);
    if (starts.ok()) {
      for (RdKafka::TopicPartition* tp : partitions) {
        const auto start = starts->find(FromRdKafka(*tp));
        tp->set_offset(start == starts->end() ? RdKafka::Topic::OFFSET_INVALID
                                              : start->second.value());
      }
    } else {
      owner_->RecordFatal(absl::Status(
          starts.status().code(), absl::StrCat("cannot start consuming ", Describe(assigned), ": ",
                                               starts.status().message())));
      owner_->refused_.insert(owner_->refused_.end(), assigned.begin(), assigned.end());
    }
    if (cooperative) {
      std::unique_ptr<RdKafka::Error> error(consumer.incremental_assign(partitions));
      if (error != nullptr) {
        owner_->RecordFatal(absl::InternalError(
            absl::StrCat("librdkafka refused to assign ", Describe(assigned), ": ", error->str())));
      }
    } else if (const RdKafka::ErrorCode err = consumer.assign(partitions);
               err != RdKafka::ERR_NO_ERROR) {
      owner_->RecordFatal(absl::InternalError(
          DescribeError(absl::StrCat("librdkafka refused to assign ", Describe(assigned)), err)));
    }
  }

  void Revoke(RdKafka::KafkaConsumer& consumer, bool cooperative,
              const std::vector<RdKafka::TopicPartition*>& partitions, bool lost) {
    std::vector<TopicPartition> taken = FromRdKafka(partitions);
    std::erase_if(taken,
                  [&](const TopicPartition& tp) { return std::erase(owner_->refused_, tp) > 0; });
    if (!taken.empty()) {
      if (lost) {
        owner_->handler_.OnLost(taken);
      } else {
        owner_->handler_.OnRevoked(taken);
      }
      std::erase_if(owner_->batch_, [&](const Message& message) {
        return Contains(taken, TopicPartition{std::string(message.topic()), message.partition()});
      });
    }
    if (cooperative) {
      std::unique_ptr<RdKafka::Error> error(consumer.incremental_unassign(partitions));
      if (error != nullptr) {
        owner_->RecordFatal(absl::InternalError(
            absl::StrCat("librdkafka refused to unassign ", Describe(taken), ": ", error->str())));
      }
    } else if (const RdKafka::ErrorCode err = consumer.unassign(); err != RdKafka::ERR_NO_ERROR) {
      owner_->RecordFatal(
          absl::InternalError(DescribeError("librdkafka refused to unassign partitions", err)));
    }
  }

  Consumer* owner_ = nullptr;
};

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const ConsumerOptions& options,
                                                           RebalanceHandler& handler) {
  if (options.group_id.empty()) {
    return absl::InvalidArgumentError("Kafka consumer needs a group id");
  }
  if (options.topics.empty()) {
    return absl::InvalidArgumentError("Kafka consumer needs at least one topic to subscribe to");
  }
  const Properties defaults = {
      {"group.id", options.group_id},    {"partition.assignment.strategy", "cooperative-sticky"},
      {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
  };
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf("consumer", defaults, options.bootstrap_servers, options.properties);
  if (!conf.ok()) return conf.status();

  if (absl::Status stats = internal::StatsSubscription::Configure(**conf, options.stats);
      !stats.ok()) {
    return stats;
  }
  auto callbacks = std::make_unique<Callbacks>();
  std::string error;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(callbacks.get()), error) !=
          RdKafka::Conf::CONF_OK ||
      (*conf)->set("offset_commit_cb", static_cast<RdKafka::OffsetCommitCb*>(callbacks.get()),
                   error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("cannot install Kafka consumer callbacks: ", error));
  }

  std::unique_ptr<Consumer> consumer(new Consumer(handler, std::move(callbacks)));
  consumer->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (consumer->consumer_ == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka consumer: ", error));
  }
  if (options.stats.callback) {
    consumer->stats_ =
        std::make_unique<internal::StatsSubscription>(consumer->consumer_->c_ptr(), options.stats);
  }
  if (const RdKafka::ErrorCode err = consumer->consumer_->subscribe(options.topics);
      err != RdKafka::ERR_NO_ERROR) {
    return absl::InvalidArgumentError(DescribeError(
        absl::StrCat("cannot subscribe to ", absl::StrJoin(options.topics, ", ")), err));
  }
  return consumer;
}

Consumer::Consumer(RebalanceHandler& handler, std::unique_ptr<Callbacks> callbacks)
    : handler_(handler), callbacks_(std::move(callbacks)) {
  callbacks_->set_owner(this);
}

Consumer::~Consumer() {
  if (consumer_ != nullptr) Close().IgnoreError();
}

absl::StatusOr<std::vector<Message>> Consumer::Poll(std::size_t max_messages,
                                                    absl::Duration timeout,
                                                    absl::Duration fill_wait) {
  if (max_messages == 0) return absl::InvalidArgumentError("Poll needs max_messages >= 1");
  if (closed_) return absl::FailedPreconditionError("the Kafka consumer is closed");
  if (!fatal_.ok()) return fatal_;

  batch_.clear();
  int wait_ms = internal::ToTimeoutMs(timeout);
  std::optional<absl::Time> filled_at;
  // Errors count towards the bound so that a burst of them cannot keep Poll looping.
  for (std::size_t polled = 0; polled < max_messages; ++polled) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(wait_ms));
    if (!fatal_.ok()) return fatal_;
    const RdKafka::ErrorCode err = message->err();
    if (err == RdKafka::ERR_NO_ERROR && !filled_at.has_value()) {
      filled_at = absl::Now() + fill_wait;
    }
    wait_ms = filled_at.has_value()
                  ? internal::ToTimeoutMs(std::max(absl::ZeroDuration(), *filled_at - absl::Now()))
                  : 0;
    if (err == RdKafka::ERR_NO_ERROR) {
      batch_.emplace_back(std::move(message));
    } else if (err == RdKafka::ERR__TIMED_OUT) {
      break;
    } else if (err == RdKafka::ERR__FATAL) {
      std::string reason;
      consumer_->fatal_error(reason);
      RecordFatal(absl::InternalError(
          absl::StrCat("Kafka consumer failed fatally: ", reason, "; close and recreate it")));
      return fatal_;
    } else if (err != RdKafka::ERR__PARTITION_EOF) {
      RecordTransient(absl::UnavailableError(
          absl::StrCat("Kafka consumer: ", message->errstr(), " (", ErrorName(err), ")")));
    }
  }
  return std::move(batch_);
}

absl::Status Consumer::CommitOffsets(const std::map<TopicPartition, Offset>& next_offsets) {
  if (next_offsets.empty()) return absl::OkStatus();
  if (closed_) return absl::FailedPreconditionError("the Kafka consumer is closed");
  PartitionList list;
  for (const auto& [tp, offset] : next_offsets) {
    list.get().push_back(
        RdKafka::TopicPartition::create(tp.topic, tp.partition.value(), offset.value()));
  }
  if (const RdKafka::ErrorCode err = consumer_->commitAsync(list.get());
      err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(DescribeError("cannot commit Kafka offsets", err));
  }
  return absl::OkStatus();
}

bool Consumer::AssignmentLost() const { return consumer_->assignment_lost(); }

std::map<TopicPartition, Offset> Consumer::TakeFailedCommits() {
  return std::exchange(failed_commits_, {});
}

absl::StatusOr<std::map<TopicPartition, Offset>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions, absl::Duration timeout) const {
  PartitionList list(partitions);
  if (const RdKafka::ErrorCode err =
          consumer_->committed(list.get(), internal::ToTimeoutMs(timeout));
      err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(DescribeError(
        absl::StrCat("cannot read the committed offsets of ", Describe(partitions)), err));
  }
  std::map<TopicPartition, Offset> committed;
  for (const RdKafka::TopicPartition* tp : list.get()) {
    if (tp->err() != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(DescribeError(
          absl::StrCat("cannot read the committed offset of ", ToString(FromRdKafka(*tp))),
          tp->err()));
    }
    if (tp->offset() >= 0) committed.emplace(FromRdKafka(*tp), Offset(tp->offset()));
  }
  return committed;
}

absl::StatusOr<std::vector<TopicPartition>> Consumer::Assignment() const {
  return internal::Assignment(*consumer_);
}

std::map<TopicPartition, std::int64_t> Consumer::Lag() const { return internal::Lag(*consumer_); }

absl::Status Consumer::Close() {
  if (closed_) return absl::OkStatus();
  closed_ = true;
  if (const RdKafka::ErrorCode err = consumer_->close(); err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(DescribeError("closing the Kafka consumer failed", err));
  }
  return absl::OkStatus();
}

void Consumer::RecordTransient(absl::Status error) {
  transient_errors_.fetch_add(1);
  last_transient_error_ = std::move(error);
}

void Consumer::RecordFatal(absl::Status error) {
  if (fatal_.ok()) fatal_ = std::move(error);
}

}  // namespace cdp::kafka
