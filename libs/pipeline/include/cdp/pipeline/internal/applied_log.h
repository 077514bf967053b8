#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::pipeline::internal {

// A profile's applied events (its dedup state, CustomerProfile.applied_events) held apart from
// the message while a batch or the profile cache has it. In the message each is two objects
// scattered over the heap, and every batch walked them all while they were out of the
// processor's memory caches: to look events up, then to serialize them. Here they lie in two
// arrays, each with the hash of its id. AppendTo writes them back as the same field.
class AppliedLog {
 public:
  // From this many events a log also keeps a set of their hashes: a scan per lookup would cost a
  // busy customer's batch the square of its events.
  static constexpr std::size_t kIndexedFrom = 64;

  // Moves the profile's applied_events, if it has any, to the end of the log.
  void TakeFrom(v1::CustomerProfile& profile);

  // Whether the event is listed with a window that ends after `now_us` (Unix microseconds).
  [[nodiscard]] bool Contains(std::string_view event_id, std::int64_t now_us) const;

  // Lists the event, first dropping every event whose window ended by `now_us`.
  void Add(std::string_view event_id, std::int64_t expires_at_us, std::int64_t now_us);

  // Appends the events, in order, as serialized CustomerProfile.applied_events entries: parsed
  // with the profile's other bytes, they are the profile with its applied events.
  void AppendTo(std::string& serialized) const;

  [[nodiscard]] std::vector<std::string> EventIds() const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  void Clear();

 private:
  struct Entry {
    std::size_t hash;
    std::int64_t expires_at_us;
    std::uint32_t id_offset;
    std::uint32_t id_size;
  };
  [[nodiscard]] std::string_view IdOf(const Entry& entry) const {
    return std::string_view(ids_).substr(entry.id_offset, entry.id_size);
  }
  void Append(std::string_view event_id, std::int64_t expires_at_us);

  std::vector<Entry> entries_;
  std::string ids_;                                          // the ids, back to back
  std::unique_ptr<absl::flat_hash_set<std::size_t>> index_;  // from kIndexedFrom entries
};

}  // namespace cdp::pipeline::internal
