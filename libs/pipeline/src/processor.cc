#include "cdp/pipeline/processor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"
#include "cdp/core/population.h"
#include "cdp/pipeline/internal/applied_log.h"
#include "cdp/pipeline/internal/partition_counts.h"
#include "cdp/pipeline/internal/profile_cache.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/time_util.h"

namespace cdp::pipeline {
namespace {

using google::protobuf::util::TimeUtil;

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// State is per partition, so the same customer id arriving on two partitions is two profiles.
std::string WorkingKey(Partition partition, std::string_view customer_id) {
  std::string key(reinterpret_cast<const char*>(&partition), sizeof(Partition));
  key.append(customer_id);
  return key;
}

Headers SourceHeaders(const SourceRecord& source) {
  return {{std::string(kDlqTopicHeader), std::string(source.topic)},
          {std::string(kDlqPartitionHeader), absl::StrCat(source.partition.value())},
          {std::string(kDlqOffsetHeader), absl::StrCat(source.offset.value())}};
}

// `consumed_from`: the topic the record was read from.
OutputRecord DeadLetter(const InputRecord& record, const core::Rejection& rejection,
                        std::string_view consumed_from) {
  // An erased customer's event would put back what the erasure removed: only where it was stays.
  const bool withheld = rejection.reason == core::RejectReason::kErased;
  OutputRecord out{
      OutputRecord::Kind::kDeadLetter,
      withheld ? std::string() : std::string(record.key.value_or("")),
      withheld ? std::string() : std::string(record.value.value_or("")),
      {{std::string(kDlqReasonHeader), std::string(core::ReasonName(rejection.reason))},
       {std::string(kDlqDetailHeader), rejection.detail}}};
  for (Header& header : SourceHeaders(
           record.origin.value_or(SourceRecord{consumed_from, record.partition, record.offset}))) {
    out.headers.push_back(std::move(header));
  }
  return out;
}

// The record as it came, keyed by its customer, for the customer's partition. Consumed from there
// it decodes as it did here: its value and content type are unchanged.
// `passed_on_after`: the offset of the record passed on to `home` before it, -1 for none.
OutputRecord Repartitioned(const InputRecord& record, std::string_view customer_id, Partition home,
                           std::string_view input_topic, absl::Time source_clock,
                           std::int64_t passed_on_after) {
  OutputRecord out{OutputRecord::Kind::kRepartition, std::string(customer_id),
                   std::string(record.value.value_or("")),
                   SourceHeaders(SourceRecord{input_topic, record.partition, record.offset}), home};
  out.headers.push_back(
      {std::string(kSourceClockHeader), absl::StrCat(absl::ToUnixMicros(source_clock))});
  out.headers.push_back({std::string(kSourcePreviousHeader), absl::StrCat(passed_on_after)});
  if (!record.content_type.empty()) {
    out.headers.push_back({"content-type", std::string(record.content_type)});
  }
  return out;
}

struct Accepted {
  const InputRecord* record;
  const v1::CustomerEvent& event;
};

// Whether the event's dedup entry goes to the store as well as to its profile's applied_events
// (see Stage).
bool StoreDedupEntry(const Accepted& item) {
  return item.event.has_erasure() || item.record->source == InputSource::kRepartition;
}

// A change's index in LaneBatch::change_cause when no input record caused it (a timer).
constexpr std::size_t kNoCause = static_cast<std::size_t>(-1);

// Stored profiles are read for re-evaluation this many at a time, each slice evaluated as soon as
// it is parsed: what a slice parses is still in the core's cache when it is evaluated, where a
// whole round's chunk of thousands would have been evicted to slower memory in between.
constexpr std::size_t kReevaluationSlice = 256;

// The arena a slice of stored profiles read for re-evaluation is parsed into. Memory freed and
// allocated again for every slice would be faulted in again page by page, and would not stay in
// cache: so the arena's first block is `block`, kept from slice to slice and grown to what the
// last one needed.
class SliceArena {
 public:
  explicit SliceArena(std::vector<char>& block) : block_(block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block.empty() ? nullptr : block.data();
    options.initial_block_size = block.size();
    options.start_block_size = 64 << 10;
    options.max_block_size = 4 << 20;
    arena_.emplace(options);
  }
  SliceArena(const SliceArena&) = delete;
  SliceArena& operator=(const SliceArena&) = delete;
  ~SliceArena() {
    const auto used = static_cast<std::size_t>(arena_->SpaceAllocated());
    // The block may change only once the arena that uses it is gone.
    arena_.reset();
    if (used > block_.size()) block_ = std::vector<char>(std::min(used, kMaxBlock));
  }

  google::protobuf::Arena& get() { return *arena_; }

 private:
  static constexpr std::size_t kMaxBlock = 64 << 20;
  std::vector<char>& block_;
  std::optional<google::protobuf::Arena> arena_;
};

using internal::MemberKey;

std::vector<rules::DefinitionDigest> RecordedDigests(const v1::PartitionState& state) {
  std::vector<rules::DefinitionDigest> digests;
  digests.reserve(state.definitions_size());
  for (const v1::PartitionState::Definition& definition : state.definitions()) {
    digests.push_back(rules::DefinitionDigest{
        .kind = definition.dimension() ? rules::RuleKind::kDimension : rules::RuleKind::kSegment,
        .id = definition.id(),
        .digest = definition.digest(),
        .defines = {},
        .references = {}});
  }
  return digests;
}

bool SameDefinitions(const v1::PartitionState& state,
                     const std::vector<rules::DefinitionDigest>& digests) {
  if (static_cast<std::size_t>(state.definitions_size()) != digests.size()) return false;
  for (std::size_t i = 0; i < digests.size(); ++i) {
    const v1::PartitionState::Definition& recorded = state.definitions(static_cast<int>(i));
    if (recorded.id() != digests[i].id || recorded.digest() != digests[i].digest ||
        recorded.dimension() != (digests[i].kind == rules::RuleKind::kDimension)) {
      return false;
    }
  }
  return true;
}

void RecordDefinitions(const std::vector<rules::DefinitionDigest>& digests,
                       v1::PartitionState& state) {
  state.clear_definitions();
  for (const rules::DefinitionDigest& digest : digests) {
    v1::PartitionState::Definition& definition = *state.add_definitions();
    definition.set_id(digest.id);
    definition.set_dimension(digest.kind == rules::RuleKind::kDimension);
    definition.set_digest(digest.digest);
  }
}

// Adds `changed` to what the partition has to re-evaluate, found at `now`; a re-evaluation under
// way starts over, since the profiles it already did predate this change.
void MarkForReevaluation(std::vector<rules::RuleRef> changed, absl::Time now,
                         v1::PartitionState& state) {
  std::set<rules::RuleRef> pending;
  for (const std::string& id : state.reevaluate_segments()) {
    pending.insert(rules::RuleRef{rules::RuleKind::kSegment, id});
  }
  for (const std::string& id : state.reevaluate_dimensions()) {
    pending.insert(rules::RuleRef{rules::RuleKind::kDimension, id});
  }
  for (rules::RuleRef& ref : changed) pending.insert(std::move(ref));
  state.clear_reevaluate_segments();
  state.clear_reevaluate_dimensions();
  for (const rules::RuleRef& ref : pending) {
    if (ref.kind == rules::RuleKind::kSegment) {
      state.add_reevaluate_segments(ref.id);
    } else {
      state.add_reevaluate_dimensions(ref.id);
    }
  }
  state.clear_reevaluated_through();
  *state.mutable_definitions_changed_at() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
}

// Brings a partition's record to the `current` definitions, found changed at `now`: whatever
// changed joins what is still to be re-evaluated. Returns whether the record changed.
bool Reconcile(const std::vector<rules::DefinitionDigest>& current, absl::Time now,
               v1::PartitionState& state) {
  if (SameDefinitions(state, current)) return false;
  MarkForReevaluation(rules::ChangedDefinitions(RecordedDigests(state), current), now, state);
  RecordDefinitions(current, state);
  return true;
}

bool Reevaluating(const v1::PartitionState& state) {
  return !state.reevaluate_segments().empty() || !state.reevaluate_dimensions().empty();
}

// The state record with its population, which the processor keeps apart, written without
// copying the population.
void PutPartitionState(Partition partition, v1::PartitionState& state,
                       v1::RfmPopulation& population, state::Store::Batch& batch) {
  state.unsafe_arena_set_allocated_rfm_population(&population);
  batch.PutPartitionState(partition, state);
  // Handed back: `population` stays its owner's.
  static_cast<void>(state.unsafe_arena_release_rfm_population());
}

constexpr rules::FieldId kRfmFields[] = {rules::FieldId::kRfmR, rules::FieldId::kRfmF,
                                         rules::FieldId::kRfmM};

bool ScoresByQuintiles(const core::Engine& engine) {
  return engine.catalogue().rfm_scoring == rules::RfmScoring::kQuintiles;
}

std::vector<rules::RuleRef> RfmReaders(const core::Engine& engine) {
  if (!ScoresByQuintiles(engine)) return {};
  return rules::DefinitionsReading(engine.catalogue(), kRfmFields);
}

std::vector<rules::RuleRef> ToReevaluate(const v1::PartitionState& state) {
  std::vector<rules::RuleRef> refs;
  for (const std::string& id : state.reevaluate_segments()) {
    refs.push_back(rules::RuleRef{rules::RuleKind::kSegment, id});
  }
  for (const std::string& id : state.reevaluate_dimensions()) {
    refs.push_back(rules::RuleRef{rules::RuleKind::kDimension, id});
  }
  return refs;
}

constexpr std::string_view kStorageFaultPayload = "type.cdp/storage-fault";

// The store's code is kept: a fault of the storage (full, failing) is worth a retry once the
// store recovers; the payload tells it from a failed delivery.
absl::Status StateCommitFailed(const absl::Status& committed, std::string_view doing) {
  absl::Status failed(committed.code(), absl::StrCat(ToAbsl(doing), ": ", committed.message()));
  if (absl::IsResourceExhausted(committed) || absl::IsUnavailable(committed)) {
    failed.SetPayload(ToAbsl(kStorageFaultPayload), absl::Cord());
  }
  return failed;
}

}  // namespace

struct Processor::WorkingProfile {
  Partition partition;
  std::string customer_id;
  // Its applied events are those left in profile.applied_events and those in `applied`: one read
  // from the store keeps them in the message until its first event (AppliedBefore).
  v1::CustomerProfile profile;
  internal::AppliedLog applied;
  bool loaded = false;
  bool erased = false;
  // The timer as stored, whose index entry Commit moves.
  std::optional<absl::Time> stored_due;
  // With the changelog: the profile's bytes as sent there (SerializeProfiles), which Commit
  // stores.
  std::string serialized;
  // The customer's latest erasure: events that occurred before it are refused.
  std::optional<absl::Time> erased_at;
  // An erasure applied in this batch: Commit records erased_at and forgets these dedup entries.
  bool erasure_applied = false;
  std::vector<std::string> forget_event_ids;

