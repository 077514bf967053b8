#include "cdp/kafka/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <array>
#include <string>

#include "absl/strings/str_cat.h"
#include "conf.h"

namespace cdp::kafka {

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
  return std::unique_ptr<MockCluster>(new MockCluster(handle, cluster, broker_count));
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
