#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/producer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::ConsumeAtLeast;
using ::cdp::kafka::testing::MakeConsumer;
using ::cdp::kafka::testing::MakeProducer;
using ::cdp::kafka::testing::ProduceAll;
using ::cdp::kafka::testing::RecordingHandler;
using ::cdp::kafka::testing::StartCluster;
using ::cdp::kafka::testing::TestConsumerOptions;
using ::cdp::kafka::testing::Tp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

TEST(ProduceConsumeTest, RoundTripsBytesKeysHeadersAndNulls) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());

  const std::string binary("\x00\x01\xff{", 4);
  const std::vector<Header> headers = {
      {"content-type", "application/json"}, {"trace", "first"}, {"trace", "second"}, {"empty", ""}};
  const absl::Time before = absl::Now() - absl::Seconds(1);
  {
    auto producer = MakeProducer(*cluster);
    ASSERT_NE(producer, nullptr);
    ASSERT_TRUE(producer->Produce("events", "customer-1", binary, headers).ok());
    ASSERT_TRUE(producer->Produce("events", std::nullopt, std::nullopt).ok());
    // Default-constructed views have no data pointer and must still arrive as empty, not null.
    ASSERT_TRUE(producer->Produce("events", std::string_view(), std::string_view()).ok());
    const absl::Status flushed = producer->Flush(absl::Seconds(10));
    ASSERT_TRUE(flushed.ok()) << flushed;
  }

  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> messages = ConsumeAtLeast(*consumer, 3);
  ASSERT_EQ(messages.size(), 3u);

  const Message& full = messages[0];
  EXPECT_EQ(full.topic(), "events");
  EXPECT_EQ(full.partition(), Partition(0));
  EXPECT_EQ(full.offset(), 0);
  EXPECT_EQ(full.next_offset(), Offset(1));
  EXPECT_THAT(full.key(), Optional(std::string_view("customer-1")));
  EXPECT_THAT(full.value(), Optional(std::string_view(binary)));
  EXPECT_THAT(full.header("content-type"), Optional(std::string_view("application/json")));
  EXPECT_THAT(full.header("trace"), Optional(std::string_view("second")));
  EXPECT_THAT(full.header("empty"), Optional(std::string_view()));
  EXPECT_EQ(full.header("missing"), std::nullopt);
  EXPECT_EQ(full.headers(), headers);
  ASSERT_TRUE(full.timestamp().has_value());
  EXPECT_GE(*full.timestamp(), before);
  EXPECT_LE(*full.timestamp(), absl::Now());

  const Message& null = messages[1];
  EXPECT_EQ(null.offset(), 1);
  EXPECT_EQ(null.key(), std::nullopt);
  EXPECT_EQ(null.value(), std::nullopt);
  EXPECT_TRUE(null.headers().empty());

  const Message& empty = messages[2];
  EXPECT_THAT(empty.key(), Optional(std::string_view()));
  EXPECT_THAT(empty.value(), Optional(std::string_view()));

  EXPECT_THAT(handler.assigned, ElementsAre(Tp("events", 0)));
  ASSERT_TRUE(consumer->Close().ok());
  EXPECT_THAT(handler.revoked, ElementsAre(Tp("events", 0)));
}

TEST(ProduceConsumeTest, StartsWhereOnAssignedSays) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 10; ++i) records.emplace_back("k", std::to_string(i));
  ProduceAll(*cluster, "events", records);

  RecordingHandler handler;
  handler.start_offsets = {{Tp("events", 0), Offset(6)}};
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> messages = ConsumeAtLeast(*consumer, 4);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages.front().offset(), 6);
  EXPECT_THAT(messages.front().value(), Optional(std::string_view("6")));
  EXPECT_EQ(messages.back().offset(), 9);
}

