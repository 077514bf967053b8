#include "cdp/kafka/admin.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::StartCluster;
using ::testing::AnyOf;
using ::testing::HasSubstr;

TEST(EnsureTopicsTest, RejectsImpossibleSpecsBeforeContactingBrokers) {
  const absl::Status status =
      EnsureTopics("127.0.0.1:1", {}, {TopicSpec{.name = "events", .partitions = 0}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("topic 'events' needs at least 1 partition"));
}

TEST(EnsureTopicsTest, NamesAnInvalidProperty) {
  const absl::Status status =
      EnsureTopics("127.0.0.1:1", {{"socket.timeout.ms", "never"}}, {TopicSpec{.name = "events"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("invalid Kafka admin client property 'socket.timeout.ms'"));
}

TEST(EnsureTopicsTest, NothingToCreateIsSuccess) {
  EXPECT_TRUE(EnsureTopics("127.0.0.1:1", {}, {}).ok());
}

TEST(EnsureTopicsTest, ReportsABrokerWithoutCreateTopics) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  const absl::Status status = EnsureTopics(cluster->bootstrap_servers(), {},
                                           {TopicSpec{.name = "events"}}, absl::Seconds(1));
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(),
              HasSubstr("creating Kafka topics at " + cluster->bootstrap_servers() + " failed"));
}

TEST(EnsureTopicsTest, TopicsThatExistNeedNoCreateTopics) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 2, 1).ok());
  // The mock has no CreateTopics: success shows it was not asked, so its timeout does not apply.
  const absl::Status status =
      EnsureTopics(cluster->bootstrap_servers(), {}, {TopicSpec{.name = "events", .partitions = 2}},
                   absl::Seconds(20));
  EXPECT_TRUE(status.ok()) << status;
}

TEST(PartitionCountTest, CountsTheTopicsPartitions) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(cluster->CreateTopic("events", 12, 1).ok());
  ASSERT_TRUE(cluster->CreateTopic("repartition", 1, 1).ok());
  absl::StatusOr<int> events = PartitionCount(cluster->bootstrap_servers(), {}, "events");
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(*events, 12);
  absl::StatusOr<int> repartition = PartitionCount(cluster->bootstrap_servers(), {}, "repartition");
  ASSERT_TRUE(repartition.ok()) << repartition.status();
  EXPECT_EQ(*repartition, 1);
}

TEST(PartitionCountTest, AMissingTopicIsNotFound) {
  auto cluster = StartCluster(1);
  ASSERT_NE(cluster, nullptr);
  // The mock creates any topic a metadata request names; this one answers as a real cluster
  // without it does.
  rd_kafka_mock_topic_set_error(cluster->raw(), "missing", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  const absl::StatusOr<int> count = PartitionCount(cluster->bootstrap_servers(), {}, "missing");
  EXPECT_EQ(count.status().code(), absl::StatusCode::kNotFound) << count.status();
  EXPECT_THAT(count.status().message(),
              HasSubstr("cannot count the partitions of topic 'missing' at " +
                        cluster->bootstrap_servers() + ": the cluster has no such topic"));
}

TEST(PartitionCountTest, NamesAnUnreachableClusterAndInvalidArguments) {
  const absl::StatusOr<int> unreachable =
      PartitionCount("127.0.0.1:1", {}, "events", absl::Milliseconds(500));
  EXPECT_THAT(unreachable.status().code(),
              AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(unreachable.status().message(),
              HasSubstr("cannot count the partitions of topic 'events' at 127.0.0.1:1"));
  EXPECT_THAT(unreachable.status().message(), HasSubstr("bootstrap.servers"));

  const absl::StatusOr<int> invalid =
      PartitionCount("127.0.0.1:1", {{"socket.timeout.ms", "never"}}, "events");
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(invalid.status().message(),
              HasSubstr("invalid Kafka admin client property 'socket.timeout.ms'"));
  EXPECT_EQ(PartitionCount("127.0.0.1:1", {}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cdp::kafka
