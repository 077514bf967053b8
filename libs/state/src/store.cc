#include "cdp/state/store.h"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cdp/common/absl_string.h"
#include "cdp/common/stable_hash.h"
#include "dedup_filter.h"
#include "keys.h"
#include "rocksdb/db.h"
#include "rocksdb/slice.h"
#include "rocksdb/statistics.h"
#include "rocksdb/write_batch.h"
#include "tuning.h"

namespace cdp::state {
namespace {

constexpr std::string_view kProfilesFamily = "profiles";
constexpr std::string_view kDedupFamily = "dedup";
constexpr std::string_view kOffsetsFamily = "offsets";
constexpr std::string_view kTimersFamily = "timers";
constexpr std::string_view kPartitionStateFamily = "partition_state";

absl::StatusCode CodeOf(const rocksdb::Status& status) {
  if (status.IsNotFound()) return absl::StatusCode::kNotFound;
  if (status.IsCorruption()) return absl::StatusCode::kDataLoss;
  if (status.IsInvalidArgument()) return absl::StatusCode::kInvalidArgument;
  if (status.IsNoSpace()) return absl::StatusCode::kResourceExhausted;
  // A device error may clear (a remount, a replaced disk): worth retrying, after Recover.
  if (status.IsIOError()) return absl::StatusCode::kUnavailable;
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()) {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

absl::Status FromRocksDb(const rocksdb::Status& status, absl::string_view context) {
  return absl::Status(CodeOf(status), absl::StrCat(context, ": ", status.ToString()));
}

absl::Status InvalidPartition(Partition partition) {
  return absl::InvalidArgumentError(
      absl::StrCat("partition ", partition.value(), " is negative; Kafka partitions start at 0"));
}

std::string_view View(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

rocksdb::Slice AsSlice(std::string_view view) { return {view.data(), view.size()}; }

// Customer ids are personal data: errors name a stable hash of the id, never the id.
std::string CustomerHash(std::string_view customer_id) {
  return absl::StrCat(absl::Hex(StableHash64(customer_id), absl::kZeroPad16));
}

absl::Status ParseProfile(Partition partition, std::string_view customer_id, std::string_view value,
                          v1::CustomerProfile& profile) {
  if (profile.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::OkStatus();
  }
  return absl::DataLossError(
      absl::StrCat("stored profile in partition ", partition.value(), " (customer id hash ",
                   CustomerHash(customer_id), ", ", value.size(),
                   " bytes) is not a valid cdp.v1.CustomerProfile; drop the partition and "
                   "restore it from the changelog"));
}

}  // namespace

struct Store::Impl {
  std::string path;
  rocksdb::WriteOptions write_options;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::shared_ptr<rocksdb::Statistics> statistics;
  // Referenced by the dedup family's options: must outlive the database.
  internal::ExpiredDedupFilter dedup_filter;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* profiles = nullptr;
  rocksdb::ColumnFamilyHandle* dedup = nullptr;
  rocksdb::ColumnFamilyHandle* offsets = nullptr;
  rocksdb::ColumnFamilyHandle* timers = nullptr;
  rocksdb::ColumnFamilyHandle* partition_state = nullptr;

  // Erasures waiting for Scrub. Commits that erase hold the mutex across their write, so that a
  // Scrub clears the persisted flag only when no erasure committed after it started.
  mutable std::mutex scrub_mutex;
  std::vector<std::pair<rocksdb::ColumnFamilyHandle*, std::string>> scrub_keys;
  // Erasures before a restart whose keys are lost with it: the next Scrub compacts everything.
  bool scrub_everything = false;
  std::uint64_t erasures_committed = 0;

  // Partitions with commits made without the log that no flush has persisted yet (markers in
  // the default family), each with a sequence number at or after its last such commit.
  std::mutex unlogged_mutex;
  std::map<Partition, rocksdb::SequenceNumber> unlogged;
  // Held shared by each unlogged commit, from its marker to its sequence number, and
  // exclusively while markers are removed: no commit then falls between a flush and the removal.
  std::shared_mutex unlogged_commits;
  std::mutex persisting;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  ~Impl() {
    if (db == nullptr) return;
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      // Destroying a handle of an open database only releases memory; nothing to report.
      db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    // Close fails only on a pending background error, which the WAL replay on the next open
    // recovers from; a destructor has no one to report it to.
    db->Close().PermitUncheckedError();
    delete db;
  }

  [[nodiscard]] std::array<rocksdb::ColumnFamilyHandle*, 5> PartitionedFamilies() const {
    return {profiles, dedup, offsets, timers, partition_state};
  }

  // Whether no family holds a key in the partition's range.
  [[nodiscard]] absl::StatusOr<bool> PartitionEmpty(Partition partition) const {
    const std::string begin = internal::PartitionBegin(partition);
    const std::string end = internal::PartitionEnd(partition);
    const rocksdb::Slice end_slice = end;
    rocksdb::ReadOptions read;
    read.iterate_upper_bound = &end_slice;
    read.fill_cache = false;
    for (rocksdb::ColumnFamilyHandle* family : PartitionedFamilies()) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, family));
      it->Seek(begin);
      if (!it->status().ok()) {
        return FromRocksDb(it->status(), absl::StrCat("cannot read state at '", path, "'"));
      }
      if (it->Valid()) return false;
    }
    return true;
  }

