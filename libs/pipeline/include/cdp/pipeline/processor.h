#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/common/strong_type.h"
#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "cdp/pipeline/internal/profile_cache.h"
#include "cdp/pipeline/metrics.h"
#include "cdp/pipeline/records.h"
#include "cdp/state/store.h"

namespace cdp::pipeline {

enum class ClockMode {
  // "now" is the wall clock: live traffic.
  kWall,
  // "now" per partition is the latest occurred_at seen there: replays and backfills give the
  // segments history implies, deterministically.
  kEventTime,
};

struct ProcessorOptions {
  std::string input_topic = "customer-events";
  ClockMode clock = ClockMode::kWall;
  // A repeated event_id within this window of its first sighting is applied once.
  absl::Duration dedup_retention = absl::Hours(7 * 24);
  core::DecodeOptions decode;
  core::OutputFormat output_format = core::OutputFormat::kJson;
  std::size_t cache_capacity = 200'000;
};

// Turns batches of input records into state and outputs, with the pipeline's delivery contract:
// decode and validate, drop repeated event ids, apply to profiles, send segment changes and dead
// letters, wait for their delivery, then commit profiles, dedup entries and each partition's next
// offset in one atomic state batch. A batch that fails anywhere commits nothing and may be retried
// from the offsets the state holds; it then regenerates the same changes with the same ids.
class Processor {
 public:
  using WallClock = std::function<absl::Time()>;
  using ChangeObserver = std::function<void(const v1::SegmentChange&)>;

  Processor(std::shared_ptr<const core::Engine> engine, state::Store& store, OutputSink& sink,
            WallClock wall_clock, ProcessorOptions options, PipelineMetrics* metrics);

  // Unavailable: the outputs could not be delivered; retrying the same batch is safe. Any other
  // error comes from the state store, which refuses writes after a failed commit: reopen it and
  // resume from the offsets it holds.
  [[nodiscard]] absl::Status Process(std::span<const InputRecord> batch);

  // Where to resume a partition: the offset its state recorded, nullopt if it has none.
  [[nodiscard]] absl::StatusOr<std::optional<Offset>> ResumeOffset(Partition partition);
  // Forgets what is cached for a partition this instance no longer owns.
  void Release(Partition partition);
  // Called with every change once it has been delivered and committed.
  void SetChangeObserver(ChangeObserver observer) { observer_ = std::move(observer); }

 private:
  struct WorkingProfile;

  [[nodiscard]] absl::Status LoadProfiles(
      std::unordered_map<std::string, WorkingProfile>& working) const;

  std::shared_ptr<const core::Engine> engine_;
  state::Store& store_;
  OutputSink& sink_;
  WallClock wall_clock_;
  ProcessorOptions options_;
  PipelineMetrics* metrics_;
  ChangeObserver observer_;
  internal::ProfileCache cache_;
  // Event-time mode: the latest occurred_at applied per partition.
  std::unordered_map<Partition, absl::Time> watermarks_;
};

}  // namespace cdp::pipeline