TEST(ProduceConsumeTest, LagIsHighWatermarkMinusPosition) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 10; ++i) records.emplace_back("k", std::to_string(i));
  ProduceAll(*cluster, "events", records);

  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> messages;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (messages.size() < 4 && absl::Now() < deadline) {
    absl::StatusOr<std::vector<Message>> batch =
        consumer->Poll(4 - messages.size(), absl::Milliseconds(100));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (Message& message : *batch) messages.push_back(std::move(message));
  }
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_THAT(consumer->Lag(), ElementsAre(std::pair(Tp("events", 0), 6)));
}

TEST(ProduceConsumeTest, PollKeepsFillingTheBatchForFillWaitAfterItsFirstRecord) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  ProduceAll(*cluster, "events", {{"k", "first"}});

  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  // Published once the first record is in the batch (the position moved past it): only filling
  // keeps Poll running by then.
  std::thread late([&] {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      const std::map<TopicPartition, std::int64_t> lag = consumer->Lag();
      if (auto it = lag.find(Tp("events", 0)); it != lag.end() && it->second == 0) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ProduceAll(*cluster, "events", {{"k", "second"}});
  });
  absl::StatusOr<std::vector<Message>> batch =
      consumer->Poll(2, absl::Seconds(20), absl::Seconds(20));
  late.join();
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_THAT((*batch)[0].value(), Optional(std::string_view("first")));
  EXPECT_THAT((*batch)[1].value(), Optional(std::string_view("second")));
}

TEST(ProduceConsumeTest, KeysLandOnJavaCompatiblePartitions) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  constexpr int kPartitions = 7;
  ASSERT_TRUE(cluster->CreateTopic("events", kPartitions, 1).ok());
  // Java clients' murmur2 of these keys (Kafka's own test vectors); Java picks the partition
  // (hash & 0x7fffffff) % partitions.
  const std::map<std::string, std::int32_t> java_hashes = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  std::vector<std::pair<std::string, std::string>> records;
  for (const auto& [key, hash] : java_hashes) records.emplace_back(key, "v");
  ProduceAll(*cluster, "events", records);

  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> messages = ConsumeAtLeast(*consumer, java_hashes.size());
  ASSERT_EQ(messages.size(), java_hashes.size());
  for (const Message& message : messages) {
    const std::string key(message.key().value_or(""));
    const auto java_partition = static_cast<std::int32_t>(
        (static_cast<std::uint32_t>(java_hashes.at(key)) & 0x7fffffff) % kPartitions);
    EXPECT_EQ(message.partition(), Partition(java_partition)) << key;
  }
}

TEST(ProduceConsumeTest, AnExplicitPartitionWinsOverTheKey) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 3, 1).ok());
  auto producer = MakeProducer(*cluster);
  ASSERT_NE(producer, nullptr);
  // One key on every partition, and a null key: each record's value names where it must land.
  for (const int partition : {2, 0, 1, 2}) {
    ASSERT_TRUE(
        producer->Produce("events", "same-key", std::to_string(partition), {}, Partition(partition))
            .ok());
  }
  ASSERT_TRUE(producer->Produce("events", std::nullopt, "1", {}, Partition(1)).ok());
  const absl::Status flushed = producer->Flush(absl::Seconds(10));
  ASSERT_TRUE(flushed.ok()) << flushed;

  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> messages = ConsumeAtLeast(*consumer, 5);
  ASSERT_EQ(messages.size(), 5u);
  std::map<int, int> per_partition;
  for (const Message& message : messages) {
    ASSERT_TRUE(message.value().has_value());
    EXPECT_EQ(std::to_string(message.partition().value()), *message.value())
        << "offset " << message.offset();
    ++per_partition[message.partition().value()];
  }
  EXPECT_THAT(per_partition, ElementsAre(std::pair(0, 1), std::pair(1, 2), std::pair(2, 2)));
}

