#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cdp/common/partitioner.h"
#include "cdp/common/strong_type.h"
#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "cdp/core/reject_reason.h"
#include "cdp/v1/customer_profile.pb.h"
#include "cdp/v1/segment_change.pb.h"
#include "event_record.h"

namespace cdp::profilectl {

enum class ClockMode {
  // "now" is a fixed instant (FoldOptions::validation_now), as the wall clock of a live service.
  kWall,
  // "now" per partition is the latest occurred_at applied there so far.
  kEventTime,
};

// Customers to their partition, as the service's repartition topic does.
struct FoldRouting {
  std::int32_t partitions = 1;
  Partitioner partitioner = Partitioner::kMurmur2;
};

struct FoldOptions {
  ClockMode clock = ClockMode::kWall;
  // The service checks occurred_at bounds against its wall clock in both modes; this stands in
  // for it. In wall mode it is also the "now" events are applied at.
  absl::Time validation_now = absl::UnixEpoch();
  absl::Duration dedup_retention = absl::Hours(7 * 24);
  core::DecodeOptions decode;
  // Unset: every event is applied in the partition it arrives in.
  std::optional<FoldRouting> routing;
};

// What became of one record.
enum class Outcome { kApplied, kDuplicate, kRejected };

struct RejectedRecord {
  Partition partition;
  std::int64_t offset = 0;
  core::Rejection rejection;
};

// The pipeline's semantics without Kafka or RocksDB, for checking the service against: records in
// consumption order are decoded, validated, deduplicated by event_id per partition, applied to one
// profile per (partition, customer) with the core Engine, and their segment changes collected. An
// erasure forgets its customer's applied events, and the customer's events that occurred up to it
// are refused afterwards (reason erased).
// With routing, an event is applied in its customer's partition at once, where the service passes
// it on through the repartition topic: the two agree when each customer's wrongly placed events
// all arrive in one partition and the customer's partition has no other input.
//
// The service checks dedup expiry against "now" at the start of each batch, this fold at each
// record; the two agree whenever repeats come less than the retention after the first sighting.
class ReferenceFold {
 public:
  // Profiles in the order `profilectl export` prints them.
  using Profiles = std::map<std::pair<Partition, std::string>, v1::CustomerProfile>;

  ReferenceFold(const core::Engine& engine, FoldOptions options);

  // Fails, changing nothing, when the record is not after the previous one of its partition:
  // the input is then not in consumption order.
  [[nodiscard]] absl::StatusOr<Outcome> Consume(const EventRecord& record);

  // Fires every profile's timers due by its partition's "now", as the service's timer service
  // does as soon as it runs: call once the records are consumed.
  void FireTimers();

  [[nodiscard]] const Profiles& profiles() const { return profiles_; }
  [[nodiscard]] const std::vector<v1::SegmentChange>& changes() const { return changes_; }
  [[nodiscard]] const std::vector<RejectedRecord>& rejects() const { return rejects_; }

 private:
  struct PartitionState {
    std::int64_t last_offset = -1;
    // Event-time "now": the latest occurred_at applied in the partition.
    absl::Time watermark = absl::InfinitePast();
    // event_id -> when its dedup entry expires.
    std::unordered_map<std::string, absl::Time> seen_until;
    // customer_id -> the event ids applied to its profile, which its erasure forgets.
    std::unordered_map<std::string, std::vector<std::string>> applied_to;
    // customer_id -> its latest erasure's occurred_at: events up to then are refused.
    std::unordered_map<std::string, absl::Time> erased_at;
  };

  const core::Engine& engine_;
  FoldOptions options_;
  std::map<Partition, PartitionState> partitions_;
  Profiles profiles_;
  std::vector<v1::SegmentChange> changes_;
  std::vector<RejectedRecord> rejects_;
};

}  // namespace cdp::profilectl
