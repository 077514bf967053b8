#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/time/time.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/slice.h"

namespace cdp::state::internal {

// Drops dedup entries whose expiry is at or before the horizon. Compactions call it from
// background threads while the pipeline advances the horizon, hence the atomic.
class ExpiredDedupFilter final : public rocksdb::CompactionFilter {
 public:
  void Advance(absl::Time horizon) {
    const std::int64_t micros = absl::ToUnixMicros(horizon);
    std::int64_t current = horizon_micros_.load(std::memory_order_relaxed);
    while (micros > current &&
           !horizon_micros_.compare_exchange_weak(current, micros, std::memory_order_relaxed)) {
    }
  }

  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override;

  const char* Name() const override { return "cdp.state.ExpiredDedupFilter"; }

 private:
  // Nothing expires until the pipeline first tells the store what time it is.
  std::atomic<std::int64_t> horizon_micros_{std::numeric_limits<std::int64_t>::min()};
};

}  // namespace cdp::state::internal
