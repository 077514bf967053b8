#include "cdp/kafka/partition_reader.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::MakeProducer;
using ::cdp::kafka::testing::ProduceTo;
using ::cdp::kafka::testing::StartCluster;
using ::cdp::kafka::testing::Tp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

// A record copied out of its Message, which is valid only inside the visit.
struct Record {
  std::int64_t offset = 0;
  int partition = 0;
  std::optional<std::string> key = {};
  std::optional<std::string> value = {};
  std::vector<std::pair<std::string, std::string>> headers = {};

  friend bool operator==(const Record&, const Record&) = default;
  friend void PrintTo(const Record& record, std::ostream* out) {
    *out << "{offset " << record.offset << ", partition " << record.partition << ", key "
         << record.key.value_or("<null>") << ", value " << record.value.value_or("<null>") << ", "
         << record.headers.size() << " headers}";
  }
};

Record Copy(const Message& message) {
  Record record{.offset = message.offset(), .partition = message.partition().value()};
  if (message.key()) record.key.emplace(*message.key());
  if (message.value()) record.value.emplace(*message.value());
  for (const Header& header : message.headers()) {
    record.headers.emplace_back(header.name, header.value);
  }
  return record;
}

std::unique_ptr<PartitionReader> MakeReader(const MockCluster& cluster,
                                            Properties properties = {}) {
  absl::StatusOr<std::unique_ptr<PartitionReader>> reader =
      PartitionReader::Create(PartitionReaderOptions{
          .bootstrap_servers = cluster.bootstrap_servers(), .properties = std::move(properties)});
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? *std::move(reader) : nullptr;
}

absl::StatusOr<std::vector<Record>> ReadRange(PartitionReader& reader, const TopicPartition& tp,
                                              std::int64_t from, std::int64_t until,
                                              absl::Duration idle_timeout = absl::Seconds(20)) {
  std::vector<Record> records;
  absl::Status status = reader.Read(
      tp, from, until,
      [&](const Message& message) {
        records.push_back(Copy(message));
        return absl::OkStatus();
      },
      idle_timeout);
  if (!status.ok()) return status;
  return records;
}

std::vector<std::int64_t> Offsets(const std::vector<Record>& records) {
  std::vector<std::int64_t> offsets;
  for (const Record& record : records) offsets.push_back(record.offset);
  return offsets;
}

TEST(PartitionReaderTest, QueriesWatermarksOfEmptyAndFilledPartitions) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 2, 1).ok());
  ProduceTo(*cluster, "changelog", 1, 3, "r");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  absl::StatusOr<Watermarks> empty = reader->QueryWatermarks(Tp("changelog", 0), absl::Seconds(10));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->low, 0);
  EXPECT_EQ(empty->high, 0);
  absl::StatusOr<Watermarks> filled =
      reader->QueryWatermarks(Tp("changelog", 1), absl::Seconds(10));
  ASSERT_TRUE(filled.ok()) << filled.status();
  EXPECT_EQ(filled->low, 0);
  EXPECT_EQ(filled->high, 3);
}

TEST(PartitionReaderTest, QueriesManyPartitionsWatermarksAtOnceInTheOrderGiven) {
  auto cluster = StartCluster(3);
  ASSERT_NE(cluster, nullptr);
  // Four partitions over three leaders.
  ASSERT_TRUE(cluster->CreateTopic("changelog", 4, 1).ok());
  ProduceTo(*cluster, "changelog", 1, 3, "r");
  ProduceTo(*cluster, "changelog", 3, 5, "r");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  absl::StatusOr<std::vector<Watermarks>> watermarks = reader->QueryWatermarks(
      {Tp("changelog", 3), Tp("changelog", 0), Tp("changelog", 1), Tp("changelog", 2)},
      absl::Seconds(10));
  ASSERT_TRUE(watermarks.ok()) << watermarks.status();
  std::vector<std::pair<std::int64_t, std::int64_t>> found;
  for (const Watermarks& w : *watermarks) found.emplace_back(w.low, w.high);
  EXPECT_THAT(found, ElementsAre(Pair(0, 5), Pair(0, 0), Pair(0, 3), Pair(0, 0)));

  absl::StatusOr<std::vector<Watermarks>> unknown =
      reader->QueryWatermarks({Tp("changelog", 1), Tp("changelog", 7)}, absl::Seconds(10));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();
  EXPECT_THAT(unknown.status().message(), HasSubstr("changelog[7]"));
}

