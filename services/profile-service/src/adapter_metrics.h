#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "cdp/kafka/stats.h"
#include "cdp/state/store.h"
#include "log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace cdp::service {

// The state store's and its disk's figures, read on each scrape rather than on the hot path.
class StoreMetrics {
 public:
  // `store` must outlive this; `data_dir` is where it lives.
  StoreMetrics(prometheus::Registry& registry, const state::Store& store, std::string data_dir);

  // Reads the figures into the metrics. A figure that cannot be read keeps its last value; why is
  // logged, at most once a minute.
  void Refresh();

 private:
  // Moves a counter up to a total the store counts itself.
  static void AdvanceTo(prometheus::Counter& counter, double total);

  const state::Store& store_;
  const std::string data_dir_;
  std::mutex mutex_;  // scrapes may overlap
  RepeatLimiter failures_{absl::Minutes(1)};
  prometheus::Gauge& timers_pending_;
  prometheus::Gauge& live_data_bytes_;
  prometheus::Gauge& sst_files_bytes_;
  prometheus::Gauge& pending_compaction_bytes_;
  prometheus::Gauge& write_stopped_;
  prometheus::Counter& stall_seconds_;
  prometheus::Counter& block_cache_hits_;
  prometheus::Counter& block_cache_misses_;
  prometheus::Gauge& disk_free_bytes_;
  prometheus::Gauge& disk_capacity_bytes_;
};

// librdkafka's statistics of the service's Kafka clients as gauges: each broker's round trip and
// the producer's queue.
class KafkaClientMetrics {
 public:
  explicit KafkaClientMetrics(prometheus::Registry& registry);

  // Statistics delivery for a client whose series are labelled client=`client`; a producer's also
  // set the produce queue gauge. The options refer to this object, which must outlive the client.
  [[nodiscard]] kafka::StatsOptions ForClient(std::string client, bool producer);

 private:
  void Record(const std::string& client, bool producer,
              const absl::StatusOr<kafka::ClientStats>& stats);

  prometheus::Family<prometheus::Gauge>& round_trip_;
  prometheus::Gauge& produce_queue_;
  std::mutex mutex_;
  // By (client, broker address); a broker gets its series when first reported.
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> round_trip_by_broker_;
  RepeatLimiter malformed_{absl::Minutes(1)};
};

}  // namespace cdp::service
