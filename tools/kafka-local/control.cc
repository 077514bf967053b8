#include "control.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cdp/common/absl_string.h"

namespace cdp::kafka_local {
namespace {

constexpr absl::string_view kCommands =
    "commands: request-errors API ERROR [ERROR...] | broker-down ID | broker-up ID | "
    "broker-rtt ID MS | group-coordinator GROUP BROKER-ID | leader TOPIC PARTITION BROKER-ID";

// The request types worth failing in a test, by their protocol names.
constexpr std::pair<absl::string_view, std::int16_t> kApis[] = {
    {"Produce", 0},      {"Fetch", 1},       {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8}, {"OffsetFetch", 9}, {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},   {"LeaveGroup", 13}, {"SyncGroup", 14},       {"InitProducerId", 22}};

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(why, "; ", kCommands));
}

absl::StatusOr<std::int32_t> Number(absl::string_view text, absl::string_view what) {
  std::int32_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0) {
    return Invalid(absl::StrCat(what, " must be a whole number, got '", text, "'"));
  }
  return value;
}

absl::StatusOr<std::int16_t> Api(absl::string_view name) {
  for (const auto& [api, key] : kApis) {
    if (api == name) return key;
  }
  std::string known;
  for (const auto& api : kApis) absl::StrAppend(&known, known.empty() ? "" : ", ", api.first);
  return Invalid(absl::StrCat("unknown request type '", name, "' (known: ", known, ")"));
}

// librdkafka's names without the RD_KAFKA_RESP_ERR_ prefix, e.g. NOT_COORDINATOR.
absl::StatusOr<rd_kafka_resp_err_t> Error(absl::string_view name) {
  const rd_kafka_err_desc* descriptions = nullptr;
  std::size_t count = 0;
  rd_kafka_get_err_descs(&descriptions, &count);
  for (std::size_t i = 0; i < count; ++i) {
    if (descriptions[i].name != nullptr && descriptions[i].code > 0 &&
        name == descriptions[i].name) {
      return descriptions[i].code;
    }
  }
  return Invalid(absl::StrCat("unknown error '", name,
                              "' (a broker error name such as NOT_LEADER_FOR_PARTITION)"));
}

absl::Status Checked(rd_kafka_resp_err_t error, absl::string_view what) {
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", rd_kafka_err2str(error)));
}

}  // namespace

absl::StatusOr<std::string> ApplyControl(kafka::MockCluster& cluster, std::string_view text) {
  const absl::string_view line = ToAbsl(text);
  const std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
  if (words.empty()) return Invalid("empty command");
  rd_kafka_mock_cluster_t* mock = cluster.raw();
  const absl::string_view command = words[0];
  const auto arguments = [&](std::size_t wanted) { return words.size() == wanted + 1; };

  if (command == "request-errors" && words.size() >= 3) {
    auto api = Api(words[1]);
    if (!api.ok()) return api.status();
    std::vector<rd_kafka_resp_err_t> errors;
    for (std::size_t i = 2; i < words.size(); ++i) {
      auto error = Error(words[i]);
      if (!error.ok()) return error.status();
      errors.push_back(*error);
    }
    rd_kafka_mock_push_request_errors_array(mock, *api, errors.size(), errors.data());
    return absl::StrCat("the next ", errors.size(), " ", words[1], " requests fail");
  }
  if ((command == "broker-down" || command == "broker-up") && arguments(1)) {
    auto broker = Number(words[1], "the broker id");
    if (!broker.ok()) return broker.status();
    const bool down = command == "broker-down";
    absl::Status set = Checked(down ? rd_kafka_mock_broker_set_down(mock, *broker)
                                    : rd_kafka_mock_broker_set_up(mock, *broker),
                               absl::StrCat("broker ", *broker));
    if (!set.ok()) return set;
    return absl::StrCat("broker ", *broker, down ? " is down" : " is up");
  }
  if (command == "broker-rtt" && arguments(2)) {
    auto broker = Number(words[1], "the broker id");
    if (!broker.ok()) return broker.status();
    auto rtt = Number(words[2], "the round-trip time in ms");
    if (!rtt.ok()) return rtt.status();
    absl::Status set = Checked(rd_kafka_mock_broker_set_rtt(mock, *broker, *rtt),
                               absl::StrCat("broker ", *broker));
    if (!set.ok()) return set;
    return absl::StrCat("broker ", *broker, " answers after ", *rtt, " ms");
  }
  if (command == "group-coordinator" && arguments(2)) {
    auto broker = Number(words[2], "the broker id");
    if (!broker.ok()) return broker.status();
    const std::string group(words[1]);
    absl::Status set = Checked(rd_kafka_mock_coordinator_set(mock, "group", group.c_str(), *broker),
                               absl::StrCat("group ", group));
    if (!set.ok()) return set;
    return absl::StrCat("broker ", *broker, " coordinates group ", group);
  }
  if (command == "leader" && arguments(3)) {
    auto partition = Number(words[2], "the partition");
    if (!partition.ok()) return partition.status();
    auto broker = Number(words[3], "the broker id");
    if (!broker.ok()) return broker.status();
    const std::string topic(words[1]);
    absl::Status set =
        Checked(rd_kafka_mock_partition_set_leader(mock, topic.c_str(), *partition, *broker),
                absl::StrCat(topic, "/", *partition));
    if (!set.ok()) return set;
    return absl::StrCat("broker ", *broker, " leads ", topic, "/", *partition);
  }
  return Invalid(absl::StrCat("cannot understand '", line, "'"));
}

}  // namespace cdp::kafka_local