TEST(ProduceConsumeTest, APartitionTheTopicLacksIsRefused) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 3, 1).ok());
  auto producer = MakeProducer(*cluster);
  ASSERT_NE(producer, nullptr);
  const absl::Status negative = producer->Produce("events", "k", "v", {}, Partition(-1));
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("partition -1 of topic 'events'"));

  // Before the producer knows the topic's partitions the record is queued and its delivery fails.
  const absl::Status queued = producer->Produce("events", "k", "v", {}, Partition(3));
  const absl::Status reported = queued.ok() ? producer->Flush(absl::Seconds(10)) : queued;
  EXPECT_FALSE(reported.ok());
  EXPECT_THAT(reported.message(), HasSubstr("events[3]"));
  EXPECT_THAT(reported.message(), HasSubstr("UNKNOWN_PARTITION"));

  // Once it knows them, Produce itself refuses.
  ASSERT_TRUE(producer->Produce("events", "k", "v", {}, Partition(0)).ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());
  const absl::Status missing = producer->Produce("events", "k", "v", {}, Partition(3));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("cannot produce to events[3]"));
  EXPECT_TRUE(producer->Flush(absl::Seconds(10)).ok());
}

TEST(ProduceConsumeTest, FlushReportsADeliveryFailureOnce) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  auto producer = MakeProducer(*cluster);
  ASSERT_NE(producer, nullptr);
  // Warm up so the injected error hits the record's own Produce request.
  ASSERT_TRUE(producer->Produce("events", "k", "ok").ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());

  rd_kafka_mock_push_request_errors(cluster->raw(), /*ApiKey Produce=*/0, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  ASSERT_TRUE(producer->Produce("events", "k", "rejected").ok());
  const absl::Status failed = producer->Flush(absl::Seconds(10));
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(failed.message(), HasSubstr("1 Kafka record(s) failed delivery"));
  EXPECT_THAT(failed.message(), HasSubstr("events[0]"));
  EXPECT_THAT(failed.message(), HasSubstr("MSG_SIZE_TOO_LARGE"));

  // A failure is reported by the Flush that follows it, not again.
  const absl::Status produced = producer->Produce("events", "k", "after");
  ASSERT_TRUE(produced.ok()) << produced;
  const absl::Status flushed = producer->Flush(absl::Seconds(10));
  EXPECT_TRUE(flushed.ok()) << flushed;
}

