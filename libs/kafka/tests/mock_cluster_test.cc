#include "cdp/kafka/mock_cluster.h"

#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(MockClusterTest, ListsOneLoopbackAddressPerBroker) {
  absl::StatusOr<std::unique_ptr<MockCluster>> cluster = MockCluster::Start(3);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::vector<std::string> brokers = absl::StrSplit((*cluster)->bootstrap_servers(), ',');
  EXPECT_THAT(brokers, SizeIs(3));
  for (const std::string& broker : brokers) EXPECT_THAT(broker, HasSubstr("127.0.0.1:"));
}

TEST(MockClusterTest, RejectsAClusterWithoutBrokers) {
  EXPECT_EQ(MockCluster::Start(0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MockClusterTest, CreatesATopicOnce) {
  absl::StatusOr<std::unique_ptr<MockCluster>> cluster = MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_TRUE((*cluster)->CreateTopic("events", 3, 1).ok());
  EXPECT_EQ((*cluster)->CreateTopic("events", 3, 1).code(), absl::StatusCode::kAlreadyExists);
}

TEST(MockClusterTest, RejectsMoreReplicasThanBrokers) {
  absl::StatusOr<std::unique_ptr<MockCluster>> cluster = MockCluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const absl::Status status = (*cluster)->CreateTopic("events", 3, 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("1 to 2 replicas"));
}

}  // namespace
}  // namespace cdp::kafka
