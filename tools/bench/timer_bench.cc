// timer-bench: what durable timers cost. Fires the timers due among a store of profiles with the
// real processor, and compares that with finding them in the timer index and with a full scan of
// every profile, the design timers replace, in the same run on the same store. Then times a
// segment-file reload on that store: the processor re-evaluating every stored profile for one
// new segment.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/pipeline/metrics.h"
#include "cdp/pipeline/processor.h"
#include "cdp/pipeline/records.h"
#include "cdp/rules/catalogue.h"
#include "cdp/state/store.h"
#include "config.h"
#include "prometheus/registry.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::int64_t profiles = 1'000'000;
  double due_percent = 1;
  int partitions = 32;
  std::string segments = "deploy/config/segments.yaml";
  // Empty: a fresh directory under the system's temp directory, removed at exit.
  std::string data_dir;
  // As the service's --threads and --lanes; 0: their defaults.
  cdp::service::Parallelism parallelism;
};

constexpr const char* kUsage =
    "Usage: timer-bench [--profiles N] [--due-percent P] [--partitions N] [--segments FILE]\n"
    "                   [--data-dir DIR] [--threads N] [--lanes N]\n"
    "Builds N profiles (one purchase each, P% of them with a timer due at the sweep) with the\n"
    "engine and writes them and their timers to a state store (in DIR, which must be empty or\n"
    "missing; default: a temp directory removed at exit). Then times finding the due timers in\n"
    "the index, a full scan re-evaluating every profile, and the processor firing the due\n"
    "timers. Last, it adds a segment to the catalogue (as a reload of an edited file does) and\n"
    "times the processor re-evaluating every stored profile for it.\n"
    "Defaults: --profiles 1000000 --due-percent 1 --partitions 32\n"
    "          --segments deploy/config/segments.yaml, and --threads and --lanes as the\n"
    "          service's (a thread per core, 4 lanes per thread at most one per partition)\n";

bool ParseFlags(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (i + 1 >= argc) return false;
    const std::string_view value = argv[++i];
    auto number = [&](auto& out) {
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), out);
      return error == std::errc() && end == value.data() + value.size() && out > 0;
    };
    bool ok = true;
    if (flag == "--profiles")
      ok = number(options.profiles);
    else if (flag == "--due-percent")
      ok = number(options.due_percent) && options.due_percent <= 100;
    else if (flag == "--partitions")
      ok = number(options.partitions);
    else if (flag == "--threads")
      ok = number(options.parallelism.threads);
    else if (flag == "--lanes")
      ok = number(options.parallelism.lanes);
    else if (flag == "--segments")
      options.segments = value;
    else if (flag == "--data-dir" && !value.empty())
      options.data_dir = value;
    else
      ok = false;
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void Fail(std::string_view what, const absl::Status& status) {
  std::cerr << "timer-bench: " << what << ": " << status.message() << "\n";
  std::exit(1);
}

// The directory removed at exit, also when Fail exits early.
std::filesystem::path temp_dir;

void RemoveTempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(temp_dir, ignored);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Counts what the processor sends; delivery always succeeds at once, so the figures are the
// processor's and the store's alone.
class CountingSink : public cdp::pipeline::OutputSink {
 public:
  absl::Status Send(cdp::pipeline::OutputRecord) override {
    sent_.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }

  [[nodiscard]] std::int64_t sent() const { return sent_.load(); }

 private:
  // With several lanes, Send is called from several threads at once.
  std::atomic<std::int64_t> sent_ = 0;
};

// When things happen: the sweep runs at midnight starting `sweep_day` in the catalogue's time
// zone, and every profile was last evaluated the evening before, as a service that kept up with
// its timers leaves them. So a timer is due at the sweep exactly when it is set for that midnight.
struct Timeline {
  absl::TimeZone zone;
  absl::CivilDay sweep_day;
  absl::Time sweep;
  absl::Time evaluated;

  Timeline(absl::TimeZone zone, absl::CivilDay day)
      : zone(zone),
        sweep_day(day),
        sweep(absl::FromCivil(day, zone)),
        evaluated(sweep - absl::Hours(1)) {}
};