  // Whether the event is among the profile's applied events with a window that ends after `now`.
  bool AppliedBefore(std::string_view event_id, absl::Time now) {
    applied.TakeFrom(profile);
    return applied.Contains(event_id, absl::ToUnixMicros(now));
  }

  // Adds the event to the profile's applied events, dropping those whose window ended by `now`.
  void RememberApplied(std::string_view event_id, absl::Time now, absl::Time expires_at) {
    applied.TakeFrom(profile);
    applied.Add(event_id, absl::ToUnixMicros(expires_at), absl::ToUnixMicros(now));
  }

  // The profile's bytes, with all its applied events.
  [[nodiscard]] std::string Serialize() const {
    std::string bytes = profile.SerializeAsString();
    applied.AppendTo(bytes);
    return bytes;
  }

  // False while every event for it was refused: nothing to write.
  bool dirty = true;
};

// A partition's state record as committed.
struct Processor::PartitionRecord {
  // Without rfm_population, kept apart below: batches copy the state record when they change it,
  // and the population is the one part every purchase changes and the largest.
  v1::PartitionState state;
  v1::RfmPopulation population;
  // The next offsets as committed, for the partition's changelog checkpoints.
  std::optional<Offset> next_offset;
  std::optional<Offset> repartition_next_offset;
};

struct Processor::Lane {
  explicit Lane(std::size_t cache_capacity) : cache(cache_capacity) {}

  internal::ProfileCache cache;
  // Event-time mode: the latest occurred_at applied per partition.
  std::unordered_map<Partition, absl::Time> watermarks;
  // The lane's partitions this instance owns, whose timers it fires.
  std::set<Partition> owned;
  // State records of the partitions the lane has seen since they were last released.
  std::map<Partition, PartitionRecord> partitions;
  // Changelog checkpoint tokens: random, so that two owners' histories never share one.
  std::mt19937_64 tokens{std::random_device{}()};
  // The first block of the arena each slice of a re-evaluation is parsed into (SliceArena);
  // released when a re-evaluation of definitions ends, kept between event-time rfm refreshes.
  std::vector<char> slice_block;
};

// One lane's share of a batch, from its records to its state batch.
struct Processor::LaneBatch {
  [[nodiscard]] bool busy() const {
    return !records.empty() || !due.empty() || !reevaluate.empty() || !next_states.empty();
  }
  // How much it holds, to hand the heaviest lanes to threads first.
  [[nodiscard]] std::size_t load() const { return records.size() + due.size(); }

  // Send, unless an earlier Send of the batch failed: the batch commits nothing then anyway.
  void Send(OutputSink& sink, OutputRecord record) {
    if (!delivery.ok()) return;
    delivery = sink.Send(std::move(record));
    ++sent;
  }

