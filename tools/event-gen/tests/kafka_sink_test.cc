#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "run.h"
#include "sink.h"

namespace cdp::tools {
namespace {

// A consumed record, copied: librdkafka's messages must not outlive their consumer.
struct Consumed {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::optional<std::string> content_type;
};

std::optional<std::string> Copy(std::optional<std::string_view> view) {
  if (!view) return std::nullopt;
  return std::string(*view);
}

std::vector<Consumed> ConsumeAll(const std::string& brokers, const std::string& topic,
                                 std::size_t expected) {
  std::vector<Consumed> consumed;
  kafka::StartAtCommitted handler;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer = kafka::Consumer::Create(
      {.bootstrap_servers = brokers, .group_id = "check", .topics = {topic}}, handler);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return consumed;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (consumed.size() < expected && absl::Now() < deadline) {
    absl::StatusOr<std::vector<kafka::Message>> batch =
        (*consumer)->Poll(500, absl::Milliseconds(200));
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) break;
    for (const kafka::Message& message : *batch) {
      consumed.push_back({.key = Copy(message.key()),
                          .value = Copy(message.value()),
                          .content_type = Copy(message.header("content-type"))});
    }
  }
  EXPECT_TRUE((*consumer)->Close().ok());
  return consumed;
}

TEST(KafkaSinkTest, PublishesKeyedJsonWithItsContentType) {
  absl::StatusOr<std::unique_ptr<kafka::MockCluster>> cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("events", 3, 1).ok());
  const std::string brokers = (*cluster)->bootstrap_servers();

  absl::StatusOr<Generator> generator =
      Generator::Create({.seed = 4, .customers = 50, .events = 200, .invalid_fraction = 0.1});
  ASSERT_TRUE(generator.ok()) << generator.status();
  absl::StatusOr<std::unique_ptr<Sink>> sink =
      OpenKafkaSink({.brokers = brokers, .topic = "events", .flush_timeout = absl::Seconds(20)});
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::atomic<bool> stop{false};
  std::ostringstream progress;
  const RunSummary summary = RunTraffic(*generator, **sink, {}, stop, progress);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  const absl::Status flushed = (*sink)->Finish();
  ASSERT_TRUE(flushed.ok()) << flushed;

  const std::vector<Consumed> records = ConsumeAll(brokers, "events", 200);
  ASSERT_EQ(records.size(), 200U);
  int with_customer_key = 0;
  for (const Consumed& record : records) {
    EXPECT_EQ(record.content_type, "application/json");
    ASSERT_TRUE(record.key.has_value());
    ASSERT_TRUE(record.value.has_value());
    // Valid events are keyed by their own customer_id.
    if (record.value->find("\"customer_id\":\"" + *record.key + "\"") != std::string::npos) {
      ++with_customer_key;
    }
  }
  EXPECT_GT(with_customer_key, 150);
}

TEST(KafkaSinkTest, TheToolPublishesProtobufToTheBrokers) {
  absl::StatusOr<std::unique_ptr<kafka::MockCluster>> cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("customer-events", 2, 1).ok());
  const std::string brokers = (*cluster)->bootstrap_servers();

  const std::string command = std::string(EVENT_GEN_BINARY) + " --brokers " + brokers +
                              " --format protobuf --customers 40 --events 300"
                              " --kafka-property client.id=event-gen-test 2>/dev/null";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << command;
  ASSERT_EQ(WEXITSTATUS(status), 0) << command;

  const std::vector<Consumed> records = ConsumeAll(brokers, "customer-events", 300);
  ASSERT_EQ(records.size(), 300U);
  for (const Consumed& record : records) {
    EXPECT_EQ(record.content_type, std::nullopt);
    ASSERT_TRUE(record.value.has_value());
    v1::CustomerEvent event;
    ASSERT_TRUE(event.ParseFromString(*record.value));
    EXPECT_EQ(record.key, event.customer_id());
  }
}

TEST(KafkaSinkTest, ReadsTheBootstrapFileKafkaLocalWrites) {
  const std::string path = testing::TempDir() + "/event_gen_bootstrap";
  {
    std::ofstream file(path);
    file << "127.0.0.1:39092,127.0.0.1:39093\n";
  }
  const absl::StatusOr<std::string> brokers = ReadBootstrapFile(path);
  ASSERT_TRUE(brokers.ok()) << brokers.status();
  EXPECT_EQ(*brokers, "127.0.0.1:39092,127.0.0.1:39093");
  {
    std::ofstream file(path);
    file << "\n";
  }
  EXPECT_THAT(std::string(ReadBootstrapFile(path).status().message()),
              testing::HasSubstr("no bootstrap servers"));
  EXPECT_THAT(std::string(ReadBootstrapFile(path + ".missing").status().message()),
              testing::HasSubstr("kafka-local"));
}

}  // namespace
}  // namespace cdp::tools