TEST(PartitionReaderTest, ReadsAWholePartitionInOrderWithTombstonesAndHeaders) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 3, 1).ok());
  const std::vector<Header> headers = {{"kind", "profile"}, {"trace", "a"}, {"trace", "b"}};
  {
    auto producer = MakeProducer(*cluster);
    ASSERT_NE(producer, nullptr);
    ASSERT_TRUE(producer->Produce("changelog", "customer-1", "v1", headers, Partition(2)).ok());
    ASSERT_TRUE(producer->Produce("changelog", "customer-2", "v2", {}, Partition(2)).ok());
    // A tombstone: the customer's state was deleted.
    ASSERT_TRUE(producer->Produce("changelog", "customer-1", std::nullopt, {}, Partition(2)).ok());
    ASSERT_TRUE(producer->Produce("changelog", "customer-3", "", {}, Partition(2)).ok());
    // Another partition's records must not show up.
    ASSERT_TRUE(producer->Produce("changelog", "customer-9", "elsewhere", {}, Partition(1)).ok());
    const absl::Status flushed = producer->Flush(absl::Seconds(10));
    ASSERT_TRUE(flushed.ok()) << flushed;
  }
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);
  const TopicPartition tp = Tp("changelog", 2);
  absl::StatusOr<Watermarks> watermarks = reader->QueryWatermarks(tp, absl::Seconds(10));
  ASSERT_TRUE(watermarks.ok()) << watermarks.status();
  ASSERT_EQ(watermarks->high, 4);

  absl::StatusOr<std::vector<Record>> records = ReadRange(*reader, tp, 0, watermarks->high);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(*records,
              ElementsAre(Record{.offset = 0,
                                 .partition = 2,
                                 .key = "customer-1",
                                 .value = "v1",
                                 .headers = {{"kind", "profile"}, {"trace", "a"}, {"trace", "b"}}},
                          Record{.offset = 1, .partition = 2, .key = "customer-2", .value = "v2"},
                          Record{.offset = 2, .partition = 2, .key = "customer-1"},
                          Record{.offset = 3, .partition = 2, .key = "customer-3", .value = ""}));
}

TEST(PartitionReaderTest, ReadsARangeFromTheMiddleAndStopsBeforeUntil) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 10, "r");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  absl::StatusOr<std::vector<Record>> records = ReadRange(*reader, Tp("changelog", 0), 4, 8);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(Offsets(*records), ElementsAre(4, 5, 6, 7));
  ASSERT_FALSE(records->empty());
  EXPECT_EQ(records->front().value, "r-4");
}

TEST(PartitionReaderTest, APartitionReadAgainAtOnceStartsWhereAsked) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 100, "r");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  // Each read leaves records fetched past its end, which the next must not take for its own.
  for (int round = 0; round < 20; ++round) {
    absl::StatusOr<std::vector<Record>> later = ReadRange(*reader, Tp("changelog", 0), 50, 51);
    ASSERT_TRUE(later.ok()) << later.status();
    EXPECT_THAT(Offsets(*later), ElementsAre(50));
    absl::StatusOr<std::vector<Record>> earlier = ReadRange(*reader, Tp("changelog", 0), 3, 5);
    ASSERT_TRUE(earlier.ok()) << earlier.status();
    EXPECT_THAT(Offsets(*earlier), ElementsAre(3, 4));
  }
}

TEST(PartitionReaderTest, AnEmptyRangeReturnsAtOnce) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 3, "r");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  // Were it to wait for a record, it would take the whole idle timeout.
  const absl::Time start = absl::Now();
  int visits = 0;
  const auto count = [&](const Message&) {
    ++visits;
    return absl::OkStatus();
  };
  EXPECT_TRUE(reader->Read(Tp("changelog", 0), 3, 3, count, absl::Minutes(5)).ok());
  EXPECT_TRUE(reader->Read(Tp("changelog", 0), 0, 0, count, absl::Minutes(5)).ok());
  EXPECT_TRUE(reader->Read(Tp("changelog", 0), 2, 1, count, absl::Minutes(5)).ok());
  EXPECT_EQ(visits, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(PartitionReaderTest, ReadsSeveralPartitionsOneAfterTheOther) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 2, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 5, "zero");
  ProduceTo(*cluster, "changelog", 1, 7, "one");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  // Stopping at `until` leaves records of partition 0 fetched but not delivered: none of them may
  // leak into the next read.
  absl::StatusOr<std::vector<Record>> first = ReadRange(*reader, Tp("changelog", 0), 0, 2);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Offsets(*first), ElementsAre(0, 1));
  absl::StatusOr<std::vector<Record>> second = ReadRange(*reader, Tp("changelog", 1), 0, 7);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(Offsets(*second), ElementsAre(0, 1, 2, 3, 4, 5, 6));
  for (const Record& record : *second) {
    EXPECT_EQ(record.partition, 1);
    EXPECT_EQ(record.value, absl::StrCat("one-", record.offset));
  }
  // The same partition again, from an earlier offset than where the first read stopped.
  absl::StatusOr<std::vector<Record>> again = ReadRange(*reader, Tp("changelog", 0), 1, 5);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(Offsets(*again), ElementsAre(1, 2, 3, 4));
  for (const Record& record : *again) EXPECT_EQ(record.value, absl::StrCat("zero-", record.offset));
}

