#include "cdp/kafka/admin.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::kafka {
namespace {

using ::cdp::kafka::testing::StartCluster;
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

}  // namespace
}  // namespace cdp::kafka
