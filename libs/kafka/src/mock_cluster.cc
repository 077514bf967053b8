#include "cdp/kafka/mock_cluster.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <charconv>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "conf.h"

namespace cdp::kafka {
namespace {

// The ports of "127.0.0.1:PORT,...".
std::set<int> PortsOf(std::string_view bootstrap_servers) {
  std::set<int> ports;
  for (absl::string_view address : absl::StrSplit(internal::ToAbsl(bootstrap_servers), ',')) {
    const std::size_t colon = address.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos ||
        std::from_chars(address.data() + colon + 1, address.data() + address.size(), port).ec !=
            std::errc()) {
      continue;
    }
    ports.insert(port);
  }
  return ports;
}

// The mock brokers accept connections with Nagle's algorithm on, where Kafka's brokers turn it
// off: a response sent while the one before it is unacknowledged waits for the client's delayed
// ACK, about 40 ms, so every produce-and-flush round took 50 ms. Accepted sockets inherit
// TCP_NODELAY from their listener, and librdkafka gives no access to the listeners, so they are
// found among the process's descriptors by their ports. Without /proc the brokers stay slow,
// not wrong.
void TurnOffNagle(const std::set<int>& ports) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    int fd = -1;
    const std::string name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) continue;
    int listening = 0;
    socklen_t length = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) != 0 || listening == 0) {
      continue;
    }
    sockaddr_in address{};
    length = sizeof(address);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        address.sin_family != AF_INET || !ports.contains(ntohs(address.sin_port))) {
      continue;
    }
    const int on = 1;
    static_cast<void>(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<MockCluster>> MockCluster::Start(int broker_count) {
  if (broker_count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a mock Kafka cluster needs at least 1 broker, got ", broker_count));
  }
  // The cluster runs on the threads of a client handle that is never used as a client.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::array<char, 512> error{};
  // Hides the notice that this handle has no bootstrap.servers, which is on purpose.
  if (rd_kafka_conf_set(conf, "log_level", "4", error.data(), error.size()) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(
        absl::StrCat("cannot configure the mock Kafka cluster: ", error.data()));
  }
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size());
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(
        absl::StrCat("cannot create the mock Kafka cluster's client: ", error.data()));
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, broker_count);
  if (cluster == nullptr) {
    rd_kafka_destroy(handle);
    return absl::UnavailableError(
        "cannot start the mock Kafka cluster: no loopback port could be bound");
  }
  auto started = std::unique_ptr<MockCluster>(new MockCluster(handle, cluster, broker_count));
  TurnOffNagle(PortsOf(started->bootstrap_servers()));
  return started;
}

MockCluster::MockCluster(rd_kafka_t* handle, rd_kafka_mock_cluster_t* cluster, int broker_count)
    : handle_(handle),
      cluster_(cluster),
      broker_count_(broker_count),
      bootstrap_servers_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

MockCluster::~MockCluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

absl::Status MockCluster::CreateTopic(std::string_view name, int partitions,
                                      int replication_factor) {
  if (name.empty()) return absl::InvalidArgumentError("a topic needs a name");
  if (partitions < 1 || replication_factor < 1 || replication_factor > broker_count_) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", internal::ToAbsl(name), "' needs at least 1 partition and 1 to ",
                     broker_count_, " replicas on this ", broker_count_, "-broker cluster (got ",
                     partitions, " partitions and ", replication_factor, " replicas)"));
  }
  const std::string topic(name);
  const rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication_factor);
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return absl::AlreadyExistsError(
        absl::StrCat("topic '", internal::ToAbsl(name), "' already exists"));
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(internal::DescribeError(
        absl::StrCat("cannot create mock topic '", internal::ToAbsl(name), "'"), err));
  }
  return absl::OkStatus();
}

}  // namespace cdp::kafka
