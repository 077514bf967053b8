#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace RdKafka {
class Handle;
class Metadata;
class TopicMetadata;
}  // namespace RdKafka

namespace cdp::kafka::internal {

// The cluster's metadata for `topic` alone, from a fresh request rather than librdkafka's cache.
// Whether the topic exists is up to the caller: a cluster without it lists it with
// UNKNOWN_TOPIC_OR_PART or not at all. Errors start with `context` ("cannot read events[0]").
[[nodiscard]] absl::StatusOr<std::unique_ptr<RdKafka::Metadata>> QueryTopicMetadata(
    RdKafka::Handle& client, const std::string& topic, absl::Duration timeout,
    std::string_view context);

// `topic`'s entry in `metadata`, nullptr when it is not listed.
[[nodiscard]] const RdKafka::TopicMetadata* FindTopic(const RdKafka::Metadata& metadata,
                                                      std::string_view topic);

}  // namespace cdp::kafka::internal
