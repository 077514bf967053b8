#include "cdp/kafka/assigned_consumer.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/kafka/consumer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::MakeConsumer;
using ::cdp::kafka::testing::PollUntil;
using ::cdp::kafka::testing::ProduceTo;
using ::cdp::kafka::testing::RecordingHandler;
using ::cdp::kafka::testing::StartCluster;
using ::cdp::kafka::testing::TestConsumerOptions;
using ::cdp::kafka::testing::Tp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Offsets and values received per partition, in the order they arrived.
struct Received {
  std::map<TopicPartition, std::vector<std::int64_t>> offsets;
  std::map<TopicPartition, std::vector<std::string>> values;

  std::size_t count(const TopicPartition& tp) const {
    const auto found = offsets.find(tp);
    return found == offsets.end() ? 0 : found->second.size();
  }
};

std::unique_ptr<AssignedConsumer> MakeAssigned(const MockCluster& cluster,
                                               std::string group = "g") {
  absl::StatusOr<std::unique_ptr<AssignedConsumer>> consumer =
      AssignedConsumer::Create(AssignedConsumerOptions{
          .bootstrap_servers = cluster.bootstrap_servers(),
          .group_id = std::move(group),
          .properties = {{"fetch.wait.max.ms", "50"}},
      });
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  return consumer.ok() ? *std::move(consumer) : nullptr;
}

// Polls batches of up to `max_messages` into `received` until `done` holds or `timeout` passes.
bool PollInto(AssignedConsumer& consumer, Received& received, const std::function<bool()>& done,
              std::size_t max_messages = 100, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::StatusOr<std::vector<Message>> batch =
        consumer.Poll(max_messages, absl::Milliseconds(100));
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) return false;
    for (const Message& message : *batch) {
      const TopicPartition tp{std::string(message.topic()), message.partition()};
      received.offsets[tp].push_back(message.offset());
      received.values[tp].emplace_back(message.value().value_or("<null>"));
    }
  }
  return true;
}

std::vector<std::int64_t> Range(std::int64_t from, std::int64_t until) {
  std::vector<std::int64_t> offsets;
  for (std::int64_t offset = from; offset < until; ++offset) offsets.push_back(offset);
  return offsets;
}

// Four partitions of ten records each, "p<partition>-<i>" at offset i.
void FillFourPartitions(const MockCluster& cluster) {
  for (int partition = 0; partition < 4; ++partition) {
    ProduceTo(cluster, "repartition", partition, 10, absl::StrCat("p", partition));
  }
}

TEST(AssignedConsumerTest, ReadsAssignedPartitionsFromExplicitOffsetsInOrder) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("repartition", 4, 1).ok());
  FillFourPartitions(*cluster);
  auto consumer = MakeAssigned(*cluster);
  ASSERT_NE(consumer, nullptr);

  ASSERT_TRUE(consumer->Assign(Tp("repartition", 1), Offset(3)).ok());
  ASSERT_TRUE(consumer->Assign(Tp("repartition", 2), Offset(7)).ok());
  absl::StatusOr<std::vector<TopicPartition>> assignment = consumer->Assignment();
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  EXPECT_THAT(*assignment, UnorderedElementsAre(Tp("repartition", 1), Tp("repartition", 2)));

  Received received;
  ASSERT_TRUE(PollInto(*consumer, received, [&] {
    return received.count(Tp("repartition", 1)) >= 7 && received.count(Tp("repartition", 2)) >= 3;
  }));
  // Nothing of the unassigned partitions, nothing twice, nothing before the start offsets.
  EXPECT_THAT(received.offsets, ElementsAre(std::pair(Tp("repartition", 1), Range(3, 10)),
                                            std::pair(Tp("repartition", 2), Range(7, 10))));
  EXPECT_THAT(received.values[Tp("repartition", 2)], ElementsAre("p2-7", "p2-8", "p2-9"));
  EXPECT_EQ(consumer->transient_errors(), 0u) << consumer->last_transient_error();
}

