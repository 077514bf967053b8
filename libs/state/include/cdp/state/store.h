#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/common/strong_type.h"
#include "cdp/v1/customer_profile.pb.h"
#include "cdp/v1/partition_state.pb.h"
#include "google/protobuf/arena.h"

namespace rocksdb {
class Env;
class WriteBatch;
struct WriteOptions;
}  // namespace rocksdb

namespace cdp::state {

struct StoreOptions {
  // Directory of the database; created if missing.
  std::string path;
  // One cache for data, index and filter blocks, shared by all of the store's data.
  std::size_t block_cache_bytes = std::size_t{256} << 20;
  // false: a commit has reached the operating system when Commit returns, so it survives a
  // process kill but not a power loss. true: fsync per commit, which survives both.
  bool sync_writes = false;
  // Storage environment (default: the local file system). Must outlive the store.
  rocksdb::Env* env = nullptr;
};

// Customer state in RocksDB, grouped by the input partition it came from so that a partition's
// state is one contiguous key range that can be dropped or moved as a whole: profiles, the event
// ids already applied (dedup entries), the customers' timers, the partition's next input offset
// and its state record (segment member counts, the definitions its memberships follow).
// Thread-safe.
class Store {
 public:
  // Changes that become visible together, or not at all, on Commit. Not thread-safe.
  class Batch {
   public:
    // Keyed by profile.customer_id().
    void PutProfile(Partition partition, const v1::CustomerProfile& profile);
    // The same for a profile already serialized (a CustomerProfile's bytes), so a caller that
    // also sends them elsewhere serializes once.
    void PutSerializedProfile(Partition partition, std::string_view customer_id, std::string bytes);
    void DeleteProfile(Partition partition, std::string_view customer_id);
    // SeenEvents reports the event as seen until `expires_at`.
    void MarkSeen(Partition partition, std::string_view event_id, absl::Time expires_at);
    // The offset of the next input record to consume in `partition`; nullopt for none yet (only
    // its repartition topic partition had records), which ReadOffset reads back as nullopt.
    // `event_time`: in event-time mode, the partition's "now" (latest occurred_at applied), kept
    // with the offset so that a restart resumes with the same clock.
    void SetOffset(Partition partition, std::optional<Offset> next,
                   std::optional<absl::Time> event_time = std::nullopt);
    // The offset of the next record to consume in the same-numbered partition of the repartition
    // topic, which brings the partition's customers their wrongly keyed events.
    void SetRepartitionOffset(Partition partition, Offset next);
    // Moves the customer's timer from `previous` to `next` (either may be nullopt = no timer):
    // removes the index entry due at `previous` and adds one due at `next`. Nothing when equal.
    // Goes in the batch of the profile that carries `next`: both commit, or neither does.
    void SetTimer(Partition partition, std::string_view customer_id,
                  std::optional<absl::Time> previous, std::optional<absl::Time> next);

    // Replaces the partition's state record (member counts, definitions; see PartitionState).
    void PutPartitionState(Partition partition, const v1::PartitionState& state);

    // Records that the customer was erased at `erased_at` (ReadErasures), under ErasureId, and
    // has Scrub wipe the deletions of this batch that are the customer's (its profile, its
    // timer, ForgetSeen's entries) from disk. The caller deletes those in the same batch.
    void MarkErased(Partition partition, std::string_view customer_id, absl::Time erased_at);
    // The marker as the changelog carries it, named by ErasureId only (a restore).
    void PutErasure(Partition partition, std::string_view erasure_id, absl::Time erased_at);
    // Removes a dedup entry: an erased customer's applied events are forgotten with it.
    void ForgetSeen(Partition partition, std::string_view event_id);

    [[nodiscard]] std::size_t operations() const { return operations_.size(); }
    void Clear();

   private:
    friend class Store;
    enum class Kind {
      kPutProfile,
      kDeleteProfile,
      kMarkSeen,
      kSetOffset,
      kPutTimer,
      kDeleteTimer,
      kPutPartitionState,
      kPutErasure,
      kForgetSeen
    };
    struct Operation {
      Kind kind;
      std::string key;
      std::string value;
    };

    // `key` is built by the caller; `partition` is only checked.
    void Add(Kind kind, Partition partition, std::string key, std::string value);

    std::vector<Operation> operations_;
    std::size_t bytes_ = 0;
    // Keys of MarkErased's customers (PartitionKey), whose deletions Commit hands to Scrub.
    std::vector<std::string> erased_;
    // Commit refuses a batch that named a partition no Kafka topic can have.
    std::optional<Partition> invalid_partition_;
  };

  // A customer whose timer is due: time alone may have changed its segments.
  struct DueTimer {
    absl::Time due;
    std::string customer_id;
  };

