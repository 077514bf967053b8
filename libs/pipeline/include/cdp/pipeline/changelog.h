#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cdp/common/strong_type.h"
#include "cdp/state/store.h"

namespace cdp::pipeline {

// A changelog record as read back (records.h describes what the processor writes).
struct ChangelogRecord {
  std::int64_t offset = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;  // nullopt: a tombstone
  // The kChangelogKindHeader header. A source may infer kChangelogProfile from a key that only
  // a profile can have (neither empty nor a Store::ErasureId): a restore checks that the profile
  // it holds is the key's customer's.
  std::optional<std::string_view> kind;
};

// The offsets a changelog partition holds: [start, end).
struct ChangelogExtent {
  // The first offset still kept: 0 unless retention or DeleteRecords removed the oldest records
  // (compaction alone keeps it at 0).
  std::int64_t start = 0;
  // The offset the partition's next record will get: 0 for an empty partition.
  std::int64_t end = 0;
};

// Where a restore reads a changelog partition: Kafka in the service, memory in tests.
class ChangelogSource {
 public:
  using Visitor = std::function<absl::Status(const ChangelogRecord&)>;

  virtual ~ChangelogSource() = default;
  [[nodiscard]] virtual absl::StatusOr<ChangelogExtent> Extent(Partition partition) = 0;
  // Visits the partition's records with offsets in [from, until), in order. Records may be
  // missing from the range (compaction, retention). A visitor error stops the read and is
  // returned.
  [[nodiscard]] virtual absl::Status Read(Partition partition, std::int64_t from,
                                          std::int64_t until, const Visitor& visit) = 0;
};

struct RestoreResult {
  // false: the local state already was the changelog's (or the changelog is empty) and was kept.
  bool restored = false;
  // The changelog partition has no records: whatever the local state holds is not in it yet
  // (Processor::SeedChangelog puts it there).
  bool changelog_empty = false;
  std::uint64_t records = 0;
  std::uint64_t profiles = 0;
};

// Makes the store's state of `partition` the one its changelog holds, unless it already is: the
// local state record carries the token of the changelog's last checkpoint. Otherwise the
// partition's local state is dropped and rebuilt from the changelog: the last record of each
// profile, then from those profiles their timers, the member counts and the rfm population (a
// profile's applied_events are its dedup state), and last the offset and state record of the
// last checkpoint, so that a crash during a restore leaves a partition the next assignment
// restores again. A changelog whose oldest records were deleted (start > 0) no longer holds every
// profile: rather than restore part of the customers, the restore fails with DataLoss and leaves
// the store as it was.
// `progress` (optional) is called with the records read so far, every few thousand. Profile
// versions are held back up to `window_bytes`, so that a customer's versions within that much of
// the changelog are written once, the last. Call before the processor loads the partition
// (Processor::ResumeOffset). A restore commits without the write-ahead log
// (Store::CommitUnlogged): the caller has the store persist it (Store::PersistUnlogged), on a
// thread of its own if it will; until then a crash may lose it, and the next restore of the
// partition, seeing it marked, restores it again.
inline constexpr std::size_t kRestoreWindowBytes = std::size_t{16} << 20;
[[nodiscard]] absl::StatusOr<RestoreResult> RestoreFromChangelog(
    state::Store& store, ChangelogSource& changelog, Partition partition,
    const std::function<void(std::uint64_t records)>& progress = {},
    std::size_t window_bytes = kRestoreWindowBytes);

}  // namespace cdp::pipeline
