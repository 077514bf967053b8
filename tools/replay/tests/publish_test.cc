// End to end without a process: a file loaded, published to the in-process mock cluster by
// Publish, and consumed back.
#include "publish.h"

#include <google/protobuf/util/message_differencer.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "cdp/core/codec.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "cdp/kafka/producer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "load.h"

namespace cdp::tools::replay {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

// A consumed record, copied: librdkafka's messages must not outlive their consumer.
struct Consumed {
  std::string key;
  std::string value;
  std::optional<std::string> content_type;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
};

// Polls `topic` from the start until `expected` records arrived or 30 s passed.
std::vector<Consumed> ConsumeAll(const std::string& brokers, const std::string& topic,
                                 std::size_t expected) {
  std::vector<Consumed> consumed;
  kafka::StartAtCommitted handler;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create({.bootstrap_servers = brokers,
                               .group_id = "check-" + topic,
                               .topics = {topic},
                               .properties = {{"fetch.wait.max.ms", "50"}}},
                              handler);
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) return consumed;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (consumed.size() < expected && absl::Now() < deadline) {
    absl::StatusOr<std::vector<kafka::Message>> batch =
        (*consumer)->Poll(500, absl::Milliseconds(200));
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) break;
    for (const kafka::Message& message : *batch) {
      const std::optional<std::string_view> content_type = message.header("content-type");
      consumed.push_back(
          {.key = std::string(message.key().value_or("<null>")),
           .value = std::string(message.value().value_or("")),
           .content_type = content_type ? std::optional<std::string>(*content_type) : std::nullopt,
           .partition = message.partition().value(),
           .offset = message.offset()});
    }
  }
  EXPECT_TRUE((*consumer)->Close().ok());
  return consumed;
}

// `count` events of 40 customers and every payload type, in a file out of time order, with ties.
std::string WriteHistory(const std::string& name, int count) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream file(path);
  const std::vector<std::string> payloads = {
      R"("purchase":{"order_id":"o-{i}","total_amount":12900,"currency":"CNY","items":[{"sku":"s-1","category":"shoes","quantity":1,"unit_price":12900}]})",
      R"("interaction":{"type":"product_view","target_id":"s-{i}"})",
      R"("profile_update":{"city":"Hangzhou","attributes":{"n":"{i}","a":"b"},"add_tags":["vip"]})",
      R"("consent":{"channel":"sms","granted":true},"channel":"app")",
      R"("refund":{"order_id":"o-{i}","amount":100})",
  };
  for (int i = 0; i < count; ++i) {
    // Minutes into the day go round several times, so the file is out of order and times repeat.
    const int minute = (i * 37) % (count / 3);
    file
        << absl::StrFormat(
               R"({"event_id":"e-%03d","customer_id":"c%02d","occurred_at":"2024-03-01T%02d:%02d:00Z",)",
               i, i % 40, minute / 60, minute % 60)
        << absl::StrReplaceAll(payloads[i % payloads.size()], {{"{i}", absl::StrCat(i)}}) << "}\n";
    if (i % 10 == 0) file << "\n";
  }
  return path;
}

struct Published {
  LoadResult loaded;
  PublishSummary summary;
  std::string progress;
};

Published LoadAndPublish(const std::string& path, const std::string& brokers,
                         const PublishOptions& options) {
  Published published;
  const std::vector<std::string> paths = {path};
  absl::StatusOr<LoadResult> loaded = LoadFiles(paths, {});
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  if (!loaded.ok()) return published;
  published.loaded = *std::move(loaded);
  EXPECT_EQ(published.loaded.invalid, 0);

  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      kafka::Producer::Create({.bootstrap_servers = brokers});
  EXPECT_TRUE(producer.ok()) << producer.status();
  if (!producer.ok()) return published;
  const std::atomic<bool> stop{false};
  std::ostringstream progress;
  published.summary = Publish(published.loaded.events, **producer, options, stop, progress);
  published.progress = progress.str();
  return published;
}