  std::vector<const InputRecord*> records;
  // Or, for a round of timers, the timers due.
  std::vector<std::pair<Partition, state::Store::DueTimer>> due;
  // Index entries that named another due time than their profile's timer; Commit removes them.
  std::vector<std::pair<Partition, state::Store::DueTimer>> stale_timers;
  std::size_t timers_fired = 0;
  // Customers erased by the batch.
  std::size_t erasures = 0;
  // Or, for a round of re-evaluation after a definition change, the partitions to go on with.
  std::vector<Partition> reevaluate;
  std::size_t reevaluated = 0;
  // The batch's copies of the state records it changes (member counts, re-evaluation progress,
  // rfm quintiles).
  std::map<Partition, v1::PartitionState> next_states;
  // How the batch moves customers in each partition's rfm population, in order; Commit applies
  // them to the population in place.
  std::map<Partition,
           std::vector<std::pair<std::optional<core::RfmSample>, std::optional<core::RfmSample>>>>
      sample_moves;
  // Once committed: how the member counts moved, for the gauges.
  std::map<std::string, std::int64_t> member_deltas;
  // The lane's events live in one arena: decoding allocates less and freeing them is one step.
  google::protobuf::Arena arena;
  std::vector<Accepted> accepted;
  std::unordered_map<std::string, WorkingProfile> working;
  std::vector<v1::SegmentChange> changes;
  // For the latency metrics: the index in `accepted` of each change's cause, or kNoCause.
  std::vector<std::size_t> change_cause;
  std::map<Partition, Offset> next_offsets;
  std::map<Partition, Offset> repartition_next_offsets;
  // Event-time "now" before this batch; restored if the batch fails.
  std::unordered_map<Partition, absl::Time> watermarks_before;
  state::Store::Batch state_batch;
  // PrepareCommit has run: the populations have moved, and state_batch is prepared for the store
  // (prepared_write) or could not be (prepare_status).
  [[nodiscard]] bool prepared() const { return prepared_write.has_value() || !prepare_status.ok(); }
  std::optional<state::Store::PreparedBatch> prepared_write;
  absl::Status prepare_status;
  std::size_t sent = 0;
  std::size_t changelog_sent = 0;
  // The first failed Send: nothing of the batch may be committed then.
  absl::Status delivery;
  absl::Status status;
  // Once committed: its changes per counter and their latencies, for the metrics.
  PipelineMetrics::ChangeTally change_tally;
  PipelineMetrics::LatencyTally latencies;
};

Processor::Processor(std::shared_ptr<const core::Engine> engine, state::Store& store,
                     OutputSink& sink, WallClock wall_clock, ProcessorOptions options,
                     PipelineMetrics* metrics)
    : engine_(std::move(engine)),
      store_(store),
      sink_(sink),
      wall_clock_(std::move(wall_clock)),
      options_(std::move(options)),
      metrics_(metrics) {
  digests_ = rules::DefinitionDigests(engine_->catalogue());
  rfm_readers_ = RfmReaders(*engine_);
  const std::size_t lanes = std::max<std::size_t>(options_.lanes, 1);
  // Rounded up, so a small positive capacity still caches something in every lane.
  const std::size_t per_lane = (options_.cache_capacity + lanes - 1) / lanes;
  for (std::size_t i = 0; i < lanes; ++i) lanes_.push_back(std::make_unique<Lane>(per_lane));
}

Processor::~Processor() = default;

std::size_t Processor::LaneIndex(Partition partition) const {
  // Kafka partitions are never negative; the store rejects one that is.
  const auto index = static_cast<std::size_t>(std::max<std::int32_t>(partition.value(), 0));
  return index % lanes_.size();
}

Processor::Lane& Processor::LaneOf(Partition partition) { return *lanes_[LaneIndex(partition)]; }

absl::StatusOr<Processor::ResumePoint> Processor::ResumeOffset(Partition partition) {
  LaneOf(partition).owned.insert(partition);
  if (options_.clock == ClockMode::kEventTime) {
    // Resume with the clock the partition had, so a restart changes nothing that follows.
    auto event_time = store_.ReadEventTime(partition);
    if (!event_time.ok()) return event_time.status();
    if (event_time->has_value()) LaneOf(partition).watermarks[partition] = **event_time;
  }
  // Now rather than with the first batch: a re-evaluation the state records goes on at once.
  if (absl::Status loaded = LoadPartition(LaneOf(partition), partition); !loaded.ok()) {
    return loaded;
  }
  if (metrics_ != nullptr) metrics_->SetPartitionsToReevaluate(PartitionsToReevaluate());
  const PartitionRecord& record = LaneOf(partition).partitions.at(partition);
  return ResumePoint{record.next_offset, record.repartition_next_offset};
}

void Processor::Release(Partition partition) {
  Lane& lane = LaneOf(partition);
  if (auto record = lane.partitions.find(partition); record != lane.partitions.end()) {
    if (metrics_ != nullptr) {
      for (const auto& [key, members] : record->second.state.members()) {
        metrics_->AddMembers(key, -members);
      }
    }
    lane.partitions.erase(record);
  }
  lane.cache.ErasePartition(partition);
  lane.watermarks.erase(partition);
  lane.owned.erase(partition);
}

absl::Time Processor::NowOf(const Lane& lane, Partition partition, absl::Time wall) const {
  if (options_.clock == ClockMode::kWall) return wall;
  const auto it = lane.watermarks.find(partition);
  return it == lane.watermarks.end() ? wall : it->second;
}

absl::Status Processor::SetEngine(std::shared_ptr<const core::Engine> engine) {
  std::vector<rules::DefinitionDigest> digests = rules::DefinitionDigests(engine->catalogue());
  // Recorded before anything is evaluated with the new definitions, so that what a later crash
  // leaves is either the old definitions or the new ones with all there is to re-evaluate.
  const absl::Time wall = wall_clock_();
  state::Store::Batch batch;
  std::vector<std::pair<PartitionRecord*, v1::PartitionState>> changed;
  for (const auto& lane : lanes_) {
    for (auto& [partition, record] : lane->partitions) {
      v1::PartitionState next = record.state;
      if (Reconcile(digests, NowOf(*lane, partition, wall), next)) {
        PutPartitionState(partition, next, record.population, batch);
        changed.emplace_back(&record, std::move(next));
      }
    }
  }
  if (absl::Status committed = store_.Commit(batch); !committed.ok()) {
    return StateCommitFailed(committed, "recording the new segment definitions");
  }
  for (auto& [record, next] : changed) record->state = std::move(next);
  engine_ = std::move(engine);
  digests_ = std::move(digests);
  rfm_readers_ = RfmReaders(*engine_);
  if (metrics_ != nullptr) {
    metrics_->AddCatalogue(engine_->catalogue());
    metrics_->SetPartitionsToReevaluate(PartitionsToReevaluate());
  }
  return absl::OkStatus();
}

std::size_t Processor::PartitionsToReevaluate() const {
  std::size_t partitions = 0;
  for (const auto& lane : lanes_) {
    for (const auto& [partition, record] : lane->partitions) {
      if (Reevaluating(record.state)) ++partitions;
    }
  }
  return partitions;
}

absl::Status Processor::LoadPartition(Lane& lane, Partition partition) {
  if (lane.partitions.contains(partition)) return absl::OkStatus();
  auto stored = store_.ReadPartitionState(partition);
  if (!stored.ok()) return stored.status();
  PartitionRecord record;
  auto next_offset = store_.ReadOffset(partition);
  if (!next_offset.ok()) return next_offset.status();
  record.next_offset = *next_offset;
  auto repartition_next_offset = store_.ReadRepartitionOffset(partition);
  if (!repartition_next_offset.ok()) return repartition_next_offset.status();
  record.repartition_next_offset = *repartition_next_offset;
  bool write = false;
  if (stored->has_value()) record.state = std::move(**stored);
  const bool count_members = !stored->has_value();
  const bool count_population = !record.state.has_rfm_population();
  if (count_population) {
    record.state.clear_rfm_population();
  } else {
    record.population = std::move(*record.state.mutable_rfm_population());
    record.state.clear_rfm_population();
  }
  if (count_members || count_population) {
    // A new partition, or state written before the store kept member counts (or the rfm
    // population): count what its profiles hold, once. Member counts taken so follow the running
    // definitions, as the profiles did then.
    internal::MemberTally members;
    absl::Status counted = internal::ForEachProfileDigest(
        store_, partition, [&](std::string_view, const internal::ProfileDigest& digest) {
          if (count_members) members.Add(digest);
          if (count_population) core::UpdatePopulation(std::nullopt, digest.rfm, record.population);
          return true;
        });
    if (!counted.ok()) return counted;
    members.AddTo(*record.state.mutable_members());
    if (count_members) RecordDefinitions(digests_, record.state);
    write = true;
  }
  if (Reconcile(digests_, NowOf(lane, partition, wall_clock_()), record.state)) write = true;
  if (write) {
    state::Store::Batch batch;
    PutPartitionState(partition, record.state, record.population, batch);
    if (absl::Status committed = store_.Commit(batch); !committed.ok()) {
      return StateCommitFailed(
          committed, absl::StrCat("recording the state of partition ", partition.value()));
    }
  }
  if (metrics_ != nullptr) {
    for (const auto& [key, members] : record.state.members()) metrics_->AddMembers(key, members);
  }
  lane.partitions.emplace(partition, std::move(record));
  return absl::OkStatus();
}

absl::Status Processor::LoadPartitions(std::span<LaneBatch> work) {
  for (std::size_t i = 0; i < work.size(); ++i) {
    std::set<Partition> touched;
    for (const InputRecord* record : work[i].records) touched.insert(record->partition);
    for (const auto& [partition, timer] : work[i].due) touched.insert(partition);
    for (Partition partition : touched) {
      if (absl::Status loaded = LoadPartition(*lanes_[i], partition); !loaded.ok()) {
        return loaded;
      }
    }
  }
  if (metrics_ != nullptr) metrics_->SetPartitionsToReevaluate(PartitionsToReevaluate());
  return absl::OkStatus();
}

v1::PartitionState& Processor::NextState(Lane& lane, LaneBatch& work, Partition partition) const {
  auto next = work.next_states.find(partition);
  if (next == work.next_states.end()) {
    next = work.next_states.emplace(partition, lane.partitions.at(partition).state).first;
  }
  return next->second;
}

bool Processor::SkipPassedOn(Lane& lane, LaneBatch& work, const InputRecord& record) const {
  if (!record.origin.has_value() || record.origin->topic != options_.input_topic) return false;
  auto& marks = *NextState(lane, work, record.partition).mutable_passed_on_through();
  const auto mark = marks.try_emplace(record.origin->partition.value(), -1).first;
  if (record.origin->offset.value() <= mark->second) return true;
  // Its predecessor not judged yet: the source passes both on again. One below the mark can never
  // come again, so then the record is judged as it would be without the header.
  if (record.passed_on_after.has_value() && *record.passed_on_after > mark->second) return true;
  mark->second = record.origin->offset.value();
  return false;
}

const v1::PartitionState& Processor::StateOf(const Lane& lane, const LaneBatch& work,
                                             Partition partition) const {
  const auto next = work.next_states.find(partition);
  return next != work.next_states.end() ? next->second : lane.partitions.at(partition).state;
}

absl::Status Processor::RefreshQuintiles(Lane& lane, LaneBatch& work, Partition partition,
                                         absl::Time now) const {
  if (!ScoresByQuintiles(*engine_)) return absl::OkStatus();
  const v1::PartitionState& state = StateOf(lane, work, partition);
  const std::int64_t today =
      absl::ToCivilDay(now, engine_->catalogue().timezone) - absl::CivilDay(1970, 1, 1);
  if (state.has_rfm_quintiles() && state.rfm_quintiles().day() >= today) return absl::OkStatus();
  v1::RfmPopulation population = lane.partitions.at(partition).population;
  if (const auto moves = work.sample_moves.find(partition); moves != work.sample_moves.end()) {
    for (const auto& [before, after] : moves->second) {
      core::UpdatePopulation(before, after, population);
    }
  }
  std::optional<v1::RfmQuintiles> quintiles = core::ComputeQuintiles(population, today, now);
  if (!quintiles) return absl::OkStatus();
  const core::Population before = core::PopulationOf(state);
  v1::PartitionState& next = NextState(lane, work, partition);
  *next.mutable_rfm_quintiles() = *std::move(quintiles);
  const core::Population after = core::PopulationOf(next);
  const auto breakpoints = [](const core::Population& p) {
    return p.rfm_quintiles ? std::optional(std::tuple(p.rfm_quintiles->recency_days,
                                                      p.rfm_quintiles->frequency_orders_365d,
                                                      p.rfm_quintiles->monetary_365d))
                           : std::nullopt;
  };
  if (breakpoints(before) == breakpoints(after) || rfm_readers_.empty()) return absl::OkStatus();
  if (options_.clock == ClockMode::kEventTime) {
    return ReevaluateRfmReaders(lane, work, partition, now, before, after);
  }
  // Live input must not wait for every stored profile: they follow in the background.
  MarkForReevaluation(rfm_readers_, now, next);
  return absl::OkStatus();
}

absl::Status Processor::ReevaluateRfmReaders(Lane& lane, LaneBatch& work, Partition partition,
                                             absl::Time now, const core::Population& before,
                                             const core::Population& after) const {
  const core::Engine& engine = *engine_;
  const core::PreparedSelection only =
      engine.Prepare(core::RuleSelection(engine.catalogue(), rfm_readers_));
  // Profiles the batch holds are newer than their stored copies.
  std::vector<WorkingProfile*> held;
  for (auto& [key, entry] : work.working) {
    if (entry.partition == partition && !entry.erased && !entry.profile.customer_id().empty()) {
      held.push_back(&entry);
    }
  }
  std::sort(held.begin(), held.end(), [](const WorkingProfile* a, const WorkingProfile* b) {
    return a->customer_id < b->customer_id;
  });
  // Timers due before the refresh fire with the quintiles they were due under, as they would
  // have had the input been batched otherwise.
  auto reevaluate = [&](v1::CustomerProfile& profile) {
    const std::size_t first = work.changes.size();
    work.timers_fired += engine.FireTimers(now, profile, work.changes, before);
    engine.Reevaluate(now, v1::SegmentChange::definition_change, only, profile, work.changes, now,
                      after);
    work.change_cause.resize(work.changes.size(), kNoCause);
    SendChanges(work, first);
    CountMembers(lane, work, partition, first);
    return first;
  };
  // In customer id order, batch copies before stored ones, so that the changes come out in the
  // same order however the input is batched.
  auto next_held = held.begin();
  auto reevaluate_held_before = [&](const std::string* id) {
    for (; next_held != held.end() && (id == nullptr || (*next_held)->customer_id < *id);
         ++next_held) {
      reevaluate((*next_held)->profile);
      (*next_held)->dirty = true;
    }
  };
  auto scan = store_.ScanProfiles(partition, "");
  if (!scan.ok()) return scan.status();
  std::string through;
  for (bool more = true; more;) {
    SliceArena arena(lane.slice_block);
    auto stored = scan->Next(kReevaluationSlice, arena.get());
    if (!stored.ok()) return stored.status();
    more = stored->size() == kReevaluationSlice;
    for (v1::CustomerProfile* profile : *stored) {
      through = profile->customer_id();
      reevaluate_held_before(&through);
      if (next_held != held.end() && (*next_held)->customer_id == through) continue;
      const std::optional<absl::Time> stored_due = core::TimerDue(*profile);
      const std::size_t first = reevaluate(*profile);
      if (work.changes.size() == first && core::TimerDue(*profile) == stored_due) continue;
      WorkingProfile& entry = work.working[WorkingKey(partition, through)];
      entry.partition = partition;
      entry.customer_id = through;
      entry.profile = *profile;
      entry.loaded = true;
      entry.stored_due = stored_due;
    }
  }
  reevaluate_held_before(nullptr);
  return absl::OkStatus();
}

core::Population Processor::PopulationOf(const Lane& lane, const LaneBatch& work,
                                         Partition partition) const {
  if (!ScoresByQuintiles(*engine_)) return {};
  return core::PopulationOf(StateOf(lane, work, partition));
}

void Processor::MoveSample(LaneBatch& work, Partition partition,
                           const std::optional<core::RfmSample>& before,
                           const std::optional<core::RfmSample>& after) {
  if (before == after) return;
  work.sample_moves[partition].emplace_back(before, after);
}

void Processor::CountMembers(Lane& lane, LaneBatch& work, Partition partition,
                             std::size_t first) const {
  if (first == work.changes.size()) return;
  auto& members = *NextState(lane, work, partition).mutable_members();
  for (std::size_t c = first; c < work.changes.size(); ++c) {
    const v1::SegmentChange& change = work.changes[c];
    members[MemberKey(change.dimension(), change.segment())] +=
        change.direction() == v1::SegmentChange::entered ? 1 : -1;
  }
}

void Processor::ForEachLane(std::span<LaneBatch> lanes, bool parallel,
                            const std::function<void(Lane&, LaneBatch&)>& work) {
  std::vector<std::size_t> busy;
  for (std::size_t i = 0; i < lanes.size(); ++i) {
    if (lanes[i].busy()) busy.push_back(i);
  }
  if (!parallel || busy.size() < 2) {
    for (std::size_t i : busy) work(*lanes_[i], lanes[i]);
    return;
  }
  std::stable_sort(busy.begin(), busy.end(),
                   [&](std::size_t a, std::size_t b) { return lanes[a].load() > lanes[b].load(); });
  const std::size_t thread_count =
      options_.threads == 0 ? busy.size() : std::min(busy.size(), options_.threads);
  std::atomic<std::size_t> next = 0;
  const auto take_lanes = [&] {
    for (std::size_t k = next++; k < busy.size(); k = next++) {
      work(*lanes_[busy[k]], lanes[busy[k]]);
    }
  };
  std::vector<std::jthread> threads;
  threads.reserve(thread_count - 1);
  for (std::size_t k = 1; k < thread_count; ++k) threads.emplace_back(take_lanes);
  take_lanes();
}

absl::Status Processor::LoadProfiles(
    std::unordered_map<std::string, WorkingProfile>& working) const {
  std::map<Partition, std::vector<WorkingProfile*>> missing;
  for (auto& [key, entry] : working) {
    if (!entry.loaded) missing[entry.partition].push_back(&entry);
  }
  for (auto& [partition, entries] : missing) {
    std::vector<std::string_view> ids;
    ids.reserve(entries.size());
    for (const WorkingProfile* entry : entries) ids.push_back(entry->customer_id);
    auto stored = store_.ReadProfiles(partition, ids);
    if (!stored.ok()) return stored.status();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if ((*stored)[i].has_value()) entries[i]->profile = std::move(*(*stored)[i]);
      entries[i]->loaded = true;
      entries[i]->stored_due = core::TimerDue(entries[i]->profile);
    }
  }
  return absl::OkStatus();
}

