#pragma once

#include <memory>

#include "cdp/state/store.h"
#include "rocksdb/cache.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/options.h"
#include "rocksdb/statistics.h"

// RocksDB options for each kind of data the store keeps.
namespace cdp::state::internal {

[[nodiscard]] rocksdb::DBOptions MakeDbOptions(const StoreOptions& options,
                                               std::shared_ptr<rocksdb::Statistics> statistics);

// Small: the format version.
[[nodiscard]] rocksdb::ColumnFamilyOptions MakeMetaOptions();

// Read-mostly point lookups, most of which miss for new customers.
[[nodiscard]] rocksdb::ColumnFamilyOptions MakeProfileOptions(
    const std::shared_ptr<rocksdb::Cache>& block_cache);

// Small values, written once per event, looked up once per event (nearly always a miss).
[[nodiscard]] rocksdb::ColumnFamilyOptions MakeDedupOptions(
    const std::shared_ptr<rocksdb::Cache>& block_cache, const rocksdb::CompactionFilter* expiry);

// One key per partition, overwritten by every commit.
[[nodiscard]] rocksdb::ColumnFamilyOptions MakeOffsetOptions();

// Small keys without values, read only by range scans from the front of each partition, deleted
// from there as timers fire or move: a queue.
[[nodiscard]] rocksdb::ColumnFamilyOptions MakeTimerOptions(
    const std::shared_ptr<rocksdb::Cache>& block_cache);

}  // namespace cdp::state::internal