TEST(PartitionReaderTest, StartsAtTheLowWatermarkWhenOlderRecordsAreGone) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  // The mock keeps about 5 MiB per partition: 12 MiB of incompressible values push the oldest out,
  // as retention would.
  {
    auto producer = MakeProducer(*cluster, {{"compression.type", "none"}});
    ASSERT_NE(producer, nullptr);
    std::mt19937 random(42);
    std::string value(256 * 1024, '\0');
    for (int i = 0; i < 48; ++i) {
      for (char& c : value) c = static_cast<char>(random());
      ASSERT_TRUE(
          producer->Produce("changelog", absl::StrCat("k", i), value, {}, Partition(0)).ok());
    }
    const absl::Status flushed = producer->Flush(absl::Seconds(20));
    ASSERT_TRUE(flushed.ok()) << flushed;
  }
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);
  const TopicPartition tp = Tp("changelog", 0);
  absl::StatusOr<Watermarks> watermarks = reader->QueryWatermarks(tp, absl::Seconds(10));
  ASSERT_TRUE(watermarks.ok()) << watermarks.status();
  ASSERT_GT(watermarks->low, 0);
  ASSERT_EQ(watermarks->high, 48);

  absl::StatusOr<std::vector<Record>> records = ReadRange(*reader, tp, 0, watermarks->high);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), static_cast<std::size_t>(watermarks->high - watermarks->low));
  // A range entirely below the low watermark yields nothing: the first record is beyond it.
  absl::StatusOr<std::vector<Record>> gone = ReadRange(*reader, tp, 0, watermarks->low);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_THAT(*gone, IsEmpty());
  for (std::size_t i = 0; i < records->size(); ++i) {
    EXPECT_EQ((*records)[i].offset, watermarks->low + static_cast<std::int64_t>(i));
    EXPECT_EQ((*records)[i].key, absl::StrCat("k", (*records)[i].offset));
  }
}

TEST(PartitionReaderTest, AVisitErrorStopsReadingAndTheReaderGoesOn) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 10, "r");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);
  const TopicPartition tp = Tp("changelog", 0);

  std::vector<std::int64_t> visited;
  const absl::Status status = reader->Read(
      tp, 0, 10,
      [&](const Message& message) {
        visited.push_back(message.offset());
        return message.offset() == 2 ? absl::DataLossError("state store write failed")
                                     : absl::OkStatus();
      },
      absl::Seconds(20));
  EXPECT_EQ(status, absl::DataLossError("state store write failed"));
  EXPECT_THAT(visited, ElementsAre(0, 1, 2));

  absl::StatusOr<std::vector<Record>> records = ReadRange(*reader, tp, 0, 10);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(records->size(), 10u);
}

TEST(PartitionReaderTest, TimesOutWhenRecordsBelowUntilNeverCome) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 3, "r");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  std::vector<std::int64_t> visited;
  const absl::Status status = reader->Read(
      Tp("changelog", 0), 0, 5,
      [&](const Message& message) {
        visited.push_back(message.offset());
        return absl::OkStatus();
      },
      absl::Milliseconds(500));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("no record of changelog[0] for 500ms"));
  EXPECT_THAT(status.message(), HasSubstr("offsets [0, 5): next offset 3"));
  EXPECT_THAT(status.message(), HasSubstr("partition end seen at 3"));
  EXPECT_THAT(visited, ElementsAre(0, 1, 2));
}

