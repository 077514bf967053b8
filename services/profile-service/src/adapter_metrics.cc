#include "adapter_metrics.h"

#include <filesystem>
#include <system_error>

namespace cdp::service {
namespace {

prometheus::Gauge& Gauge(prometheus::Registry& registry, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Counter& Counter(prometheus::Registry& registry, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

}  // namespace

StoreMetrics::StoreMetrics(prometheus::Registry& registry, const state::Store& store,
                           std::string data_dir)
    : store_(store),
      data_dir_(std::move(data_dir)),
      timers_pending_(Gauge(registry, "cdp_timers_pending",
                            "Customer timers stored for this instance's partitions (RocksDB's "
                            "estimate).")),
      live_data_bytes_(Gauge(registry, "cdp_rocksdb_live_data_bytes",
                             "Estimated size of the live data in the state store.")),
      sst_files_bytes_(Gauge(registry, "cdp_rocksdb_sst_files_bytes",
                             "Size of the state store's table files on disk.")),
      pending_compaction_bytes_(Gauge(registry, "cdp_rocksdb_pending_compaction_bytes",
                                      "Bytes compaction has yet to rewrite; writes stall when "
                                      "this grows too large.")),
      write_stopped_(Gauge(registry, "cdp_rocksdb_write_stopped",
                           "1 while RocksDB stops writes until compaction catches up.")),
      stall_seconds_(Counter(registry, "cdp_rocksdb_stall_seconds_total",
                             "Time writes to the state store were delayed or stopped by write "
                             "stalls.")),
      block_cache_hits_(Counter(registry, "cdp_rocksdb_block_cache_hits_total",
                                "State store reads served from the block cache.")),
      block_cache_misses_(Counter(registry, "cdp_rocksdb_block_cache_misses_total",
                                  "State store reads that missed the block cache.")),
      disk_free_bytes_(Gauge(registry, "cdp_disk_free_bytes",
                             "Space left for the service on the data directory's file system.")),
      disk_capacity_bytes_(Gauge(registry, "cdp_disk_capacity_bytes",
                                 "Size of the data directory's file system.")) {}

void StoreMetrics::AdvanceTo(prometheus::Counter& counter, double total) {
  if (total > counter.Value()) counter.Increment(total - counter.Value());
}

void StoreMetrics::Refresh() {
  std::lock_guard lock(mutex_);
  if (const absl::StatusOr<state::Store::Stats> stats = store_.GetStats(); stats.ok()) {
    timers_pending_.Set(static_cast<double>(stats->estimated_timers));
    live_data_bytes_.Set(static_cast<double>(stats->live_data_bytes));
    sst_files_bytes_.Set(static_cast<double>(stats->sst_files_bytes));
    pending_compaction_bytes_.Set(static_cast<double>(stats->pending_compaction_bytes));
    write_stopped_.Set(stats->write_stopped ? 1 : 0);
    AdvanceTo(stall_seconds_, absl::ToDoubleSeconds(stats->write_stall_time));
    AdvanceTo(block_cache_hits_, static_cast<double>(stats->block_cache_hits));
    AdvanceTo(block_cache_misses_, static_cast<double>(stats->block_cache_misses));
  } else {
    LogLimited(failures_, LogLevel::kWarn,
               "cannot read the state store's figures for /metrics: ", stats.status().message());
  }
  std::error_code error;
  const std::filesystem::space_info space = std::filesystem::space(data_dir_, error);
  if (error) {
    LogLimited(failures_, LogLevel::kWarn, "cannot read the free space of '", data_dir_,
               "' for /metrics: ", error.message());
    return;
  }
  disk_free_bytes_.Set(static_cast<double>(space.available));
  disk_capacity_bytes_.Set(static_cast<double>(space.capacity));
}

KafkaClientMetrics::KafkaClientMetrics(prometheus::Registry& registry)
    : round_trip_(prometheus::BuildGauge()
                      .Name("cdp_kafka_broker_rtt_seconds")
                      .Help("Mean request round trip to each broker over librdkafka's last "
                            "statistics interval, by client (consumer, producer).")
                      .Register(registry)),
      produce_queue_(Gauge(registry, "cdp_kafka_produce_queue_messages",
                           "Records the producer holds that brokers have not acknowledged yet.")) {}

kafka::StatsOptions KafkaClientMetrics::ForClient(std::string client, bool producer) {
  return kafka::StatsOptions{.callback = [this, client = std::move(client), producer](
                                             const absl::StatusOr<kafka::ClientStats>& stats) {
    Record(client, producer, stats);
  }};
}

void KafkaClientMetrics::Record(const std::string& client, bool producer,
                                const absl::StatusOr<kafka::ClientStats>& stats) {
  if (!stats.ok()) {
    LogLimited(malformed_, LogLevel::kWarn, "ignoring the ", client,
               "'s Kafka statistics: ", stats.status().message());
    return;
  }
  if (producer) produce_queue_.Set(static_cast<double>(stats->queued_messages));
  std::lock_guard lock(mutex_);
  for (const kafka::BrokerStats& broker : stats->brokers) {
    prometheus::Gauge*& gauge = round_trip_by_broker_[{client, broker.address}];
    if (gauge == nullptr) {
      gauge = &round_trip_.Add({{"client", client}, {"broker", broker.address}});
    }
    gauge->Set(absl::ToDoubleSeconds(broker.average_rtt));
  }
}

}  // namespace cdp::service