absl::Status Processor::LoadErasures(
    std::unordered_map<std::string, WorkingProfile>& working) const {
  // A profile carries its erasure; only a customer without one can have a marker alone.
  std::map<Partition, std::vector<WorkingProfile*>> unknown;
  for (auto& [key, entry] : working) {
    if (entry.profile.has_erased_at()) {
      entry.erased_at = ToAbslTime(entry.profile.erased_at());
    } else if (entry.profile.customer_id().empty() && !entry.erased_at.has_value()) {
      unknown[entry.partition].push_back(&entry);
    }
  }
  for (auto& [partition, entries] : unknown) {
    std::vector<std::string_view> ids;
    ids.reserve(entries.size());
    for (const WorkingProfile* entry : entries) ids.push_back(entry->customer_id);
    auto erased = store_.ReadErasures(partition, ids);
    if (!erased.ok()) return erased.status();
    for (std::size_t i = 0; i < entries.size(); ++i) entries[i]->erased_at = (*erased)[i];
  }
  return absl::OkStatus();
}

absl::Status Processor::Stage(Lane& lane, LaneBatch& work, absl::Time wall) const {
  const core::Engine& engine = *engine_;
  // Outputs go out as soon as they exist, so the broker works on them while the rest of the
  // batch is processed and the final Flush waits only for the tail.
  auto send = [&](OutputRecord record) { work.Send(sink_, std::move(record)); };
  work.accepted.reserve(work.records.size());
  // The partition's clock as the batch starts: InfinitePast in event-time mode before its first
  // event.
  auto clock_of = [&](Partition partition) {
    if (options_.clock == ClockMode::kWall) return wall;
    auto it = lane.watermarks.find(partition);
    return it == lane.watermarks.end() ? absl::InfinitePast() : it->second;
  };
  for (const InputRecord* record : work.records) {
    const bool repartitioned = record->source == InputSource::kRepartition;
    Offset& next = (repartitioned ? work.repartition_next_offsets : work.next_offsets)
                       .try_emplace(record->partition, Offset(0))
                       .first->second;
    next = std::max(next, Offset(record->offset.value() + 1));
    if (repartitioned && SkipPassedOn(lane, work, *record)) {
      if (metrics_ != nullptr) metrics_->CountDuplicate();
      continue;
    }
    const std::string_view source_topic =
        repartitioned ? options_.routing->repartition_topic : options_.input_topic;
    v1::CustomerEvent& event =
        *google::protobuf::Arena::CreateMessage<v1::CustomerEvent>(&work.arena);
    std::optional<core::Rejection> rejection;
    if (!record->value.has_value()) {
      rejection = core::Rejection{core::RejectReason::kEmptyValue, "the record value is null"};
    } else {
      rejection =
          core::DecodeEvent(*record->value, core::FormatFromContentType(record->content_type),
                            options_.decode, event);
    }
    // Bounds on occurred_at are about sanity, not replay order, so they use the wall clock.
    if (!rejection) rejection = engine.Validate(event, wall);
    if (!rejection && options_.routing.has_value()) {
      const Partition home = PartitionFor(event.customer_id(), options_.routing->partitions,
                                          options_.routing->partitioner);
      if (home != record->partition) {
        if (!repartitioned) {
          if (metrics_ != nullptr) metrics_->CountRepartitioned();
          auto& last = *NextState(lane, work, record->partition).mutable_passed_on_last();
          const auto passed_on_after = last.try_emplace(home.value(), -1).first;
          send(Repartitioned(*record, event.customer_id(), home, options_.input_topic,
                             clock_of(record->partition), passed_on_after->second));
          passed_on_after->second = record->offset.value();
          continue;
        }
        // Passed on again, it could go back and forth between instances for ever.
        rejection = core::Rejection{
            core::RejectReason::kMisrouted,
            absl::StrCat("customer belongs to partition ", home.value(), " of ",
                         options_.routing->partitions, " by the ",
                         ToAbsl(PartitionerName(options_.routing->partitioner)),
                         " partitioner; the instance that passed it on disagrees: give every "
                         "instance the same --partitioner")};
      }
    }
    if (rejection) {
      if (metrics_ != nullptr) metrics_->CountRejected(rejection->reason);
      send(DeadLetter(*record, *rejection, source_topic));
      continue;
    }
    work.accepted.push_back(Accepted{record, event});
  }

  work.watermarks_before = lane.watermarks;

  // Drop events already applied, in earlier batches or earlier in this one. An applied event is
  // listed in its profile's applied_events until its dedup window ends on the partition's clock,
  // so the profile, which is loaded anyway, tells (below). That keeps a key per event out of
  // every state commit and every restore. Two kinds of event also leave a dedup entry in the
  // store (StoreDedupEntry): an erasure, whose profile goes, and an event passed on from another
  // partition, which is judged at the clock its source had when it passed it on, if earlier.
  // Otherwise a replay of it (its source died before committing) could come after the clock here
  // has moved on by more than the retention, and with it the profile's list: in event-time mode
  // one batch of the source may span days of history.
  std::vector<bool> duplicate(work.accepted.size(), false);
  std::vector<absl::Time> dedup_now(work.accepted.size());
  {
    std::map<Partition, std::vector<std::size_t>> by_partition;
    for (std::size_t i = 0; i < work.accepted.size(); ++i) {
      by_partition[work.accepted[i].record->partition].push_back(i);
    }
    for (auto& [partition, indexes] : by_partition) {
      const absl::Time partition_now = clock_of(partition);
      std::map<absl::Time, std::vector<std::size_t>> stored_by_now;
      for (std::size_t i : indexes) {
        const std::optional<absl::Time>& source = work.accepted[i].record->source_clock;
        dedup_now[i] = source.has_value() ? std::min(*source, partition_now) : partition_now;
        if (StoreDedupEntry(work.accepted[i])) stored_by_now[dedup_now[i]].push_back(i);
      }
      for (const auto& [now, group] : stored_by_now) {
        std::vector<std::string_view> ids;
        ids.reserve(group.size());
        for (std::size_t i : group) ids.push_back(work.accepted[i].event.event_id());
        auto seen = store_.SeenEvents(partition, ids, now);
        if (!seen.ok()) return seen.status();
        for (std::size_t j = 0; j < group.size(); ++j) duplicate[group[j]] = (*seen)[j];
      }
      std::unordered_set<std::string_view> in_batch;
      for (std::size_t i : indexes) {
        if (!in_batch.insert(work.accepted[i].event.event_id()).second) duplicate[i] = true;
      }
    }
  }

  std::vector<WorkingProfile*> target(work.accepted.size(), nullptr);
  for (std::size_t i = 0; i < work.accepted.size(); ++i) {
    if (duplicate[i]) continue;
    const Partition partition = work.accepted[i].record->partition;
    const std::string& customer_id = work.accepted[i].event.customer_id();
    auto [it, inserted] = work.working.try_emplace(WorkingKey(partition, customer_id));
    if (inserted) {
      it->second.partition = partition;
      it->second.customer_id = customer_id;
      it->second.dirty = false;
      if (auto cached = lane.cache.Take(it->first)) {
        it->second.profile = std::move(cached->profile);
        it->second.applied = std::move(cached->applied);
        it->second.loaded = true;
        it->second.stored_due = core::TimerDue(it->second.profile);
      }
    }
    target[i] = &it->second;
  }
  if (absl::Status loaded = LoadProfiles(work.working); !loaded.ok()) return loaded;
  if (absl::Status loaded = LoadErasures(work.working); !loaded.ok()) return loaded;

  auto refuse_erased = [&](const Accepted& item, absl::Time erased_at) {
    if (metrics_ != nullptr) metrics_->CountRejected(core::RejectReason::kErased);
    const core::Rejection rejection{
        core::RejectReason::kErased,
        absl::StrCat("occurred at ", absl::FormatTime(ToAbslTime(item.event.occurred_at())),
                     ", before its customer's erasure at ", absl::FormatTime(erased_at))};
    const std::string_view source_topic = item.record->source == InputSource::kRepartition
                                              ? options_.routing->repartition_topic
                                              : options_.input_topic;
    send(DeadLetter(*item.record, rejection, source_topic));
  };
  auto erased_before = [](const WorkingProfile& entry, const v1::CustomerEvent& event) {
    return entry.erased_at.has_value() && ToAbslTime(event.occurred_at()) < *entry.erased_at;
  };

  work.changes.reserve(work.accepted.size());
  for (std::size_t i = 0; i < work.accepted.size(); ++i) {
    const Accepted& item = work.accepted[i];
    const Partition partition = item.record->partition;
    if (duplicate[i]) {
      // The first sighting was applied, then an erasure in this batch forgot it.
      auto found = work.working.find(WorkingKey(partition, item.event.customer_id()));
      if (found != work.working.end() &&
          std::find(found->second.forget_event_ids.begin(), found->second.forget_event_ids.end(),
                    item.event.event_id()) != found->second.forget_event_ids.end()) {
        refuse_erased(item, *found->second.erased_at);
        continue;
      }
      if (metrics_ != nullptr) metrics_->CountDuplicate();
      continue;
    }
    WorkingProfile& entry = *target[i];
    if (entry.AppliedBefore(item.event.event_id(), dedup_now[i])) {
      if (metrics_ != nullptr) metrics_->CountDuplicate();
      continue;
    }
    if (erased_before(entry, item.event)) {
      refuse_erased(item, *entry.erased_at);
      continue;
    }
    absl::Time now = wall;
    if (options_.clock == ClockMode::kEventTime) {
      absl::Time& watermark =
          lane.watermarks.try_emplace(partition, absl::InfinitePast()).first->second;
      watermark = std::max(watermark, ToAbslTime(item.event.occurred_at()));
      now = watermark;
    }
    if (absl::Status refreshed = RefreshQuintiles(lane, work, partition, now); !refreshed.ok()) {
      return refreshed;
    }
    const std::size_t first_change = work.changes.size();
    const std::optional<core::RfmSample> sample = core::SampleOf(entry.profile);
    if (item.event.has_erasure()) {
      for (std::string& id : entry.applied.EventIds()) {
        entry.forget_event_ids.push_back(std::move(id));
      }
    }
    entry.dirty = true;
    entry.erased = engine.Apply(item.event, now, entry.profile, work.changes,
                                PopulationOf(lane, work, partition));
    if (entry.erased) {
      const absl::Time occurred_at = ToAbslTime(item.event.occurred_at());
      entry.erased_at = std::max(entry.erased_at.value_or(occurred_at), occurred_at);
      entry.erasure_applied = true;
    } else if (entry.erased_at.has_value() && !entry.profile.has_erased_at()) {
      *entry.profile.mutable_erased_at() =
          TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*entry.erased_at));
    }
    MoveSample(work, partition, sample,
               entry.erased ? std::nullopt : core::SampleOf(entry.profile));
    work.change_cause.resize(work.changes.size(), i);
    SendChanges(work, first_change);
    CountMembers(lane, work, partition, first_change);
    if (entry.erased) {
      entry.applied.Clear();
    } else {
      entry.RememberApplied(item.event.event_id(), now, now + options_.dedup_retention);
    }
    if (StoreDedupEntry(item)) {
      work.state_batch.MarkSeen(partition, item.event.event_id(), now + options_.dedup_retention);
    }
    if (metrics_ != nullptr) metrics_->CountApplied(item.event.payload_case());
  }
  return absl::OkStatus();
}

