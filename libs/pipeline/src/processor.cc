#include "cdp/pipeline/processor.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

}  // namespace

struct Processor::WorkingProfile {
  Partition partition;
  std::string customer_id;
  v1::CustomerProfile profile;
  bool loaded = false;
  bool erased = false;
};

Processor::Processor(std::shared_ptr<const core::Engine> engine, state::Store& store,
                     OutputSink& sink, WallClock wall_clock, ProcessorOptions options,
                     PipelineMetrics* metrics)
    : engine_(std::move(engine)),
      store_(store),
      sink_(sink),
      wall_clock_(std::move(wall_clock)),
      options_(std::move(options)),
      metrics_(metrics),
      cache_(options_.cache_capacity) {}

absl::StatusOr<std::optional<Offset>> Processor::ResumeOffset(Partition partition) {
  if (options_.clock == ClockMode::kEventTime) {
    // Resume with the clock the partition had, so a restart changes nothing that follows.
    auto event_time = store_.ReadEventTime(partition);
    if (!event_time.ok()) return event_time.status();
    if (event_time->has_value()) watermarks_[partition] = **event_time;
  }
  return store_.ReadOffset(partition);
}

void Processor::Release(Partition partition) {
  cache_.ErasePartition(partition);
  watermarks_.erase(partition);
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
    }
  }
  return absl::OkStatus();
}

