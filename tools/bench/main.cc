// pipeline-bench: end-to-end throughput and latency of the real pipeline on the embedded broker,
// next to the raw consume rate of a consumer that does nothing, on the same broker and data.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdp/core/engine.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "cdp/kafka/partition_reader.h"
#include "cdp/kafka/producer.h"
#include "cdp/pipeline/metrics.h"
#include "cdp/pipeline/processor.h"
#include "cdp/rules/catalogue.h"
#include "cdp/state/store.h"
#include "config.h"
#include "generator.h"
#include "kafka_adapters.h"
#include "log.h"
#include "prometheus/registry.h"
#include "run.h"
#include "sink.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::int64_t events = 1'000'000;
  std::int64_t customers = 100'000;
  int partitions = 32;
  // The service's defaults.
  int batch_size = cdp::service::Config{}.batch_size;
  // As the service's --batch-max-wait: how long a batch keeps filling after its first record.
  int batch_max_wait_ms =
      static_cast<int>(absl::ToInt64Milliseconds(cdp::service::Config{}.batch_max_wait));
  double latency_rate = 20'000;
  int latency_seconds = 5;
  std::string format = "protobuf";
  // live: events stamped as they are made, as a running deployment sees them; history: a year of
  // simulated history (a backfill judged at today's clock, so tiers change far more often).
  std::string traffic = "live";
  std::string segments = "deploy/config/segments.yaml";
  // As the service's --threads and --lanes; 0: their defaults.
  cdp::service::Parallelism parallelism;
  // The service's default: every profile write also goes to the changelog topic.
  bool changelog = true;
  // As the service's --restore-threads; 0: one per core.
  int restore_threads = 0;
  // A restore here lasts a fraction of a second: its figure is the median of this many.
  int restore_runs = 3;
  // The pipeline's figure is the median of this many runs over the same events.
  int pipeline_runs = 1;
};

constexpr const char* kUsage =
    "Usage: pipeline-bench [--events N] [--customers N] [--partitions N] [--batch-size N]\n"
    "                      [--batch-max-wait-ms MS] [--format protobuf|json]\n"
    "                      [--latency-rate EVENTS_PER_S] [--latency-seconds S]\n"
    "                      [--segments FILE] [--traffic live|history] [--threads N]\n"
    "                      [--lanes N] [--changelog on|off] [--restore-threads N]\n"
    "                      [--restore-runs N] [--pipeline-runs N]\n"
    "Preloads N events into an embedded broker, measures the raw consume rate of a consumer that\n"
    "does nothing, then the full pipeline over the same records (events/s), then the latency from\n"
    "an event's occurred_at to its segment change being delivered and committed, with events\n"
    "published live at --latency-rate. With --pipeline-runs N (default 1) the pipeline runs N\n"
    "times over the same records, each time into a new, empty store, and its figures are the\n"
    "median and range of the N. Batches fill as in the service, with its defaults: --batch-size\n"
    "records, or what came --batch-max-wait-ms after the first, processed in --lanes lanes on\n"
    "--threads threads (defaults as in the service: a thread per core, 4 lanes per thread at\n"
    "most one per partition). With the changelog (the default, as in the service), last it\n"
    "assigns every partition to a new owner with an empty store, which restores them from the\n"
    "changelog on --restore-threads threads (default: one per core, as in the service), and\n"
    "times that (the median and range of --restore-runs restores, default 3); then the same\n"
    "from a compacted copy of the changelog (the last record of each key), which is what a real\n"
    "cluster's restore reads: the embedded broker does not compact.\n";

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
    if (flag == "--events")
      ok = number(options.events);
    else if (flag == "--customers")
      ok = number(options.customers);
    else if (flag == "--partitions")
      ok = number(options.partitions);
    else if (flag == "--batch-size")
      ok = number(options.batch_size);
    else if (flag == "--batch-max-wait-ms" && value == "0")
      options.batch_max_wait_ms = 0;
    else if (flag == "--batch-max-wait-ms")
      ok = number(options.batch_max_wait_ms);
    else if (flag == "--threads")
      ok = number(options.parallelism.threads);
    else if (flag == "--lanes")
      ok = number(options.parallelism.lanes);
    else if (flag == "--latency-rate")
      ok = number(options.latency_rate);
    else if (flag == "--latency-seconds")
      ok = number(options.latency_seconds);
    else if (flag == "--format" && (value == "protobuf" || value == "json"))
      options.format = value;
    else if (flag == "--segments")
      options.segments = value;
    else if (flag == "--traffic" && (value == "live" || value == "history"))
      options.traffic = value;
    else if (flag == "--changelog" && (value == "on" || value == "off"))
      options.changelog = value == "on";
    else if (flag == "--restore-threads")
      ok = number(options.restore_threads);
    else if (flag == "--restore-runs")
      ok = number(options.restore_runs);
    else if (flag == "--pipeline-runs")
      ok = number(options.pipeline_runs);
    else
      ok = false;
    if (!ok) return false;
  }
  return true;
}

