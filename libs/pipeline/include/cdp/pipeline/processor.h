#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/common/partitioner.h"
#include "cdp/common/strong_type.h"
#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "cdp/core/population.h"
#include "cdp/pipeline/metrics.h"
#include "cdp/pipeline/records.h"
#include "cdp/rules/digest.h"
#include "cdp/state/store.h"

namespace cdp::pipeline {

enum class ClockMode {
  // "now" is the wall clock: live traffic.
  kWall,
  // "now" per partition is the latest occurred_at seen there: replays and backfills give the
  // segments history implies, deterministically.
  kEventTime,
};

// Which partition each customer belongs to, so that each has one profile, in one partition.
struct Routing {
  // Of the input topic, and of the repartition, changelog and state alike.
  std::int32_t partitions = 1;
  // As the upstream producers hash their keys: then only wrongly keyed records are passed on.
  Partitioner partitioner = Partitioner::kMurmur2;
  std::string repartition_topic;
};

struct ProcessorOptions {
  std::string input_topic = "customer-events";
  // Set: a valid input event whose customer_id belongs to another partition than the one it
  // arrived in (a null key, another id as key, another partitioner) is not applied there but
  // passed on, unchanged, to its customer's partition of the repartition topic, whose records
  // are applied like input. Unset: every event is applied in the partition it arrives in.
  std::optional<Routing> routing = std::nullopt;
  ClockMode clock = ClockMode::kWall;
  // A repeated event_id within this window of its first sighting is applied once.
  absl::Duration dedup_retention = absl::Hours(7 * 24);
  core::DecodeOptions decode;
  core::OutputFormat output_format = core::OutputFormat::kJson;
  // Profiles kept in memory in front of the state store, over all lanes.
  std::size_t cache_capacity = 200'000;
  // Partitions are spread over this many lanes (partition modulo lanes). Each lane owns its
  // partitions' cache and clock, so lanes share nothing and a batch's lanes run in parallel.
  // 1: everything on the calling thread.
  std::size_t lanes = 1;
  // A batch's busy lanes run on at most this many threads, the calling thread among them, the
  // lane with the most records or due timers first: with more lanes than threads, a thread that is
  // done with a light lane takes the next instead of idling while a heavy one finishes. 0: one per
  // busy lane.
  std::size_t threads = 0;
  // A batch with fewer records runs its lanes one after the other on the calling thread: for a
  // handful of records a thread costs more than it saves.
  std::size_t parallel_min_records = 1024;
  // FireTimers fires at most this many timers per partition per call, so that a burst of due
  // timers (midnight) does not hold up live input for long.
  std::size_t timers_per_round = 10'000;
  // ReevaluateDefinitions re-evaluates at most this many stored profiles per partition per call,
  // so that live input keeps flowing while a new segment file is applied to every customer.
  std::size_t reevaluations_per_round = 5'000;
  // Every profile a batch writes, then a checkpoint of each partition it touched, also go to the
  // sink as changelog records once the batch's other outputs are delivered, and the state commit
  // waits for them as well: a new owner restores the partition from them (RestoreFromChangelog).
  bool changelog = false;
};

// Turns batches of input records into state and outputs, with the pipeline's delivery contract:
// decode and validate, drop repeated event ids, apply to profiles, send segment changes and dead
// letters, wait for their delivery, then commit profiles (each lists the events applied to it
// within the dedup window, which is the dedup check) and each partition's next offset in one
// atomic state batch per lane. A batch whose outputs fail to deliver commits nothing and may be
// retried as it is; it then regenerates the same changes with the same ids.
// Not thread-safe itself; with several lanes it runs them on threads of its own, and the sink's
// Send is then called from several threads at once.
// Whether a failed step failed because the state store could not write (a full disk, an I/O
// error): nothing of it was committed, and once state::Store::Recover succeeds the same step may
// be retried, as after a failed delivery.
[[nodiscard]] bool IsStorageFault(const absl::Status& status);

class Processor {
 public:
  using WallClock = std::function<absl::Time()>;
  using ChangeObserver = std::function<void(const v1::SegmentChange&)>;
  // Non-OK when this instance may no longer own its partitions, saying why.
  using OwnershipCheck = std::function<absl::Status()>;

  Processor(std::shared_ptr<const core::Engine> engine, state::Store& store, OutputSink& sink,
            WallClock wall_clock, ProcessorOptions options, PipelineMetrics* metrics);
  ~Processor();

  // Unavailable: the outputs could not be delivered; retrying the same batch is safe. Aborted:
  // the ownership check failed (SetOwnershipCheck). Any other error comes from the state store,
  // which refuses writes after a failed commit (and may have committed other lanes' partitions):
  // reopen it and resume from the offsets it holds.
  [[nodiscard]] absl::Status Process(std::span<const InputRecord> batch);