void Processor::SendChanges(LaneBatch& work, std::size_t first) const {
  for (std::size_t c = first; c < work.changes.size(); ++c) {
    OutputRecord out{OutputRecord::Kind::kSegmentChange,
                     work.changes[c].customer_id(),
                     core::EncodeChange(work.changes[c], options_.output_format),
                     {}};
    if (options_.output_format == core::OutputFormat::kJson) {
      out.headers.push_back({"content-type", "application/json"});
    }
    work.Send(sink_, std::move(out));
  }
}

void Processor::SerializeProfiles(LaneBatch& work) {
  for (auto& [key, entry] : work.working) {
    if (entry.dirty && !entry.erased) entry.serialized = entry.Serialize();
  }
}

void Processor::SendChangelog(Lane& lane, LaneBatch& work) const {
  std::set<Partition> touched;
  const auto header = [](std::string_view kind) {
    return Headers{{std::string(kChangelogKindHeader), std::string(kind)}};
  };
  for (auto& [key, entry] : work.working) {
    if (!entry.dirty) continue;
    touched.insert(entry.partition);
    if (entry.erasure_applied) {
      v1::ChangelogErasure erasure;
      *erasure.mutable_erased_at() =
          TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(*entry.erased_at));
      work.Send(
          sink_,
          OutputRecord{OutputRecord::Kind::kChangelog, state::Store::ErasureId(entry.customer_id),
                       erasure.SerializeAsString(), header(kChangelogErasure), entry.partition});
    }
    OutputRecord out{OutputRecord::Kind::kChangelog, entry.customer_id, {},
                     header(kChangelogProfile),      entry.partition,   entry.erased};
    if (!entry.erased) out.value = entry.serialized;
    work.Send(sink_, std::move(out));
  }
  for (const auto& [partition, next] : work.next_offsets) touched.insert(partition);
  for (const auto& [partition, next] : work.repartition_next_offsets) touched.insert(partition);
  for (const auto& [partition, state] : work.next_states) touched.insert(partition);
  for (Partition partition : touched) {
    v1::PartitionState& state = NextState(lane, work, partition);
    state.set_changelog_token(lane.tokens());
    v1::ChangelogCheckpoint checkpoint;
    if (auto next = work.next_offsets.find(partition); next != work.next_offsets.end()) {
      checkpoint.set_next_offset(next->second.value());
    } else if (auto committed = lane.partitions.at(partition).next_offset) {
      checkpoint.set_next_offset(committed->value());
    }
    if (auto next = work.repartition_next_offsets.find(partition);
        next != work.repartition_next_offsets.end()) {
      checkpoint.set_repartition_next_offset(next->second.value());
    } else if (auto committed = lane.partitions.at(partition).repartition_next_offset) {
      checkpoint.set_repartition_next_offset(committed->value());
    }
    if (auto clock = lane.watermarks.find(partition); clock != lane.watermarks.end()) {
      *checkpoint.mutable_event_time() =
          TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(clock->second));
    }
    *checkpoint.mutable_state() = state;
    // A restore counts them from the profiles it restores.
    checkpoint.mutable_state()->clear_members();
    work.Send(sink_,
              OutputRecord{OutputRecord::Kind::kChangelog, "", checkpoint.SerializeAsString(),
                           header(kChangelogCheckpoint), partition});
  }
}