[[noreturn]] void Fail(std::string_view what, const absl::Status& status) {
  std::cerr << "pipeline-bench: " << what << ": " << status.message() << "\n";
  std::exit(1);
}

constexpr const char* kChangelogTopic = "profile-changelog";
constexpr const char* kCompactedChangelogTopic = "profile-changelog-compacted";
// Where the outputs of the pipeline's runs after the first go.
constexpr const char* kRunsChangesTopic = "segment-changes-runs";
constexpr const char* kRunsChangelogTopic = "profile-changelog-runs";

// What every thread of the process has used so far.
struct ProcessUsage {
  double cpu_seconds = 0;        // user and system time
  std::int64_t page_faults = 0;  // a fault on a 2 MiB huge page counting as one
};

ProcessUsage UsageSoFar() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return {.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime),
          .page_faults = usage.ru_minflt + usage.ru_majflt};
}

// Anonymous huge pages the kernel has faulted in so far, for every process of the machine: no
// per-process count exists. The kernel zeroes each 2 MiB first, a large part of a run's CPU
// (README, "Benchmark"). nullopt where the kernel does not tell (no /proc/vmstat).
std::optional<std::int64_t> HugePageFaults() {
  std::ifstream vmstat("/proc/vmstat");
  std::string name;
  std::int64_t value = 0;
  while (vmstat >> name >> value) {
    if (name == "thp_fault_alloc") return value;
  }
  return std::nullopt;
}

// What a new owner with an empty disk pays: every partition assigned to it at once, restored from
// the changelog, as the service's rebalance callback does.
struct RestoreRun {
  // Set when the restore refused a changelog that lost its oldest records.
  std::optional<std::string> data_loss;
  std::uint64_t profiles = 0;
  double records = 0;
  double seconds = 0;
  double cores = 0;
};

// Restores every partition from `changelog_topic` into a new, empty store, as a new owner's
// rebalance callback does.
RestoreRun RestoreOnce(const std::string& bootstrap, const Options& options,
                       std::shared_ptr<const cdp::core::Engine> engine,
                       cdp::pipeline::OutputSink& sink, const std::filesystem::path& data_dir,
                       const std::string& changelog_topic) {
  RestoreRun run;
  std::filesystem::remove_all(data_dir);
  auto store = cdp::state::Store::Open({.path = data_dir.string()});
  if (!store.ok()) Fail("state", store.status());
  {
    // Gone before the store: the owner persists what the restore wrote as it goes.
    auto readers = cdp::service::RestoreReaders::Open({.bootstrap_servers = bootstrap},
                                                      changelog_topic, options.restore_threads);
    if (!readers.ok()) Fail("changelog readers", readers.status());
    cdp::pipeline::ProcessorOptions processor_options;
    processor_options.lanes = options.parallelism.lanes;
    processor_options.threads = options.parallelism.threads;
    cdp::pipeline::Processor processor(
        std::move(engine), **store, sink, [] { return absl::Now(); }, processor_options, nullptr);
    prometheus::Registry registry;
    auto metrics = cdp::service::OwnershipMetrics::Register(registry);
    cdp::service::Ownership ownership(processor, nullptr, **store, readers->changelogs(), &metrics,
                                      nullptr);
    std::vector<cdp::kafka::TopicPartition> partitions;
    partitions.reserve(static_cast<std::size_t>(options.partitions));
    for (int p = 0; p < options.partitions; ++p) {
      partitions.push_back({changelog_topic, cdp::Partition(p)});
    }
    const double cpu_before = UsageSoFar().cpu_seconds;
    const auto started = Clock::now();
    auto assigned = ownership.OnAssigned(partitions);
    run.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    run.cores = (UsageSoFar().cpu_seconds - cpu_before) / run.seconds;
    if (absl::IsDataLoss(assigned.status())) {
      run.data_loss = std::string(assigned.status().message());
    } else if (!assigned.ok()) {
      Fail("restore", assigned.status());
    } else {
      const absl::Status counted = (*store)->ForEachProfile(
          std::nullopt, [&](cdp::Partition, const cdp::v1::CustomerProfile&) {
            ++run.profiles;
            return true;
          });
      if (!counted.ok()) Fail("counting the restored profiles", counted);
      run.records = metrics.records.Value();
    }
  }
  store->reset();
  std::filesystem::remove_all(data_dir);
  return run;
}

