// Consumed Kafka records as the processor's input, against the mock cluster: what the headers of
// a record passed on through the repartition topic tell its destination.
#include "kafka_adapters.h"

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cdp/kafka/assigned_consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "cdp/kafka/producer.h"
#include "cdp/pipeline/records.h"
#include "gtest/gtest.h"

namespace cdp::service {
namespace {

constexpr std::string_view kInput = "events";
constexpr std::string_view kRepartition = "events-repartition";

TEST(ToInputRecordsTest, ARecordPassedOnNamesItsSourceAndClockAndOnlyThatOne) {
  auto cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  for (std::string_view topic : {kInput, kRepartition}) {
    ASSERT_TRUE((*cluster)->CreateTopic(topic, 1, 1).ok());
  }
  auto producer = kafka::Producer::Create(
      kafka::ProducerOptions{.bootstrap_servers = (*cluster)->bootstrap_servers()});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const std::vector<kafka::Header> passed_on = {
      {pipeline::kDlqTopicHeader, kInput},       {pipeline::kDlqPartitionHeader, "5"},
      {pipeline::kDlqOffsetHeader, "1234"},      {pipeline::kSourceClockHeader, "1780000000000000"},
      {pipeline::kSourcePreviousHeader, "1230"}, {"content-type", "application/json"}};
  std::vector<kafka::Header> unreadable_offset = passed_on;
  unreadable_offset[2].value = "12x";
  // Upstream's own headers of those names on an input record are not the service's to read.
  ASSERT_TRUE((**producer).Produce(kInput, "c1", "{}", passed_on, Partition(0)).ok());
  ASSERT_TRUE((**producer).Produce(kRepartition, "c1", "{}", passed_on, Partition(0)).ok());
  ASSERT_TRUE((**producer).Produce(kRepartition, "c1", "{}", unreadable_offset, Partition(0)).ok());
  ASSERT_TRUE((**producer).Flush(absl::Seconds(10)).ok());

  auto consumer = kafka::AssignedConsumer::Create(kafka::AssignedConsumerOptions{
      .bootstrap_servers = (*cluster)->bootstrap_servers(), .group_id = "reader"});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  for (std::string_view topic : {kInput, kRepartition}) {
    ASSERT_TRUE((**consumer).Assign({std::string(topic), Partition(0)}, Offset(0)).ok());
  }
  std::vector<kafka::Message> messages;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (messages.size() < 3 && absl::Now() < deadline) {
    auto polled = (**consumer).Poll(10, absl::Milliseconds(200));
    ASSERT_TRUE(polled.ok()) << polled.status();
    for (kafka::Message& message : *polled) messages.push_back(std::move(message));
  }
  ASSERT_EQ(messages.size(), 3u);

  const std::vector<pipeline::InputRecord> records = ToInputRecords(messages, kRepartition);
  ASSERT_EQ(records.size(), 3u);
  int passed_on_seen = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const pipeline::InputRecord& record = records[i];
    EXPECT_EQ(record.content_type, "application/json");
    if (messages[i].topic() == kInput) {
      EXPECT_EQ(record.source, pipeline::InputSource::kInput);
      EXPECT_FALSE(record.origin.has_value());
      EXPECT_FALSE(record.source_clock.has_value());
      EXPECT_FALSE(record.passed_on_after.has_value());
      continue;
    }
    EXPECT_EQ(record.source, pipeline::InputSource::kRepartition);
    EXPECT_EQ(record.source_clock, absl::FromUnixSeconds(1'780'000'000));
    EXPECT_EQ(record.passed_on_after, 1230);
    if (messages[i].offset() == 0) {
      ++passed_on_seen;
      ASSERT_TRUE(record.origin.has_value());
      EXPECT_EQ(record.origin->topic, kInput);
      EXPECT_EQ(record.origin->partition, Partition(5));
      EXPECT_EQ(record.origin->offset, Offset(1234));
    } else {
      // Without a readable source it is judged by its event id alone.
      EXPECT_FALSE(record.origin.has_value());
    }
  }
  EXPECT_EQ(passed_on_seen, 1);
}

}  // namespace
}  // namespace cdp::service