  struct Stats {
    std::uint64_t estimated_profiles = 0;
    std::uint64_t estimated_dedup_entries = 0;
    std::uint64_t estimated_timers = 0;
    std::uint64_t live_data_bytes = 0;
    std::uint64_t sst_files_bytes = 0;
    std::uint64_t pending_compaction_bytes = 0;
    std::uint64_t memtable_bytes = 0;
    std::uint64_t block_cache_usage_bytes = 0;
    // RocksDB stalls writers entirely when compaction falls too far behind.
    bool write_stopped = false;
    // Counted since the store was opened.
    std::uint64_t block_cache_hits = 0;
    std::uint64_t block_cache_misses = 0;
    // Time writers were delayed or stopped by RocksDB's write stalls.
    absl::Duration write_stall_time = absl::ZeroDuration();
  };

  // Opens the store at options.path, creating it if missing. Fails on a directory another process
  // holds, and on a database written in another format version.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  // The partition's next input offset, nullopt if it never committed one.
  [[nodiscard]] absl::StatusOr<std::optional<Offset>> ReadOffset(Partition partition) const;
  // The partition's next repartition topic offset, nullopt if it never committed one.
  [[nodiscard]] absl::StatusOr<std::optional<Offset>> ReadRepartitionOffset(
      Partition partition) const;
  // The event time committed with the partition's offset, nullopt if none was.
  [[nodiscard]] absl::StatusOr<std::optional<absl::Time>> ReadEventTime(Partition partition) const;

  [[nodiscard]] absl::StatusOr<std::optional<v1::CustomerProfile>> ReadProfile(
      Partition partition, std::string_view customer_id) const;

  // One lookup for many customers; the result is in the order of `customer_ids`, nullopt for
  // customers without a profile.
  [[nodiscard]] absl::StatusOr<std::vector<std::optional<v1::CustomerProfile>>> ReadProfiles(
      Partition partition, std::span<const std::string_view> customer_ids) const;

  // For each event id, in order: true when it was marked seen with an expiry after `now`.
  // For each customer, in order: when it was last erased (MarkErased), nullopt if never.
  [[nodiscard]] absl::StatusOr<std::vector<std::optional<absl::Time>>> ReadErasures(
      Partition partition, std::span<const std::string_view> customer_ids) const;

  // The name of an erasure marker: a hash of the customer id, so that the marker keeps no
  // identifier. It can only confirm that a given id was erased.
  [[nodiscard]] static std::string ErasureId(std::string_view customer_id);
  // What every ErasureId starts with.
  static constexpr std::string_view kErasureIdPrefix = "erased/";

  [[nodiscard]] absl::StatusOr<std::vector<bool>> SeenEvents(
      Partition partition, std::span<const std::string_view> event_ids, absl::Time now) const;

  // Timers of `partition` due at or before `now`, earliest first (ties by customer id), at most
  // `limit`. Reads a consistent snapshot. Due instants are kept to the microsecond, rounded up,
  // so a timer is never reported before it is due; instants before 1970 count as 1970.
  [[nodiscard]] absl::StatusOr<std::vector<DueTimer>> DueTimers(Partition partition, absl::Time now,
                                                                std::size_t limit) const;
  // The earliest timer of `partition`, nullopt when it has none (lets the caller sleep until then).
  [[nodiscard]] absl::StatusOr<std::optional<absl::Time>> NextTimer(Partition partition) const;

  // Applies the batch atomically and empties it. On failure nothing of it is applied and the
  // batch is left as it was. A storage fault fails with ResourceExhausted (the disk is full) or
  // Unavailable (an I/O error); RocksDB then refuses writes until Recover succeeds.
  [[nodiscard]] absl::Status Commit(Batch& batch);

  // A batch ordered and encoded for RocksDB: the part of Commit before the write, done ahead so
  // that it can overlap what the commit has to wait for (in the pipeline, the changelog's
  // delivery). It refers to the batch, which must neither change nor go before it is committed.
  class PreparedBatch {
   public:
    PreparedBatch(PreparedBatch&&) noexcept;
    PreparedBatch& operator=(PreparedBatch&&) noexcept;
    ~PreparedBatch();

   private:
    friend class Store;
    PreparedBatch(Batch& batch, std::unique_ptr<rocksdb::WriteBatch> write);

    Batch* batch_;
    // Null for an empty batch: nothing to write.
    std::unique_ptr<rocksdb::WriteBatch> write_;
  };
  // Fails as Commit would have for the same reason (a partition no Kafka topic can have), before
  // anything is written.
  [[nodiscard]] absl::StatusOr<PreparedBatch> Prepare(Batch& batch) const;
  // Commit(batch), prepared: the same guarantees, and the batch is emptied on success.
  [[nodiscard]] absl::Status Commit(PreparedBatch& prepared);