TEST(AssignedConsumerTest, WithoutAStartResumesAtTheGroupsCommittedOffsetElseTheEarliest) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("repartition", 4, 1).ok());
  FillFourPartitions(*cluster);
  // A member of group "g" commits partition 0's offset 6 and leaves.
  {
    RecordingHandler handler;
    auto member = MakeConsumer(TestConsumerOptions(*cluster, "g", {"repartition"}), handler);
    ASSERT_NE(member, nullptr);
    ASSERT_TRUE(PollUntil({{member.get(), &handler}},
                          [&] { return handler.owned.contains(Tp("repartition", 0)); }));
    ASSERT_TRUE(member->CommitOffsets({{Tp("repartition", 0), Offset(6)}}).ok());
    ASSERT_TRUE(PollUntil({{member.get(), &handler}}, [&] {
      absl::StatusOr<std::map<TopicPartition, Offset>> committed =
          member->Committed({Tp("repartition", 0)}, absl::Seconds(5));
      return committed.ok() && !committed->empty();
    }));
    ASSERT_TRUE(member->Close().ok());
  }

  auto consumer = MakeAssigned(*cluster, "g");
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Assign(Tp("repartition", 0), std::nullopt).ok());
  // The group has committed nothing for partition 1: auto.offset.reset=earliest.
  ASSERT_TRUE(consumer->Assign(Tp("repartition", 1), std::nullopt).ok());
  Received received;
  ASSERT_TRUE(PollInto(*consumer, received, [&] {
    return received.count(Tp("repartition", 0)) >= 4 && received.count(Tp("repartition", 1)) >= 10;
  }));
  EXPECT_THAT(received.offsets, ElementsAre(std::pair(Tp("repartition", 0), Range(6, 10)),
                                            std::pair(Tp("repartition", 1), Range(0, 10))));
}

TEST(AssignedConsumerTest, UnassignDropsRecordsAlreadyFetched) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("repartition", 4, 1).ok());
  constexpr int kRecords = 1000;
  ProduceTo(*cluster, "repartition", 1, kRecords, "p1");
  ProduceTo(*cluster, "repartition", 2, kRecords, "p2");
  auto consumer = MakeAssigned(*cluster);
  ASSERT_NE(consumer, nullptr);
  const TopicPartition kept = Tp("repartition", 1);
  const TopicPartition dropped = Tp("repartition", 2);
  ASSERT_TRUE(consumer->Assign(kept, Offset(0)).ok());
  ASSERT_TRUE(consumer->Assign(dropped, Offset(0)).ok());

  // One fetch carries a partition's whole 1,000 small records (max.partition.fetch.bytes is
  // 1 MiB) and librdkafka queues them together, so once the first record of `dropped` is returned
  // the other 999 wait in the local queue: those are what Unassign must drop.
  Received before;
  ASSERT_TRUE(PollInto(
      *consumer, before, [&] { return before.count(dropped) >= 1; }, 1));
  ASSERT_LT(before.count(dropped), static_cast<std::size_t>(kRecords));
  // Partition 3 was never assigned: ignored.
  ASSERT_TRUE(consumer->Unassign({dropped, Tp("repartition", 3)}).ok());
  absl::StatusOr<std::vector<TopicPartition>> assignment = consumer->Assignment();
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  EXPECT_THAT(*assignment, ElementsAre(kept));

  Received after;
  ASSERT_TRUE(PollInto(*consumer, after, [&] {
    return before.count(kept) + after.count(kept) >= static_cast<std::size_t>(kRecords);
  }));
  EXPECT_EQ(after.count(dropped), 0u);
  std::vector<std::int64_t> all_kept = before.offsets[kept];
  all_kept.insert(all_kept.end(), after.offsets[kept].begin(), after.offsets[kept].end());
  EXPECT_EQ(all_kept, Range(0, kRecords));
  EXPECT_THAT(consumer->Lag(), ElementsAre(std::pair(kept, 0)));

  // Assigned again further on, it starts exactly there: nothing stale from the first assignment.
  ASSERT_TRUE(consumer->Assign(dropped, Offset(900)).ok());
  Received again;
  ASSERT_TRUE(PollInto(*consumer, again, [&] { return again.count(dropped) >= 100; }));
  EXPECT_EQ(again.offsets[dropped], Range(900, kRecords));
  EXPECT_EQ(again.count(kept), 0u);
}