absl::Status Processor::StageTimers(Lane& lane, LaneBatch& work, absl::Time wall) const {
  for (const auto& [partition, timer] : work.due) {
    auto [it, inserted] = work.working.try_emplace(WorkingKey(partition, timer.customer_id));
    if (!inserted) continue;
    it->second.partition = partition;
    it->second.customer_id = timer.customer_id;
    if (auto cached = lane.cache.Take(it->first)) {
      it->second.profile = std::move(cached->profile);
      it->second.applied = std::move(cached->applied);
      it->second.loaded = true;
      it->second.stored_due = core::TimerDue(it->second.profile);
    }
  }
  if (absl::Status loaded = LoadProfiles(work.working); !loaded.ok()) return loaded;

  for (const auto& [partition, timer] : work.due) {
    WorkingProfile& entry = work.working.at(WorkingKey(partition, timer.customer_id));
    if (entry.stored_due != timer.due) work.stale_timers.emplace_back(partition, timer);
    if (entry.profile.customer_id().empty()) {
      // No profile behind the index entry: nothing to evaluate, nothing to store.
      entry.erased = true;
      continue;
    }
    absl::Time now = wall;
    if (options_.clock == ClockMode::kEventTime) now = lane.watermarks.at(partition);
    // In event-time mode the partition's latest event refreshed its quintiles; a refresh here
    // would depend on where batches end.
    if (options_.clock == ClockMode::kWall) {
      if (absl::Status refreshed = RefreshQuintiles(lane, work, partition, now); !refreshed.ok()) {
        return refreshed;
      }
    }
    const std::size_t first_change = work.changes.size();
    work.timers_fired +=
        engine_->FireTimers(now, entry.profile, work.changes, PopulationOf(lane, work, partition));
    work.change_cause.resize(work.changes.size(), kNoCause);
    SendChanges(work, first_change);
    CountMembers(lane, work, partition, first_change);
  }
  return absl::OkStatus();
}

absl::Status Processor::StageReevaluation(Lane& lane, LaneBatch& work, absl::Time wall) const {
  const core::Engine& engine = *engine_;
  for (Partition partition : work.reevaluate) {
    // A partition without an event time has applied no event since its state was written: its
    // profiles, if any, come from the wall clock.
    const absl::Time now = NowOf(lane, partition, wall);
    if (options_.clock == ClockMode::kWall) {
      if (absl::Status refreshed = RefreshQuintiles(lane, work, partition, now); !refreshed.ok()) {
        return refreshed;
      }
    }
    const v1::PartitionState& state = NextState(lane, work, partition);
    const core::Population population = PopulationOf(lane, work, partition);
    const core::PreparedSelection only =
        engine.Prepare(core::RuleSelection(engine.catalogue(), ToReevaluate(state)));
    // Changes carry the instant the definitions changed, so a chunk redone after a crash
    // regenerates the same change ids.
    const absl::Time changed_at =
        state.has_definitions_changed_at() ? ToAbslTime(state.definitions_changed_at()) : now;
    // A chunk of 0 would never get anywhere.
    const std::size_t chunk = std::max<std::size_t>(options_.reevaluations_per_round, 1);
    std::string through = state.reevaluated_through();
    auto scan = store_.ScanProfiles(partition, through);
    if (!scan.ok()) return scan.status();
    std::size_t read = 0;
    bool partition_done = false;
    while (read < chunk && !partition_done) {
      const std::size_t slice = std::min(kReevaluationSlice, chunk - read);
      SliceArena arena(lane.slice_block);
      auto profiles = scan->Next(slice, arena.get());
      if (!profiles.ok()) return profiles.status();
      read += profiles->size();
      partition_done = profiles->size() < slice;
      if (!profiles->empty()) through = profiles->back()->customer_id();
      for (v1::CustomerProfile* profile : *profiles) {
        // The cache holds committed profiles only, so a cached copy equals the stored one; Commit
        // replaces it with what changes here.
        const std::optional<absl::Time> stored_due = core::TimerDue(*profile);
        const std::size_t first_change = work.changes.size();
        // As Apply does: time-driven changes due by now first, so changes stay in time order.
        work.timers_fired += engine.FireTimers(now, *profile, work.changes, population);
        engine.Reevaluate(now, v1::SegmentChange::definition_change, only, *profile, work.changes,
                          changed_at, population);
        if (work.changes.size() == first_change && core::TimerDue(*profile) == stored_due) continue;
        WorkingProfile& entry = work.working[WorkingKey(partition, profile->customer_id())];
        entry.partition = partition;
        entry.customer_id = profile->customer_id();
        // Off the arena, which goes with the slice; only changed profiles are copied.
        entry.profile = *profile;
        entry.loaded = true;
        entry.stored_due = stored_due;
        work.change_cause.resize(work.changes.size(), kNoCause);
        SendChanges(work, first_change);
        CountMembers(lane, work, partition, first_change);
      }
    }
    work.reevaluated += read;
    v1::PartitionState& next = NextState(lane, work, partition);
    if (partition_done) {
      next.clear_reevaluate_segments();
      next.clear_reevaluate_dimensions();
      next.clear_reevaluated_through();
    } else {
      next.set_reevaluated_through(through);
    }
  }
  return absl::OkStatus();
}