// librdkafka's idempotent producer takes a later request's success as proof that an earlier,
// failed request's record was written. Only a broker that checks sequence numbers makes that
// true; the mock cluster, like here, writes the later record alone.
TEST(ProduceConsumeTest, FlushRefusesARecordAcknowledgedOnlyByALaterRequest) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  // A request per record, sent without waiting for the one before.
  auto producer = MakeProducer(*cluster, {{"linger.ms", "0"}, {"batch.num.messages", "1"}});
  ASSERT_NE(producer, nullptr);
  ASSERT_TRUE(producer->Produce("events", "k", "warm-up").ok());
  ASSERT_TRUE(producer->Flush(absl::Seconds(10)).ok());

  // A slow broker keeps both requests in flight when the first one's error comes back.
  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(cluster->raw(), 1, 200), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_mock_push_request_errors(cluster->raw(), /*ApiKey Produce=*/0, 1,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  ASSERT_TRUE(producer->Produce("events", "k", "first").ok());
  ASSERT_TRUE(producer->Produce("events", "k", "second").ok());
  const absl::Status flushed = producer->Flush(absl::Seconds(10));
  EXPECT_EQ(flushed.code(), absl::StatusCode::kUnavailable) << flushed;
  EXPECT_THAT(flushed.message(),
              HasSubstr("1 Kafka record(s) acknowledged without a log offset since the last "
                        "flush, first in events[0]"));
  EXPECT_THAT(flushed.message(), Not(HasSubstr("failed delivery")));

  // Sent again, as the caller is told to, it is written and confirmed.
  ASSERT_EQ(rd_kafka_mock_broker_set_rtt(cluster->raw(), 1, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(producer->Produce("events", "k", "first").ok());
  const absl::Status resent = producer->Flush(absl::Seconds(10));
  EXPECT_TRUE(resent.ok()) << resent;

  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "check", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  std::vector<std::string> values;
  for (const Message& message : ConsumeAtLeast(*consumer, 3)) {
    values.emplace_back(message.value().value_or("<null>"));
  }
  // The first attempt never reached the log.
  EXPECT_THAT(values, ElementsAre("warm-up", "second", "first"));
}

TEST(ProduceConsumeTest, FlushTimesOutWhileBrokersAreDown) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  auto producer = MakeProducer(*cluster);
  ASSERT_NE(producer, nullptr);
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster->raw(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(producer->Produce("events", "k", "v").ok());
  const absl::Status flushed = producer->Flush(absl::Milliseconds(300));
  EXPECT_EQ(flushed.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(flushed.message(), HasSubstr("1 records still undelivered"));
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster->raw(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const absl::Status recovered = producer->Flush(absl::Seconds(20));
  EXPECT_TRUE(recovered.ok()) << recovered;
}

TEST(ProduceConsumeTest, ProduceGivesUpOnAFullQueueAfterItsTimeout) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  constexpr absl::Duration kQueueFullTimeout = absl::Milliseconds(300);
  absl::StatusOr<std::unique_ptr<Producer>> producer =
      Producer::Create(ProducerOptions{.bootstrap_servers = cluster->bootstrap_servers(),
                                       .properties = {{"queue.buffering.max.messages", "1"}},
                                       .queue_full_timeout = kQueueFullTimeout});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster->raw(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE((*producer)->Produce("events", "k", "first").ok());
  // The first record cannot leave while the broker is down, so the queue stays full.
  const absl::Time started = absl::Now();
  const absl::Status refused = (*producer)->Produce("events", "k", "second");
  const absl::Duration waited = absl::Now() - started;
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("queue still full after"));
  EXPECT_GE(waited, kQueueFullTimeout);
  EXPECT_LT(waited, kQueueFullTimeout + absl::Seconds(5));
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster->raw(), -1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const absl::Status recovered = (*producer)->Flush(absl::Seconds(20));
  EXPECT_TRUE(recovered.ok()) << recovered;
}

TEST(ProduceConsumeTest, FailedOnAssignedStopsTheConsumer) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 2, 1).ok());
  ProduceAll(*cluster, "events", {{"k", "v"}});

  RecordingHandler handler;
  handler.assign_error = absl::DataLossError("state store unreadable");
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  absl::Status polled;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (polled.ok() && absl::Now() < deadline) {
    absl::StatusOr<std::vector<Message>> batch = consumer->Poll(10, absl::Milliseconds(100));
    if (batch.ok()) {
      EXPECT_TRUE(batch->empty());
    }
    polled = batch.status();
  }
  EXPECT_EQ(polled.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(polled.message(), HasSubstr("cannot start consuming events[0], events[1]"));
  EXPECT_THAT(polled.message(), HasSubstr("state store unreadable"));
  EXPECT_EQ(consumer->Poll(10, absl::ZeroDuration()).status(), polled);
  ASSERT_TRUE(consumer->Close().ok());
  // Partitions the handler refused are not handed back to it.
  EXPECT_TRUE(handler.revoked.empty());
}

TEST(ProduceConsumeTest, InvalidPropertiesAreNamed) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  absl::StatusOr<std::unique_ptr<Producer>> producer = Producer::Create(ProducerOptions{
      .bootstrap_servers = cluster->bootstrap_servers(), .properties = {{"linger.ms", "soon"}}});
  EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(producer.status().message(),
              HasSubstr("invalid Kafka producer property 'linger.ms'"));

  RecordingHandler handler;
  ConsumerOptions options = TestConsumerOptions(*cluster, "g", {"events"});
  options.properties.emplace_back("no.such.property", "1");
  absl::StatusOr<std::unique_ptr<Consumer>> consumer = Consumer::Create(options, handler);
  EXPECT_EQ(consumer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(consumer.status().message(),
              HasSubstr("invalid Kafka consumer property 'no.such.property'"));
  EXPECT_THAT(consumer.status().message(), HasSubstr("No such configuration property"));
}

}  // namespace
}  // namespace cdp::kafka