TEST(PartitionReaderTest, AnUnknownTopicOrPartitionIsNotFound) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  // The mock creates any topic a metadata request names; this one answers as a real cluster
  // without it does.
  rd_kafka_mock_topic_set_error(cluster->raw(), "missing", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);

  // Were the reads to wait for records, they would end only after the idle timeout.
  int visits = 0;
  const auto count = [&](const Message&) {
    ++visits;
    return absl::OkStatus();
  };
  const absl::Time start = absl::Now();
  const absl::Status topic = reader->Read(Tp("missing", 0), 0, 10, count, absl::Minutes(1));
  EXPECT_EQ(topic.code(), absl::StatusCode::kNotFound) << topic;
  EXPECT_THAT(topic.message(), HasSubstr("cannot read missing[0]"));
  const absl::Status partition = reader->Read(Tp("changelog", 3), 0, 10, count, absl::Minutes(1));
  EXPECT_EQ(partition.code(), absl::StatusCode::kNotFound) << partition;
  EXPECT_THAT(partition.message(), HasSubstr("cannot read changelog[3]"));
  EXPECT_EQ(visits, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));

  absl::StatusOr<Watermarks> watermarks =
      reader->QueryWatermarks(Tp("missing", 0), absl::Seconds(10));
  EXPECT_EQ(watermarks.status().code(), absl::StatusCode::kNotFound) << watermarks.status();
  EXPECT_THAT(watermarks.status().message(), HasSubstr("missing[0]"));
  EXPECT_EQ(reader->QueryWatermarks(Tp("changelog", 3), absl::Seconds(10)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PartitionReaderTest, AsksTheClusterAboutATopicsPartitionsOnce) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 2, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 3, "a");
  ProduceTo(*cluster, "changelog", 1, 3, "b");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<std::vector<Record>> first = ReadRange(*reader, Tp("changelog", 0), 0, 3);
  ASSERT_TRUE(first.ok()) << first.status();

  // From now on metadata requests are told the topic does not exist; a read that asked would
  // end with NotFound.
  rd_kafka_mock_topic_set_error(cluster->raw(), "changelog",
                                RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  absl::StatusOr<std::vector<Record>> second =
      ReadRange(*reader, Tp("changelog", 1), 0, 3, absl::Seconds(10));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->size(), 3u);
}

TEST(PartitionReaderTest, PrefetchedPartitionsReadAsIfReadAfresh) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 3, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 4, "zero");
  ProduceTo(*cluster, "changelog", 1, 5, "one");
  ProduceTo(*cluster, "changelog", 2, 6, "two");
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Prefetch(Tp("changelog", 1), 0, absl::Seconds(10)).ok());
  ASSERT_TRUE(reader->Prefetch(Tp("changelog", 2), 0, absl::Seconds(10)).ok());

  // Records of the partitions fetched meanwhile must not leak into another's read.
  absl::StatusOr<std::vector<Record>> zero = ReadRange(*reader, Tp("changelog", 0), 0, 4);
  ASSERT_TRUE(zero.ok()) << zero.status();
  EXPECT_THAT(Offsets(*zero), ElementsAre(0, 1, 2, 3));
  for (const Record& record : *zero) EXPECT_EQ(record.partition, 0);
  absl::StatusOr<std::vector<Record>> one = ReadRange(*reader, Tp("changelog", 1), 0, 5);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(Offsets(*one), ElementsAre(0, 1, 2, 3, 4));
  // Prefetched from 0, read from 3: the prefetch is dropped and the read starts at 3.
  absl::StatusOr<std::vector<Record>> two = ReadRange(*reader, Tp("changelog", 2), 3, 6);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_THAT(Offsets(*two), ElementsAre(3, 4, 5));
  for (const Record& record : *two) EXPECT_EQ(record.partition, 2);

  // A third prefetch releases the oldest, which then reads as any other partition.
  for (int partition : {0, 1, 2}) {
    ASSERT_TRUE(reader->Prefetch(Tp("changelog", partition), 0, absl::Seconds(10)).ok());
  }
  for (int partition : {0, 1, 2}) {
    absl::StatusOr<std::vector<Record>> again =
        ReadRange(*reader, Tp("changelog", partition), 0, 4);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_THAT(Offsets(*again), ElementsAre(0, 1, 2, 3)) << "partition " << partition;
  }
  ASSERT_TRUE(reader->Prefetch(Tp("changelog", 1), 0, absl::Seconds(10)).ok());
  ASSERT_TRUE(reader->DropPrefetched().ok());
  absl::StatusOr<std::vector<Record>> dropped = ReadRange(*reader, Tp("changelog", 1), 1, 3);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_THAT(Offsets(*dropped), ElementsAre(1, 2));
  EXPECT_EQ(reader->Prefetch(Tp("changelog", 0), -1, absl::Seconds(10)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader->Prefetch(Tp("changelog", 7), 0, absl::Seconds(10)).code(),
            absl::StatusCode::kNotFound);
}

