#include "cdp/pipeline/processor.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

OutputRecord DeadLetter(const InputRecord& record, const core::Rejection& rejection,
                        std::string_view input_topic) {
  OutputRecord out{OutputRecord::Kind::kDeadLetter,
                   std::string(record.key.value_or("")),
                   std::string(record.value.value_or("")),
                   {}};
  out.headers = {
      {std::string(kDlqReasonHeader), std::string(core::ReasonName(rejection.reason))},
      {std::string(kDlqDetailHeader), rejection.detail},
      {std::string(kDlqTopicHeader), std::string(input_topic)},
      {std::string(kDlqPartitionHeader), absl::StrCat(record.partition.value())},
      {std::string(kDlqOffsetHeader), absl::StrCat(record.offset.value())},
  };
  return out;
}

struct Accepted {
  const InputRecord* record;
  const v1::CustomerEvent& event;
};

// A change's index in LaneBatch::change_cause when no input record caused it (a timer).
constexpr std::size_t kNoCause = static_cast<std::size_t>(-1);

}  // namespace

struct Processor::WorkingProfile {
  Partition partition;
  std::string customer_id;
  v1::CustomerProfile profile;
  bool loaded = false;
  bool erased = false;
  // The timer as stored, whose index entry Commit moves.
  std::optional<absl::Time> stored_due;
};

struct Processor::Lane {
  explicit Lane(std::size_t cache_capacity) : cache(cache_capacity) {}

  internal::ProfileCache cache;
  // Event-time mode: the latest occurred_at applied per partition.
  std::unordered_map<Partition, absl::Time> watermarks;
  // The lane's partitions this instance owns, whose timers it fires.
  std::set<Partition> owned;
};

