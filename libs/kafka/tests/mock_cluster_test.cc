#include "cdp/kafka/mock_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <optional>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
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

// The broker's end of the connection from local port `client_port` to `broker_port`, once the
// in-process broker has accepted it.
std::optional<int> AcceptedSocket(int broker_port, int client_port) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    sockaddr_in local{};
    sockaddr_in peer{};
    socklen_t length = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) continue;
    length = sizeof(peer);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) continue;
    if (local.sin_family == AF_INET && ntohs(local.sin_port) == broker_port &&
        ntohs(peer.sin_port) == client_port) {
      return fd;
    }
  }
  return std::nullopt;
}

// As on Kafka's brokers: with Nagle's algorithm a response sent while the previous one is
// unacknowledged waits for the client's delayed ACK, about 40 ms a round.
TEST(MockClusterTest, BrokersAcceptConnectionsWithNagleOff) {
  absl::StatusOr<std::unique_ptr<MockCluster>> cluster = MockCluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  const std::vector<std::string> brokers = absl::StrSplit((*cluster)->bootstrap_servers(), ',');
  for (const std::string& broker : brokers) {
    SCOPED_TRACE(broker);
    int broker_port = 0;
    const std::string port = broker.substr(broker.rfind(':') + 1);
    ASSERT_EQ(std::from_chars(port.data(), port.data() + port.size(), broker_port).ec, std::errc());
    const int client = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(client, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(broker_port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    sockaddr_in local{};
    socklen_t length = sizeof(local);
    ASSERT_EQ(getsockname(client, reinterpret_cast<sockaddr*>(&local), &length), 0);

    std::optional<int> accepted;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!(accepted = AcceptedSocket(broker_port, ntohs(local.sin_port))) &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    ASSERT_TRUE(accepted.has_value()) << "the broker never accepted the connection";
    int no_delay = 0;
    length = sizeof(no_delay);
    ASSERT_EQ(getsockopt(*accepted, IPPROTO_TCP, TCP_NODELAY, &no_delay, &length), 0);
    EXPECT_NE(no_delay, 0);
    close(client);
  }
}

}  // namespace
}  // namespace cdp::kafka
