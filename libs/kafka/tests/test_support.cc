#include "test_support.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"

namespace cdp::kafka::testing {

absl::StatusOr<std::map<TopicPartition, Offset>> RecordingHandler::OnAssigned(
    const std::vector<TopicPartition>& partitions) {
  assigned.insert(assigned.end(), partitions.begin(), partitions.end());
  if (!assign_error.ok()) return assign_error;
  owned.insert(partitions.begin(), partitions.end());
  return start_offsets;
}

void RecordingHandler::OnRevoked(const std::vector<TopicPartition>& partitions) {
  revoked.insert(revoked.end(), partitions.begin(), partitions.end());
  for (const TopicPartition& tp : partitions) owned.erase(tp);
}

void RecordingHandler::OnLost(const std::vector<TopicPartition>& partitions) {
  lost.insert(lost.end(), partitions.begin(), partitions.end());
  for (const TopicPartition& tp : partitions) owned.erase(tp);
}

ConsumerOptions TestConsumerOptions(const MockCluster& cluster, std::string group,
                                    std::vector<std::string> topics) {
  return ConsumerOptions{
      .bootstrap_servers = cluster.bootstrap_servers(),
      .group_id = std::move(group),
      .topics = std::move(topics),
      .properties = {{"session.timeout.ms", "6000"},
                     {"heartbeat.interval.ms", "100"},
                     {"fetch.wait.max.ms", "50"}},
  };
}

std::unique_ptr<MockCluster> StartCluster(int brokers) {
  absl::StatusOr<std::unique_ptr<MockCluster>> cluster = MockCluster::Start(brokers);
  EXPECT_TRUE(cluster.ok()) << cluster.status();
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

std::unique_ptr<Producer> MakeProducer(const MockCluster& cluster, Properties properties) {
  absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(ProducerOptions{
      .bootstrap_servers = cluster.bootstrap_servers(), .properties = std::move(properties)});
  EXPECT_TRUE(producer.ok()) << producer.status();
  return producer.ok() ? *std::move(producer) : nullptr;
}

std::unique_ptr<Consumer> MakeConsumer(const ConsumerOptions& options, RebalanceHandler& handler) {
  absl::StatusOr<std::unique_ptr<Consumer>> consumer = Consumer::Create(options, handler);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  return consumer.ok() ? *std::move(consumer) : nullptr;
}

void ProduceAll(const MockCluster& cluster, std::string_view topic,
                const std::vector<std::pair<std::string, std::string>>& records) {
  std::unique_ptr<Producer> producer = MakeProducer(cluster);
  ASSERT_NE(producer, nullptr);
  for (const auto& [key, value] : records) {
    ASSERT_TRUE(producer->Produce(topic, key, value).ok());
  }
  const absl::Status flushed = producer->Flush(absl::Seconds(10));
  ASSERT_TRUE(flushed.ok()) << flushed;
}

void ProduceTo(const MockCluster& cluster, std::string_view topic, int partition, int count,
               std::string_view prefix) {
  std::unique_ptr<Producer> producer = MakeProducer(cluster);
  ASSERT_NE(producer, nullptr);
  for (int i = 0; i < count; ++i) {
    const std::string text = absl::StrCat(ToAbsl(prefix), "-", i);
    ASSERT_TRUE(producer->Produce(topic, text, text, {}, Partition(partition)).ok());
  }
  const absl::Status flushed = producer->Flush(absl::Seconds(10));
  ASSERT_TRUE(flushed.ok()) << flushed;
}

std::vector<Message> ConsumeAtLeast(Consumer& consumer, std::size_t count, absl::Duration timeout) {
  std::vector<Message> messages;
  const absl::Time deadline = absl::Now() + timeout;
  while (messages.size() < count && absl::Now() < deadline) {
    absl::StatusOr<std::vector<Message>> batch = consumer.Poll(100, absl::Milliseconds(100));
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) break;
    for (Message& message : *batch) messages.push_back(std::move(message));
  }
  return messages;
}

bool PollUntil(std::initializer_list<Member> members, const std::function<bool()>& done,
               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    for (const Member& member : members) {
      absl::StatusOr<std::vector<Message>> batch =
          member.consumer->Poll(100, absl::Milliseconds(50));
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok()) return false;
      for (const Message& message : *batch) {
        const TopicPartition tp{std::string(message.topic()), message.partition()};
        EXPECT_TRUE(member.handler->owned.contains(tp)) << ToString(tp) << " is not owned";
      }
    }
  }
  return true;
}

TopicPartition Tp(std::string topic, int partition) {
  return TopicPartition{std::move(topic), Partition(partition)};
}

}  // namespace cdp::kafka::testing