// One lane's share of a batch, from its records to its state batch.
struct Processor::LaneBatch {
  [[nodiscard]] bool busy() const { return !records.empty() || !due.empty(); }

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
  // The lane's events live in one arena: decoding allocates less and freeing them is one step.
  google::protobuf::Arena arena;
  std::vector<Accepted> accepted;
  std::unordered_map<std::string, WorkingProfile> working;
  std::vector<v1::SegmentChange> changes;
  // For the latency metrics: the index in `accepted` of each change's cause, or kNoCause.
  std::vector<std::size_t> change_cause;
  std::map<Partition, Offset> next_offsets;
  // Event-time "now" before this batch; restored if the batch fails.
  std::unordered_map<Partition, absl::Time> watermarks_before;
  state::Store::Batch state_batch;
  std::size_t sent = 0;
  // The first failed Send: nothing of the batch may be committed then.
  absl::Status delivery;
  absl::Status status;
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

absl::StatusOr<std::optional<Offset>> Processor::ResumeOffset(Partition partition) {
  LaneOf(partition).owned.insert(partition);
  if (options_.clock == ClockMode::kEventTime) {
    // Resume with the clock the partition had, so a restart changes nothing that follows.
    auto event_time = store_.ReadEventTime(partition);
    if (!event_time.ok()) return event_time.status();
    if (event_time->has_value()) LaneOf(partition).watermarks[partition] = **event_time;
  }
  return store_.ReadOffset(partition);
}

void Processor::Release(Partition partition) {
  Lane& lane = LaneOf(partition);
  lane.cache.ErasePartition(partition);
  lane.watermarks.erase(partition);
  lane.owned.erase(partition);
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
  std::vector<std::jthread> threads;
  threads.reserve(busy.size() - 1);
  for (std::size_t k = 1; k < busy.size(); ++k) {
    threads.emplace_back([&, i = busy[k]] { work(*lanes_[i], lanes[i]); });
  }
  work(*lanes_[busy[0]], lanes[busy[0]]);
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

absl::Status Processor::Stage(Lane& lane, LaneBatch& work, absl::Time wall) const {
  const core::Engine& engine = *engine_;
  // Outputs go out as soon as they exist, so the broker works on them while the rest of the
  // batch is processed and the final Flush waits only for the tail.
  auto send = [&](OutputRecord record) { work.Send(sink_, std::move(record)); };
  work.accepted.reserve(work.records.size());
  for (const InputRecord* record : work.records) {
    Offset& next = work.next_offsets.try_emplace(record->partition, Offset(0)).first->second;
    next = std::max(next, Offset(record->offset.value() + 1));
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
    if (rejection) {
      if (metrics_ != nullptr) metrics_->CountRejected(rejection->reason);
      send(DeadLetter(*record, *rejection, options_.input_topic));
      continue;
    }
    work.accepted.push_back(Accepted{record, event});
  }

  work.watermarks_before = lane.watermarks;
  auto now_for = [&](Partition partition) {
    if (options_.clock == ClockMode::kWall) return wall;
    auto it = lane.watermarks.find(partition);
    return it == lane.watermarks.end() ? absl::InfinitePast() : it->second;
  };

  // Drop events already applied, in earlier batches (state) or earlier in this one.
  std::vector<bool> duplicate(work.accepted.size(), false);
  {
    std::map<Partition, std::vector<std::size_t>> by_partition;
    for (std::size_t i = 0; i < work.accepted.size(); ++i) {
      by_partition[work.accepted[i].record->partition].push_back(i);
    }
    for (auto& [partition, indexes] : by_partition) {
      std::vector<std::string_view> ids;
      ids.reserve(indexes.size());
      for (std::size_t i : indexes) ids.push_back(work.accepted[i].event.event_id());
      auto seen = store_.SeenEvents(partition, ids, now_for(partition));
      if (!seen.ok()) return seen.status();
      std::unordered_set<std::string_view> in_batch;
      for (std::size_t j = 0; j < indexes.size(); ++j) {
        duplicate[indexes[j]] = (*seen)[j] || !in_batch.insert(ids[j]).second;
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
      if (auto cached = lane.cache.Take(it->first)) {
        it->second.profile = std::move(*cached);
        it->second.loaded = true;
        it->second.stored_due = core::TimerDue(it->second.profile);
      }
    }
    target[i] = &it->second;
  }
  if (absl::Status loaded = LoadProfiles(work.working); !loaded.ok()) return loaded;

  work.changes.reserve(work.accepted.size());
  for (std::size_t i = 0; i < work.accepted.size(); ++i) {
    const Accepted& item = work.accepted[i];
    if (duplicate[i]) {
      if (metrics_ != nullptr) metrics_->CountDuplicate();
      continue;
    }
    const Partition partition = item.record->partition;
    absl::Time now = wall;
    if (options_.clock == ClockMode::kEventTime) {
      absl::Time& watermark =
          lane.watermarks.try_emplace(partition, absl::InfinitePast()).first->second;
      watermark = std::max(watermark, ToAbslTime(item.event.occurred_at()));
      now = watermark;
    }
    WorkingProfile& entry = *target[i];
    const std::size_t first_change = work.changes.size();
    entry.erased = engine.Apply(item.event, now, entry.profile, work.changes);
    work.change_cause.resize(work.changes.size(), i);
    SendChanges(work, first_change);
    work.state_batch.MarkSeen(partition, item.event.event_id(), now + options_.dedup_retention);
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

absl::Status Processor::StageTimers(Lane& lane, LaneBatch& work, absl::Time wall) const {
  for (const auto& [partition, timer] : work.due) {
    auto [it, inserted] = work.working.try_emplace(WorkingKey(partition, timer.customer_id));
    if (!inserted) continue;
    it->second.partition = partition;
    it->second.customer_id = timer.customer_id;
    if (auto cached = lane.cache.Take(it->first)) {
      it->second.profile = std::move(*cached);
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
    const std::size_t first_change = work.changes.size();
    work.timers_fired += engine_->FireTimers(now, entry.profile, work.changes);
    work.change_cause.resize(work.changes.size(), kNoCause);
    SendChanges(work, first_change);
  }
  return absl::OkStatus();
}

absl::Status Processor::Commit(Lane& lane, LaneBatch& work) const {
  for (const auto& [partition, timer] : work.stale_timers) {
    work.state_batch.SetTimer(partition, timer.customer_id, timer.due, std::nullopt);
  }
  for (auto& [key, entry] : work.working) {
    if (entry.erased) {
      work.state_batch.DeleteProfile(entry.partition, entry.customer_id);
    } else {
      work.state_batch.PutProfile(entry.partition, entry.profile);
    }
    work.state_batch.SetTimer(entry.partition, entry.customer_id, entry.stored_due,
                              entry.erased ? std::nullopt : core::TimerDue(entry.profile));
  }
  for (const auto& [partition, next] : work.next_offsets) {
    std::optional<absl::Time> event_time;
    if (auto it = lane.watermarks.find(partition); it != lane.watermarks.end()) {
      event_time = it->second;
    }
    work.state_batch.SetOffset(partition, next, event_time);
  }
  if (absl::Status committed = store_.Commit(work.state_batch); !committed.ok()) {
    return absl::InternalError(absl::StrCat("committing state: ", committed.message()));
  }
  for (auto& [key, entry] : work.working) {
    if (!entry.erased) lane.cache.Insert(key, entry.partition, std::move(entry.profile));
  }
  return absl::OkStatus();
}

absl::Status Processor::Process(std::span<const InputRecord> batch) {
  if (batch.empty()) return absl::OkStatus();
  const auto started = std::chrono::steady_clock::now();
  const absl::Time wall = wall_clock_();
  if (metrics_ != nullptr) metrics_->CountConsumed(batch.size());

  std::vector<LaneBatch> work(lanes_.size());
  for (const InputRecord& record : batch) {
    work[LaneIndex(record.partition)].records.push_back(&record);
  }
  const bool parallel = batch.size() >= options_.parallel_min_records;
  ForEachLane(work, parallel, [&](Lane& lane, LaneBatch& lane_work) {
    lane_work.status = Stage(lane, lane_work, wall);
  });
  absl::Status finished = Finish(work, parallel, wall);
  if (finished.ok() && metrics_ != nullptr) {
    metrics_->CountBatch(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return finished;
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
  if (sent > 0) {
    if (delivery.ok()) delivery = sink_.Flush();
    if (!delivery.ok()) {
      return fail(absl::UnavailableError(
          absl::StrCat("delivering ", sent, " outputs: ", delivery.message())));
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
    const absl::Time delivered = wall_clock_();
    std::size_t cached = 0;
    for (const auto& lane : lanes_) cached += lane->cache.size();
    for (const LaneBatch& lane_work : work) {
      for (std::size_t c = 0; c < lane_work.changes.size(); ++c) {
        metrics_->CountChange(lane_work.changes[c]);
        if (lane_work.change_cause[c] == kNoCause) continue;
        const Accepted& cause = lane_work.accepted[lane_work.change_cause[c]];
        metrics_->ObserveChangeLatency(
            absl::ToDoubleSeconds(delivered - ToAbslTime(cause.event.occurred_at())),
            absl::ToDoubleSeconds(delivered - cause.record->broker_time));
      }
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
