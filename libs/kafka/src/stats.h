#pragma once

#include "absl/status/status.h"
#include "cdp/kafka/stats.h"

namespace RdKafka {
class Conf;
}
struct rd_kafka_s;

namespace cdp::kafka::internal {

// Delivers a client's statistics to StatsOptions::callback. The C++ API hands statistics only to
// its event callback, which would also take over librdkafka's error and log reporting, so the
// statistics callback is installed through the C API and finds its subscriber by client handle.
class StatsSubscription {
 public:
  // Sets statistics.interval.ms and the callback on `conf`; nothing when `options` has no
  // callback.
  [[nodiscard]] static absl::Status Configure(RdKafka::Conf& conf, const StatsOptions& options);

  // From now until destruction, `client`'s statistics go to options.callback.
  StatsSubscription(const rd_kafka_s* client, StatsOptions options);
  StatsSubscription(const StatsSubscription&) = delete;
  StatsSubscription& operator=(const StatsSubscription&) = delete;
  ~StatsSubscription();

 private:
  const rd_kafka_s* client_;
  StatsOptions options_;
};

}  // namespace cdp::kafka::internal
