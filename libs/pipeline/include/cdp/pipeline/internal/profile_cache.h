#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cdp/common/strong_type.h"
#include "cdp/pipeline/internal/applied_log.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::pipeline::internal {

// A committed profile: its applied events are those of `profile` and those of `applied`.
struct CachedProfile {
  v1::CustomerProfile profile;
  AppliedLog applied;
};

// Least-recently-used profiles in front of RocksDB. Holds only committed state: a batch takes the
// profiles it works on out, and puts them back only once its state is committed, so a failed batch
// leaves nothing half-applied behind.
class ProfileCache {
 public:
  explicit ProfileCache(std::size_t capacity) : capacity_(capacity) {}

  // Removes and returns the cached profile, if any.
  std::optional<CachedProfile> Take(std::string_view key);
  // Inserts (or replaces) as most recently used; may evict the least recently used.
  void Insert(std::string key, Partition partition, CachedProfile profile);
  void ErasePartition(Partition partition);
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Partition partition;
    CachedProfile profile;
  };
  using Lru = std::list<std::string>;
  struct Slot {
    Entry entry;
    Lru::iterator position;
  };

  std::size_t capacity_;
  Lru lru_;  // front: most recently used
  std::unordered_map<std::string, Slot> entries_;
};

}  // namespace cdp::pipeline::internal