// Every input event arrived once, keyed by its customer, decodable, unchanged, and in occurred_at
// order within each partition.
void ExpectEveryEventOnceInOrder(const LoadResult& loaded, const std::vector<Consumed>& records,
                                 core::WireFormat expected_format) {
  std::map<std::string, v1::CustomerEvent> sent;
  for (const ReplayEvent& event : loaded.events) {
    v1::CustomerEvent decoded;
    ASSERT_TRUE(decoded.ParseFromString(event.protobuf));
    sent[decoded.event_id()] = decoded;
  }
  ASSERT_EQ(records.size(), loaded.events.size());
  std::set<std::string> seen;
  std::map<std::int32_t, std::pair<std::int64_t, std::int64_t>> last_by_partition;
  for (const Consumed& record : records) {
    const core::WireFormat format = core::FormatFromContentType(record.content_type.value_or(""));
    EXPECT_EQ(format, expected_format);
    v1::CustomerEvent event;
    const std::optional<core::Rejection> rejection =
        core::DecodeEvent(record.value, format, {}, event);
    ASSERT_EQ(rejection, std::nullopt) << rejection->detail;
    EXPECT_EQ(record.key, event.customer_id());
    EXPECT_TRUE(seen.insert(event.event_id()).second) << event.event_id() << " arrived twice";
    ASSERT_TRUE(sent.contains(event.event_id())) << event.event_id();
    EXPECT_TRUE(MessageDifferencer::Equals(event, sent[event.event_id()]))
        << event.ShortDebugString();

    const std::int64_t seconds = event.occurred_at().seconds();
    auto [last, first_in_partition] =
        last_by_partition.try_emplace(record.partition, record.offset, seconds);
    if (!first_in_partition) {
      EXPECT_GT(record.offset, last->second.first);
      EXPECT_GE(seconds, last->second.second)
          << event.event_id() << " is out of order in partition " << record.partition;
      last->second = {record.offset, seconds};
    }
  }
  // Every partition got some, so the order held on each.
  EXPECT_EQ(last_by_partition.size(), 4U);
}

TEST(PublishTest, EveryEventArrivesOnceKeyedByCustomerInOccurredAtOrder) {
  absl::StatusOr<std::unique_ptr<kafka::MockCluster>> cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("customer-events", 4, 1).ok());
  const std::string brokers = (*cluster)->bootstrap_servers();

  const Published published =
      LoadAndPublish(WriteHistory("replay_history.jsonl", 240), brokers, {});
  ASSERT_TRUE(published.summary.status.ok()) << published.summary.status;
  EXPECT_FALSE(published.summary.stopped);
  EXPECT_EQ(published.summary.produced, 240);
  EXPECT_EQ(published.summary.delivered, 240);

  const std::vector<Consumed> records = ConsumeAll(brokers, "customer-events", 240);
  ExpectEveryEventOnceInOrder(published.loaded, records, core::WireFormat::kAuto);
}

TEST(PublishTest, JsonCarriesItsContentTypeAndRatesAreKept) {
  absl::StatusOr<std::unique_ptr<kafka::MockCluster>> cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("history", 4, 1).ok());
  const std::string brokers = (*cluster)->bootstrap_servers();

  const Published published = LoadAndPublish(WriteHistory("replay_paced.jsonl", 60), brokers,
                                             {.topic = "history",
                                              .format = OutputFormat::kJson,
                                              .rate = 300.0,
                                              .checkpoint_interval = absl::Milliseconds(20)});
  ASSERT_TRUE(published.summary.status.ok()) << published.summary.status;
  EXPECT_EQ(published.summary.delivered, 60);
  // The 60th event is due 59/300 s after the first.
  EXPECT_GE(published.summary.elapsed, absl::Milliseconds(190));
  EXPECT_THAT(published.progress, HasSubstr("/60 events delivered ("));
  EXPECT_THAT(published.progress, HasSubstr("occurred_at reached 2024-03-01T"));

  const std::vector<Consumed> records = ConsumeAll(brokers, "history", 60);
  for (const Consumed& record : records) ASSERT_EQ(record.value.front(), '{');
  ExpectEveryEventOnceInOrder(published.loaded, records, core::WireFormat::kJson);
}

TEST(PublishTest, AStopBeforeTheFirstEventPublishesNothing) {
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      kafka::Producer::Create({.bootstrap_servers = "127.0.0.1:1"});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::vector<ReplayEvent> events(3);
  const std::atomic<bool> stop{true};
  std::ostringstream progress;
  const PublishSummary summary = Publish(events, **producer, {}, stop, progress);
  EXPECT_TRUE(summary.stopped);
  EXPECT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_EQ(summary.produced, 0);
  EXPECT_EQ(summary.delivered, 0);
}

TEST(PublishTest, AFailedDeliveryIsReportedAndNothingCountsAsDelivered) {
  // Nothing listens on port 1, and records expire fast.
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer = kafka::Producer::Create(
      {.bootstrap_servers = "127.0.0.1:1", .properties = {{"message.timeout.ms", "200"}}});
  ASSERT_TRUE(producer.ok()) << producer.status();
  std::vector<ReplayEvent> events(3);
  for (ReplayEvent& event : events) {
    event.customer_id = "c";
    event.protobuf = "x";
  }
  const std::atomic<bool> stop{false};
  std::ostringstream progress;
  const PublishSummary summary =
      Publish(events, **producer, {.flush_timeout = absl::Seconds(20)}, stop, progress);
  EXPECT_FALSE(summary.status.ok());
  EXPECT_THAT(summary.status.message(), HasSubstr("failed delivery"));
  EXPECT_EQ(summary.produced, 3);
  EXPECT_EQ(summary.delivered, 0);
}

}  // namespace
}  // namespace cdp::tools::replay
