#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "cdp/kafka/producer.h"

namespace cdp::kafka::testing {

// Records every callback and answers OnAssigned from `start_offsets` (or fails with
// `assign_error`).
class RecordingHandler : public RebalanceHandler {
 public:
  absl::StatusOr<std::map<TopicPartition, Offset>> OnAssigned(
      const std::vector<TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<TopicPartition>& partitions) override;
  void OnLost(const std::vector<TopicPartition>& partitions) override;

  std::map<TopicPartition, Offset> start_offsets;
  absl::Status assign_error;

  std::set<TopicPartition> owned;
  std::vector<TopicPartition> assigned;
  std::vector<TopicPartition> revoked;
  std::vector<TopicPartition> lost;
};

// Short timeouts so that group tests finish in seconds against the mock cluster.
ConsumerOptions TestConsumerOptions(const MockCluster& cluster, std::string group,
                                    std::vector<std::string> topics);

std::unique_ptr<MockCluster> StartCluster(int brokers);
std::unique_ptr<Producer> MakeProducer(const MockCluster& cluster, Properties properties = {});
std::unique_ptr<Consumer> MakeConsumer(const ConsumerOptions& options, RebalanceHandler& handler);

// Produces (key, value) records to `topic` and flushes; fails the test on any error.
void ProduceAll(const MockCluster& cluster, std::string_view topic,
                const std::vector<std::pair<std::string, std::string>>& records);

// Writes `count` records "<prefix>-<i>" (key and value) to `partition` of `topic` and flushes;
// fails the test on any error.
void ProduceTo(const MockCluster& cluster, std::string_view topic, int partition, int count,
               std::string_view prefix);

// Polls until `count` records arrived or `timeout` passed.
std::vector<Message> ConsumeAtLeast(Consumer& consumer, std::size_t count,
                                    absl::Duration timeout = absl::Seconds(20));

struct Member {
  Consumer* consumer;
  const RecordingHandler* handler;
};

// Polls every member in turn until `done` holds or `timeout` passes, checking that each record
// returned belongs to a partition its member still owns.
bool PollUntil(std::initializer_list<Member> members, const std::function<bool()>& done,
               absl::Duration timeout = absl::Seconds(30));

TopicPartition Tp(std::string topic, int partition);

}  // namespace cdp::kafka::testing