  [[nodiscard]] absl::StatusOr<bool> FamilyEmpty(rocksdb::ColumnFamilyHandle* family) const {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), family));
    it->SeekToFirst();
    if (!it->status().ok()) {
      return FromRocksDb(it->status(), absl::StrCat("cannot read state at '", path, "'"));
    }
    return !it->Valid();
  }

  void Adopt(rocksdb::ColumnFamilyHandle* handle) {
    handles.push_back(handle);
    const std::string& name = handle->GetName();
    if (name == rocksdb::kDefaultColumnFamilyName) meta = handle;
    if (name == kProfilesFamily) profiles = handle;
    if (name == kDedupFamily) dedup = handle;
    if (name == kOffsetsFamily) offsets = handle;
    if (name == kTimersFamily) timers = handle;
    if (name == kPartitionStateFamily) partition_state = handle;
  }

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> ReadFormatVersion() const {
    std::string version;
    const rocksdb::Status read =
        db->Get(rocksdb::ReadOptions(), meta, AsSlice(internal::kFormatVersionKey), &version);
    if (read.IsNotFound()) return std::nullopt;
    if (!read.ok()) {
      return FromRocksDb(read,
                         absl::StrCat("cannot read the format version of state at '", path, "'"));
    }
    return version;
  }

  [[nodiscard]] absl::Status CreateFamilies(
      const std::vector<rocksdb::ColumnFamilyDescriptor>& families) {
    for (const rocksdb::ColumnFamilyDescriptor& family : families) {
      rocksdb::ColumnFamilyHandle* handle = nullptr;
      const rocksdb::Status created = db->CreateColumnFamily(family.options, family.name, &handle);
      if (!created.ok()) {
        return FromRocksDb(created, absl::StrCat("cannot create column family '", family.name,
                                                 "' in state at '", path, "'"));
      }
      Adopt(handle);
    }
    return absl::OkStatus();
  }

  [[nodiscard]] absl::Status WriteFormatVersion() {
    rocksdb::WriteOptions durable;
    durable.sync = true;
    const rocksdb::Status written = db->Put(durable, meta, AsSlice(internal::kFormatVersionKey),
                                            AsSlice(internal::kFormatVersion));
    if (!written.ok()) {
      return FromRocksDb(written,
                         absl::StrCat("cannot write the format version of state at '", path, "'"));
    }
    return absl::OkStatus();
  }

  // Turns an empty database into a store of the current format. The version goes last, so that
  // an interrupted creation is finished on the next open instead of being taken for a store.
  [[nodiscard]] absl::Status Create(
      const std::vector<rocksdb::ColumnFamilyDescriptor>& missing_families) {
    for (rocksdb::ColumnFamilyHandle* family : handles) {
      absl::StatusOr<bool> empty = FamilyEmpty(family);
      if (!empty.ok()) return empty.status();
      if (!*empty) {
        return absl::FailedPreconditionError(
            absl::StrCat("'", path,
                         "' holds a RocksDB database that is not profile state (it has no format "
                         "version); point the state directory at an empty or new directory"));
      }
    }
    if (absl::Status created = CreateFamilies(missing_families); !created.ok()) return created;
    return WriteFormatVersion();
  }

  // Values found for many ids of one partition, in the order of the ids.
  struct Lookup {
    std::vector<std::string> keys;
    std::vector<rocksdb::PinnableSlice> values;
    std::vector<rocksdb::Status> statuses;
  };

  [[nodiscard]] Lookup MultiGet(rocksdb::ColumnFamilyHandle* family, Partition partition,
                                std::span<const std::string_view> ids) const {
    Lookup lookup;
    lookup.keys.reserve(ids.size());
    for (std::string_view id : ids) lookup.keys.push_back(internal::PartitionKey(partition, id));
    const std::vector<rocksdb::Slice> slices(lookup.keys.begin(), lookup.keys.end());
    lookup.values.resize(ids.size());
    lookup.statuses.resize(ids.size());
    db->MultiGet(rocksdb::ReadOptions(), family, slices.size(), slices.data(), lookup.values.data(),
                 lookup.statuses.data());
    return lookup;
  }

  [[nodiscard]] absl::StatusOr<std::vector<std::optional<v1::CustomerProfile>>> GetProfiles(
      Partition partition, std::span<const std::string_view> customer_ids) const {
    const Lookup lookup = MultiGet(profiles, partition, customer_ids);
    std::vector<std::optional<v1::CustomerProfile>> result(customer_ids.size());
    for (std::size_t i = 0; i < result.size(); ++i) {
      if (lookup.statuses[i].IsNotFound()) continue;
      if (!lookup.statuses[i].ok()) {
        return FromRocksDb(lookup.statuses[i],
                           absl::StrCat("cannot read profiles of partition ", partition.value(),
                                        " from '", path, "'"));
      }
      absl::Status parsed = ParseProfile(partition, internal::KeyId(lookup.keys[i]),
                                         View(lookup.values[i]), result[i].emplace());
      if (!parsed.ok()) return parsed;
    }
    return result;
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("the state directory is not set; give it a path");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = options.path;
  impl->write_options.sync = options.sync_writes;
  impl->block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  impl->statistics = rocksdb::CreateDBStatistics();
  // Tickers (cache hits) are cheap; histograms and timers would tax every operation.
  impl->statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);

  const std::vector<rocksdb::ColumnFamilyDescriptor> known_families = {
      {rocksdb::kDefaultColumnFamilyName, internal::MakeMetaOptions()},
      {std::string(kProfilesFamily), internal::MakeProfileOptions(impl->block_cache)},
      {std::string(kDedupFamily),
       internal::MakeDedupOptions(impl->block_cache, &impl->dedup_filter)},
      {std::string(kOffsetsFamily), internal::MakeOffsetOptions()},
      {std::string(kTimersFamily), internal::MakeTimerOptions(impl->block_cache)},
      {std::string(kPartitionStateFamily), internal::MakeOffsetOptions()},
  };
  std::vector<std::string> existing_names;
  if (!rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options.path, &existing_names).ok()) {
    existing_names = {rocksdb::kDefaultColumnFamilyName};
  }
  auto exists = [&](const std::string& name) {
    return std::find(existing_names.begin(), existing_names.end(), name) != existing_names.end();
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> present;
  std::vector<rocksdb::ColumnFamilyDescriptor> missing;
  for (const rocksdb::ColumnFamilyDescriptor& family : known_families) {
    (exists(family.name) ? present : missing).push_back(family);
  }
  // RocksDB opens a database only with all its families, including ones this build does not
  // know; opening them lets the checks below explain what the directory holds.
  for (const std::string& name : existing_names) {
    const bool known = std::any_of(
        known_families.begin(), known_families.end(),
        [&](const rocksdb::ColumnFamilyDescriptor& family) { return family.name == name; });
    if (!known) present.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  const rocksdb::Status opened =
      rocksdb::DB::Open(internal::MakeDbOptions(options, impl->statistics), options.path, present,
                        &handles, &impl->db);
  if (!opened.ok()) {
    impl->db = nullptr;
    // RocksDB names the LOCK file when another process (or this one) holds the directory.
    const bool locked = opened.ToString().find("LOCK") != std::string::npos;
    return absl::Status(
        locked ? absl::StatusCode::kFailedPrecondition : CodeOf(opened),
        absl::StrCat("cannot open state at '", options.path, "': ", opened.ToString(),
                     locked ? " (is another profile-service using it?)" : ""));
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) impl->Adopt(handle);

  absl::StatusOr<std::optional<std::string>> version = impl->ReadFormatVersion();
  if (!version.ok()) return version.status();
  if (!version->has_value()) {
    if (absl::Status created = impl->Create(missing); !created.ok()) return created;
  } else if (**version == internal::kFormatVersionWithoutTimers) {
    // Its profiles never got timers, so an index added now would miss them: only rebuilding the
    // state from the input computes them.
    return absl::FailedPreconditionError(absl::StrCat(
        "state at '", options.path,
        "' was written by an older version without the timer index (format version ", **version,
        "; this build reads version ", internal::kFormatVersion,
        "); remove the directory, reset the consumer group's offsets to the earliest and restart: "
        "the service rebuilds the state by reprocessing the input topic"));
  } else if (**version == internal::kFormatVersionWithoutPartitionState) {
    // Nothing else changed: the new family starts empty, and the pipeline rebuilds a partition's
    // state record from its profiles the first time it finds none.
    const bool only_new_family_missing =
        missing.size() == 1 && missing.front().name == kPartitionStateFamily;
    if (!only_new_family_missing) {
      return absl::DataLossError(
          absl::StrCat("state at '", options.path, "' has format version ", **version,
                       " but lacks some of its column families; move the directory aside and "
                       "rebuild the state from the changelog"));
    }
    if (absl::Status upgraded = impl->CreateFamilies(missing); !upgraded.ok()) return upgraded;
    if (absl::Status upgraded = impl->WriteFormatVersion(); !upgraded.ok()) return upgraded;
  } else if (**version != internal::kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("state at '", options.path, "' has format version ", **version,
                     " but this build reads version ", internal::kFormatVersion,
                     "; run a build that reads version ", **version,
                     ", or move the directory aside and rebuild the state from the changelog"));
  } else if (!missing.empty()) {
    return absl::DataLossError(absl::StrCat(
        "state at '", options.path, "' has the current format version but lacks column family '",
        missing.front().name,
        "'; move the directory aside and rebuild the state from the changelog"));
  }
  std::string scrub_pending;
  const rocksdb::Status pending = impl->db->Get(
      rocksdb::ReadOptions(), impl->meta, AsSlice(internal::kScrubPendingKey), &scrub_pending);
  if (!pending.ok() && !pending.IsNotFound()) {
    return FromRocksDb(pending, absl::StrCat("cannot read state at '", options.path, "'"));
  }
  impl->scrub_everything = pending.ok();
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

namespace {

// The offsets family holds per partition the next offset (8 bytes) and, in event-time mode, the
// partition's event time (8 more bytes, Unix microseconds).
absl::StatusOr<std::optional<std::pair<Offset, std::optional<absl::Time>>>> ReadCheckpoint(
    rocksdb::DB& db, rocksdb::ColumnFamilyHandle* offsets, const std::string& path,
    Partition partition) {
  rocksdb::PinnableSlice value;
  const rocksdb::Status read =
      db.Get(rocksdb::ReadOptions(), offsets, internal::PartitionBegin(partition), &value);
  if (read.IsNotFound()) return std::nullopt;
  if (!read.ok()) {
    return FromRocksDb(read, absl::StrCat("cannot read the offset of partition ", partition.value(),
                                          " from '", path, "'"));
  }
  const std::string_view bytes = View(value);
  const std::optional<std::int64_t> offset = bytes.size() == 8 || bytes.size() == 16
                                                 ? internal::DecodeInt64(bytes.substr(0, 8))
                                                 : std::nullopt;
  if (!offset.has_value()) {
    return absl::DataLossError(absl::StrCat("stored offset of partition ", partition.value(),
                                            " in '", path, "' is ", value.size(),
                                            " bytes instead of 8 or 16; the state is corrupt"));
  }
  std::optional<absl::Time> event_time;
  if (bytes.size() == 16) {
    if (const auto micros = internal::DecodeInt64(bytes.substr(8))) {
      event_time = absl::FromUnixMicros(*micros);
    }
  }
  return std::pair{Offset(*offset), event_time};
}

}  // namespace

absl::StatusOr<std::optional<Offset>> Store::ReadOffset(Partition partition) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  auto checkpoint = ReadCheckpoint(*impl_->db, impl_->offsets, impl_->path, partition);
  if (!checkpoint.ok()) return checkpoint.status();
  if (!checkpoint->has_value() || (*checkpoint)->first.value() < 0) return std::nullopt;
  return (*checkpoint)->first;
}

