#include "stats.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "conf.h"

namespace cdp::kafka {
namespace {

namespace pb = google::protobuf;

const pb::Value* Find(const pb::Struct& object, const std::string& key) {
  const auto it = object.fields().find(key);
  return it == object.fields().end() ? nullptr : &it->second;
}

double NumberOr(const pb::Struct& object, const std::string& key, double fallback) {
  const pb::Value* value = Find(object, key);
  return value != nullptr && value->has_number_value() ? value->number_value() : fallback;
}

// Subscribers by client handle; a statistics callback holds the lock while it runs, so a
// subscription is never destroyed under it.
struct Subscribers {
  std::mutex mutex;
  std::map<const rd_kafka_s*, const StatsOptions*> by_client;
};

Subscribers& AllSubscribers() {
  static Subscribers* subscribers = new Subscribers();
  return *subscribers;
}

int DeliverStats(rd_kafka_t* client, char* json, size_t json_length, void* /*opaque*/) {
  Subscribers& subscribers = AllSubscribers();
  std::lock_guard lock(subscribers.mutex);
  if (const auto it = subscribers.by_client.find(client); it != subscribers.by_client.end()) {
    it->second->callback(ParseClientStats(std::string_view(json, json_length)));
  }
  return 0;  // librdkafka frees the document
}

}  // namespace

absl::StatusOr<ClientStats> ParseClientStats(std::string_view json) {
  pb::Struct document;
  if (const auto parsed = pb::util::JsonStringToMessage(std::string(json), &document);
      !parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("librdkafka statistics are not valid JSON: ", parsed.ToString()));
  }
  ClientStats stats;
  stats.queued_messages = static_cast<std::int64_t>(NumberOr(document, "msg_cnt", 0));
  const pb::Value* brokers = Find(document, "brokers");
  if (brokers == nullptr || !brokers->has_struct_value()) return stats;
  for (const auto& [name, entry] : brokers->struct_value().fields()) {
    if (!entry.has_struct_value()) continue;
    const pb::Struct& broker = entry.struct_value();
    const auto node_id = static_cast<std::int32_t>(NumberOr(broker, "nodeid", -1));
    if (node_id < 0) continue;
    BrokerStats& out = stats.brokers.emplace_back();
    out.node_id = node_id;
    const pb::Value* address = Find(broker, "nodename");
    out.address = address != nullptr && address->has_string_value() ? address->string_value()
                                                                    : std::string(name);
    if (const pb::Value* rtt = Find(broker, "rtt"); rtt != nullptr && rtt->has_struct_value()) {
      out.average_rtt = absl::Microseconds(NumberOr(rtt->struct_value(), "avg", 0));
    }
  }
  // The document is a JSON object: its order means nothing.
  std::sort(stats.brokers.begin(), stats.brokers.end(),
            [](const BrokerStats& a, const BrokerStats& b) { return a.node_id < b.node_id; });
  return stats;
}

namespace internal {

absl::Status StatsSubscription::Configure(RdKafka::Conf& conf, const StatsOptions& options) {
  if (!options.callback) return absl::OkStatus();
  std::string error;
  if (conf.set("statistics.interval.ms", absl::StrCat(std::max(1, ToTimeoutMs(options.interval))),
               error) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot set librdkafka's statistics interval: ", error));
  }
  rd_kafka_conf_set_stats_cb(conf.c_ptr_global(), &DeliverStats);
  return absl::OkStatus();
}

StatsSubscription::StatsSubscription(const rd_kafka_s* client, StatsOptions options)
    : client_(client), options_(std::move(options)) {
  Subscribers& subscribers = AllSubscribers();
  std::lock_guard lock(subscribers.mutex);
  subscribers.by_client[client_] = &options_;
}

StatsSubscription::~StatsSubscription() {
  Subscribers& subscribers = AllSubscribers();
  std::lock_guard lock(subscribers.mutex);
  subscribers.by_client.erase(client_);
}

}  // namespace internal
}  // namespace cdp::kafka
