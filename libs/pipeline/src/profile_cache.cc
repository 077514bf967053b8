#include "cdp/pipeline/internal/profile_cache.h"

#include <utility>

namespace cdp::pipeline::internal {

std::optional<CachedProfile> ProfileCache::Take(std::string_view key) {
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) return std::nullopt;
  std::optional<CachedProfile> profile(std::move(it->second.entry.profile));
  lru_.erase(it->second.position);
  entries_.erase(it);
  return profile;
}

void ProfileCache::Insert(std::string key, Partition partition, CachedProfile profile) {
  if (capacity_ == 0) return;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.entry = Entry{partition, std::move(profile)};
    lru_.splice(lru_.begin(), lru_, it->second.position);
    return;
  }
  while (entries_.size() >= capacity_) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  entries_.emplace(std::move(key), Slot{Entry{partition, std::move(profile)}, lru_.begin()});
}

void ProfileCache::ErasePartition(Partition partition) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.entry.partition == partition) {
      lru_.erase(it->second.position);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace cdp::pipeline::internal
