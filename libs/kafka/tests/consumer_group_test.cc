#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/kafka/consumer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::ConsumeAtLeast;
using ::cdp::kafka::testing::MakeConsumer;
using ::cdp::kafka::testing::PollUntil;
using ::cdp::kafka::testing::ProduceAll;
using ::cdp::kafka::testing::RecordingHandler;
using ::cdp::kafka::testing::StartCluster;
using ::cdp::kafka::testing::TestConsumerOptions;
using ::cdp::kafka::testing::Tp;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using ::testing::UnorderedElementsAreArray;

// Polls (which serves the asynchronous commit) until the group has a committed offset for `tp`.
std::map<TopicPartition, Offset> AwaitCommitted(Consumer& consumer, const RecordingHandler& handler,
                                                const TopicPartition& tp) {
  std::map<TopicPartition, Offset> committed;
  EXPECT_TRUE(PollUntil({{&consumer, &handler}}, [&] {
    absl::StatusOr<std::map<TopicPartition, Offset>> read =
        consumer.Committed({tp}, absl::Seconds(5));
    if (read.ok()) committed = *read;
    return !committed.empty();
  }));
  return committed;
}

TEST(ConsumerGroupTest, CommittedOffsetsAreReadBackAndUsedByTheNextMember) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  ProduceAll(*cluster, "events", {{"k", "0"}, {"k", "1"}, {"k", "2"}, {"k", "3"}, {"k", "4"}});
  const TopicPartition tp = Tp("events", 0);
  {
    RecordingHandler handler;
    auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
    ASSERT_NE(consumer, nullptr);
    ASSERT_GE(ConsumeAtLeast(*consumer, 5).size(), 5u);
    absl::StatusOr<std::map<TopicPartition, Offset>> before =
        consumer->Committed({tp}, absl::Seconds(5));
    ASSERT_TRUE(before.ok()) << before.status();
    EXPECT_THAT(*before, IsEmpty());

    ASSERT_TRUE(consumer->CommitOffsets({{tp, Offset(3)}}).ok());
    EXPECT_THAT(AwaitCommitted(*consumer, handler, tp), ElementsAre(std::pair(tp, Offset(3))));
    EXPECT_EQ(consumer->transient_errors(), 0u) << consumer->last_transient_error();
    ASSERT_TRUE(consumer->Close().ok());
  }
  // No start offset from the handler: the next member resumes at the committed offset.
  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> messages = ConsumeAtLeast(*consumer, 2);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].offset(), 3);
  EXPECT_THAT(messages[0].value(), Optional(std::string_view("3")));
}

TEST(ConsumerGroupTest, AFailedCommitHandsItsOffsetsBackForTheNextTry) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 1, 1).ok());
  ProduceAll(*cluster, "events", {{"k", "0"}, {"k", "1"}});
  const TopicPartition tp = Tp("events", 0);
  RecordingHandler handler;
  auto consumer = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), handler);
  ASSERT_NE(consumer, nullptr);
  ASSERT_GE(ConsumeAtLeast(*consumer, 2).size(), 2u);

  // An error librdkafka does not retry by itself.
  const rd_kafka_resp_err_t refused = RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE;
  rd_kafka_mock_push_request_errors_array(cluster->raw(), /*OffsetCommit*/ 8, 1, &refused);
  ASSERT_TRUE(consumer->CommitOffsets({{tp, Offset(2)}}).ok());
  std::map<TopicPartition, Offset> failed;
  EXPECT_TRUE(PollUntil({{consumer.get(), &handler}}, [&] {
    failed = consumer->TakeFailedCommits();
    return !failed.empty();
  }));
  EXPECT_THAT(failed, ElementsAre(std::pair(tp, Offset(2))));
  EXPECT_GE(consumer->transient_errors(), 1u);
  EXPECT_THAT(consumer->TakeFailedCommits(), IsEmpty());

  // The next try goes through.
  ASSERT_TRUE(consumer->CommitOffsets(failed).ok());
  EXPECT_THAT(AwaitCommitted(*consumer, handler, tp), ElementsAre(std::pair(tp, Offset(2))));
  EXPECT_THAT(consumer->TakeFailedCommits(), IsEmpty());
  ASSERT_TRUE(consumer->Close().ok());
}

TEST(ConsumerGroupTest, TwoMembersSplitPartitionsAndALeaveHandsThemBack) {
  auto cluster = StartCluster(2);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 4, 2).ok());
  const std::vector<TopicPartition> all = {Tp("events", 0), Tp("events", 1), Tp("events", 2),
                                           Tp("events", 3)};
  // Records on every partition, so that ownership is checked on real batches while it moves.
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 400; ++i) records.emplace_back(absl::StrCat("customer-", i), "v");
  ProduceAll(*cluster, "events", records);

  RecordingHandler first_handler;
  auto first = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), first_handler);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(
      PollUntil({{first.get(), &first_handler}}, [&] { return first_handler.owned.size() == 4; }));

  RecordingHandler second_handler;
  auto second = MakeConsumer(TestConsumerOptions(*cluster, "g", {"events"}), second_handler);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(PollUntil({{first.get(), &first_handler}, {second.get(), &second_handler}}, [&] {
    return first_handler.owned.size() == 2 && second_handler.owned.size() == 2;
  }));
  // Cooperative: the first member gave up exactly what the second one got, and kept the rest.
  EXPECT_THAT(first_handler.revoked, UnorderedElementsAreArray(second_handler.assigned));
  std::set<TopicPartition> union_of_owned = first_handler.owned;
  union_of_owned.insert(second_handler.owned.begin(), second_handler.owned.end());
  EXPECT_THAT(union_of_owned, UnorderedElementsAreArray(all));
  absl::StatusOr<std::vector<TopicPartition>> second_assignment = second->Assignment();
  ASSERT_TRUE(second_assignment.ok()) << second_assignment.status();
  EXPECT_THAT(*second_assignment, UnorderedElementsAreArray(second_handler.owned));

  const std::vector<TopicPartition> handed_back(second_handler.owned.begin(),
                                                second_handler.owned.end());
  ASSERT_TRUE(second->Close().ok());
  EXPECT_THAT(second_handler.revoked, UnorderedElementsAreArray(handed_back));
  EXPECT_THAT(second_handler.owned, IsEmpty());
  ASSERT_TRUE(
      PollUntil({{first.get(), &first_handler}}, [&] { return first_handler.owned.size() == 4; }));
  EXPECT_THAT(first_handler.lost, IsEmpty());
}

}  // namespace
}  // namespace cdp::kafka