// A customer whose only purchase was `days_before` days before the sweep day, as the engine
// leaves it.
cdp::v1::CustomerProfile MakeProfile(const cdp::core::Engine& engine, const Timeline& timeline,
                                     std::int64_t customer, std::int64_t days_before) {
  cdp::v1::CustomerEvent event;
  event.set_event_id(absl::StrCat("e", customer));
  event.set_customer_id(absl::StrCat("c", customer));
  event.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilHour(timeline.sweep_day - days_before) + 10, timeline.zone)));
  event.mutable_purchase()->set_order_id(absl::StrCat("o", customer));
  event.mutable_purchase()->set_total_amount(19'900);
  cdp::v1::CustomerProfile profile;
  std::vector<cdp::v1::SegmentChange> changes;
  (void)engine.Apply(event, timeline.evaluated, profile, changes);
  return profile;
}

bool DueAtSweep(const cdp::v1::CustomerProfile& profile, const Timeline& timeline) {
  const std::optional<absl::Time> due = cdp::core::TimerDue(profile);
  return due.has_value() && *due <= timeline.sweep;
}

// Which purchase ages (days before the sweep day, over 13 months) leave a timer due at the sweep
// and which do not: that depends on the catalogue's rules, so it is asked of the engine.
struct PurchaseAges {
  std::vector<std::int64_t> due;
  std::vector<std::int64_t> not_due;
};

