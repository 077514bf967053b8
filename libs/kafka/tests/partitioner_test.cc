// The service routes a customer to the partition its key hashes to, and must agree with the
// producers upstream: cdp::PartitionFor is checked against librdkafka's own partitioners, and
// against where a real producer puts keyed records.
#include "cdp/common/partitioner.h"

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/kafka/assigned_consumer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::MakeProducer;
using ::cdp::kafka::testing::StartCluster;
using ::cdp::kafka::testing::Tp;

// `count` random keys of 1 to 64 bytes: printable ASCII, or any byte value.
std::vector<std::string> RandomKeys(std::size_t count, bool printable, std::mt19937& random) {
  std::uniform_int_distribution<int> length(1, 64);
  std::uniform_int_distribution<int> byte(printable ? 0x20 : 0x00, printable ? 0x7e : 0xff);
  std::vector<std::string> keys(count);
  for (std::string& key : keys) {
    key.resize(static_cast<std::size_t>(length(random)));
    for (char& c : key) c = static_cast<char>(byte(random));
  }
  return keys;
}

// librdkafka's partitioner functions read only the key and the partition count (rdkafka_msg.c),
// so they are called without a topic handle or opaques.
TEST(PartitionerTest, AgreesWithLibrdkafkasPartitioners) {
  std::mt19937 random(20240611);
  std::vector<std::string> keys = RandomKeys(2000, /*printable=*/true, random);
  const std::vector<std::string> binary = RandomKeys(2000, /*printable=*/false, random);
  keys.insert(keys.end(), binary.begin(), binary.end());
  for (const std::int32_t count : {1, 3, 8, 16, 100}) {
    for (const std::string& key : keys) {
      ASSERT_EQ(PartitionFor(key, count, Partitioner::kConsistent).value(),
                rd_kafka_msg_partitioner_consistent(nullptr, key.data(), key.size(), count, nullptr,
                                                    nullptr))
          << "consistent, " << count << " partitions, key of " << key.size() << " bytes";
      ASSERT_EQ(PartitionFor(key, count, Partitioner::kMurmur2).value(),
                rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), count, nullptr,
                                                 nullptr))
          << "murmur2, " << count << " partitions, key of " << key.size() << " bytes";
    }
  }
}

TEST(PartitionerTest, AgreesWithWhereTheProducerPutsKeyedRecords) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  constexpr std::int32_t kMurmur2Partitions = 100;
  constexpr std::int32_t kConsistentPartitions = 16;
  ASSERT_TRUE(cluster->CreateTopic("by-murmur2", kMurmur2Partitions, 1).ok());
  ASSERT_TRUE(cluster->CreateTopic("by-consistent", kConsistentPartitions, 1).ok());
  std::mt19937 random(7);
  std::vector<std::string> keys = RandomKeys(8, /*printable=*/false, random);
  for (int i = 0; i < 8; ++i) keys.push_back(absl::StrCat("customer-", i));
  // Were the producer to ignore its partitioner setting, the two topics could not both pass.
  int disagreements = 0;
  for (const std::string& key : keys) {
    disagreements += PartitionFor(key, kConsistentPartitions, Partitioner::kConsistent) !=
                     PartitionFor(key, kConsistentPartitions, Partitioner::kMurmur2);
  }
  ASSERT_GT(disagreements, 0);

  // This library's producer defaults to murmur2_random; consistent_random is librdkafka's default.
  for (const auto& [topic, properties] :
       {std::pair("by-murmur2", Properties{}),
        std::pair("by-consistent", Properties{{"partitioner", "consistent_random"}})}) {
    auto producer = MakeProducer(*cluster, properties);
    ASSERT_NE(producer, nullptr);
    for (const std::string& key : keys) ASSERT_TRUE(producer->Produce(topic, key, "v").ok());
    const absl::Status flushed = producer->Flush(absl::Seconds(10));
    ASSERT_TRUE(flushed.ok()) << flushed;
  }

  absl::StatusOr<std::unique_ptr<AssignedConsumer>> consumer = AssignedConsumer::Create(
      AssignedConsumerOptions{.bootstrap_servers = cluster->bootstrap_servers(), .group_id = "g"});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  for (int partition = 0; partition < kMurmur2Partitions; ++partition) {
    ASSERT_TRUE((*consumer)->Assign(Tp("by-murmur2", partition), Offset(0)).ok());
  }
  for (int partition = 0; partition < kConsistentPartitions; ++partition) {
    ASSERT_TRUE((*consumer)->Assign(Tp("by-consistent", partition), Offset(0)).ok());
  }
  std::size_t checked = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (checked < 2 * keys.size() && absl::Now() < deadline) {
    absl::StatusOr<std::vector<Message>> batch = (*consumer)->Poll(100, absl::Milliseconds(100));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const Message& message : *batch) {
      const std::string key(message.key().value_or(""));
      const bool murmur2 = message.topic() == "by-murmur2";
      EXPECT_EQ(message.partition(),
                murmur2 ? PartitionFor(key, kMurmur2Partitions, Partitioner::kMurmur2)
                        : PartitionFor(key, kConsistentPartitions, Partitioner::kConsistent))
          << message.topic() << ", key of " << key.size() << " bytes";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * keys.size());
}

}  // namespace
}  // namespace cdp::kafka
