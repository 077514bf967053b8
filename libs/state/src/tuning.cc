#include "tuning.h"

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "rocksdb/convenience.h"
#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/table_properties_collectors.h"

namespace cdp::state::internal {
namespace {

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

// RocksDB's info log, less the one message that names keys: a manual compaction logs its range,
// and Store::Scrub's ranges are erased customers' keys.
class KeylessLogger : public rocksdb::LoggerWrapper {
 public:
  explicit KeylessLogger(std::shared_ptr<rocksdb::Logger> target)
      : LoggerWrapper(target.get()), target_(std::move(target)) {}

  using LoggerWrapper::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    // Formatted first: RocksDB also logs buffered messages, already formatted, through "%s".
    std::array<char, 1024> message{};
    va_list copy;
    va_copy(copy, ap);
    std::vsnprintf(message.data(), message.size(), format, copy);
    va_end(copy);
    if (std::string_view(message.data()).find("Manual compaction from") != std::string_view::npos) {
      return;
    }
    LoggerWrapper::Logv(level, format, ap);
  }

 private:
  std::shared_ptr<rocksdb::Logger> target_;
};

bool Supported(rocksdb::CompressionType type) {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  return std::find(supported.begin(), supported.end(), type) != supported.end();
}

// Cheap compression where data is rewritten often, denser compression where it settles.
void SetCompression(rocksdb::ColumnFamilyOptions& options) {
  if (Supported(rocksdb::kLZ4Compression)) {
    options.compression = rocksdb::kLZ4Compression;
  } else if (Supported(rocksdb::kSnappyCompression)) {
    options.compression = rocksdb::kSnappyCompression;
  } else {
    options.compression = rocksdb::kNoCompression;
  }
  options.bottommost_compression =
      Supported(rocksdb::kZSTD) ? rocksdb::kZSTD : rocksdb::kDisableCompressionOption;
}

rocksdb::ColumnFamilyOptions PointLookupOptions(const std::shared_ptr<rocksdb::Cache>& block_cache,
                                                std::uint64_t write_buffer_bytes) {
  rocksdb::ColumnFamilyOptions options;
  // Large memtables absorb repeated updates of active customers before they reach disk.
  options.write_buffer_size = write_buffer_bytes;
  options.max_write_buffer_number = 4;
  options.target_file_size_base = 64 * kMiB;
  options.max_bytes_for_level_base = 256 * kMiB;
  options.level_compaction_dynamic_level_bytes = true;
  // Most lookups are for absent keys (see the table's filter below); the memtables are large, so
  // a whole-key Bloom filter spares those lookups the skip-list search there too.
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.memtable_whole_key_filtering = true;
  SetCompression(options);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache;
  // Index and filter blocks count against the cache, so memory stays bounded as data grows.
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Most lookups are for keys that do not exist (new customers, new event ids): a Bloom filter
  // answers them without reading data blocks.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.optimize_filters_for_memory = true;
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  table.block_size = 16 * 1024;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace

rocksdb::DBOptions MakeDbOptions(const StoreOptions& options,
                                 std::shared_ptr<rocksdb::Statistics> statistics) {
  rocksdb::DBOptions db;
  // Column families are created by the store itself, once it knows the directory is its own.
  db.create_if_missing = true;
  if (options.env != nullptr) db.env = options.env;
  db.max_background_jobs = 4;
  db.bytes_per_sync = kMiB;
  // The offsets column family changes little, so it rarely flushes on its own and would keep
  // every WAL file alive; a bounded WAL forces it to flush along with the others.
  db.max_total_wal_size = 512 * kMiB;
  db.keep_log_file_num = 5;
  db.max_log_file_size = 64 * kMiB;
  db.statistics = std::move(statistics);
  // A manifest records the first and last key of every SST file, and keeps every such record
  // until it is replaced by a new one. Replacing it at every change keeps an erased customer's
  // key no longer than the files that held it (Store::Scrub); it costs a rewrite of the file
  // list, about 100 bytes per SST file, per flush or compaction.
  db.max_manifest_file_size = 1;
  std::shared_ptr<rocksdb::Logger> logger;
  // Without it RocksDB makes the same logger itself, and reports the same failure from Open.
  if (rocksdb::CreateLoggerFromOptions(options.path, db, &logger).ok()) {
    db.info_log = std::make_shared<KeylessLogger>(std::move(logger));
  }
  return db;
}

rocksdb::ColumnFamilyOptions MakeMetaOptions() {
  rocksdb::ColumnFamilyOptions options;
  options.write_buffer_size = kMiB;
  return options;
}

rocksdb::ColumnFamilyOptions MakeProfileOptions(
    const std::shared_ptr<rocksdb::Cache>& block_cache) {
  return PointLookupOptions(block_cache, 64 * kMiB);
}

rocksdb::ColumnFamilyOptions MakeDedupOptions(const std::shared_ptr<rocksdb::Cache>& block_cache,
                                              const rocksdb::CompactionFilter* expiry) {
  rocksdb::ColumnFamilyOptions options = PointLookupOptions(block_cache, 32 * kMiB);
  options.compaction_filter = expiry;
  // Entries expire within days; files that no compaction touches are still revisited daily so
  // that expired entries in them go.
  options.periodic_compaction_seconds = 24 * 60 * 60;
  return options;
}

rocksdb::ColumnFamilyOptions MakeOffsetOptions() {
  rocksdb::ColumnFamilyOptions options;
  options.write_buffer_size = 4 * kMiB;
  return options;
}

rocksdb::ColumnFamilyOptions MakeTimerOptions(const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::ColumnFamilyOptions options;
  // One or two keys of a few dozen bytes per profile write.
  options.write_buffer_size = 16 * kMiB;
  options.level_compaction_dynamic_level_bytes = true;
  // Timers leave each partition's front as they fire, so every scan from there steps over their
  // tombstones until a compaction drops them: files dense in deletions are compacted early.
  options.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/128 * 1024,
                                                    /*deletion_trigger=*/32 * 1024));
  SetCompression(options);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache;
  table.cache_index_and_filter_blocks = true;
  // No filter: only range scans read this family, and a Bloom filter answers point lookups.
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace cdp::state::internal