void Processor::PrepareCommit(Lane& lane, LaneBatch& work) const {
  for (const auto& [partition, timer] : work.stale_timers) {
    work.state_batch.SetTimer(partition, timer.customer_id, timer.due, std::nullopt);
  }
  for (auto& [key, entry] : work.working) {
    if (!entry.dirty) continue;
    if (entry.erasure_applied) {
      for (const std::string& event_id : entry.forget_event_ids) {
        work.state_batch.ForgetSeen(entry.partition, event_id);
      }
      work.state_batch.MarkErased(entry.partition, entry.customer_id, *entry.erased_at);
      ++work.erasures;
    }
    if (entry.erased) {
      work.state_batch.DeleteProfile(entry.partition, entry.customer_id);
    } else if (!entry.serialized.empty()) {
      work.state_batch.PutSerializedProfile(entry.partition, entry.customer_id,
                                            std::move(entry.serialized));
    } else {
      work.state_batch.PutSerializedProfile(entry.partition, entry.customer_id, entry.Serialize());
    }
    work.state_batch.SetTimer(entry.partition, entry.customer_id, entry.stored_due,
                              entry.erased ? std::nullopt : core::TimerDue(entry.profile));
  }
  std::set<Partition> consumed;
  for (const auto& [partition, next] : work.next_offsets) consumed.insert(partition);
  for (const auto& [partition, next] : work.repartition_next_offsets) consumed.insert(partition);
  for (Partition partition : consumed) {
    std::optional<absl::Time> event_time;
    if (auto it = lane.watermarks.find(partition); it != lane.watermarks.end()) {
      event_time = it->second;
    }
    // The event time goes with the input offset, so it is written whichever source moved.
    auto next = work.next_offsets.find(partition);
    work.state_batch.SetOffset(
        partition,
        next != work.next_offsets.end() ? next->second : lane.partitions.at(partition).next_offset,
        event_time);
    if (auto repartition_next = work.repartition_next_offsets.find(partition);
        repartition_next != work.repartition_next_offsets.end()) {
      work.state_batch.SetRepartitionOffset(partition, repartition_next->second);
    }
  }
  // Populations change in place: copying them for every batch would cost more than the rest of
  // the state record. Undone if the commit fails.
  for (const auto& [partition, moves] : work.sample_moves) {
    v1::RfmPopulation& population = lane.partitions.at(partition).population;
    for (const auto& [before, after] : moves) core::UpdatePopulation(before, after, population);
    if (!work.next_states.contains(partition)) {
      PutPartitionState(partition, lane.partitions.at(partition).state, population,
                        work.state_batch);
    }
  }
  for (auto& [partition, state] : work.next_states) {
    PutPartitionState(partition, state, lane.partitions.at(partition).population, work.state_batch);
  }
  absl::StatusOr<state::Store::PreparedBatch> prepared = store_.Prepare(work.state_batch);
  if (prepared.ok()) {
    work.prepared_write = std::move(*prepared);
  } else {
    work.prepare_status = prepared.status();
  }
}

void Processor::UndoPrepare(Lane& lane, const LaneBatch& work) {
  for (const auto& [partition, moves] : work.sample_moves) {
    v1::RfmPopulation& population = lane.partitions.at(partition).population;
    for (auto move = moves.rbegin(); move != moves.rend(); ++move) {
      core::UpdatePopulation(move->second, move->first, population);
    }
  }
}

absl::Status Processor::Commit(Lane& lane, LaneBatch& work) const {
  if (!work.prepared()) PrepareCommit(lane, work);
  if (absl::Status committed = work.prepared_write.has_value() ? store_.Commit(*work.prepared_write)
                                                               : work.prepare_status;
      !committed.ok()) {
    UndoPrepare(lane, work);
    return StateCommitFailed(committed, "committing state");
  }
  if (metrics_ != nullptr && work.erasures > 0) metrics_->CountErasures(work.erasures);
  for (auto& [key, entry] : work.working) {
    if (entry.dirty && !entry.erased) {
      lane.cache.Insert(key, entry.partition,
                        internal::CachedProfile{.profile = std::move(entry.profile),
                                                .applied = std::move(entry.applied)});
    }
  }
  for (const auto& [partition, next] : work.next_offsets) {
    lane.partitions.at(partition).next_offset = next;
  }
  for (const auto& [partition, next] : work.repartition_next_offsets) {
    lane.partitions.at(partition).repartition_next_offset = next;
  }
  for (auto& [partition, state] : work.next_states) {
    PartitionRecord& record = lane.partitions.at(partition);
    for (const auto& [key, members] : state.members()) {
      const auto before = record.state.members().find(key);
      const std::int64_t moved =
          members - (before == record.state.members().end() ? 0 : before->second);
      if (moved != 0) work.member_deltas[key] += moved;
    }
    record.state = std::move(state);
  }
  return absl::OkStatus();
}

bool IsStorageFault(const absl::Status& status) {
  return status.GetPayload(ToAbsl(kStorageFaultPayload)).has_value();
}

absl::Status Processor::Process(std::span<const InputRecord> batch) {
  if (batch.empty()) return absl::OkStatus();
  const auto started = std::chrono::steady_clock::now();
  const absl::Time wall = wall_clock_();
  if (metrics_ != nullptr) {
    const auto repartitioned = static_cast<std::size_t>(std::count_if(
        batch.begin(), batch.end(),
        [](const InputRecord& record) { return record.source == InputSource::kRepartition; }));
    metrics_->CountConsumed(InputSource::kInput, batch.size() - repartitioned);
    if (repartitioned > 0) metrics_->CountConsumed(InputSource::kRepartition, repartitioned);
  }

  std::vector<LaneBatch> work(lanes_.size());
  for (const InputRecord& record : batch) {
    work[LaneIndex(record.partition)].records.push_back(&record);
  }
  if (absl::Status loaded = LoadPartitions(work); !loaded.ok()) return loaded;
  const bool parallel = batch.size() >= options_.parallel_min_records;
  ForEachLane(work, parallel, [&](Lane& lane, LaneBatch& lane_work) {
    lane_work.status = Stage(lane, lane_work, wall);
  });
  absl::Status finished = Finish(work, parallel, wall);
  if (finished.ok() && metrics_ != nullptr) {
    metrics_->CountBatch(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
        batch.size());
  }
  if (parallel) {
    // Freeing what a batch of 100,000 events held took 40 ms, with the other core idle: a thread
    // does it while the caller polls the next batch. One batch at a time, so memory stays bounded.
    if (releaser_.joinable()) releaser_.join();
    releaser_ = std::jthread([doomed = std::move(work)]() mutable { doomed.clear(); });
  }
  return finished;
}

absl::StatusOr<std::size_t> Processor::SeedChangelog(Partition partition) {
  if (!options_.changelog) return 0;
  Lane& lane = LaneOf(partition);
  if (absl::Status loaded = LoadPartition(lane, partition); !loaded.ok()) return loaded;
  // Streamed rather than loaded into a batch: a partition may hold millions of profiles.
  std::size_t profiles = 0;
  absl::Status sent = absl::OkStatus();
  absl::Status read =
      store_.ForEachProfile(partition, [&](Partition, const v1::CustomerProfile& profile) {
        sent = sink_.Send(
            OutputRecord{OutputRecord::Kind::kChangelog,
                         profile.customer_id(),
                         profile.SerializeAsString(),
                         {{std::string(kChangelogKindHeader), std::string(kChangelogProfile)}},
                         partition});
        ++profiles;
        return sent.ok();
      });
  if (!read.ok()) return read;
  if (!sent.ok()) {
    return absl::UnavailableError(absl::StrCat("writing partition ", partition.value(),
                                               " to the changelog: ", sent.message()));
  }
  // The checkpoint follows as for any batch, and the flush before it covers the profiles.
  std::vector<LaneBatch> work(lanes_.size());
  static_cast<void>(NextState(lane, work[LaneIndex(partition)], partition));
  if (absl::Status finished = Finish(work, false, wall_clock_()); !finished.ok()) return finished;
  return profiles;
}