absl::StatusOr<std::optional<Offset>> Store::ReadRepartitionOffset(Partition partition) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  rocksdb::PinnableSlice value;
  const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), impl_->offsets,
                                              internal::RepartitionOffsetKey(partition), &value);
  if (read.IsNotFound()) return std::nullopt;
  if (!read.ok()) {
    return FromRocksDb(read, absl::StrCat("cannot read the repartition offset of partition ",
                                          partition.value(), " from '", impl_->path, "'"));
  }
  const std::optional<std::int64_t> offset = internal::DecodeInt64(View(value));
  if (!offset.has_value()) {
    return absl::DataLossError(absl::StrCat(
        "stored repartition offset of partition ", partition.value(), " in '", impl_->path, "' is ",
        value.size(), " bytes instead of 8; the state is corrupt"));
  }
  return Offset(*offset);
}

absl::StatusOr<std::optional<absl::Time>> Store::ReadEventTime(Partition partition) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  auto checkpoint = ReadCheckpoint(*impl_->db, impl_->offsets, impl_->path, partition);
  if (!checkpoint.ok()) return checkpoint.status();
  if (!checkpoint->has_value()) return std::nullopt;
  return (*checkpoint)->second;
}

absl::StatusOr<std::optional<v1::CustomerProfile>> Store::ReadProfile(
    Partition partition, std::string_view customer_id) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  auto profiles = impl_->GetProfiles(partition, std::span<const std::string_view>(&customer_id, 1));
  if (!profiles.ok()) return profiles.status();
  return std::move(profiles->front());
}

absl::StatusOr<std::vector<std::optional<v1::CustomerProfile>>> Store::ReadProfiles(
    Partition partition, std::span<const std::string_view> customer_ids) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  return impl_->GetProfiles(partition, customer_ids);
}

absl::StatusOr<std::vector<bool>> Store::SeenEvents(Partition partition,
                                                    std::span<const std::string_view> event_ids,
                                                    absl::Time now) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  const Impl::Lookup lookup = impl_->MultiGet(impl_->dedup, partition, event_ids);
  const std::int64_t now_micros = absl::ToUnixMicros(now);
  std::vector<bool> seen(event_ids.size(), false);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (lookup.statuses[i].IsNotFound()) continue;
    if (!lookup.statuses[i].ok()) {
      return FromRocksDb(lookup.statuses[i],
                         absl::StrCat("cannot read dedup entries of partition ", partition.value(),
                                      " from '", impl_->path, "'"));
    }
    const std::optional<std::int64_t> expires_at = internal::DecodeInt64(View(lookup.values[i]));
    if (!expires_at.has_value()) {
      return absl::DataLossError(absl::StrCat(
          "stored dedup entry in partition ", partition.value(), " of '", impl_->path, "' is ",
          lookup.values[i].size(), " bytes instead of 8; drop the partition and restore it"));
    }
    seen[i] = *expires_at > now_micros;
  }
  return seen;
}