  // Fires the timers due in the partitions this instance owns (given to ResumeOffset and not
  // released since): at the wall clock, or in event-time mode at each partition's event time. Each
  // re-evaluates its customer (cause: time); the changes are delivered and committed with the
  // profiles as for a batch, and the errors mean the same as Process's. Returns how many timers
  // fired; when a partition had more than options.timers_per_round due, call again.
  [[nodiscard]] absl::StatusOr<std::size_t> FireTimers();

  // Makes `engine` (a new segment catalogue) apply from the next call on. Every segment or
  // dimension whose definition changed is recorded in each partition's state as to be
  // re-evaluated for every stored profile, which ReevaluateDefinitions then does in the
  // background. Partitions loaded later compare the definitions their state records with the
  // engine's in the same way, so a restart with another segment file re-evaluates too. An error
  // comes from the store (reopen it); the running engine is then unchanged.
  [[nodiscard]] absl::Status SetEngine(std::shared_ptr<const core::Engine> engine);

  // Re-evaluates the next stored profiles of each partition whose memberships may predate the
  // engine's definitions (cause: definition_change), at most options.reevaluations_per_round per
  // partition; the changes are delivered and committed with the profiles and the partition's
  // progress, as for a batch, and the errors mean the same as Process's. Returns how many
  // profiles it re-evaluated; 0 when nothing is left to do. With the wall clock and rfm scoring
  // by quintiles, it first refreshes the quintiles of partitions that have had no input on a new
  // day, which may give them profiles to re-evaluate.
  [[nodiscard]] absl::StatusOr<std::size_t> ReevaluateDefinitions();

  // Partitions whose stored profiles still have to be re-evaluated for changed definitions.
  [[nodiscard]] std::size_t PartitionsToReevaluate() const;

  // Where to resume a partition: the offsets its state recorded, nullopt where it has none.
  struct ResumePoint {
    std::optional<Offset> input;
    // In the same-numbered partition of the repartition topic.
    std::optional<Offset> repartition;
  };
  // The partition is owned from then on.
  [[nodiscard]] absl::StatusOr<ResumePoint> ResumeOffset(Partition partition);
  // With the changelog: writes every stored profile of the partition and a checkpoint to it,
  // for a partition whose changelog is empty while its local state is not (state kept before the
  // changelog was turned on), so that another owner can restore it. Call after ResumeOffset.
  // Returns how many profiles it wrote; the errors mean the same as Process's.
  [[nodiscard]] absl::StatusOr<std::size_t> SeedChangelog(Partition partition);
  // Forgets what is cached for a partition this instance no longer owns.
  void Release(Partition partition);
  // Called with every change once it has been delivered and committed.
  void SetChangeObserver(ChangeObserver observer) { observer_ = std::move(observer); }
  // Asked once a batch's outputs are delivered, before its changelog records are sent and its
  // state committed (for timers and re-evaluations too). When it fails, the step commits
  // nothing and returns Aborted: an instance whose group session expired learns it only at its
  // next poll, while the partitions' new owner may already have restored them, and a batch it
  // logged then would interleave with the new owner's and could set the partition's checkpoint
  // back. Drop the batch (do not retry it) and poll: the partitions are taken away there.
  void SetOwnershipCheck(OwnershipCheck check) { ownership_check_ = std::move(check); }

 private:
  struct WorkingProfile;
  struct Lane;
  struct LaneBatch;
  struct PartitionRecord;