  // Commit without RocksDB's write-ahead log, for a bulk load (a restore): the log is two fifths
  // of a commit's work, and a restore's commits all take turns on it. Every change must be of
  // `partition`, and none may erase a customer (InvalidArgument). Until PersistUnlogged has run,
  // a crash may lose these changes, and UnloggedPending reports the partition, also after a
  // restart: its state may be incomplete then, and it must be loaded again.
  [[nodiscard]] absl::Status CommitUnlogged(Partition partition, Batch& batch);
  // Makes every unlogged commit made before the call durable: flushes the memtables to SST
  // files, then clears the partitions' marks. Blocks for the flush; for a background thread.
  [[nodiscard]] absl::Status PersistUnlogged();
  // Whether the partition has unlogged commits not yet persisted, in this run or before a
  // restart (which may have lost them). DropPartition clears it.
  [[nodiscard]] absl::StatusOr<bool> UnloggedPending(Partition partition) const;

  // After a storage fault, makes the store accept writes again if the fault has cleared: OK
  // then (and when there was nothing to recover from); the fault's own error while it persists;
  // FailedPrecondition when RocksDB cannot recover without being reopened, which takes a
  // restart of the process.
  [[nodiscard]] absl::Status Recover();

  // Dedup entries that expired at or before `horizon` may be dropped from now on (by compaction).
  // The horizon only moves forward; the caller advances it with its own clock, which may be event
  // time rather than the wall clock.
  void AdvanceDedupHorizon(absl::Time horizon);

  // Calls `visit` for each profile of `partition` (every partition when nullopt), in key order,
  // until it returns false. Sees a consistent snapshot; does not fill the block cache.
  [[nodiscard]] absl::Status ForEachProfile(
      std::optional<Partition> partition,
      const std::function<bool(Partition, const v1::CustomerProfile&)>& visit) const;

  // The same, unparsed: the customer id and the serialized cdp.v1.CustomerProfile, both valid
  // during the call only. For a caller that reads a few fields of every profile.
  [[nodiscard]] absl::Status ForEachSerializedProfile(
      std::optional<Partition> partition,
      const std::function<bool(Partition, std::string_view customer_id,
                               std::string_view serialized)>& visit) const;

  // The partition's state record, nullopt if it has none (new, or written by format version 2).
  [[nodiscard]] absl::StatusOr<std::optional<v1::PartitionState>> ReadPartitionState(
      Partition partition) const;

  // A sweep over one partition's profiles in customer id order (bytewise), read a slice at a
  // time with one RocksDB iterator: a seek per slice would cost more than a small slice's reads.
  // Does not fill the block cache. Reads the state as it was when the scan began, and must end
  // before the store does.
  class ProfileScan {
   public:
    ProfileScan(ProfileScan&&) noexcept;
    ProfileScan& operator=(ProfileScan&&) noexcept;
    ~ProfileScan();

    // The next up to `limit` profiles, fewer only at the end. They are parsed on `arena`, which
    // owns them: a slice's strings and messages then cost no allocation each, and go at once.
    [[nodiscard]] absl::StatusOr<std::vector<v1::CustomerProfile*>> Next(
        std::size_t limit, google::protobuf::Arena& arena);

   private:
    friend class Store;
    struct State;
    explicit ProfileScan(std::unique_ptr<State> state);

    std::unique_ptr<State> state_;
  };

  // The profiles of `partition` whose customer ids follow `after` ("" for all of them).
  [[nodiscard]] absl::StatusOr<ProfileScan> ScanProfiles(Partition partition,
                                                         std::string_view after) const;

  // Partitions that hold any state (profile, dedup entry, timer, offset or state record),
  // ascending.
  [[nodiscard]] absl::StatusOr<std::vector<Partition>> StoredPartitions() const;

  // Removes everything the partition owns, atomically.
  [[nodiscard]] absl::Status DropPartition(Partition partition);

  // Compacts all data now: reclaims the space of dropped partitions, deleted profiles and moved
  // timers and drops dedup entries expired before the horizon. Blocks until done; for maintenance.
  [[nodiscard]] absl::Status Compact();

  // Removes from the store's files what erasures deleted: a deleted key stays on disk (in the
  // write-ahead log, and in older SST files under the deletion) until a flush and a compaction
  // through the last level drop it. Flushes every family, so that the write-ahead logs holding
  // the erased customers are deleted, and compacts the ranges of the keys they deleted. After a
  // restart that interrupted it, with the keys forgotten, compacts everything once. Blocks until
  // done; for a maintenance thread. Nothing to do returns at once.
  [[nodiscard]] absl::Status Scrub();
  // Whether erasures wait for Scrub, including ones committed before a restart.
  [[nodiscard]] bool ScrubPending() const;

  [[nodiscard]] absl::StatusOr<Stats> GetStats() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);

  [[nodiscard]] absl::Status Write(Batch& batch, const rocksdb::WriteOptions& options);
  [[nodiscard]] absl::Status WritePrepared(PreparedBatch& prepared,
                                           const rocksdb::WriteOptions& options);

  std::unique_ptr<Impl> impl_;
};

}  // namespace cdp::state