namespace {

// Visits the timers of `partition` in due order, up to `before` (exclusive; nullopt: all of them),
// until `visit` returns false. One iterator: a consistent snapshot.
absl::Status ScanTimers(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* timers,
                        const std::string& path, Partition partition,
                        std::optional<std::uint64_t> before,
                        const std::function<bool(absl::Time, std::string_view)>& visit) {
  // The bound ends the scan at `before` or the partition's end, not after stepping over the
  // tombstones of whatever follows.
  const std::string upper = before.has_value() ? internal::TimerKey(partition, *before, {})
                                               : internal::PartitionEnd(partition);
  const rocksdb::Slice upper_slice = upper;
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(read, timers));
  for (it->Seek(internal::PartitionBegin(partition)); it->Valid(); it->Next()) {
    const std::optional<internal::TimerKeyParts> timer = internal::ParseTimerKey(View(it->key()));
    if (!timer.has_value()) {
      return absl::DataLossError(absl::StrCat(
          "state at '", path, "' holds a timer key of ", it->key().size(), " bytes in partition ",
          partition.value(), "; drop the partition and restore it"));
    }
    if (!visit(internal::DecodeTimerDue(timer->due_micros), timer->customer_id)) break;
  }
  if (!it->status().ok()) {
    return FromRocksDb(it->status(), absl::StrCat("cannot read timers of partition ",
                                                  partition.value(), " from '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Store::DueTimer>> Store::DueTimers(Partition partition, absl::Time now,
                                                              std::size_t limit) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  std::vector<DueTimer> due;
  // Every stored instant counts as 1970 or later, so nothing is due before then.
  if (limit == 0 || now < absl::UnixEpoch()) return due;
  // Due at or before `now`: below the microsecond after it (rounded down, as dues are rounded up).
  std::optional<std::uint64_t> before;
  if (now != absl::InfiniteFuture()) {
    before = static_cast<std::uint64_t>(absl::ToUnixMicros(now)) + 1;
  }
  absl::Status scanned = ScanTimers(*impl_->db, impl_->timers, impl_->path, partition, before,
                                    [&](absl::Time at, std::string_view customer_id) {
                                      due.push_back(DueTimer{at, std::string(customer_id)});
                                      return due.size() < limit;
                                    });
  if (!scanned.ok()) return scanned;
  return due;
}

absl::StatusOr<std::optional<absl::Time>> Store::NextTimer(Partition partition) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  std::optional<absl::Time> next;
  absl::Status scanned = ScanTimers(*impl_->db, impl_->timers, impl_->path, partition, std::nullopt,
                                    [&](absl::Time at, std::string_view) {
                                      next = at;
                                      return false;
                                    });
  if (!scanned.ok()) return scanned;
  return next;
}

void Store::Batch::Add(Kind kind, Partition partition, std::string key, std::string value) {
  if (partition.value() < 0) {
    if (!invalid_partition_.has_value()) invalid_partition_ = partition;
    return;
  }
  const Operation& operation =
      operations_.emplace_back(Operation{kind, std::move(key), std::move(value)});
  bytes_ += operation.key.size() + operation.value.size();
}

void Store::Batch::PutProfile(Partition partition, const v1::CustomerProfile& profile) {
  Add(Kind::kPutProfile, partition, internal::PartitionKey(partition, profile.customer_id()),
      profile.SerializeAsString());
}

void Store::Batch::PutSerializedProfile(Partition partition, std::string_view customer_id,
                                        std::string bytes) {
  Add(Kind::kPutProfile, partition, internal::PartitionKey(partition, customer_id),
      std::move(bytes));
}

void Store::Batch::DeleteProfile(Partition partition, std::string_view customer_id) {
  Add(Kind::kDeleteProfile, partition, internal::PartitionKey(partition, customer_id), {});
}

void Store::Batch::MarkSeen(Partition partition, std::string_view event_id, absl::Time expires_at) {
  Add(Kind::kMarkSeen, partition, internal::PartitionKey(partition, event_id),
      internal::EncodeInt64(absl::ToUnixMicros(expires_at)));
}

void Store::Batch::SetOffset(Partition partition, std::optional<Offset> next,
                             std::optional<absl::Time> event_time) {
  // Kafka offsets are never negative.
  std::string value = internal::EncodeInt64(next.has_value() ? next->value() : -1);
  if (event_time.has_value()) value += internal::EncodeInt64(absl::ToUnixMicros(*event_time));
  Add(Kind::kSetOffset, partition, internal::PartitionBegin(partition), std::move(value));
}

void Store::Batch::SetRepartitionOffset(Partition partition, Offset next) {
  Add(Kind::kSetOffset, partition, internal::RepartitionOffsetKey(partition),
      internal::EncodeInt64(next.value()));
}

void Store::Batch::SetTimer(Partition partition, std::string_view customer_id,
                            std::optional<absl::Time> previous, std::optional<absl::Time> next) {
  if (previous == next) return;
  if (previous.has_value()) {
    Add(Kind::kDeleteTimer, partition,
        internal::TimerKey(partition, internal::EncodeTimerDue(*previous), customer_id), {});
  }
  if (next.has_value()) {
    Add(Kind::kPutTimer, partition,
        internal::TimerKey(partition, internal::EncodeTimerDue(*next), customer_id), {});
  }
}

void Store::Batch::PutPartitionState(Partition partition, const v1::PartitionState& state) {
  Add(Kind::kPutPartitionState, partition, internal::PartitionBegin(partition),
      state.SerializeAsString());
}

void Store::Batch::MarkErased(Partition partition, std::string_view customer_id,
                              absl::Time erased_at) {
  PutErasure(partition, ErasureId(customer_id), erased_at);
  if (partition.value() >= 0) erased_.push_back(internal::PartitionKey(partition, customer_id));
}

void Store::Batch::PutErasure(Partition partition, std::string_view erasure_id,
                              absl::Time erased_at) {
  Add(Kind::kPutErasure, partition, internal::ErasureKey(partition, erasure_id),
      internal::EncodeInt64(absl::ToUnixMicros(erased_at)));
}

void Store::Batch::ForgetSeen(Partition partition, std::string_view event_id) {
  Add(Kind::kForgetSeen, partition, internal::PartitionKey(partition, event_id), {});
}

void Store::Batch::Clear() {
  operations_.clear();
  erased_.clear();
  bytes_ = 0;
  invalid_partition_.reset();
}

absl::Status Store::Commit(Batch& batch) { return Write(batch, impl_->write_options); }

absl::Status Store::CommitUnlogged(Partition partition, Batch& batch) {
  if (partition.value() < 0) return InvalidPartition(partition);
  const std::string prefix = internal::PartitionBegin(partition);
  for (const Batch::Operation& operation : batch.operations_) {
    if (!operation.key.starts_with(prefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("an unlogged commit for partition ", partition.value(),
                       " holds a change of another partition; its marker would not cover it"));
    }
  }
  if (!batch.erased_.empty()) {
    return absl::InvalidArgumentError(
        "an unlogged commit cannot erase customers: Scrub must find their deletions in the log");
  }
  // Shared: commits of any partitions go on together; PersistUnlogged removes markers alone.
  std::shared_lock committing(impl_->unlogged_commits);
  {
    std::lock_guard lock(impl_->unlogged_mutex);
    if (!impl_->unlogged.contains(partition)) {
      // Logged, and before the changes: a crash that loses them keeps it.
      const rocksdb::Status marked =
          impl_->db->Put(impl_->write_options, impl_->meta, internal::UnloggedKey(partition), "");
      if (!marked.ok()) {
        return FromRocksDb(marked, absl::StrCat("cannot mark partition ", partition.value(),
                                                " as written without the log in '", impl_->path,
                                                "'; nothing of the batch was applied"));
      }
      impl_->unlogged[partition] = 0;
    }
  }
  rocksdb::WriteOptions unlogged = impl_->write_options;
  unlogged.disableWAL = true;
  unlogged.sync = false;
  if (absl::Status written = Write(batch, unlogged); !written.ok()) return written;
  // At least this commit's sequence number: a flush that began before it may have missed it.
  const rocksdb::SequenceNumber written_through = impl_->db->GetLatestSequenceNumber();
  std::lock_guard lock(impl_->unlogged_mutex);
  impl_->unlogged[partition] = written_through;
  return absl::OkStatus();
}

absl::Status Store::PersistUnlogged() {
  std::lock_guard persisting(impl_->persisting);
  {
    std::lock_guard lock(impl_->unlogged_mutex);
    if (impl_->unlogged.empty()) return absl::OkStatus();
  }
  const rocksdb::SequenceNumber flushed_through = impl_->db->GetLatestSequenceNumber();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;
  const auto families = impl_->PartitionedFamilies();
  const rocksdb::Status flushed = impl_->db->Flush(
      flush, std::vector<rocksdb::ColumnFamilyHandle*>(families.begin(), families.end()));
  if (!flushed.ok()) {
    return FromRocksDb(flushed, absl::StrCat("cannot flush the changes written without the log "
                                             "to SST files in '",
                                             impl_->path, "'; they stay marked"));
  }
  std::unique_lock no_commits(impl_->unlogged_commits);
  std::lock_guard lock(impl_->unlogged_mutex);
  rocksdb::WriteBatch forget;
  std::vector<Partition> settled;
  for (const auto& [partition, written_through] : impl_->unlogged) {
    if (written_through > flushed_through) continue;
    const rocksdb::Status added = forget.Delete(impl_->meta, internal::UnloggedKey(partition));
    if (!added.ok()) return FromRocksDb(added, "cannot prepare removing unlogged markers");
    settled.push_back(partition);
  }
  if (settled.empty()) return absl::OkStatus();
  const rocksdb::Status written = impl_->db->Write(impl_->write_options, &forget);
  if (!written.ok()) {
    return FromRocksDb(written, absl::StrCat("cannot remove the markers of changes written "
                                             "without the log in '",
                                             impl_->path, "'; they stay marked"));
  }
  for (Partition partition : settled) impl_->unlogged.erase(partition);
  return absl::OkStatus();
}

absl::StatusOr<bool> Store::UnloggedPending(Partition partition) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  std::string ignored;
  const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), impl_->meta,
                                              internal::UnloggedKey(partition), &ignored);
  if (read.IsNotFound()) return false;
  if (!read.ok()) {
    return FromRocksDb(read, absl::StrCat("cannot read partition ", partition.value(),
                                          "'s markers in '", impl_->path, "'"));
  }
  return true;
}

