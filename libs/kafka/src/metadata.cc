#include "metadata.h"

#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/str_cat.h"
#include "conf.h"

namespace cdp::kafka::internal {

absl::StatusOr<std::unique_ptr<RdKafka::Metadata>> QueryTopicMetadata(RdKafka::Handle& client,
                                                                      const std::string& topic,
                                                                      absl::Duration timeout,
                                                                      std::string_view context) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(&client, topic, nullptr, error));
  if (handle == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(context), ": invalid topic '", topic, "': ", error));
  }
  RdKafka::Metadata* raw_metadata = nullptr;
  const RdKafka::ErrorCode err =
      client.metadata(false, handle.get(), &raw_metadata, ToTimeoutMs(timeout));
  std::unique_ptr<RdKafka::Metadata> metadata(raw_metadata);
  if (err == RdKafka::ERR__TIMED_OUT) {
    return absl::DeadlineExceededError(
        absl::StrCat(ToAbsl(context), ": no metadata within ", absl::FormatDuration(timeout),
                     "; check that bootstrap.servers reaches the cluster"));
  }
  if (err != RdKafka::ERR_NO_ERROR) {
    // _TRANSPORT: no broker could be reached within the timeout.
    return absl::UnavailableError(absl::StrCat(
        DescribeError(absl::StrCat(ToAbsl(context), ": the metadata request failed"), err),
        err == RdKafka::ERR__TRANSPORT ? "; check that bootstrap.servers reaches the cluster"
                                       : ""));
  }
  return metadata;
}

const RdKafka::TopicMetadata* FindTopic(const RdKafka::Metadata& metadata, std::string_view topic) {
  for (const RdKafka::TopicMetadata* found : *metadata.topics()) {
    if (found->topic() == topic) return found;
  }
  return nullptr;
}

}  // namespace cdp::kafka::internal