absl::Status Processor::Process(std::span<const InputRecord> batch) {
  if (batch.empty()) return absl::OkStatus();
  const auto started = std::chrono::steady_clock::now();
  const absl::Time wall = wall_clock_();
  const core::Engine& engine = *engine_;
  if (metrics_ != nullptr) metrics_->CountConsumed(batch.size());

  // The batch's events live in one arena: decoding allocates less and freeing them is one step.
  google::protobuf::Arena arena;
  // Outputs go out as soon as they exist, so the broker works on them while the rest of the
  // batch is processed and the final Flush waits only for the tail. The first failure is kept;
  // nothing is committed then.
  std::size_t sent = 0;
  absl::Status delivery;
  auto send = [&](OutputRecord record) {
    if (!delivery.ok()) return;
    delivery = sink_.Send(std::move(record));
    ++sent;
  };
  std::vector<Accepted> accepted;
  accepted.reserve(batch.size());
  std::map<Partition, Offset> next_offsets;
  for (const InputRecord& record : batch) {
    Offset& next = next_offsets.try_emplace(record.partition, Offset(0)).first->second;
    next = std::max(next, Offset(record.offset.value() + 1));
    v1::CustomerEvent& event = *google::protobuf::Arena::CreateMessage<v1::CustomerEvent>(&arena);
    std::optional<core::Rejection> rejection;
    if (!record.value.has_value()) {
      rejection = core::Rejection{core::RejectReason::kEmptyValue, "the record value is null"};
    } else {
      rejection = core::DecodeEvent(*record.value, core::FormatFromContentType(record.content_type),
                                    options_.decode, event);
    }
    // Bounds on occurred_at are about sanity, not replay order, so they use the wall clock.
    if (!rejection) rejection = engine.Validate(event, wall);
    if (rejection) {
      if (metrics_ != nullptr) metrics_->CountRejected(rejection->reason);
      send(DeadLetter(record, *rejection, options_.input_topic));
      continue;
    }
    accepted.push_back(Accepted{&record, event});
  }

  // Event-time "now" before this batch, per partition; restored if the batch fails.
  const auto watermarks_before = watermarks_;
  auto now_for = [&](Partition partition) {
    if (options_.clock == ClockMode::kWall) return wall;
    auto it = watermarks_.find(partition);
    return it == watermarks_.end() ? absl::InfinitePast() : it->second;
  };

  // Drop events already applied, in earlier batches (state) or earlier in this one.
  std::vector<bool> duplicate(accepted.size(), false);
  {
    std::map<Partition, std::vector<std::size_t>> by_partition;
    for (std::size_t i = 0; i < accepted.size(); ++i) {
      by_partition[accepted[i].record->partition].push_back(i);
    }
    for (auto& [partition, indexes] : by_partition) {
      std::vector<std::string_view> ids;
      ids.reserve(indexes.size());
      for (std::size_t i : indexes) ids.push_back(accepted[i].event.event_id());
      auto seen = store_.SeenEvents(partition, ids, now_for(partition));
      if (!seen.ok()) return seen.status();
      std::unordered_set<std::string_view> in_batch;
      for (std::size_t j = 0; j < indexes.size(); ++j) {
        duplicate[indexes[j]] = (*seen)[j] || !in_batch.insert(ids[j]).second;
      }
    }
  }

  std::unordered_map<std::string, WorkingProfile> working;
  std::vector<WorkingProfile*> target(accepted.size(), nullptr);
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    if (duplicate[i]) continue;
    const Partition partition = accepted[i].record->partition;
    const std::string& customer_id = accepted[i].event.customer_id();
    auto [it, inserted] = working.try_emplace(WorkingKey(partition, customer_id));
    if (inserted) {
      it->second.partition = partition;
      it->second.customer_id = customer_id;
      if (auto cached = cache_.Take(it->first)) {
        it->second.profile = std::move(*cached);
        it->second.loaded = true;
      }
    }
    target[i] = &it->second;
  }
  if (absl::Status loaded = LoadProfiles(working); !loaded.ok()) return loaded;

  std::vector<v1::SegmentChange> changes;
  // For the latency metrics: the causing record of each change.
  std::vector<const Accepted*> change_cause;
  state::Store::Batch state_batch;
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    const Accepted& item = accepted[i];
    if (duplicate[i]) {
      if (metrics_ != nullptr) metrics_->CountDuplicate();
      continue;
    }
    const Partition partition = item.record->partition;
    absl::Time now = wall;
    if (options_.clock == ClockMode::kEventTime) {
      absl::Time& watermark =
          watermarks_.try_emplace(partition, absl::InfinitePast()).first->second;
      watermark = std::max(watermark, ToAbslTime(item.event.occurred_at()));
      now = watermark;
    }
    WorkingProfile& entry = *target[i];
    const std::size_t first_change = changes.size();
    entry.erased = engine.Apply(item.event, now, entry.profile, changes);
    change_cause.resize(changes.size(), &item);
    for (std::size_t c = first_change; c < changes.size(); ++c) {
      OutputRecord out{OutputRecord::Kind::kSegmentChange,
                       changes[c].customer_id(),
                       core::EncodeChange(changes[c], options_.output_format),
                       {}};
      if (options_.output_format == core::OutputFormat::kJson) {
        out.headers.push_back({"content-type", "application/json"});
      }
      send(std::move(out));
    }
    state_batch.MarkSeen(partition, item.event.event_id(), now + options_.dedup_retention);
    if (metrics_ != nullptr) metrics_->CountApplied(item.event.payload_case());
  }

  auto fail = [&](absl::Status status) {
    watermarks_ = watermarks_before;
    if (metrics_ != nullptr) metrics_->CountBatchFailure();
    return status;
  };
  if (sent > 0) {
    if (delivery.ok()) delivery = sink_.Flush();
    if (!delivery.ok()) {
      return fail(absl::UnavailableError(
          absl::StrCat("delivering ", sent, " outputs: ", delivery.message())));
    }
  }

  for (auto& [key, entry] : working) {
    if (entry.erased) {
      state_batch.DeleteProfile(entry.partition, entry.customer_id);
    } else {
      state_batch.PutProfile(entry.partition, entry.profile);
    }
  }
  for (const auto& [partition, next] : next_offsets) {
    std::optional<absl::Time> event_time;
    if (auto it = watermarks_.find(partition); it != watermarks_.end()) event_time = it->second;
    state_batch.SetOffset(partition, next, event_time);
  }
  if (absl::Status committed = store_.Commit(state_batch); !committed.ok()) {
    return fail(absl::InternalError(absl::StrCat("committing state: ", committed.message())));
  }
  // Expired dedup entries may go only once every partition's "now" is past their expiry.
  absl::Time horizon = wall;
  if (options_.clock == ClockMode::kEventTime) {
    horizon = absl::InfiniteFuture();
    for (const auto& [partition, watermark] : watermarks_) horizon = std::min(horizon, watermark);
  }
  store_.AdvanceDedupHorizon(horizon);

  for (auto& [key, entry] : working) {
    if (!entry.erased) cache_.Insert(key, entry.partition, std::move(entry.profile));
  }
  if (metrics_ != nullptr) {
    const absl::Time delivered = wall_clock_();
    for (std::size_t c = 0; c < changes.size(); ++c) {
      metrics_->CountChange(changes[c]);
      metrics_->ObserveChangeLatency(
          absl::ToDoubleSeconds(delivered - ToAbslTime(change_cause[c]->event.occurred_at())),
          absl::ToDoubleSeconds(delivered - change_cause[c]->record->broker_time));
    }
    metrics_->SetCachedProfiles(cache_.size());
    metrics_->CountBatch(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (observer_) {
    for (const v1::SegmentChange& change : changes) observer_(change);
  }
  return absl::OkStatus();
}

}  // namespace cdp::pipeline