Store::PreparedBatch::PreparedBatch(Batch& batch, std::unique_ptr<rocksdb::WriteBatch> write)
    : batch_(&batch), write_(std::move(write)) {}
Store::PreparedBatch::PreparedBatch(PreparedBatch&&) noexcept = default;
Store::PreparedBatch& Store::PreparedBatch::operator=(PreparedBatch&&) noexcept = default;
Store::PreparedBatch::~PreparedBatch() = default;

absl::Status Store::Commit(PreparedBatch& prepared) {
  return WritePrepared(prepared, impl_->write_options);
}

absl::Status Store::Write(Batch& batch, const rocksdb::WriteOptions& options) {
  absl::StatusOr<PreparedBatch> prepared = Prepare(batch);
  if (!prepared.ok()) return prepared.status();
  return WritePrepared(*prepared, options);
}

absl::StatusOr<Store::PreparedBatch> Store::Prepare(Batch& batch) const {
  if (batch.invalid_partition_.has_value()) {
    return InvalidPartition(*batch.invalid_partition_);
  }
  if (batch.operations_.empty()) return PreparedBatch(batch, nullptr);

  const auto family_of = [this](Batch::Kind kind) {
    switch (kind) {
      case Batch::Kind::kPutProfile:
      case Batch::Kind::kDeleteProfile:
        return impl_->profiles;
      case Batch::Kind::kMarkSeen:
      case Batch::Kind::kForgetSeen:
        return impl_->dedup;
      case Batch::Kind::kSetOffset:
        return impl_->offsets;
      case Batch::Kind::kPutTimer:
      case Batch::Kind::kDeleteTimer:
        return impl_->timers;
      case Batch::Kind::kPutPartitionState:
      case Batch::Kind::kPutErasure:
        return impl_->partition_state;
    }
    return impl_->partition_state;
  };
  // A memtable's skip list starts each insert from where the last one went, so keys written in
  // ascending order are found without a search from the top: a restore's writes took a third
  // less time. The sort is stable: operations on the same key keep their order.
  struct Ordered {
    rocksdb::ColumnFamilyHandle* family;
    std::uint32_t family_id;
    const Batch::Operation* operation;
  };
  std::vector<Ordered> ordered;
  ordered.reserve(batch.operations_.size());
  for (const Batch::Operation& operation : batch.operations_) {
    rocksdb::ColumnFamilyHandle* family = family_of(operation.kind);
    ordered.push_back({family, family->GetID(), &operation});
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const Ordered& a, const Ordered& b) {
    return a.family_id != b.family_id ? a.family_id < b.family_id
                                      : a.operation->key < b.operation->key;
  });

  // Per record: a tag byte, the family id and two length prefixes, a few bytes each.
  constexpr std::size_t kRecordOverhead = 16;
  auto write = std::make_unique<rocksdb::WriteBatch>(batch.bytes_ +
                                                     kRecordOverhead * batch.operations_.size());
  rocksdb::Status added;
  for (const auto& [family, family_id, operation] : ordered) {
    switch (operation->kind) {
      case Batch::Kind::kPutProfile:
      case Batch::Kind::kMarkSeen:
      case Batch::Kind::kSetOffset:
      case Batch::Kind::kPutTimer:
      case Batch::Kind::kPutPartitionState:
      case Batch::Kind::kPutErasure:
        added = write->Put(family, operation->key, operation->value);
        break;
      case Batch::Kind::kDeleteProfile:
      case Batch::Kind::kDeleteTimer:
      case Batch::Kind::kForgetSeen:
        added = write->Delete(family, operation->key);
        break;
    }
    if (!added.ok()) {
      return FromRocksDb(added, absl::StrCat("cannot prepare a state batch of ",
                                             batch.operations_.size(), " operations"));
    }
  }
  if (!batch.erased_.empty()) {
    added = write->Put(impl_->meta, internal::kScrubPendingKey, "1");
    if (!added.ok()) return FromRocksDb(added, "cannot prepare a state batch that erases");
  }
  return PreparedBatch(batch, std::move(write));
}