  [[nodiscard]] std::size_t LaneIndex(Partition partition) const;
  [[nodiscard]] Lane& LaneOf(Partition partition);
  // Runs `work` for every lane that has records: in parallel when `parallel` is set.
  void ForEachLane(std::span<LaneBatch> lanes, bool parallel,
                   const std::function<void(Lane&, LaneBatch&)>& work);
  // Everything up to delivery: decode, validate, dedup, load, apply, send.
  [[nodiscard]] absl::Status Stage(Lane& lane, LaneBatch& work, absl::Time wall) const;
  // The same for the lane's due timers.
  [[nodiscard]] absl::Status StageTimers(Lane& lane, LaneBatch& work, absl::Time wall) const;
  // The same for a chunk of stored profiles of each partition in LaneBatch::reevaluate.
  [[nodiscard]] absl::Status StageReevaluation(Lane& lane, LaneBatch& work, absl::Time wall) const;
  // Loads the state records of the partitions `work` touches that are not loaded yet. Runs on the
  // calling thread before the lanes do, so that only it updates the member gauges.
  [[nodiscard]] absl::Status LoadPartitions(std::span<LaneBatch> work);
  [[nodiscard]] absl::Status LoadPartition(Lane& lane, Partition partition);
  // "now" for a partition: the wall clock, or its event time (the wall clock before its first
  // event).
  [[nodiscard]] absl::Time NowOf(const Lane& lane, Partition partition, absl::Time wall) const;
  // Counts the changes from `first` on in the partition's member counts (the batch's copy).
  void CountMembers(Lane& lane, LaneBatch& work, Partition partition, std::size_t first) const;
  // The batch's copy of the partition's state record, made on first use.
  [[nodiscard]] v1::PartitionState& NextState(Lane& lane, LaneBatch& work,
                                              Partition partition) const;
  // Whether `record`, from the repartition topic, is to be skipped: one this partition has
  // judged before (see PartitionState.passed_on_through), or one that arrived without the record
  // its source passed on here before it (see PartitionState.passed_on_last), which its source
  // sends again, followed by this one. If not, records that it is judged now.
  [[nodiscard]] bool SkipPassedOn(Lane& lane, LaneBatch& work, const InputRecord& record) const;
  // The partition's state record as the batch has it so far.
  [[nodiscard]] const v1::PartitionState& StateOf(const Lane& lane, const LaneBatch& work,
                                                  Partition partition) const;
  // With rfm scoring by quintiles, on the first use of a partition on a later day than its
  // quintiles were computed (or before any were): computes them from the population as the batch
  // has it, and when they move, re-evaluates the rules reading rfm scores for every profile of
  // the partition, stamped `now`: at once in event-time mode (ReevaluateRfmReaders), in the
  // background like a definition change with the wall clock. Called before anything is
  // evaluated at `now`; in event-time mode only before events, so that the same input refreshes
  // at the same event, with the same changes, however it is batched. An error comes from the
  // store.
  [[nodiscard]] absl::Status RefreshQuintiles(Lane& lane, LaneBatch& work, Partition partition,
                                              absl::Time now) const;
  // Every profile of the partition, the batch's copies first: fires its timers due by `now` with
  // the quintiles `before`, then re-evaluates the rules reading rfm scores with those `after`.
  [[nodiscard]] absl::Status ReevaluateRfmReaders(Lane& lane, LaneBatch& work, Partition partition,
                                                  absl::Time now, const core::Population& before,
                                                  const core::Population& after) const;
  // What the partition's customers are scored against.
  [[nodiscard]] core::Population PopulationOf(const Lane& lane, const LaneBatch& work,
                                              Partition partition) const;
  // Records that a customer of the partition moved in its rfm population.
  static void MoveSample(LaneBatch& work, Partition partition,
                         const std::optional<core::RfmSample>& before,
                         const std::optional<core::RfmSample>& after);
  // Delivery, state commit, metrics and observer, for staged lanes.
  [[nodiscard]] absl::Status Finish(std::span<LaneBatch> work, bool parallel, absl::Time wall);
  // Sends the changes from `first` on as output records.
  void SendChanges(LaneBatch& work, std::size_t first) const;
  // The bytes of each profile the lane wrote, for the changelog and the state commit.
  static void SerializeProfiles(LaneBatch& work);
  // Sends the lane's profiles (SerializeProfiles), then a checkpoint of each partition they
  // belong to, to the changelog.
  void SendChangelog(Lane& lane, LaneBatch& work) const;
  // Everything of the lane's commit but the write: its state batch (profiles, dedup marks, next
  // offsets, partition state records), and its partitions' rfm populations moved in place, which
  // UndoPrepare moves back. Made while the changelog is delivered.
  void PrepareCommit(Lane& lane, LaneBatch& work) const;
  static void UndoPrepare(Lane& lane, const LaneBatch& work);
  // Writes the lane's state batch (PrepareCommit, unless it ran), then updates its cache.
  [[nodiscard]] absl::Status Commit(Lane& lane, LaneBatch& work) const;
  [[nodiscard]] absl::Status LoadProfiles(
      std::unordered_map<std::string, WorkingProfile>& working) const;
  // The latest erasure of each customer, from its profile or, without one, its marker.
  [[nodiscard]] absl::Status LoadErasures(
      std::unordered_map<std::string, WorkingProfile>& working) const;

  std::shared_ptr<const core::Engine> engine_;
  // Of engine_'s catalogue: what partition state records are compared with.
  std::vector<rules::DefinitionDigest> digests_;
  // With rfm scoring by quintiles, what a refresh of the quintiles re-evaluates.
  std::vector<rules::RuleRef> rfm_readers_;
  state::Store& store_;
  OutputSink& sink_;
  WallClock wall_clock_;
  ProcessorOptions options_;
  PipelineMetrics* metrics_;
  ChangeObserver observer_;
  OwnershipCheck ownership_check_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  // Frees the previous large batch while the caller polls the next (see Process). Last, so that
  // it is joined before anything else goes.
  std::jthread releaser_;
};

}  // namespace cdp::pipeline
