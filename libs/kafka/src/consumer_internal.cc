#include "consumer_internal.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>

#include "absl/strings/str_join.h"
#include "conf.h"

namespace cdp::kafka::internal {

PartitionList::PartitionList(const std::vector<TopicPartition>& partitions) {
  for (const TopicPartition& tp : partitions) {
    list_.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition.value()));
  }
}

PartitionList::~PartitionList() { RdKafka::TopicPartition::destroy(list_); }

TopicPartition FromRdKafka(const RdKafka::TopicPartition& tp) {
  return TopicPartition{tp.topic(), Partition(tp.partition())};
}

std::vector<TopicPartition> FromRdKafka(const std::vector<RdKafka::TopicPartition*>& list) {
  std::vector<TopicPartition> result;
  result.reserve(list.size());
  for (const RdKafka::TopicPartition* tp : list) result.push_back(FromRdKafka(*tp));
  return result;
}

std::string Describe(const std::vector<TopicPartition>& partitions) {
  return absl::StrJoin(partitions, ", ", [](std::string* out, const TopicPartition& tp) {
    out->append(ToString(tp));
  });
}

absl::StatusOr<std::vector<TopicPartition>> Assignment(RdKafka::KafkaConsumer& consumer) {
  PartitionList list;
  if (const RdKafka::ErrorCode err = consumer.assignment(list.get());
      err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(DescribeError("cannot read the Kafka assignment", err));
  }
  return FromRdKafka(list.get());
}

std::map<TopicPartition, std::int64_t> Lag(RdKafka::KafkaConsumer& consumer) {
  std::map<TopicPartition, std::int64_t> lag;
  PartitionList list;
  if (consumer.assignment(list.get()) != RdKafka::ERR_NO_ERROR ||
      consumer.position(list.get()) != RdKafka::ERR_NO_ERROR) {
    return lag;
  }
  for (const RdKafka::TopicPartition* tp : list.get()) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (tp->offset() < 0 ||
        consumer.get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    lag.emplace(FromRdKafka(*tp), std::max<std::int64_t>(0, high - tp->offset()));
  }
  return lag;
}

}  // namespace cdp::kafka::internal