absl::Status Store::WritePrepared(PreparedBatch& prepared, const rocksdb::WriteOptions& options) {
  if (prepared.write_ == nullptr) return absl::OkStatus();
  Batch& batch = *prepared.batch_;
  std::unique_lock<std::mutex> erasing;
  if (!batch.erased_.empty()) erasing = std::unique_lock<std::mutex>(impl_->scrub_mutex);
  const rocksdb::Status written = impl_->db->Write(options, prepared.write_.get());
  if (!written.ok()) {
    return absl::Status(
        CodeOf(written),
        absl::StrCat("cannot commit ", batch.operations_.size(), " state operations to '",
                     impl_->path, "': ", written.ToString(),
                     ". None of them is visible, and after a storage error the store refuses "
                     "writes until it recovers (once the fault clears) or is reopened (the "
                     "failed batch is then either entirely there or entirely absent)"));
  }
  if (erasing.owns_lock()) {
    ++impl_->erasures_committed;
    const std::set<std::string_view> erased(batch.erased_.begin(), batch.erased_.end());
    for (const Batch::Operation& operation : batch.operations_) {
      switch (operation.kind) {
        // A profile put after the erasure (a newer event) still has the old one under it.
        case Batch::Kind::kPutProfile:
        case Batch::Kind::kDeleteProfile:
          if (erased.contains(operation.key)) {
            impl_->scrub_keys.emplace_back(impl_->profiles, operation.key);
          }
          break;
        case Batch::Kind::kDeleteTimer:
          if (erased.contains(internal::TimerCustomerKey(operation.key))) {
            impl_->scrub_keys.emplace_back(impl_->timers, operation.key);
          }
          break;
        case Batch::Kind::kForgetSeen:
          impl_->scrub_keys.emplace_back(impl_->dedup, operation.key);
          break;
        default:
          break;
      }
    }
  }
  batch.Clear();
  prepared.write_.reset();
  return absl::OkStatus();
}