TEST(AssignedConsumerTest, AssigningAnAssignedPartitionIsAnError) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("repartition", 4, 1).ok());
  auto consumer = MakeAssigned(*cluster);
  ASSERT_NE(consumer, nullptr);

  ASSERT_TRUE(consumer->Assign(Tp("repartition", 0), Offset(0)).ok());
  const absl::Status twice = consumer->Assign(Tp("repartition", 0), std::nullopt);
  EXPECT_EQ(twice.code(), absl::StatusCode::kFailedPrecondition) << twice;
  EXPECT_THAT(twice.message(), HasSubstr("cannot assign repartition[0]: it is already assigned"));

  // Once unassigned it can be assigned again.
  ASSERT_TRUE(consumer->Unassign({Tp("repartition", 0)}).ok());
  EXPECT_TRUE(consumer->Assign(Tp("repartition", 0), Offset(0)).ok());

  const absl::Status negative = consumer->Assign(Tp("repartition", 1), Offset(-2));
  EXPECT_EQ(negative.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.message(), HasSubstr("cannot assign repartition[1] at offset -2"));
  absl::StatusOr<std::vector<TopicPartition>> assignment = consumer->Assignment();
  ASSERT_TRUE(assignment.ok()) << assignment.status();
  EXPECT_THAT(*assignment, ElementsAre(Tp("repartition", 0)));
}

TEST(AssignedConsumerTest, LagIsTheRecordsNotYetPolled) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("repartition", 4, 1).ok());
  FillFourPartitions(*cluster);
  auto consumer = MakeAssigned(*cluster);
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Assign(Tp("repartition", 3), Offset(2)).ok());

  Received received;
  ASSERT_TRUE(PollInto(
      *consumer, received, [&] { return received.count(Tp("repartition", 3)) >= 3; }, 1));
  EXPECT_THAT(received.offsets[Tp("repartition", 3)], ElementsAre(2, 3, 4));
  EXPECT_THAT(consumer->Lag(), ElementsAre(std::pair(Tp("repartition", 3), 5)));
}

TEST(AssignedConsumerTest, JoinsNoGroupAndCommitsNothing) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("repartition", 4, 1).ok());
  FillFourPartitions(*cluster);
  // One pending error per group request on the only broker (id 1): a request would consume it.
  constexpr std::int16_t kJoinGroup = 11;
  constexpr std::int16_t kOffsetCommit = 8;
  for (const std::int16_t api : {kJoinGroup, kOffsetCommit}) {
    ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                  cluster->raw(), 1, api, 1, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, 0),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  {
    auto consumer = MakeAssigned(*cluster);
    ASSERT_NE(consumer, nullptr);
    // Reading the group's committed offset is all it does with the group.
    ASSERT_TRUE(consumer->Assign(Tp("repartition", 0), std::nullopt).ok());
    Received received;
    ASSERT_TRUE(
        PollInto(*consumer, received, [&] { return received.count(Tp("repartition", 0)) >= 10; }));
    ASSERT_TRUE(consumer->Unassign({Tp("repartition", 0)}).ok());
  }
  for (const std::int16_t api : {kJoinGroup, kOffsetCommit}) {
    std::size_t pending = 0;
    ASSERT_EQ(rd_kafka_mock_broker_error_stack_cnt(cluster->raw(), 1, api, &pending),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    EXPECT_EQ(pending, 1u) << "ApiKey " << api;
  }
}

TEST(AssignedConsumerTest, InvalidOptionsAreNamed) {
  const absl::StatusOr<std::unique_ptr<AssignedConsumer>> no_group =
      AssignedConsumer::Create(AssignedConsumerOptions{.bootstrap_servers = "127.0.0.1:1"});
  EXPECT_EQ(no_group.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_group.status().message(), HasSubstr("needs a group id"));

  const absl::StatusOr<std::unique_ptr<AssignedConsumer>> invalid =
      AssignedConsumer::Create(AssignedConsumerOptions{.bootstrap_servers = "127.0.0.1:1",
                                                       .group_id = "g",
                                                       .properties = {{"fetch.wait.max.ms", "x"}}});
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(),
              HasSubstr("invalid Kafka assigned consumer property 'fetch.wait.max.ms'"));

  absl::StatusOr<std::unique_ptr<AssignedConsumer>> valid = AssignedConsumer::Create(
      AssignedConsumerOptions{.bootstrap_servers = "127.0.0.1:1", .group_id = "g"});
  ASSERT_TRUE(valid.ok()) << valid.status();
  EXPECT_EQ((*valid)->Poll(0, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Nothing assigned and no wait: returns at once, empty.
  absl::StatusOr<std::vector<Message>> nothing = (*valid)->Poll(10, absl::ZeroDuration());
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_THAT(*nothing, IsEmpty());
}

}  // namespace
}  // namespace cdp::kafka