PurchaseAges ClassifyPurchaseAges(const cdp::core::Engine& engine, const Timeline& timeline) {
  PurchaseAges ages;
  for (std::int64_t days = 1; days <= 400; ++days) {
    (DueAtSweep(MakeProfile(engine, timeline, 0, days), timeline) ? ages.due : ages.not_due)
        .push_back(days);
  }
  return ages;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, options)) {
    std::cerr << "timer-bench: bad arguments\n" << kUsage;
    return 2;
  }
  options.parallelism = cdp::service::ResolveParallelism(options.parallelism, options.partitions);
  auto catalogue = cdp::rules::LoadSegmentCatalogue(options.segments);
  if (!catalogue.ok()) Fail("segments", catalogue.status());
  auto engine = std::make_shared<const cdp::core::Engine>(
      std::make_shared<const cdp::rules::SegmentCatalogue>(std::move(*catalogue)),
      cdp::core::EngineOptions{});
  // Mid-month, so that no month-start rule (`current_month`) makes every customer due.
  const Timeline timeline(engine->catalogue().timezone, absl::CivilDay(2025, 6, 15));
  const PurchaseAges ages = ClassifyPurchaseAges(*engine, timeline);
  if (ages.due.empty() || ages.not_due.empty()) {
    Fail("segments", absl::FailedPreconditionError(absl::StrCat(
                         "with this catalogue, purchase ages of 1-400 days leave ",
                         ages.due.empty() ? "no" : "every", " customer due at the sweep")));
  }

  std::string data_dir = options.data_dir;
  if (data_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "timer-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      Fail("data dir", absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", pattern)));
    }
    data_dir = pattern;
    temp_dir = data_dir;
    std::atexit(RemoveTempDir);
  } else if (std::error_code error; !std::filesystem::is_empty(data_dir, error) &&
                                    error != std::errc::no_such_file_or_directory) {
    Fail("data dir", absl::FailedPreconditionError(
                         absl::StrCat(data_dir, " must be empty or missing",
                                      error ? absl::StrCat(" (", error.message(), ")") : "")));
  }
  auto store = cdp::state::Store::Open({.path = data_dir});
  if (!store.ok()) Fail("state", store.status());

  std::cout << "timer-bench:    " << options.profiles << " profiles, " << options.due_percent
            << "% due, " << options.partitions << " partitions, " << options.parallelism.lanes
            << " lanes on " << options.parallelism.threads << " threads, "
            << std::thread::hardware_concurrency() << " cores, " << options.segments << "\n"
            << "sweep at:       "
            << absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", timeline.sweep, timeline.zone) << " "
            << timeline.zone.name() << " (profiles last evaluated an hour before)\n";

  // Load. Customer i is due when i * P/100 crosses a whole number: floor(N * P/100) of them,
  // evenly spread over partitions and key order.
  const double due_fraction = options.due_percent / 100;
  constexpr std::int64_t kBatchProfiles = 10'000;
  std::int64_t due = 0;
  const auto load_start = Clock::now();
  {
    cdp::state::Store::Batch batch;
    std::int64_t planned_due = 0;
    for (std::int64_t i = 0; i < options.profiles; ++i) {
      const bool make_due =
          static_cast<std::int64_t>(static_cast<double>(i + 1) * due_fraction) > planned_due;
      const std::int64_t days =
          make_due ? ages.due[static_cast<std::size_t>(planned_due++) % ages.due.size()]
                   : ages.not_due[static_cast<std::size_t>(i) % ages.not_due.size()];
      const cdp::v1::CustomerProfile profile = MakeProfile(*engine, timeline, i, days);
      if (DueAtSweep(profile, timeline)) ++due;
      const cdp::Partition partition(static_cast<std::int32_t>(i % options.partitions));
      batch.PutProfile(partition, profile);
      batch.SetTimer(partition, profile.customer_id(), std::nullopt, cdp::core::TimerDue(profile));
      if ((i + 1) % kBatchProfiles == 0 || i + 1 == options.profiles) {
        if (absl::Status committed = (*store)->Commit(batch); !committed.ok()) {
          Fail("loading", committed);
        }
      }
    }
  }
  const double load_seconds = SecondsSince(load_start);
  if (due == 0) {
    Fail("load", absl::FailedPreconditionError(
                     "no profile is due at the sweep: raise --profiles or --due-percent"));
  }
  // Settled SST files rather than whatever the load left in memtables and level 0, as a store
  // that has been running a while has; every read below sees the same layout.
  const auto compact_start = Clock::now();
  if (absl::Status compacted = (*store)->Compact(); !compacted.ok()) Fail("compacting", compacted);
  const double compact_seconds = SecondsSince(compact_start);
  auto stats = (*store)->GetStats();
  if (!stats.ok()) Fail("state", stats.status());
  std::cout << std::fixed << std::setprecision(2) << "load:           " << options.profiles
            << " profiles in " << load_seconds << " s (Engine::Apply, commits of " << kBatchProfiles
            << "), compacted in " << compact_seconds << " s\n"
            << "state:          ~" << stats->estimated_profiles << " profiles, ~"
            << stats->estimated_timers << " timers, " << stats->sst_files_bytes / (1 << 20)
            << " MiB in SST files\n"
            << "due:            " << due << " timers due at the sweep (" << std::setprecision(3)
            << 100.0 * static_cast<double>(due) / static_cast<double>(options.profiles)
            << "% of profiles)\n";

  // Finding the due customers alone: one range scan of the timer index per partition. Runs
  // before the sweep, which empties that range.
  std::int64_t found = 0;
  const auto lookup_start = Clock::now();
  for (int p = 0; p < options.partitions; ++p) {
    auto timers = (*store)->DueTimers(cdp::Partition(p), timeline.sweep,
                                      std::numeric_limits<std::size_t>::max());
    if (!timers.ok()) Fail("index lookup", timers.status());
    found += static_cast<std::int64_t>(timers->size());
  }
  const double lookup_seconds = SecondsSince(lookup_start);
  std::cout << std::setprecision(2) << "index lookup:   " << found << " due timers found in "
            << lookup_seconds * 1e3 << " ms (Store::DueTimers on " << options.partitions
            << " partitions)\n";

  // What a design without timers does: re-evaluate every profile at the sweep, to find the
  // few that changed. Also before the sweep, so that it sees the same due customers and must
  // find the changes the sweep emits.
  std::int64_t scanned = 0;
  std::int64_t scan_changes = 0;
  const auto scan_start = Clock::now();
  {
    std::vector<cdp::v1::SegmentChange> changes;
    cdp::v1::CustomerProfile copy;
    absl::Status status = (*store)->ForEachProfile(
        std::nullopt, [&](cdp::Partition, const cdp::v1::CustomerProfile& profile) {
          copy = profile;
          changes.clear();
          engine->Reevaluate(timeline.sweep, cdp::v1::SegmentChange::time, copy, changes);
          scan_changes += static_cast<std::int64_t>(changes.size());
          ++scanned;
          return true;
        });
    if (!status.ok()) Fail("full scan", status);
  }
  const double scan_seconds = SecondsSince(scan_start);
  std::cout << std::setprecision(2) << "full scan:      " << scanned << " profiles in "
            << scan_seconds << " s, " << std::setprecision(0)
            << static_cast<double>(scanned) / scan_seconds << " profiles/s, " << scan_changes
            << " changes found (ForEachProfile + Engine::Reevaluate, nothing written)\n";

  // The sweep: the processor fires what is due, delivers, commits profiles and next timers.
  CountingSink sink;
  prometheus::Registry registry;
  cdp::pipeline::PipelineMetrics metrics(registry, engine->catalogue(), "customer-events");
  cdp::pipeline::ProcessorOptions processor_options;
  processor_options.lanes = options.parallelism.lanes;
  processor_options.threads = options.parallelism.threads;
  cdp::pipeline::Processor processor(
      engine, **store, sink, [&] { return timeline.sweep; }, processor_options, &metrics);
  for (int p = 0; p < options.partitions; ++p) {
    if (auto resumed = processor.ResumeOffset(cdp::Partition(p)); !resumed.ok()) {
      Fail("resume", resumed.status());
    }
  }
  std::int64_t fired = 0;
  int rounds = 0;
  const auto sweep_start = Clock::now();
  for (;;) {
    auto round = processor.FireTimers();
    if (!round.ok()) Fail("sweep", round.status());
    ++rounds;
    if (*round == 0) break;
    fired += static_cast<std::int64_t>(*round);
  }
  const double sweep_seconds = SecondsSince(sweep_start);
  std::cout << std::setprecision(2) << "sweep:          " << fired << " timers fired, "
            << sink.sent() << " changes emitted, in " << std::setprecision(3) << sweep_seconds
            << " s (" << rounds << " Processor::FireTimers calls, the last finding nothing)\n"
            << std::setprecision(0)
            << "fire rate:      " << static_cast<double>(fired) / sweep_seconds
            << " timers fired/s, " << std::setprecision(1)
            << sweep_seconds * 1e6 / static_cast<double>(fired)
            << " us per fired timer (lookup, load, fire, commit)\n"
            << "scan / sweep:   " << scan_seconds / sweep_seconds
            << "x: a full scan takes that many times as long as the sweep\n"
            << "scan / lookup:  " << std::setprecision(0) << scan_seconds / lookup_seconds
            << "x: finding the due customers by scanning vs in the timer index\n";

  // A reload that adds one segment: only it is evaluated for each stored profile, and only the
  // profiles that enter it are written.
  auto edited = cdp::rules::LoadSegmentCatalogue(options.segments);
  if (!edited.ok()) Fail("segments", edited.status());
  auto added = cdp::rules::CompileExpression("days_since_last_purchase <= 7",
                                             cdp::rules::SourceLocation{"timer-bench", 1, 1});
  if (!added.ok()) Fail("added segment", added.status());
  edited->segments.push_back(
      cdp::rules::Segment{.id = "timer_bench_added", .description = "", .when = std::move(*added)});
  if (absl::Status set = processor.SetEngine(std::make_shared<const cdp::core::Engine>(
          std::make_shared<const cdp::rules::SegmentCatalogue>(std::move(*edited)),
          cdp::core::EngineOptions{}));
      !set.ok()) {
    Fail("reload", set);
  }
  const std::int64_t sent_before = sink.sent();
  std::int64_t reevaluated = 0;
  rounds = 0;
  const auto reload_start = Clock::now();
  while (processor.PartitionsToReevaluate() > 0) {
    auto round = processor.ReevaluateDefinitions();
    if (!round.ok()) Fail("reload", round.status());
    reevaluated += static_cast<std::int64_t>(*round);
    ++rounds;
  }
  const double reload_seconds = SecondsSince(reload_start);
  std::cout << std::setprecision(2) << "reload:         " << reevaluated
            << " profiles re-evaluated for 1 added segment, " << sink.sent() - sent_before
            << " changes emitted, in " << reload_seconds << " s (" << rounds
            << " Processor::ReevaluateDefinitions calls)\n"
            << std::setprecision(0)
            << "reload rate:    " << static_cast<double>(reevaluated) / reload_seconds
            << " profiles re-evaluated/s (read, evaluate, write the changed ones, commit)\n";
  return 0;
}