absl::Status Store::Recover() {
  const rocksdb::Status resumed = impl_->db->Resume();
  if (resumed.ok()) return absl::OkStatus();
  // From a full disk RocksDB recovers by itself, once it sees room: Resume waits for that.
  if (resumed.IsBusy()) {
    return absl::UnavailableError(absl::StrCat("state at '", impl_->path,
                                               "' is still failing: RocksDB is recovering from "
                                               "its storage error by itself (",
                                               resumed.ToString(), ")"));
  }
  const absl::StatusCode code = CodeOf(resumed);
  // Worse than a hard error (a failed write of the write-ahead log), RocksDB does not resume.
  if (resumed.severity() <= rocksdb::Status::Severity::kHardError &&
      (code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kUnavailable)) {
    return FromRocksDb(resumed, absl::StrCat("state at '", impl_->path, "' is still failing"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "state at '", impl_->path, "' cannot recover from its storage error without a reopen (",
      resumed.ToString(), "): restart the service, which resumes from the stored offsets"));
}

void Store::AdvanceDedupHorizon(absl::Time horizon) { impl_->dedup_filter.Advance(horizon); }

absl::Status Store::ForEachProfile(
    std::optional<Partition> partition,
    const std::function<bool(Partition, const v1::CustomerProfile&)>& visit) const {
  v1::CustomerProfile profile;
  absl::Status parsed = absl::OkStatus();
  absl::Status scanned = ForEachSerializedProfile(
      partition, [&](Partition owner, std::string_view customer_id, std::string_view serialized) {
        parsed = ParseProfile(owner, customer_id, serialized, profile);
        return parsed.ok() && visit(owner, profile);
      });
  return scanned.ok() ? parsed : scanned;
}

absl::Status Store::ForEachSerializedProfile(
    std::optional<Partition> partition,
    const std::function<bool(Partition, std::string_view, std::string_view)>& visit) const {
  rocksdb::ReadOptions read;
  // A full scan would evict the blocks that point lookups need.
  read.fill_cache = false;
  std::string lower;
  std::string upper;
  rocksdb::Slice lower_slice;
  rocksdb::Slice upper_slice;
  if (partition.has_value()) {
    if (partition->value() < 0) return InvalidPartition(*partition);
    lower = internal::PartitionBegin(*partition);
    upper = internal::PartitionEnd(*partition);
    lower_slice = lower;
    upper_slice = upper;
    read.iterate_lower_bound = &lower_slice;
    read.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read, impl_->profiles));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = View(it->key());
    const std::optional<Partition> owner = internal::KeyPartition(key);
    if (!owner.has_value()) {
      return absl::DataLossError(absl::StrCat("state at '", impl_->path,
                                              "' holds a profile key of ", key.size(),
                                              " bytes without a valid partition prefix"));
    }
    if (!visit(*owner, internal::KeyId(key), View(it->value()))) return absl::OkStatus();
  }
  if (!it->status().ok()) {
    return FromRocksDb(it->status(), absl::StrCat("cannot scan profiles in '", impl_->path, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::PartitionState>> Store::ReadPartitionState(
    Partition partition) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  rocksdb::PinnableSlice value;
  const rocksdb::Status read = impl_->db->Get(rocksdb::ReadOptions(), impl_->partition_state,
                                              internal::PartitionBegin(partition), &value);
  if (read.IsNotFound()) return std::nullopt;
  if (!read.ok()) {
    return FromRocksDb(read, absl::StrCat("cannot read the state record of partition ",
                                          partition.value(), " from '", impl_->path, "'"));
  }
  v1::PartitionState state;
  if (!state.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(
        absl::StrCat("the state record of partition ", partition.value(), " in '", impl_->path,
                     "' is not a valid cdp.v1.PartitionState; drop the partition and restore it"));
  }
  return state;
}

struct Store::ProfileScan::State {
  Partition partition;
  // For error messages.
  std::string path;
  // The key of `after`, skipped: the scan starts past it.
  std::string after_key;
  std::string end;
  // The iterator's upper bound views `end`: both stay where they are while the scan moves.
  rocksdb::Slice end_slice;
  std::unique_ptr<rocksdb::Iterator> it;
  bool started = false;
};

Store::ProfileScan::ProfileScan(std::unique_ptr<State> state) : state_(std::move(state)) {}
Store::ProfileScan::ProfileScan(ProfileScan&&) noexcept = default;
Store::ProfileScan& Store::ProfileScan::operator=(ProfileScan&&) noexcept = default;
Store::ProfileScan::~ProfileScan() = default;

absl::StatusOr<std::vector<v1::CustomerProfile*>> Store::ProfileScan::Next(
    std::size_t limit, google::protobuf::Arena& arena) {
  State& state = *state_;
  std::vector<v1::CustomerProfile*> profiles;
  profiles.reserve(std::min<std::size_t>(limit, 4096));
  rocksdb::Iterator& it = *state.it;
  if (!state.started) {
    state.started = true;
    it.Seek(state.after_key);
    if (it.Valid() && View(it.key()) == state.after_key) it.Next();
  }
  for (; it.Valid() && profiles.size() < limit; it.Next()) {
    absl::Status parsed =
        ParseProfile(state.partition, internal::KeyId(View(it.key())), View(it.value()),
                     *profiles.emplace_back(
                         google::protobuf::Arena::CreateMessage<v1::CustomerProfile>(&arena)));
    if (!parsed.ok()) return parsed;
  }
  if (!it.status().ok()) {
    return FromRocksDb(it.status(),
                       absl::StrCat("cannot scan profiles of partition ", state.partition.value(),
                                    " in '", state.path, "'"));
  }
  return profiles;
}

absl::StatusOr<Store::ProfileScan> Store::ScanProfiles(Partition partition,
                                                       std::string_view after) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  auto state = std::make_unique<ProfileScan::State>();
  state->partition = partition;
  state->path = impl_->path;
  state->after_key = internal::PartitionKey(partition, after);
  state->end = internal::PartitionEnd(partition);
  state->end_slice = state->end;
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &state->end_slice;
  // A sweep over the partition would evict the blocks that point lookups need.
  read.fill_cache = false;
  state->it.reset(impl_->db->NewIterator(read, impl_->profiles));
  return ProfileScan(std::move(state));
}

absl::StatusOr<std::vector<Partition>> Store::StoredPartitions() const {
  std::set<Partition> partitions;
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  for (rocksdb::ColumnFamilyHandle* family : impl_->PartitionedFamilies()) {
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(read, family));
    it->SeekToFirst();
    while (it->Valid()) {
      const std::optional<Partition> owner = internal::KeyPartition(View(it->key()));
      if (!owner.has_value()) {
        return absl::DataLossError(absl::StrCat("state at '", impl_->path, "' holds a ",
                                                family->GetName(),
                                                " key without a valid partition prefix"));
      }
      partitions.insert(*owner);
      // One seek per partition, not one step per key.
      it->Seek(internal::PartitionEnd(*owner));
    }
    if (!it->status().ok()) {
      return FromRocksDb(it->status(),
                         absl::StrCat("cannot list partitions in '", impl_->path, "'"));
    }
  }
  return std::vector<Partition>(partitions.begin(), partitions.end());
}

absl::Status Store::DropPartition(Partition partition) {
  if (partition.value() < 0) return InvalidPartition(partition);
  // A partition that holds nothing, not even a marker, is left as it is: the drop would wait for
  // every unlogged commit in flight (below), and a new owner's restore drops each of its
  // partitions first. A marker in this run is also in the database.
  absl::StatusOr<bool> marked = UnloggedPending(partition);
  if (!marked.ok()) return marked.status();
  if (!*marked) {
    absl::StatusOr<bool> empty = impl_->PartitionEmpty(partition);
    if (!empty.ok()) return empty.status();
    if (*empty) return absl::OkStatus();
  }
  const std::string begin = internal::PartitionBegin(partition);
  const std::string end = internal::PartitionEnd(partition);
  rocksdb::WriteBatch write;
  for (rocksdb::ColumnFamilyHandle* family : impl_->PartitionedFamilies()) {
    const rocksdb::Status added = write.DeleteRange(family, begin, end);
    if (!added.ok()) {
      return FromRocksDb(added,
                         absl::StrCat("cannot prepare dropping partition ", partition.value()));
    }
  }
  // What its marker stood for goes too.
  if (const rocksdb::Status added = write.Delete(impl_->meta, internal::UnloggedKey(partition));
      !added.ok()) {
    return FromRocksDb(added,
                       absl::StrCat("cannot prepare dropping partition ", partition.value()));
  }
  std::unique_lock no_commits(impl_->unlogged_commits);
  std::lock_guard lock(impl_->unlogged_mutex);
  const rocksdb::Status written = impl_->db->Write(impl_->write_options, &write);
  if (!written.ok()) {
    return FromRocksDb(written, absl::StrCat("cannot drop partition ", partition.value(), " from '",
                                             impl_->path, "'; nothing was removed"));
  }
  impl_->unlogged.erase(partition);
  return absl::OkStatus();
}

absl::Status Store::Compact() {
  for (rocksdb::ColumnFamilyHandle* family : impl_->PartitionedFamilies()) {
    const rocksdb::Status compacted =
        impl_->db->CompactRange(rocksdb::CompactRangeOptions(), family, nullptr, nullptr);
    if (!compacted.ok()) {
      return FromRocksDb(
          compacted, absl::StrCat("cannot compact ", family->GetName(), " in '", impl_->path, "'"));
    }
  }
  return absl::OkStatus();
}

std::string Store::ErasureId(std::string_view customer_id) {
  return absl::StrCat(ToAbsl(kErasureIdPrefix), StableHashHex128(customer_id));
}

