#include "dedup_filter.h"

#include <string_view>

#include "keys.h"

namespace cdp::state::internal {

bool ExpiredDedupFilter::Filter(int /*level*/, const rocksdb::Slice& /*key*/,
                                const rocksdb::Slice& value, std::string* /*new_value*/,
                                bool* /*value_changed*/) const {
  // A malformed entry is kept, so that reading it keeps reporting the corruption.
  const std::optional<std::int64_t> expires_at =
      DecodeInt64(std::string_view(value.data(), value.size()));
  return expires_at.has_value() && *expires_at <= horizon_micros_.load(std::memory_order_relaxed);
}

}  // namespace cdp::state::internal
