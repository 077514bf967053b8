#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace cdp::kafka {

// librdkafka's in-process mock Kafka cluster: real brokers on loopback ports speaking the Kafka
// protocol, with consumer groups and fault injection, for tests and local runs. It keeps only the
// most recent few MiB per partition, has no transactions and no Admin API topic creation.
class MockCluster {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MockCluster>> Start(int broker_count);

  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;
  // Stops the brokers; clients still connected see them disconnect, so destroy them first.
  ~MockCluster();

  // "127.0.0.1:PORT,..." for bootstrap.servers.
  [[nodiscard]] const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  [[nodiscard]] int broker_count() const { return broker_count_; }

  // AlreadyExists if the topic exists (a producer's metadata request auto-creates unknown topics
  // with the mock's default partition count, so create topics before producing).
  [[nodiscard]] absl::Status CreateTopic(std::string_view name, int partitions,
                                         int replication_factor);

  // For fault injection with rdkafka_mock.h (rd_kafka_mock_push_request_errors...).
  [[nodiscard]] rd_kafka_mock_cluster_s* raw() const { return cluster_; }

 private:
  MockCluster(rd_kafka_s* handle, rd_kafka_mock_cluster_s* cluster, int broker_count);

  rd_kafka_s* handle_;
  rd_kafka_mock_cluster_s* cluster_;
  int broker_count_;
  std::string bootstrap_servers_;
};

}  // namespace cdp::kafka