// Restores `changelog_topic` options.restore_runs times and prints the median run, and the range
// of profiles/s, on a line that starts with `label`.
void MeasureRestore(const std::string& bootstrap, const Options& options,
                    const std::shared_ptr<const cdp::core::Engine>& engine,
                    cdp::pipeline::OutputSink& sink, const std::filesystem::path& data_dir,
                    const std::string& changelog_topic, std::string_view label,
                    std::string_view what) {
  // One line per restored partition would bury the figures.
  cdp::service::ConfigureLog(cdp::service::LogLevel::kWarn, cdp::service::LogFormat::kText);
  std::vector<RestoreRun> runs;
  runs.reserve(static_cast<std::size_t>(options.restore_runs));
  for (int i = 0; i < options.restore_runs; ++i) {
    runs.push_back(RestoreOnce(bootstrap, options, engine, sink, data_dir, changelog_topic));
    if (runs.back().data_loss.has_value()) {
      std::cout << label
                << "not measured: the embedded broker keeps about 5 MiB per "
                   "partition and dropped the changelog's oldest records; run with fewer "
                   "--events ("
                << *runs.back().data_loss << ")\n";
      return;
    }
  }
  const auto rate = [](const RestoreRun& run) {
    return static_cast<double>(run.profiles) / run.seconds;
  };
  std::sort(runs.begin(), runs.end(),
            [&](const RestoreRun& a, const RestoreRun& b) { return rate(a) < rate(b); });
  const RestoreRun& median = runs[runs.size() / 2];
  std::cout << std::setprecision(0) << label << rate(median) << " profiles/s ("
            << rate(runs.front()) << "-" << rate(runs.back()) << " over " << options.restore_runs
            << " restores), " << median.records / median.seconds << " changelog records/s ("
            << median.profiles << " profiles from " << median.records << " records, "
            << std::setprecision(2) << median.seconds << " s, " << options.restore_threads
            << " threads, " << median.cores << " cores busy; " << what << ")\n";
}

