#include "cdp/kafka/admin.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "conf.h"
#include "metadata.h"

namespace cdp::kafka {
namespace {

template <auto Destroy>
struct Deleter {
  template <typename T>
  void operator()(T* object) const {
    Destroy(object);
  }
};
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, Deleter<rd_kafka_NewTopic_destroy>>;
using OptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, Deleter<rd_kafka_AdminOptions_destroy>>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, Deleter<rd_kafka_queue_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, Deleter<rd_kafka_event_destroy>>;

absl::Status Validate(const TopicSpec& spec) {
  if (spec.name.empty()) return absl::InvalidArgumentError("a topic needs a name");
  if (spec.partitions < 1 || spec.replication_factor < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", spec.name, "' needs at least 1 partition and 1 replica (got ",
                     spec.partitions, " and ", spec.replication_factor, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<NewTopicPtr> MakeNewTopic(const TopicSpec& spec) {
  std::array<char, 512> error{};
  NewTopicPtr topic(rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions,
                                          spec.replication_factor, error.data(), error.size()));
  if (topic == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid topic '", spec.name, "': ", error.data()));
  }
  for (const auto& [name, value] : spec.configs) {
    if (const rd_kafka_resp_err_t err =
            rd_kafka_NewTopic_set_config(topic.get(), name.c_str(), value.c_str());
        err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InvalidArgumentError(internal::DescribeError(
          absl::StrCat("invalid config '", name, "' for topic '", spec.name, "'"), err));
    }
  }
  return topic;
}

}  // namespace

absl::Status EnsureTopics(std::string_view bootstrap_servers, const Properties& properties,
                          const std::vector<TopicSpec>& topics, absl::Duration timeout) {
  if (topics.empty()) return absl::OkStatus();
  for (const TopicSpec& spec : topics) {
    if (absl::Status status = Validate(spec); !status.ok()) return status;
  }
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf("admin client", {}, bootstrap_servers, properties);
  if (!conf.ok()) return conf.status();
  std::string error;
  // Any client handle can send admin requests; a producer needs no group.
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf->get(), error));
  if (client == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka admin client: ", error));
  }
  // Ask only for what is missing: clusters without a controller (librdkafka's mock) or without
  // create rights answer metadata requests but not CreateTopics.
  std::vector<const TopicSpec*> missing;
  {
    RdKafka::Metadata* raw_metadata = nullptr;
    const RdKafka::ErrorCode err =
        client->metadata(true, nullptr, &raw_metadata, internal::ToTimeoutMs(timeout));
    std::unique_ptr<RdKafka::Metadata> metadata(raw_metadata);
    for (const TopicSpec& spec : topics) {
      const bool exists =
          err == RdKafka::ERR_NO_ERROR &&
          std::any_of(metadata->topics()->begin(), metadata->topics()->end(),
                      [&](const RdKafka::TopicMetadata* topic) {
                        return topic->topic() == spec.name && topic->err() == RdKafka::ERR_NO_ERROR;
                      });
      if (!exists) missing.push_back(&spec);
    }
  }
  if (missing.empty()) return absl::OkStatus();
  std::vector<NewTopicPtr> new_topics;
  std::vector<rd_kafka_NewTopic_t*> request;
  for (const TopicSpec* spec : missing) {
    absl::StatusOr<NewTopicPtr> topic = MakeNewTopic(*spec);
    if (!topic.ok()) return topic.status();
    request.push_back(topic->get());
    new_topics.push_back(*std::move(topic));
  }
  rd_kafka_t* handle = client->c_ptr();
  const int timeout_ms = internal::ToTimeoutMs(timeout);
  OptionsPtr options(rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  std::array<char, 512> option_error{};
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, option_error.data(),
                                                option_error.size()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, option_error.data(),
                                                  option_error.size()) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid topic creation timeout: ", option_error.data()));
  }

  QueuePtr queue(rd_kafka_queue_new(handle));
  rd_kafka_CreateTopics(handle, request.data(), request.size(), options.get(), queue.get());
  const std::string context =
      absl::StrCat("creating Kafka topics at ", internal::ToAbsl(bootstrap_servers), " failed");
  // librdkafka posts a timeout result itself; the margin only guards against it not doing so.
  EventPtr event(
      rd_kafka_queue_poll(queue.get(), internal::ToTimeoutMs(timeout + absl::Seconds(5))));
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat(context, ": no answer within ", absl::FormatDuration(timeout)));
  }
  if (const rd_kafka_resp_err_t err = rd_kafka_event_error(event.get());
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        context, ": ", rd_kafka_event_error_string(event.get()), " (", internal::ErrorName(err),
        ")",
        err == RD_KAFKA_RESP_ERR__TIMED_OUT
            ? "; check that bootstrap.servers reaches the cluster and that it has a controller"
            : ""));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  if (result == nullptr) return absl::InternalError(absl::StrCat(context, ": no result"));
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      continue;
    }
    const char* message = rd_kafka_topic_result_error_string(results[i]);
    failures.push_back(absl::StrCat("'", rd_kafka_topic_result_name(results[i]),
                                    "': ", message != nullptr ? message : rd_kafka_err2str(err),
                                    " (", internal::ErrorName(err), ")"));
  }
  if (!failures.empty()) {
    return absl::UnavailableError(absl::StrCat(context, ": ", absl::StrJoin(failures, "; ")));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PartitionCount(std::string_view bootstrap_servers, const Properties& properties,
                                   std::string_view topic, absl::Duration timeout) {
  if (topic.empty()) {
    return absl::InvalidArgumentError("cannot count the partitions of a topic without a name");
  }
  const std::string name(topic);
  const std::string context = absl::StrCat("cannot count the partitions of topic '", name, "' at ",
                                           internal::ToAbsl(bootstrap_servers));
  // A producer's metadata request for a topic lets brokers with auto.create.topics.enable create
  // it: asking must not.
  Properties overrides = properties;
  overrides.emplace_back("allow.auto.create.topics", "false");
  absl::StatusOr<std::unique_ptr<RdKafka::Conf>> conf =
      internal::MakeConf("admin client", {}, bootstrap_servers, overrides);
  if (!conf.ok()) return conf.status();
  std::string error;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf->get(), error));
  if (client == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot create Kafka admin client: ", error));
  }
  absl::StatusOr<std::unique_ptr<RdKafka::Metadata>> metadata =
      internal::QueryTopicMetadata(*client, name, timeout, context);
  if (!metadata.ok()) return metadata.status();
  const RdKafka::TopicMetadata* found = internal::FindTopic(**metadata, name);
  if (found == nullptr || found->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) {
    return absl::NotFoundError(absl::StrCat(context, ": the cluster has no such topic"));
  }
  switch (found->err()) {
    case RdKafka::ERR_NO_ERROR:
      return static_cast<int>(found->partitions()->size());
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
      return absl::PermissionDeniedError(internal::DescribeError(context, found->err()));
    default:
      // A topic being created has no leaders yet: asking again shortly succeeds.
      return absl::UnavailableError(internal::DescribeError(context, found->err()));
  }
}

}  // namespace cdp::kafka
