#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/kafka/types.h"

namespace cdp::kafka {

struct TopicSpec {
  std::string name = {};
  int partitions = 1;
  int replication_factor = 1;
  // Topic-level configs, e.g. {"retention.ms", "604800000"}.
  std::vector<std::pair<std::string, std::string>> configs = {};
};

// Creates the topics that do not exist yet with the Admin API (CreateTopics); a topic that already
// exists counts as success and is left as it is. For real clusters: librdkafka's mock cluster does
// not implement CreateTopics (use MockCluster::CreateTopic there).
[[nodiscard]] absl::Status EnsureTopics(std::string_view bootstrap_servers,
                                        const Properties& properties,
                                        const std::vector<TopicSpec>& topics,
                                        absl::Duration timeout = absl::Seconds(30));

// The number of partitions of `topic`, from a fresh metadata request. NotFound when the cluster
// does not have the topic: asking never creates it, even on brokers that auto-create topics.
[[nodiscard]] absl::StatusOr<int> PartitionCount(std::string_view bootstrap_servers,
                                                 const Properties& properties,
                                                 std::string_view topic,
                                                 absl::Duration timeout = absl::Seconds(30));

}  // namespace cdp::kafka