// Copies each partition of the changelog as Kafka's log cleaner leaves a compacted topic (the
// embedded broker does not compact): the last record of each key, tombstones included, in their
// order. That is what a real cluster's restore reads, give or take the segment the cleaner has
// not reached yet. False, copying nothing, when the embedded broker dropped a partition's oldest
// records: compacted, it would not hold every profile either.
bool CompactChangelog(const std::string& bootstrap, int partitions,
                      const std::string& compacted_topic) {
  auto reader = cdp::kafka::PartitionReader::Create({.bootstrap_servers = bootstrap});
  if (!reader.ok()) Fail("changelog reader", reader.status());
  auto producer = cdp::kafka::Producer::Create({.bootstrap_servers = bootstrap});
  if (!producer.ok()) Fail("producer", producer.status());
  struct Kept {
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  for (int p = 0; p < partitions; ++p) {
    const cdp::kafka::TopicPartition tp{kChangelogTopic, cdp::Partition(p)};
    auto watermarks = (*reader)->QueryWatermarks(tp, absl::Seconds(10));
    if (!watermarks.ok()) Fail("changelog offsets", watermarks.status());
    if (watermarks->low > 0) return false;
    std::vector<Kept> records;
    std::unordered_map<std::string, std::size_t> last_of_key;
    const absl::Status read = (*reader)->Read(
        tp, watermarks->low, watermarks->high,
        [&](const cdp::kafka::Message& message) {
          Kept kept{
              message.key().has_value() ? std::optional<std::string>(*message.key()) : std::nullopt,
              message.value().has_value() ? std::optional<std::string>(*message.value())
                                          : std::nullopt,
              {}};
          for (const cdp::kafka::Header& header : message.headers()) {
            kept.headers.emplace_back(header.name, header.value);
          }
          if (kept.key.has_value()) last_of_key[*kept.key] = records.size();
          records.push_back(std::move(kept));
          return absl::OkStatus();
        },
        absl::Seconds(10));
    if (!read.ok()) Fail("reading the changelog", read);
    for (std::size_t i = 0; i < records.size(); ++i) {
      const Kept& record = records[i];
      if (record.key.has_value() && last_of_key.at(*record.key) != i) continue;
      std::vector<cdp::kafka::Header> headers;
      for (const auto& [name, value] : record.headers) headers.push_back({name, value});
      if (absl::Status produced = (*producer)->Produce(compacted_topic, record.key, record.value,
                                                       headers, cdp::Partition(p));
          !produced.ok()) {
        Fail("copying the changelog", produced);
      }
    }
  }
  if (absl::Status flushed = (*producer)->Flush(absl::Seconds(30)); !flushed.ok()) {
    Fail("copying the changelog", flushed);
  }
  return true;
}

// Starts every assigned partition from the beginning of the topic.
class FromEarliest : public cdp::kafka::RebalanceHandler {
 public:
  absl::StatusOr<std::map<cdp::kafka::TopicPartition, cdp::Offset>> OnAssigned(
      const std::vector<cdp::kafka::TopicPartition>& partitions) override {
    std::map<cdp::kafka::TopicPartition, cdp::Offset> start;
    for (const auto& tp : partitions) start[tp] = cdp::Offset(0);
    return start;
  }
  void OnRevoked(const std::vector<cdp::kafka::TopicPartition>&) override {}
  void OnLost(const std::vector<cdp::kafka::TopicPartition>&) override {}
};

// fetch.wait.max.ms: the mock broker answers an empty fetch only after that wait, instead of
// waking the fetch when records arrive as Kafka does; 500 ms by default would dominate latency.
cdp::kafka::Properties ConsumerProperties() {
  return {{"fetch.max.bytes", "52428800"},
          {"max.partition.fetch.bytes", "4194304"},
          {"queued.min.messages", "200000"},
          {"fetch.wait.max.ms", "10"}};
}

std::int64_t Publish(const std::string& bootstrap, const Options& options,
                     cdp::tools::ClockMode clock, std::int64_t events, double rate,
                     std::uint64_t seed) {
  cdp::tools::GeneratorOptions generator_options;
  generator_options.seed = seed;
  generator_options.customers = options.customers;
  generator_options.events = events;
  generator_options.clock = clock;
  generator_options.start = absl::Now() - absl::Hours(24 * 365);
  auto generator = cdp::tools::Generator::Create(generator_options);
  if (!generator.ok()) Fail("generator", generator.status());
  const auto format =
      options.format == "json" ? cdp::tools::WireFormat::kJson : cdp::tools::WireFormat::kProtobuf;
  auto sink = cdp::tools::OpenKafkaSink({.brokers = bootstrap,
                                         .topic = "customer-events",
                                         .format = format,
                                         .properties = {{"linger.ms", "20"}}});
  if (!sink.ok()) Fail("producer", sink.status());
  std::atomic<bool> never = false;
  std::ostringstream progress;
  const auto summary =
      cdp::tools::RunTraffic(*generator, **sink, {.format = format, .rate = rate}, never, progress);
  if (!summary.status.ok()) Fail("publishing", summary.status);
  if (auto finished = (*sink)->Finish(); !finished.ok()) Fail("publishing", finished);
  return summary.written;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

// One timed pass of the pipeline over the preloaded events.
struct PipelineRun {
  double seconds = 0;
  double cpu_seconds = 0;
  std::int64_t page_faults = 0;
  std::optional<std::int64_t> huge_page_faults;
  [[nodiscard]] double cores() const { return cpu_seconds / seconds; }
};

// The pipeline as the service wires it, on a new, empty store in `dir`: the processor with the
// service's metrics, fed by a consumer of the input under its own group, from the earliest record.
class PipelineRig {
 public:
  PipelineRig(const std::string& bootstrap, const Options& options,
              const std::shared_ptr<const cdp::core::Engine>& engine,
              cdp::pipeline::OutputSink& sink, std::filesystem::path dir,
              const std::string& group_id)
      : options_(options), dir_(std::move(dir)) {
    std::filesystem::remove_all(dir_);
    auto store = cdp::state::Store::Open({.path = dir_.string()});
    if (!store.ok()) Fail("state", store.status());
    store_ = std::move(*store);
    cdp::pipeline::ProcessorOptions processor_options;
    processor_options.changelog = options.changelog;
    processor_options.cache_capacity =
        static_cast<std::size_t>(cdp::service::Config{}.cache_profiles);
    processor_options.lanes = options.parallelism.lanes;
    processor_options.threads = options.parallelism.threads;
    // The service's own metrics, so the run pays for them as the service does.
    metrics_ = std::make_unique<cdp::pipeline::PipelineMetrics>(registry_, engine->catalogue(),
                                                                "customer-events");
    processor_ = std::make_unique<cdp::pipeline::Processor>(
        engine, *store_, sink, [] { return absl::Now(); }, processor_options, metrics_.get());
    ownership_ = std::make_unique<cdp::service::Ownership>(
        *processor_, nullptr, *store_, std::vector<cdp::service::KafkaChangelog*>{}, nullptr,
        nullptr);
    auto consumer = cdp::kafka::Consumer::Create({.bootstrap_servers = bootstrap,
                                                  .group_id = group_id,
                                                  .topics = {"customer-events"},
                                                  .properties = ConsumerProperties()},
                                                 *ownership_);
    if (!consumer.ok()) Fail("consumer", consumer.status());
    consumer_ = std::move(*consumer);
  }
  PipelineRig(const PipelineRig&) = delete;
  PipelineRig& operator=(const PipelineRig&) = delete;
  ~PipelineRig() {
    (void)consumer_->Close();
    consumer_.reset();
    ownership_.reset();
    processor_.reset();
    store_.reset();
    std::error_code ignored;  // a leftover temporary directory is no reason to abort
    std::filesystem::remove_all(dir_, ignored);
  }

  cdp::pipeline::Processor& processor() { return *processor_; }
  cdp::state::Store& store() { return *store_; }

  // Processes batches until `target` events have been processed since the rig was made.
  void ConsumeUntil(std::int64_t target, Clock::time_point* first) {
    while (processed_ < target) {
      auto batch =
          consumer_->Poll(static_cast<std::size_t>(options_.batch_size), absl::Milliseconds(200),
                          absl::Milliseconds(options_.batch_max_wait_ms));
      if (!batch.ok()) Fail("consume", batch.status());
      if (batch->empty()) continue;
      if (first != nullptr && processed_ == 0) *first = Clock::now();
      if (auto status = processor_->Process(cdp::service::ToInputRecords(*batch, ""));
          !status.ok()) {
        Fail("pipeline", status);
      }
      (void)consumer_->CommitOffsets(cdp::service::NextOffsets(*batch));
      processed_ += static_cast<std::int64_t>(batch->size());
    }
  }

  // Times processing the first `events`, from the first batch polled to the last committed.
  PipelineRun Time(std::int64_t events) {
    Clock::time_point first;
    const ProcessUsage before = UsageSoFar();
    const std::optional<std::int64_t> huge_before = HugePageFaults();
    ConsumeUntil(events, &first);
    const ProcessUsage after = UsageSoFar();
    const std::optional<std::int64_t> huge_after = HugePageFaults();
    return {.seconds = std::chrono::duration<double>(Clock::now() - first).count(),
            .cpu_seconds = after.cpu_seconds - before.cpu_seconds,
            .page_faults = after.page_faults - before.page_faults,
            .huge_page_faults = huge_before && huge_after
                                    ? std::optional(*huge_after - *huge_before)
                                    : std::nullopt};
  }

 private:
  const Options& options_;
  std::filesystem::path dir_;
  std::unique_ptr<cdp::state::Store> store_;
  prometheus::Registry registry_;
  std::unique_ptr<cdp::pipeline::PipelineMetrics> metrics_;
  std::unique_ptr<cdp::pipeline::Processor> processor_;
  std::unique_ptr<cdp::service::Ownership> ownership_;
  std::unique_ptr<cdp::kafka::Consumer> consumer_;
  std::int64_t processed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseFlags(argc, argv, options)) {
    std::cerr << "pipeline-bench: bad arguments\n" << kUsage;
    return 2;
  }
  const int cores = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  options.parallelism = cdp::service::ResolveParallelism(options.parallelism, options.partitions);
  if (options.restore_threads == 0) options.restore_threads = cores;
  auto catalogue = cdp::rules::LoadSegmentCatalogue(options.segments);
  if (!catalogue.ok()) Fail("segments", catalogue.status());
  auto engine = std::make_shared<const cdp::core::Engine>(
      std::make_shared<const cdp::rules::SegmentCatalogue>(std::move(*catalogue)),
      cdp::core::EngineOptions{});

  auto cluster = cdp::kafka::MockCluster::Start(1);
  if (!cluster.ok()) Fail("embedded broker", cluster.status());
  std::vector<std::pair<std::string, int>> topics = {
      {"customer-events", options.partitions},
      {"segment-changes", options.partitions},
      {"customer-events-dlq", 1},
      {kChangelogTopic, options.partitions},
      {kCompactedChangelogTopic, options.partitions}};
  if (options.pipeline_runs > 1) {
    topics.emplace_back(kRunsChangesTopic, options.partitions);
    topics.emplace_back(kRunsChangelogTopic, options.partitions);
  }
  for (const auto& [topic, partitions] : topics) {
    if (auto created = (*cluster)->CreateTopic(topic, partitions, 1); !created.ok()) {
      Fail("topic", created);
    }
  }
  const std::string bootstrap = (*cluster)->bootstrap_servers();

  std::cout << "pipeline-bench: " << options.events << " events, " << options.customers
            << " customers, " << options.partitions << " partitions, " << options.format << ", "
            << options.traffic << " traffic, batch " << options.batch_size << ", "
            << options.parallelism.lanes << " lanes on " << options.parallelism.threads
            << " threads, changelog " << (options.changelog ? "on" : "off") << ", "
            << std::thread::hardware_concurrency() << " cores\n";
  auto preload_start = Clock::now();
  const std::int64_t preloaded = Publish(
      bootstrap, options,
      options.traffic == "live" ? cdp::tools::ClockMode::kLive : cdp::tools::ClockMode::kSimulated,
      options.events, 0, 1);
  const double preload_seconds =
      std::chrono::duration<double>(Clock::now() - preload_start).count();
  std::cout << std::fixed << std::setprecision(0) << "preload:        " << preloaded
            << " events in " << std::setprecision(2) << preload_seconds << " s\n";

  // Raw consume: what the broker and client alone allow.
  double raw_rate = 0;
  {
    FromEarliest handler;
    auto consumer = cdp::kafka::Consumer::Create({.bootstrap_servers = bootstrap,
                                                  .group_id = "bench-raw",
                                                  .topics = {"customer-events"},
                                                  .properties = ConsumerProperties()},
                                                 handler);
    if (!consumer.ok()) Fail("consumer", consumer.status());
    std::int64_t consumed = 0;
    Clock::time_point first;
    while (consumed < preloaded) {
      auto batch =
          (*consumer)->Poll(static_cast<std::size_t>(options.batch_size), absl::Milliseconds(500),
                            absl::Milliseconds(options.batch_max_wait_ms));
      if (!batch.ok()) Fail("consume", batch.status());
      if (consumed == 0 && !batch->empty()) first = Clock::now();
      consumed += static_cast<std::int64_t>(batch->size());
    }
    raw_rate =
        static_cast<double>(consumed) / std::chrono::duration<double>(Clock::now() - first).count();
    (void)(*consumer)->Close();
  }

  const auto data_dir =
      std::filesystem::temp_directory_path() / absl::StrCat("pipeline-bench-", ::getpid());
  auto producer = cdp::kafka::Producer::Create({.bootstrap_servers = bootstrap});
  if (!producer.ok()) Fail("producer", producer.status());
  // Customers are keyed right: nothing goes through a repartition topic.
  cdp::service::KafkaSink sink(**producer, "segment-changes", "customer-events-dlq",
                               kChangelogTopic, "");
  std::optional<PipelineRig> rig;
  rig.emplace(bootstrap, options, engine, sink, data_dir, "bench-pipeline");
  std::mutex latency_mutex;
  std::vector<double> latencies;
  std::atomic<bool> measuring_latency = false;
  std::int64_t changes = 0;
  rig->processor().SetChangeObserver([&](const cdp::v1::SegmentChange& change) {
    ++changes;
    if (!measuring_latency) return;
    const absl::Time occurred = absl::FromUnixSeconds(change.occurred_at().seconds()) +
                                absl::Nanoseconds(change.occurred_at().nanos());
    std::lock_guard lock(latency_mutex);
    latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - occurred));
  });
  std::vector<PipelineRun> runs = {rig->Time(preloaded)};
  const std::int64_t throughput_changes = changes;
  if (options.pipeline_runs > 1) {
    // Their outputs go to topics of their own: the restores below read the first run's changelog.
    cdp::service::KafkaSink runs_sink(**producer, kRunsChangesTopic, "customer-events-dlq",
                                      kRunsChangelogTopic, "");
    for (int run = 1; run < options.pipeline_runs; ++run) {
      PipelineRig again(bootstrap, options, engine, runs_sink,
                        absl::StrCat(data_dir.string(), "-run", run),
                        absl::StrCat("bench-pipeline-", run));
      runs.push_back(again.Time(preloaded));
    }
  }
  // In the order they ran: the first runs fault in memory the later ones reuse.
  std::string huge_faults_by_run;
  for (const PipelineRun& run : runs) {
    if (!run.huge_page_faults) break;
    absl::StrAppend(&huge_faults_by_run, huge_faults_by_run.empty() ? "" : " ",
                    *run.huge_page_faults);
  }
  std::sort(runs.begin(), runs.end(),
            [](const PipelineRun& a, const PipelineRun& b) { return a.seconds > b.seconds; });
  const PipelineRun& median_run = runs[runs.size() / 2];
  const auto rate = [&](const PipelineRun& run) {
    return static_cast<double>(preloaded) / run.seconds;
  };
  const double pipeline_rate = rate(median_run);

  // Latency: events published live, below capacity, while the pipeline keeps up.
  measuring_latency = true;
  const auto live_events =
      static_cast<std::int64_t>(options.latency_rate * options.latency_seconds);
  std::int64_t published_live = 0;
  std::thread publisher([&] {
    published_live = Publish(bootstrap, options, cdp::tools::ClockMode::kLive, live_events,
                             options.latency_rate, 2);
  });
  rig->ConsumeUntil(preloaded + live_events, nullptr);
  publisher.join();

  auto stats = rig->store().GetStats();
  std::cout << std::setprecision(0) << "raw consume:    " << raw_rate
            << " events/s (a consumer that does nothing)\n"
            << "pipeline:       " << pipeline_rate << " events/s end to end";
  if (runs.size() > 1) {
    std::cout << ", the median of " << runs.size() << " runs (" << rate(runs.front()) << "-"
              << rate(runs.back()) << ")";
  }
  std::cout << " (" << throughput_changes << " segment changes, " << std::setprecision(2)
            << median_run.seconds << " s)\n"
            << "ratio:          " << std::setprecision(2) << pipeline_rate / raw_rate
            << " of the raw consume rate\n"
            << "cpu:            " << std::setprecision(2) << median_run.cores()
            << " cores busy during the pipeline run, " << std::setprecision(1)
            << median_run.cpu_seconds * 1e6 / static_cast<double>(preloaded)
            << " us of CPU per event (every thread, the embedded broker's included)\n"
            << "faults:         " << median_run.page_faults << " page faults in the median run";
  if (median_run.huge_page_faults) {
    std::cout << "; " << *median_run.huge_page_faults
              << " huge pages (2 MiB) faulted in meanwhile, machine-wide (every run in order: "
              << huge_faults_by_run << ")";
  }
  std::cout << "\n"
            << std::setprecision(1) << "latency:        p50 " << Percentile(latencies, 0.5)
            << " ms, p99 " << Percentile(latencies, 0.99) << " ms, occurred_at -> change "
            << "delivered and committed (" << latencies.size() << " changes, " << published_live
            << " events at " << std::setprecision(0) << options.latency_rate << "/s)\n";
  if (stats.ok()) {
    std::cout << "state:          ~" << stats->estimated_profiles << " profiles, "
              << stats->sst_files_bytes / (1 << 20) << " MiB in SST files\n";
  }
  rig.reset();
  (void)(*producer)->Flush(absl::Seconds(10));
  if (options.changelog) {
    MeasureRestore(bootstrap, options, engine, sink, data_dir, kChangelogTopic, "restore:        ",
                   "every partition assigned to a new owner with an empty store");
    if (CompactChangelog(bootstrap, options.partitions, kCompactedChangelogTopic)) {
      MeasureRestore(bootstrap, options, engine, sink, data_dir, kCompactedChangelogTopic,
                     "  compacted:    ",
                     "the same changelog as a real cluster compacts it: the last record of each "
                     "key");
    } else {
      std::cout << "  compacted:    not measured either\n";
    }
  }
  return 0;
}