absl::StatusOr<std::vector<std::optional<absl::Time>>> Store::ReadErasures(
    Partition partition, std::span<const std::string_view> customer_ids) const {
  if (partition.value() < 0) return InvalidPartition(partition);
  std::vector<std::string> erasure_ids;
  erasure_ids.reserve(customer_ids.size());
  for (std::string_view id : customer_ids) erasure_ids.push_back(ErasureId(id));
  const std::vector<std::string_view> views(erasure_ids.begin(), erasure_ids.end());
  const Impl::Lookup lookup = impl_->MultiGet(impl_->partition_state, partition, views);
  std::vector<std::optional<absl::Time>> erased(customer_ids.size());
  for (std::size_t i = 0; i < erased.size(); ++i) {
    if (lookup.statuses[i].IsNotFound()) continue;
    if (!lookup.statuses[i].ok()) {
      return FromRocksDb(lookup.statuses[i],
                         absl::StrCat("cannot read erasure markers of partition ",
                                      partition.value(), " from '", impl_->path, "'"));
    }
    const std::optional<std::int64_t> micros = internal::DecodeInt64(View(lookup.values[i]));
    if (!micros.has_value()) {
      return absl::DataLossError(absl::StrCat("an erasure marker of partition ", partition.value(),
                                              " in '", impl_->path,
                                              "' is not 8 bytes; drop the partition and restore "
                                              "it from the changelog"));
    }
    erased[i] = absl::FromUnixMicros(*micros);
  }
  return erased;
}

absl::Status Store::Scrub() {
  std::vector<std::pair<rocksdb::ColumnFamilyHandle*, std::string>> keys;
  bool everything = false;
  std::uint64_t erasures_seen = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->scrub_mutex);
    keys.swap(impl_->scrub_keys);
    everything = impl_->scrub_everything;
    erasures_seen = impl_->erasures_committed;
  }
  if (keys.empty() && !everything) return absl::OkStatus();
  // Put back on failure, so that the next Scrub tries them again.
  auto fail = [&](const rocksdb::Status& status, std::string_view doing) {
    std::lock_guard<std::mutex> lock(impl_->scrub_mutex);
    impl_->scrub_keys.insert(impl_->scrub_keys.end(), keys.begin(), keys.end());
    return FromRocksDb(status, absl::StrCat("cannot wipe erased customers from '", impl_->path,
                                            "' (", ToAbsl(doing), ")"));
  };
  // Every family, so that no write-ahead log file is still needed by one of them.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  if (const rocksdb::Status flushed = impl_->db->Flush(flush, impl_->handles); !flushed.ok()) {
    return fail(flushed, "flushing");
  }
  rocksdb::CompactRangeOptions compact;
  // Files already in the last level still hold what the deletion covers until rewritten.
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  if (everything) {
    for (rocksdb::ColumnFamilyHandle* family : {impl_->profiles, impl_->timers, impl_->dedup}) {
      if (const rocksdb::Status done = impl_->db->CompactRange(compact, family, nullptr, nullptr);
          !done.ok()) {
        return fail(done, "compacting");
      }
    }
  } else {
    for (const auto& [family, key] : keys) {
      const rocksdb::Slice slice(key);
      if (const rocksdb::Status done = impl_->db->CompactRange(compact, family, &slice, &slice);
          !done.ok()) {
        return fail(done, "compacting");
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(impl_->scrub_mutex);
    if (impl_->erasures_committed != erasures_seen) return absl::OkStatus();
    const rocksdb::Status cleared =
        impl_->db->Delete(impl_->write_options, impl_->meta, internal::kScrubPendingKey);
    if (!cleared.ok()) {
      return FromRocksDb(cleared, absl::StrCat("cannot record in '", impl_->path,
                                               "' that erased customers were wiped"));
    }
    impl_->scrub_everything = false;
  }
  // The compactions' own manifest began with the files they replaced; one more change starts a
  // manifest that lists only their outputs (see max_manifest_file_size).
  if (const rocksdb::Status flushed = impl_->db->Flush(flush, impl_->meta); !flushed.ok()) {
    return FromRocksDb(
        flushed, absl::StrCat("cannot wipe erased customers from '", impl_->path, "' (flushing)"));
  }
  return absl::OkStatus();
}

bool Store::ScrubPending() const {
  std::lock_guard<std::mutex> lock(impl_->scrub_mutex);
  return impl_->scrub_everything || !impl_->scrub_keys.empty();
}

absl::StatusOr<Store::Stats> Store::GetStats() const {
  rocksdb::DB& db = *impl_->db;
  absl::Status missing;
  auto family_property = [&](rocksdb::ColumnFamilyHandle* family, const std::string& name) {
    std::uint64_t value = 0;
    if (!db.GetIntProperty(family, name, &value) && missing.ok()) {
      missing = absl::InternalError(absl::StrCat("RocksDB did not report ", name, " of ",
                                                 family->GetName(), " in '", impl_->path, "'"));
    }
    return value;
  };
  auto total_property = [&](const std::string& name) {
    std::uint64_t value = 0;
    if (!db.GetAggregatedIntProperty(name, &value) && missing.ok()) {
      missing = absl::InternalError(
          absl::StrCat("RocksDB did not report ", name, " of '", impl_->path, "'"));
    }
    return value;
  };

  Stats stats;
  stats.estimated_profiles =
      family_property(impl_->profiles, rocksdb::DB::Properties::kEstimateNumKeys);
  stats.estimated_dedup_entries =
      family_property(impl_->dedup, rocksdb::DB::Properties::kEstimateNumKeys);
  stats.estimated_timers =
      family_property(impl_->timers, rocksdb::DB::Properties::kEstimateNumKeys);
  stats.live_data_bytes = total_property(rocksdb::DB::Properties::kEstimateLiveDataSize);
  stats.sst_files_bytes = total_property(rocksdb::DB::Properties::kTotalSstFilesSize);
  stats.pending_compaction_bytes =
      total_property(rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
  stats.memtable_bytes = total_property(rocksdb::DB::Properties::kCurSizeAllMemTables);
  stats.write_stopped = family_property(impl_->meta, rocksdb::DB::Properties::kIsWriteStopped) != 0;
  if (!missing.ok()) return missing;
  stats.block_cache_usage_bytes = impl_->block_cache->GetUsage();
  stats.block_cache_hits = impl_->statistics->getTickerCount(rocksdb::BLOCK_CACHE_HIT);
  stats.block_cache_misses = impl_->statistics->getTickerCount(rocksdb::BLOCK_CACHE_MISS);
  stats.write_stall_time = absl::Microseconds(
      static_cast<std::int64_t>(impl_->statistics->getTickerCount(rocksdb::STALL_MICROS)));
  return stats;
}

}  // namespace cdp::state