TEST(PartitionReaderTest, JoinsNoGroupAndCommitsNothing) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  ProduceTo(*cluster, "changelog", 0, 3, "r");
  // One pending error per group request on the only broker (id 1): a request would consume it.
  constexpr std::int16_t kJoinGroup = 11;
  constexpr std::int16_t kOffsetCommit = 8;
  for (const std::int16_t api : {kJoinGroup, kOffsetCommit}) {
    ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                  cluster->raw(), 1, api, 1, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 0),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  {
    auto reader = MakeReader(*cluster);
    ASSERT_NE(reader, nullptr);
    absl::StatusOr<std::vector<Record>> records = ReadRange(*reader, Tp("changelog", 0), 0, 3);
    ASSERT_TRUE(records.ok()) << records.status();
    EXPECT_EQ(records->size(), 3u);
  }
  for (const std::int16_t api : {kJoinGroup, kOffsetCommit}) {
    std::size_t pending = 0;
    ASSERT_EQ(rd_kafka_mock_broker_error_stack_cnt(cluster->raw(), 1, api, &pending),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(pending, 1u) << "ApiKey " << api;
  }
}

TEST(PartitionReaderTest, InvalidPropertiesAndOffsetsAreNamed) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  absl::StatusOr<std::unique_ptr<PartitionReader>> invalid = PartitionReader::Create(
      PartitionReaderOptions{.bootstrap_servers = cluster->bootstrap_servers(),
                             .properties = {{"fetch.wait.max.ms", "briefly"}}});
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(),
              HasSubstr("invalid Kafka partition reader property 'fetch.wait.max.ms'"));

  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);
  const absl::Status negative = reader->Read(
      Tp("changelog", 0), -2, 5, [](const Message&) { return absl::OkStatus(); }, absl::Seconds(1));
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("cannot read changelog[0] from offset -2"));
}

// Restores are measured in records per second: this reads a partition of many small records and
// reports the rate (not asserted: the machine may be busy).
TEST(PartitionReaderTest, ReadsManyRecordsQuickly) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("changelog", 1, 1).ok());
  constexpr int kRecords = 200'000;
  {
    auto producer = MakeProducer(*cluster, {{"linger.ms", "50"}});
    ASSERT_NE(producer, nullptr);
    const std::string value(100, 'v');
    for (int i = 0; i < kRecords; ++i) {
      ASSERT_TRUE(
          producer
              ->Produce("changelog", absl::StrCat("customer-", i % 5000), value, {}, Partition(0))
              .ok());
    }
    const absl::Status flushed = producer->Flush(absl::Seconds(60));
    ASSERT_TRUE(flushed.ok()) << flushed;
  }
  auto reader = MakeReader(*cluster);
  ASSERT_NE(reader, nullptr);
  const TopicPartition tp = Tp("changelog", 0);
  absl::StatusOr<Watermarks> watermarks = reader->QueryWatermarks(tp, absl::Seconds(10));
  ASSERT_TRUE(watermarks.ok()) << watermarks.status();
  ASSERT_EQ(watermarks->low, 0);
  ASSERT_EQ(watermarks->high, kRecords);

  std::int64_t expected = 0;
  std::size_t bytes = 0;
  const absl::Time start = absl::Now();
  const absl::Status status = reader->Read(
      tp, 0, watermarks->high,
      [&](const Message& message) {
        if (message.offset() != expected) {
          return absl::InternalError(
              absl::StrCat("offset ", message.offset(), " where ", expected, " was expected"));
        }
        ++expected;
        bytes += message.value().value_or("").size();
        return absl::OkStatus();
      },
      absl::Seconds(20));
  const absl::Duration elapsed = absl::Now() - start;
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(expected, kRecords);
  EXPECT_EQ(bytes, static_cast<std::size_t>(kRecords) * 100);
  const double rate = kRecords / absl::ToDoubleSeconds(elapsed);
  RecordProperty("records_per_second", static_cast<int>(rate));
  std::cout << "read " << kRecords << " records in " << elapsed << ": " << rate << " records/s\n";
}

}  // namespace
}  // namespace cdp::kafka