absl::StatusOr<std::size_t> Processor::FireTimers() {
  const absl::Time wall = wall_clock_();
  std::vector<LaneBatch> work(lanes_.size());
  std::size_t due = 0;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const Lane& lane = *lanes_[i];
    for (Partition partition : lane.owned) {
      absl::Time now = wall;
      if (options_.clock == ClockMode::kEventTime) {
        // A partition's clock starts with its first event.
        const auto it = lane.watermarks.find(partition);
        if (it == lane.watermarks.end()) continue;
        now = it->second;
      }
      auto timers = store_.DueTimers(partition, now, options_.timers_per_round);
      if (!timers.ok()) return timers.status();
      for (state::Store::DueTimer& timer : *timers) {
        work[i].due.emplace_back(partition, std::move(timer));
      }
    }
    due += work[i].due.size();
  }
  if (due == 0) return 0;
  if (absl::Status loaded = LoadPartitions(work); !loaded.ok()) return loaded;
  ForEachLane(work, due >= options_.parallel_min_records, [&](Lane& lane, LaneBatch& lane_work) {
    lane_work.status = StageTimers(lane, lane_work, wall);
  });
  if (absl::Status finished = Finish(work, due >= options_.parallel_min_records, wall);
      !finished.ok()) {
    return finished;
  }
  std::size_t fired = 0;
  for (const LaneBatch& lane_work : work) fired += lane_work.timers_fired;
  if (metrics_ != nullptr) metrics_->CountTimersFired(fired);
  return fired;
}

absl::StatusOr<std::size_t> Processor::ReevaluateDefinitions() {
  const absl::Time wall = wall_clock_();
  std::vector<LaneBatch> work(lanes_.size());
  std::size_t partitions = 0;
  bool refreshed = false;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    Lane& lane = *lanes_[i];
    for (const auto& [partition, record] : lane.partitions) {
      // Quintiles of partitions without input are refreshed here. In event-time mode only events
      // move the clock, and they refresh.
      if (options_.clock == ClockMode::kWall) {
        absl::Status refreshed =
            RefreshQuintiles(lane, work[i], partition, NowOf(lane, partition, wall));
        if (!refreshed.ok()) return refreshed;
      }
      if (Reevaluating(StateOf(lane, work[i], partition))) work[i].reevaluate.push_back(partition);
    }
    partitions += work[i].reevaluate.size();
    refreshed = refreshed || !work[i].next_states.empty();
  }
  if (partitions == 0 && !refreshed) return 0;
  const bool parallel = partitions > 1;
  ForEachLane(work, parallel, [&](Lane& lane, LaneBatch& lane_work) {
    lane_work.status = StageReevaluation(lane, lane_work, wall);
  });
  if (absl::Status finished = Finish(work, parallel, wall); !finished.ok()) return finished;
  std::size_t reevaluated = 0;
  std::size_t fired = 0;
  for (const LaneBatch& lane_work : work) {
    reevaluated += lane_work.reevaluated;
    fired += lane_work.timers_fired;
  }
  if (metrics_ != nullptr) {
    metrics_->CountReevaluated(reevaluated);
    metrics_->CountTimersFired(fired);
    metrics_->SetPartitionsToReevaluate(PartitionsToReevaluate());
  }
  // Done re-evaluating: the chunks' memory goes back.
  if (PartitionsToReevaluate() == 0) {
    for (const auto& lane : lanes_) lane->slice_block = std::vector<char>();
  }
  return reevaluated;
}

absl::Status Processor::Finish(std::span<LaneBatch> work, bool parallel, absl::Time wall) {
  auto restore_clocks = [&] {
    for (std::size_t i = 0; i < work.size(); ++i) {
      if (!work[i].records.empty()) lanes_[i]->watermarks = work[i].watermarks_before;
    }
  };
  auto fail = [&](absl::Status status) {
    restore_clocks();
    if (metrics_ != nullptr) metrics_->CountBatchFailure();
    return status;
  };
  std::size_t sent = 0;
  absl::Status delivery;
  for (const LaneBatch& lane_work : work) {
    if (!lane_work.status.ok()) return fail(lane_work.status);
    sent += lane_work.sent;
    if (delivery.ok()) delivery = lane_work.delivery;
  }
  if (options_.changelog) {
    // While the segment changes are being delivered, which takes about as long.
    ForEachLane(work, parallel, [](Lane&, LaneBatch& lane_work) { SerializeProfiles(lane_work); });
  }
  if (sent > 0) {
    if (delivery.ok()) delivery = sink_.Flush();
    if (!delivery.ok()) {
      return fail(absl::UnavailableError(
          absl::StrCat("delivering ", sent, " outputs: ", delivery.message())));
    }
  }
  if (ownership_check_) {
    if (absl::Status owned = ownership_check_(); !owned.ok()) {
      return fail(absl::AbortedError(
          absl::StrCat("dropped uncommitted, its outputs delivered: ", owned.message())));
    }
  }
  if (options_.changelog) {
    // Only after the outputs are delivered: a profile in the changelog is one whose changes are
    // out, so a restore that takes it never owes them.
    ForEachLane(work, parallel, [&](Lane& lane, LaneBatch& lane_work) {
      const std::size_t before = lane_work.sent;
      SendChangelog(lane, lane_work);
      lane_work.changelog_sent = lane_work.sent - before;
      // Meanwhile the changelog is being delivered: only the commit's write has to wait for it.
      PrepareCommit(lane, lane_work);
    });
    std::size_t logged = 0;
    for (const LaneBatch& lane_work : work) {
      logged += lane_work.changelog_sent;
      if (delivery.ok()) delivery = lane_work.delivery;
    }
    if (logged > 0 && delivery.ok()) delivery = sink_.Flush();
    if (!delivery.ok()) {
      for (std::size_t i = 0; i < work.size(); ++i) {
        if (work[i].prepared()) UndoPrepare(*lanes_[i], work[i]);
      }
      return fail(absl::UnavailableError(
          absl::StrCat("delivering ", logged, " changelog records: ", delivery.message())));
    }
  }

  ForEachLane(work, parallel, [&](Lane& lane, LaneBatch& lane_work) {
    lane_work.status = Commit(lane, lane_work);
  });
  for (std::size_t i = 0; i < work.size(); ++i) {
    if (work[i].status.ok()) continue;
    // Lanes that committed keep their clocks: their state now records them.
    for (std::size_t j = i; j < work.size(); ++j) {
      if (!work[j].status.ok() && !work[j].records.empty()) {
        lanes_[j]->watermarks = work[j].watermarks_before;
      }
    }
    if (metrics_ != nullptr) metrics_->CountBatchFailure();
    return work[i].status;
  }

  // Expired dedup entries may go only once every partition's "now" is past their expiry.
  absl::Time horizon = wall;
  if (options_.clock == ClockMode::kEventTime) {
    horizon = absl::InfiniteFuture();
    for (const auto& lane : lanes_) {
      for (const auto& [partition, watermark] : lane->watermarks) {
        horizon = std::min(horizon, watermark);
      }
    }
  }
  store_.AdvanceDedupHorizon(horizon);

  if (metrics_ != nullptr) {
    // On the lanes' threads: on the calling thread alone, counting a batch of 100,000 events'
    // changes took as long as the state commit's write.
    const absl::Time delivered = wall_clock_();
    ForEachLane(work, parallel, [&](Lane&, LaneBatch& lane_work) {
      for (std::size_t c = 0; c < lane_work.changes.size(); ++c) {
        metrics_->TallyChange(lane_work.changes[c], lane_work.change_tally);
        if (lane_work.change_cause[c] == kNoCause) continue;
        const Accepted& cause = lane_work.accepted[lane_work.change_cause[c]];
        lane_work.latencies.Add(
            absl::ToDoubleSeconds(delivered - ToAbslTime(cause.event.occurred_at())),
            absl::ToDoubleSeconds(delivered - cause.record->broker_time));
      }
    });
    std::size_t cached = 0;
    for (const auto& lane : lanes_) cached += lane->cache.size();
    for (const LaneBatch& lane_work : work) {
      for (const auto& [key, moved] : lane_work.member_deltas) metrics_->AddMembers(key, moved);
      metrics_->CountChanges(lane_work.change_tally);
      metrics_->ObserveChangeLatencies(lane_work.latencies);
    }
    metrics_->SetCachedProfiles(cached);
  }
  if (observer_) {
    for (const LaneBatch& lane_work : work) {
      for (const v1::SegmentChange& change : lane_work.changes) observer_(change);
    }
  }
  return absl::OkStatus();
}

}  // namespace cdp::pipeline
