#include "cdp/kafka/stats.h"

#include <atomic>
#include <mutex>
#include <optional>

#include "cdp/kafka/consumer.h"
#include "cdp/kafka/producer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::RecordingHandler;
using ::cdp::kafka::testing::StartCluster;
using ::cdp::kafka::testing::TestConsumerOptions;
using ::testing::HasSubstr;

// The shape of librdkafka's statistics (STATISTICS.md), trimmed to what is read plus neighbours.
constexpr std::string_view kStatistics = R"({
  "name": "rdkafka#producer-1", "type": "producer", "ts": 5016483227792, "msg_cnt": 7,
  "msg_size": 1200,
  "brokers": {
    "localhost:9092/bootstrap": {"name": "localhost:9092/bootstrap", "nodeid": -1,
                                 "nodename": "localhost:9092", "rtt": {"avg": 0}},
    "kafka-1:9092/1": {"name": "kafka-1:9092/1", "nodeid": 1, "nodename": "kafka-1:9092",
                       "state": "UP", "rtt": {"min": 900, "max": 2100, "avg": 1500, "cnt": 4}},
    "kafka-2:9092/2": {"name": "kafka-2:9092/2", "nodeid": 2, "nodename": "kafka-2:9092",
                       "state": "DOWN"}
  },
  "topics": {}
})";

TEST(ParseClientStatsTest, ReadsQueueAndRoundTripsOfKnownBrokers) {
  absl::StatusOr<ClientStats> stats = ParseClientStats(kStatistics);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->queued_messages, 7);
  ASSERT_EQ(stats->brokers.size(), 2u);  // the bootstrap entry has no node id
  EXPECT_EQ(stats->brokers[0].address, "kafka-1:9092");
  EXPECT_EQ(stats->brokers[0].node_id, 1);
  EXPECT_EQ(stats->brokers[0].average_rtt, absl::Microseconds(1500));
  EXPECT_EQ(stats->brokers[1].address, "kafka-2:9092");
  EXPECT_EQ(stats->brokers[1].average_rtt, absl::ZeroDuration());
}

TEST(ParseClientStatsTest, RejectsWhatIsNotJson) {
  absl::StatusOr<ClientStats> stats = ParseClientStats("{\"msg_cnt\": ");
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(stats.status().message(), HasSubstr("not valid JSON"));
}

// The latest statistics a client delivered, read from the test's thread.
class StatsRecorder {
 public:
  StatsOptions Options() {
    return {.callback = [this](const absl::StatusOr<ClientStats>& stats) { Record(stats); },
            .interval = absl::Milliseconds(50)};
  }
  // Brokers seen with a node id in a well-formed document, nullopt before the first.
  std::optional<std::size_t> brokers() {
    std::lock_guard lock(mutex_);
    return brokers_;
  }
  bool malformed() { return malformed_.load(); }

 private:
  void Record(const absl::StatusOr<ClientStats>& stats) {
    if (!stats.ok()) {
      malformed_ = true;
      return;
    }
    std::lock_guard lock(mutex_);
    brokers_ = stats->brokers.size();
  }

  std::mutex mutex_;
  std::optional<std::size_t> brokers_;
  std::atomic<bool> malformed_ = false;
};

TEST(ClientStatsTest, ProducerAndConsumerDeliverStatisticsOfTheRealClient) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 3, 1).ok());

  StatsRecorder producer_stats;
  auto producer = Producer::Create(
      {.bootstrap_servers = cluster->bootstrap_servers(), .stats = producer_stats.Options()});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  // Statistics are served while the client is polled: Flush polls.
  while (producer_stats.brokers().value_or(0) < 3 && absl::Now() < deadline) {
    ASSERT_TRUE((*producer)->Produce("events", "customer-1", "x").ok());
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(5)).ok());
  }
  EXPECT_EQ(producer_stats.brokers(), 3u);
  EXPECT_FALSE(producer_stats.malformed());

  StatsRecorder consumer_stats;
  ConsumerOptions options = TestConsumerOptions(*cluster, "g", {"events"});
  options.stats = consumer_stats.Options();
  RecordingHandler handler;
  auto consumer = Consumer::Create(options, handler);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  while (!consumer_stats.brokers().has_value() && absl::Now() < deadline) {
    ASSERT_TRUE((*consumer)->Poll(10, absl::Milliseconds(100)).ok());
  }
  EXPECT_TRUE(consumer_stats.brokers().has_value());
  EXPECT_FALSE(consumer_stats.malformed());
  EXPECT_TRUE((*consumer)->Close().ok());
}

}  // namespace
}  // namespace cdp::kafka
