#include "cdp/pipeline/changelog.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"
#include "cdp/core/engine.h"
#include "cdp/core/population.h"
#include "cdp/pipeline/internal/partition_counts.h"
#include "cdp/pipeline/records.h"
#include "cdp/v1/partition_state.pb.h"

namespace cdp::pipeline {
namespace {

// Operations per state batch while restoring: large enough to amortise a commit, small enough
// that a restore's memory does not grow with the partition.
constexpr std::size_t kRestoreBatchOperations = 8192;
constexpr std::uint64_t kProgressEvery = 10'000;
// What a held-back profile version costs besides its key and value (map node, strings), so that
// a run of tombstones is bounded too.
constexpr std::size_t kHeldEntryOverhead = 128;

absl::Status Annotate(const absl::Status& status, Partition partition, std::string_view doing) {
  return absl::Status(status.code(),
                      absl::StrCat("restoring partition ", partition.value(),
                                   " from the changelog: ", ToAbsl(doing), ": ", status.message()));
}

// Commits the batch once it is large, or when `force` is set. Without the write-ahead log, which
// was two fifths of a restore's commits: the partition stays marked until the caller has the
// store persist them, and a crash before that has the next assignment restore it again.
absl::Status CommitIfFull(state::Store& store, Partition partition, state::Store::Batch& batch,
                          bool force) {
  if (batch.operations() == 0 || (!force && batch.operations() < kRestoreBatchOperations)) {
    return absl::OkStatus();
  }
  return store.CommitUnlogged(partition, batch);
}

// Whether the local state is the changelog's: its last record is a checkpoint with the token the
// local state record carries.
absl::StatusOr<bool> UpToDate(const state::Store& store,
                              const std::optional<v1::PartitionState>& local,
                              ChangelogSource& changelog, Partition partition, std::int64_t end) {
  if (!local.has_value() || local->changelog_token() == 0) return false;
  // An earlier restore's changes may have been lost with the process, its checkpoint kept.
  auto unpersisted = store.UnloggedPending(partition);
  if (!unpersisted.ok()) return unpersisted.status();
  if (*unpersisted) return false;
  const std::uint64_t token = local->changelog_token();
  bool same = false;
  absl::Status read = changelog.Read(partition, end - 1, end, [&](const ChangelogRecord& record) {
    if (record.kind != kChangelogCheckpoint || !record.value.has_value()) return absl::OkStatus();
    v1::ChangelogCheckpoint checkpoint;
    if (!checkpoint.ParseFromArray(record.value->data(), static_cast<int>(record.value->size()))) {
      return absl::OkStatus();  // Not ours to judge here; the restore reports it.
    }
    same = checkpoint.state().changelog_token() == token;
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return same;
}

}  // namespace

absl::StatusOr<RestoreResult> RestoreFromChangelog(
    state::Store& store, ChangelogSource& changelog, Partition partition,
    const std::function<void(std::uint64_t records)>& progress, std::size_t window_bytes) {
  RestoreResult result;
  auto extent = changelog.Extent(partition);
  if (!extent.ok()) return Annotate(extent.status(), partition, "reading its offsets");
  const std::int64_t end = extent->end;
  if (end == 0) {
    result.changelog_empty = true;
    return result;
  }
  auto local = store.ReadPartitionState(partition);
  if (!local.ok()) return Annotate(local.status(), partition, "reading the local state record");
  auto up_to_date = UpToDate(store, *local, changelog, partition, end);
  if (!up_to_date.ok()) return Annotate(up_to_date.status(), partition, "reading its last record");
  if (*up_to_date) return result;
  if (extent->start > 0) {
    return absl::DataLossError(absl::StrCat(
        "changelog partition ", partition.value(), " starts at offset ", extent->start,
        ", not 0: its oldest records were deleted (a retention limit or DeleteRecords), so it "
        "no longer holds every profile, and restoring it would lose customers. The changelog "
        "topic needs cleanup.policy=compact and no retention.ms/retention.bytes limit. To rebuild "
        "the state from the input instead, if the input topic still holds it all: run under a "
        "new --group-id (no committed offsets, a new empty changelog) with an empty --data-dir"));
  }

  result.restored = true;
  if (absl::Status dropped = store.DropPartition(partition); !dropped.ok()) {
    return Annotate(dropped, partition, "dropping the local state");
  }

  // The last record of every profile, and the last checkpoint.
  state::Store::Batch batch;
  std::optional<v1::ChangelogCheckpoint> checkpoint;
  // The latest version of each profile held back (an uncompacted changelog holds several of
  // each); nullopt for a tombstone.
  absl::flat_hash_map<std::string, std::optional<std::string>> window;
  std::size_t held_bytes = 0;
  // Cleared when the window is written before the read ends: a later window may then replace a
  // profile written earlier, so what follows from the profiles is read back once all are written.
  bool window_holds_partition = true;
  const auto write_window = [&]() -> absl::Status {
    for (auto& [customer_id, value] : window) {
      if (value.has_value()) {
        batch.PutSerializedProfile(partition, customer_id, std::move(*value));
      } else {
        batch.DeleteProfile(partition, customer_id);
      }
      if (absl::Status committed = CommitIfFull(store, partition, batch, false); !committed.ok()) {
        return committed;
      }
    }
    window.clear();
    held_bytes = 0;
    return absl::OkStatus();
  };
  absl::Status read =
      changelog.Read(partition, 0, end, [&](const ChangelogRecord& record) -> absl::Status {
        ++result.records;
        if (progress && result.records % kProgressEvery == 0) progress(result.records);
        if (record.kind == kChangelogCheckpoint) {
          v1::ChangelogCheckpoint parsed;
          if (!record.value.has_value() ||
              !parsed.ParseFromArray(record.value->data(),
                                     static_cast<int>(record.value->size()))) {
            return absl::DataLossError(
                absl::StrCat("the checkpoint at offset ", record.offset, " does not parse"));
          }
          checkpoint = std::move(parsed);
          return absl::OkStatus();
        }
        if (record.kind == kChangelogErasure && record.key.has_value() && !record.key->empty()) {
          v1::ChangelogErasure erasure;
          if (!record.value.has_value() ||
              !erasure.ParseFromArray(record.value->data(),
                                      static_cast<int>(record.value->size()))) {
            return absl::DataLossError(
                absl::StrCat("the erasure record at offset ", record.offset, " does not parse"));
          }
          batch.PutErasure(partition, *record.key,
                           absl::FromUnixSeconds(erasure.erased_at().seconds()) +
                               absl::Nanoseconds(erasure.erased_at().nanos()));
          return CommitIfFull(store, partition, batch, false);
        }
        if (record.kind != kChangelogProfile || !record.key.has_value() || record.key->empty()) {
          return absl::DataLossError(absl::StrCat(
              "the record at offset ", record.offset,
              " is neither a profile, an erasure nor a checkpoint: is the changelog topic shared "
              "with something else?"));
        }
        std::optional<std::string>& latest = window.try_emplace(ToAbsl(*record.key)).first->second;
        if (record.value.has_value()) {
          latest.emplace(*record.value);
        } else {
          latest.reset();
        }
        held_bytes += kHeldEntryOverhead + record.key->size() + record.value.value_or("").size();
        if (held_bytes < window_bytes) return absl::OkStatus();
        window_holds_partition = false;
        return write_window();
      });
  if (!read.ok()) return Annotate(read, partition, "reading its records");

  // What follows from the restored profiles: each one's timer, the member counts, the rfm
  // population.
  v1::RfmPopulation population;
  internal::MemberTally members;
  // A profile record's kind may be inferred from its key (KafkaChangelog reads the kind header
  // only where the key leaves it open), so what marks a record as ours is its content.
  const auto not_ours = [&] {
    return absl::DataLossError(absl::StrCat(
        "restoring partition ", partition.value(),
        " from the changelog: a profile record holds the profile of another customer than its "
        "key (is the changelog topic shared with something else?)"));
  };
  const auto derive = [&](std::string_view customer_id, const internal::ProfileDigest& digest) {
    ++result.profiles;
    batch.SetTimer(partition, customer_id, std::nullopt, digest.timer_due);
    members.Add(digest);
    core::UpdatePopulation(std::nullopt, digest.rfm, population);
    return CommitIfFull(store, partition, batch, false);
  };
  // From the window while it is still in hand, when it holds every profile: reading the profiles
  // back from the store was a sixth of a restore.
  if (window_holds_partition) {
    internal::ProfileDigest digest;
    for (const auto& [customer_id, value] : window) {
      if (!value.has_value()) continue;
      if (!internal::DigestProfile(*value, digest)) {
        return absl::DataLossError(absl::StrCat(
            "restoring partition ", partition.value(),
            " from the changelog: a profile record is not a valid cdp.v1.CustomerProfile (is the "
            "changelog topic shared with something else?)"));
      }
      if (digest.customer_id != customer_id) return not_ours();
      if (absl::Status derived = derive(customer_id, digest); !derived.ok()) {
        return Annotate(derived, partition, "writing timers");
      }
    }
  }
  if (absl::Status written = write_window(); !written.ok()) {
    return Annotate(written, partition, "writing profiles");
  }
  if (progress) progress(result.records);
  if (!window_holds_partition) {
    // The profiles are read back from the store below, so they must all be in it. When the
    // window held the whole partition they go in the checkpoint's commit instead: a commit fewer
    // per partition, and each commit queued behind the other restore threads' commits.
    if (absl::Status committed = CommitIfFull(store, partition, batch, true); !committed.ok()) {
      return Annotate(committed, partition, "writing profiles");
    }
    absl::Status derived = absl::OkStatus();
    bool mismatched = false;
    absl::Status visited = internal::ForEachProfileDigest(
        store, partition, [&](std::string_view customer_id, const internal::ProfileDigest& digest) {
          mismatched = digest.customer_id != customer_id;
          if (!mismatched) derived = derive(customer_id, digest);
          return !mismatched && derived.ok();
        });
    if (!visited.ok()) return Annotate(visited, partition, "reading back the restored profiles");
    if (mismatched) return not_ours();
    if (!derived.ok()) return Annotate(derived, partition, "writing timers");
  }
  v1::PartitionState state;
  if (checkpoint.has_value()) state = std::move(*checkpoint->mutable_state());
  state.clear_members();
  members.AddTo(*state.mutable_members());

  // Last, so that only a complete restore carries the checkpoint's token and offset. Without a
  // checkpoint (the owner failed before its first one) the partition restarts from the group's
  // committed offset, and the profiles' applied events keep what they reflect from being applied
  // twice.
  if (checkpoint.has_value()) {
    std::optional<absl::Time> event_time;
    if (checkpoint->has_event_time()) {
      event_time = absl::FromUnixSeconds(checkpoint->event_time().seconds()) +
                   absl::Nanoseconds(checkpoint->event_time().nanos());
    }
    if (checkpoint->has_next_offset() || event_time.has_value()) {
      batch.SetOffset(partition,
                      checkpoint->has_next_offset()
                          ? std::optional<Offset>(checkpoint->next_offset())
                          : std::nullopt,
                      event_time);
    }
    if (checkpoint->has_repartition_next_offset()) {
      batch.SetRepartitionOffset(partition, Offset(checkpoint->repartition_next_offset()));
    }
    *state.mutable_rfm_population() = std::move(population);
    batch.PutPartitionState(partition, state);
  }
  if (absl::Status committed = CommitIfFull(store, partition, batch, true); !committed.ok()) {
    return Annotate(committed, partition, "writing the restored state");
  }
  return result;
}

}  // namespace cdp::pipeline
