#include "application.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapter_metrics.h"
#include "admin_endpoints.h"
#include "cdp/common/first_line.h"
#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "cdp/http/metrics_text.h"
#include "cdp/http/server.h"
#include "cdp/kafka/admin.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "cdp/kafka/producer.h"
#include "cdp/pipeline/processor.h"
#include "cdp/rules/catalogue.h"
#include "cdp/state/store.h"
#include "crash_points.h"
#include "explain_endpoint.h"
#include "kafka_adapters.h"
#include "log.h"
#include "profile_json.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "protobuf_log.h"
#include "scrubber.h"
#include "segment_watcher.h"

namespace cdp::service {
namespace {

std::string FormatChange(const v1::SegmentChange& change) {
  std::string line = absl::StrCat(
      absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()), "  ", change.customer_id(),
      change.direction() == v1::SegmentChange::entered ? "  entered " : "  exited  ",
      change.dimension().empty() ? "" : absl::StrCat(change.dimension(), "/"), change.segment());
  if (!change.previous_tier().empty())
    absl::StrAppend(&line, " (from ", change.previous_tier(), ")");
  if (!change.next_tier().empty()) absl::StrAppend(&line, " (to ", change.next_tier(), ")");
  absl::StrAppend(&line, "  cause=", v1::SegmentChange::Cause_Name(change.cause()));
  return line;
}

absl::Status WriteStatusFile(const std::string& path, int http_port, const std::string& bootstrap) {
  const nlohmann::json status = {{"http_port", http_port},
                                 {"bootstrap_servers", bootstrap},
                                 {"pid", static_cast<long>(::getpid())}};
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp);
    out << status.dump() << "\n";
    if (!out)
      return absl::UnavailableError(absl::StrCat("cannot write --status-file '", path, "'"));
  }
  std::error_code error;
  std::filesystem::rename(temp, path, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot write --status-file '", path, "': ", error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAdminToken(const std::string& path) {
  std::optional<std::string> read = ReadFirstLine(path);
  if (!read) {
    return absl::InvalidArgumentError(
        absl::StrCat("--admin-token-file: cannot read a token from '", path, "'"));
  }
  std::string token = *std::move(read);
  std::error_code error;
  const auto permissions = std::filesystem::status(path, error).permissions();
  using std::filesystem::perms;
  if (!error && (permissions & (perms::group_all | perms::others_all)) != perms::none) {
    Log(LogLevel::kWarn, "--admin-token-file '", path,
        "' can be read by other users than its owner; chmod 600 it");
  }
  if (token.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("--admin-token-file: the token in '", path,
                     "' is shorter than 16 characters; use a long random one, e.g. from "
                     "`head -c 32 /dev/urandom | base64`"));
  }
  return token;
}

// The topics the service creates on a real cluster when they are missing.
std::vector<kafka::TopicSpec> TopicsToEnsure(const Config& config,
                                             const std::string& changelog_topic) {
  std::vector<kafka::TopicSpec> topics = {{config.input_topic, config.partitions, 1, {}},
                                          {config.output_topic, config.partitions, 1, {}},
                                          {config.dlq_topic, 1, 1, {}},
                                          {RepartitionTopic(config), config.partitions, 1, {}}};
  // Compacted: it keeps each customer's last profile, and deletions as tombstones. Bounded, so
  // that an erased customer's records are compacted away within about two days: segments roll
  // hourly, each is compacted at most a day after it was written, and tombstones are kept a day.
  if (!changelog_topic.empty()) {
    topics.push_back({changelog_topic,
                      config.partitions,
                      1,
                      {{"cleanup.policy", "compact"},
                       {"segment.ms", "3600000"},
                       {"max.compaction.lag.ms", "86400000"},
                       {"delete.retention.ms", "86400000"}}});
  }
  return topics;
}

// The engine of the running segment catalogue, for the HTTP threads: replaced on a reload.
class CurrentEngine {
 public:
  explicit CurrentEngine(std::shared_ptr<const core::Engine> engine) : engine_(std::move(engine)) {}

  [[nodiscard]] std::shared_ptr<const core::Engine> Get() const {
    std::lock_guard lock(mutex_);
    return engine_;
  }
  void Set(std::shared_ptr<const core::Engine> engine) {
    std::lock_guard lock(mutex_);
    engine_ = std::move(engine);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const core::Engine> engine_;
};

}  // namespace

int RunApplication(const Config& config, const std::atomic<bool>& stop) {
  ConfigureLog(config.log_level, config.log_format);
  RouteProtobufLogs();
  {
    std::string effective;
    for (const auto& [key, value] : EffectiveConfig(config)) {
      absl::StrAppend(&effective, " ", key, "=", value.empty() ? "\"\"" : value);
    }
    Log(LogLevel::kInfo, "profile-service ", CDP_VERSION, " starting; configuration:", effective);
  }
  auto crash_points = CrashPoints::FromEnvironment();
  if (!crash_points.ok()) {
    Log(LogLevel::kError, crash_points.status().message());
    return kExitBadConfig;
  }
  auto catalogue = rules::LoadSegmentCatalogue(config.segments);
  if (!catalogue.ok()) {
    Log(LogLevel::kError, "invalid segment catalogue:\n", catalogue.status().message());
    return kExitBadConfig;
  }
  auto shared_catalogue = std::make_shared<const rules::SegmentCatalogue>(std::move(*catalogue));
  core::EngineOptions engine_options;
  engine_options.reporting_currency = config.currency;
  engine_options.max_id_bytes = static_cast<std::size_t>(config.max_id_bytes);
  engine_options.items_total_tolerance = config.items_total_tolerance;
  engine_options.max_future_skew = config.max_future_skew;
  engine_options.max_past = config.max_event_age;
  auto engine = std::make_shared<const core::Engine>(shared_catalogue, engine_options);
  CurrentEngine current_engine(engine);
  SegmentWatcher segment_watcher(config.segments, config.segments_check_interval);
  SegmentWatcher::InstallSignalHandler();

  std::string admin_token;
  if (!config.admin_token_file.empty()) {
    auto token = ReadAdminToken(config.admin_token_file);
    if (!token.ok()) {
      Log(LogLevel::kError, token.status().message());
      return kExitBadConfig;
    }
    admin_token = *std::move(token);
  }

  auto store = state::Store::Open(state::StoreOptions{.path = config.data_dir});
  if (!store.ok()) {
    Log(LogLevel::kError, store.status().message());
    return kExitRuntimeError;
  }

  const std::string changelog_topic = ChangelogTopic(config);
  const std::string repartition_topic = RepartitionTopic(config);
  std::unique_ptr<kafka::MockCluster> embedded;
  std::string bootstrap = config.brokers;
  if (bootstrap.empty()) {
    auto cluster = kafka::MockCluster::Start(1);
    if (!cluster.ok()) {
      Log(LogLevel::kError, "cannot start the embedded broker: ", cluster.status().message());
      return kExitRuntimeError;
    }
    embedded = std::move(*cluster);
    std::vector<std::pair<std::string, int>> topics = {{config.input_topic, config.partitions},
                                                       {config.output_topic, config.partitions},
                                                       {config.dlq_topic, 1},
                                                       {repartition_topic, config.partitions}};
    if (!changelog_topic.empty()) topics.emplace_back(changelog_topic, config.partitions);
    for (const auto& [topic, partitions] : topics) {
      if (auto created = embedded->CreateTopic(topic, partitions, 1); !created.ok()) {
        Log(LogLevel::kError, created.message());
        return kExitRuntimeError;
      }
    }
    bootstrap = embedded->bootstrap_servers();
    std::cout << "Embedded Kafka broker (librdkafka mock cluster): bootstrap.servers=" << bootstrap
              << "\n  topics: " << config.input_topic << " (" << config.partitions
              << " partitions), " << config.output_topic << " (" << config.partitions
              << " partitions), " << config.dlq_topic << " (1 partition)"
              << (changelog_topic.empty() ? "" : ", " + changelog_topic + " (changelog)") << ", "
              << repartition_topic << " (repartition)\n"
              << "  publish your own events: kcat -P -b " << bootstrap << " -t "
              << config.input_topic << " -X partitioner="
              << (config.partitioner == Partitioner::kMurmur2 ? "murmur2_random"
                                                              : "consistent_random")
              << " -k CUSTOMER_ID\n";
  } else if (auto ensured = kafka::EnsureTopics(bootstrap, config.kafka_properties,
                                                TopicsToEnsure(config, changelog_topic));
             !ensured.ok()) {
    Log(LogLevel::kWarn, "could not make sure the topics exist (", ensured.message(),
        "); continuing with the topics as they are");
  }

  // State, changelog and repartition topic are all partitioned like the input: a customer's
  // partition must mean the same in each.
  auto partitions = CheckCoPartitioned(bootstrap, config.kafka_properties, config.input_topic,
                                       {repartition_topic, changelog_topic});
  if (!partitions.ok()) {
    Log(LogLevel::kError, partitions.status().message());
    return kExitBadConfig;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  pipeline::PipelineMetrics metrics(*registry, *shared_catalogue, config.input_topic,
                                    repartition_topic);
  prometheus::BuildGauge()
      .Name("cdp_build_info")
      .Help("Always 1; labels carry the build's version.")
      .Register(*registry)
      .Add({{"version", CDP_VERSION}})
      .Set(1);
  auto& ready_gauge = prometheus::BuildGauge()
                          .Name("cdp_ready")
                          .Help("1 when the service is consuming normally, 0 otherwise.")
                          .Register(*registry)
                          .Add({});
  auto& storage_faults = prometheus::BuildCounter()
                             .Name("cdp_storage_faults_total")
                             .Help(
                                 "Batches and timer rounds that the state store could not commit "
                                 "(disk full, I/O error); each is retried once the store "
                                 "recovers, or the process exits when it cannot.")
                             .Register(*registry)
                             .Add({});
  auto& storage_failing = prometheus::BuildGauge()
                              .Name("cdp_storage_failing")
                              .Help(
                                  "1 while the state store refuses writes after a storage fault: "
                                  "consumption is stopped and no offset moves until it recovers.")
                              .Register(*registry)
                              .Add({});
  auto& reloads = prometheus::BuildCounter()
                      .Name("cdp_segment_config_reloads_total")
                      .Help(
                          "Segment file reloads: applied, or invalid (the running definitions "
                          "were kept).")
                      .Register(*registry);
  auto& reloads_applied = reloads.Add({{"result", "applied"}});
  auto& reloads_invalid = reloads.Add({{"result", "invalid"}});
  auto& config_valid = prometheus::BuildGauge()
                           .Name("cdp_segment_config_valid")
                           .Help(
                               "1 when the segment file as last read is the one running, 0 when "
                               "it is invalid and the previous definitions are kept.")
                           .Register(*registry)
                           .Add({});
  config_valid.Set(1);
  auto& lag_family = prometheus::BuildGauge()
                         .Name("cdp_consumer_lag_records")
                         .Help("Input records not yet consumed, per owned partition.")
                         .Register(*registry);

  StoreMetrics store_metrics(*registry, **store, config.data_dir);
  KafkaClientMetrics kafka_metrics(*registry);
  kafka::ProducerOptions producer_options{.bootstrap_servers = bootstrap,
                                          .properties = config.kafka_properties,
                                          .stats = kafka_metrics.ForClient("producer", true)};
  auto producer = kafka::Producer::Create(producer_options);
  if (!producer.ok()) {
    Log(LogLevel::kError, producer.status().message());
    return kExitBadConfig;
  }
  KafkaSink sink(**producer, config.output_topic, config.dlq_topic, changelog_topic,
                 repartition_topic, &*crash_points);
  const Parallelism parallelism =
      ResolveParallelism({.threads = static_cast<std::size_t>(config.threads),
                          .lanes = static_cast<std::size_t>(config.lanes)},
                         *partitions);
  Log(LogLevel::kInfo, "processing ", config.input_topic, "'s ", *partitions, " partitions in ",
      parallelism.lanes, " lanes on ", parallelism.threads, " threads");
  pipeline::ProcessorOptions processor_options{
      .input_topic = config.input_topic,
      .clock = config.clock == Clock::kWall ? pipeline::ClockMode::kWall
                                            : pipeline::ClockMode::kEventTime,
      .dedup_retention = config.dedup_retention,
      .decode = {.max_record_bytes = static_cast<std::size_t>(config.max_record_bytes)},
      .output_format = config.output_format == "json" ? core::OutputFormat::kJson
                                                      : core::OutputFormat::kProtobuf,
      .cache_capacity = static_cast<std::size_t>(config.cache_profiles),
      .lanes = parallelism.lanes,
      .threads = parallelism.threads,
      .changelog = !changelog_topic.empty()};
  processor_options.routing = pipeline::Routing{.partitions = *partitions,
                                                .partitioner = config.partitioner,
                                                .repartition_topic = repartition_topic};
  pipeline::Processor processor(
      engine, **store, sink, [] { return absl::Now(); }, processor_options, &metrics);
  if (config.print_changes) {
    processor.SetChangeObserver(
        [](const v1::SegmentChange& change) { std::cout << FormatChange(change) << std::endl; });
  }

  RestoreReaders restore_readers;
  if (!changelog_topic.empty()) {
    auto opened =
        RestoreReaders::Open(kafka::PartitionReaderOptions{.bootstrap_servers = bootstrap,
                                                           .properties = config.kafka_properties},
                             changelog_topic, config.restore_threads);
    if (!opened.ok()) {
      Log(LogLevel::kError, opened.status().message());
      return kExitBadConfig;
    }
    restore_readers = std::move(*opened);
  }
  OwnershipMetrics ownership_metrics = OwnershipMetrics::Register(*registry);
  kafka::Properties consumer_properties;
  if (embedded != nullptr) {
    // The mock broker answers an empty fetch only after fetch.wait.max.ms (500 ms by default): it
    // does not wake a waiting fetch when records arrive, as Kafka does. --kafka-property still
    // wins.
    consumer_properties.emplace_back("fetch.wait.max.ms", "10");
  }
  consumer_properties.insert(consumer_properties.end(), config.kafka_properties.begin(),
                             config.kafka_properties.end());
  auto repartition_consumer = kafka::AssignedConsumer::Create({.bootstrap_servers = bootstrap,
                                                               .group_id = config.group_id,
                                                               .properties = consumer_properties});
  if (!repartition_consumer.ok()) {
    Log(LogLevel::kError, repartition_consumer.status().message());
    return kExitBadConfig;
  }
  RepartitionReader repartition{**repartition_consumer, repartition_topic};
  Ownership ownership(processor, &lag_family, **store, restore_readers.changelogs(),
                      &ownership_metrics, &repartition, &*crash_points);
  auto consumer = kafka::Consumer::Create({.bootstrap_servers = bootstrap,
                                           .group_id = config.group_id,
                                           .topics = {config.input_topic},
                                           .properties = consumer_properties,
                                           .stats = kafka_metrics.ForClient("consumer", false)},
                                          ownership);
  if (!consumer.ok()) {
    Log(LogLevel::kError, consumer.status().message());
    return kExitBadConfig;
  }
  processor.SetOwnershipCheck([&group_member = **consumer] {
    return group_member.AssignmentLost()
               ? absl::FailedPreconditionError(
                     "this instance's consumer group session expired, so its partitions may "
                     "already be another instance's (raise session.timeout.ms if the machine is "
                     "too busy to send heartbeats in time)")
               : absl::OkStatus();
  });

  std::atomic<bool> healthy = true;
  std::atomic<bool> ready = false;
  http::Server server(
      http::ServerOptions{.address = config.http_address,
                          .port = config.http_port,
                          .token = admin_token,
                          .max_requests_per_second = static_cast<double>(config.http_rate_limit)});
  // Probes and scrapes are never turned away.
  constexpr http::RouteOptions kUnlimited{.rate_limited = false};
  server.Get(
      "/metrics",
      [registry, &store_metrics](const http::Request&) {
        store_metrics.Refresh();
        return http::Response{200, http::kMetricsContentType, http::RenderMetrics(*registry)};
      },
      kUnlimited);
  server.Get(
      "/healthz",
      [&healthy](const http::Request&) {
        return healthy ? http::Response{200, "text/plain", "ok\n"}
                       : http::Response{503, "text/plain", "the processing loop has stopped\n"};
      },
      kUnlimited);
  server.Get(
      "/readyz",
      [&ready, &ownership](const http::Request&) {
        if (const int restoring = ownership.restoring(); restoring > 0) {
          return http::Response{503, "text/plain",
                                absl::StrCat("not ready: restoring ", restoring,
                                             " partition(s) from the changelog\n")};
        }
        return ready
                   ? http::Response{200, "text/plain", "ready\n"}
                   : http::Response{503, "text/plain", "not ready: starting or retrying a batch\n"};
      },
      kUnlimited);
  const state::Store& state = **store;
  // A profile is personal data: with a token configured, reading one needs it.
  server.Get(R"(/v1/profiles/([^/]+))",
             [&state, &current_engine](const http::Request& request) {
               return ProfileResponse(state, *current_engine.Get(), request.captures.at(0),
                                      absl::Now());
             },
             http::RouteOptions{.requires_token = !admin_token.empty()});
  // Why a customer is or is not in a segment (or dimension/tier): personal data too.
  server.Get(R"(/v1/profiles/([^/]+)/explain/([^/]+(?:/[^/]+)?))",
             [&state, &current_engine](const http::Request& request) {
               return ExplainResponse(state, *current_engine.Get(), request.captures.at(0),
                                      request.captures.at(1), absl::Now());
             },
             http::RouteOptions{.requires_token = !admin_token.empty()});
  std::unique_ptr<ErasureEndpoint> erasures;
  if (!admin_token.empty()) {
    kafka::ProducerOptions admin_options = producer_options;
    admin_options.stats = {};  // the produce queue gauge is the pipeline producer's
    auto admin_producer = kafka::Producer::Create(admin_options);
    if (!admin_producer.ok()) {
      Log(LogLevel::kError, admin_producer.status().message());
      return kExitBadConfig;
    }
    erasures = std::make_unique<ErasureEndpoint>(
        std::move(*admin_producer),
        ErasureTarget{config.input_topic, *partitions, config.partitioner});
  }
  constexpr http::RouteOptions kAdmin{.requires_token = true};
  server.Post(R"(/v1/admin/erasures/([^/]+))",
              [&erasures, &current_engine](const http::Request& request) {
                // Without a token the server answers 403 before calling this.
                return erasures->Handle(*current_engine.Get(), request.captures.at(0), absl::Now());
              },
              kAdmin);
  server.Post(
      "/v1/admin/reload",
      [&config](const http::Request&) { return ReloadResponse(config.segments); }, kAdmin);
  auto port = server.Start();
  if (!port.ok()) {
    Log(LogLevel::kError, port.status().message());
    return kExitRuntimeError;
  }
  const std::string base_url = absl::StrCat(
      "http://", config.http_address == "0.0.0.0" ? "127.0.0.1" : config.http_address, ":", *port);
  std::cout << "profile-service " << CDP_VERSION << " consuming '" << config.input_topic
            << "' as group '" << config.group_id << "'\n"
            << "  metrics:  " << base_url << "/metrics\n"
            << "  profiles: " << base_url << "/v1/profiles/{customer_id}\n"
            << "  health:   " << base_url << "/healthz, " << base_url << "/readyz\n"
            << "  changes:  topic '" << config.output_topic << "', dead letters: topic '"
            << config.dlq_topic << "', changelog: "
            << (changelog_topic.empty() ? std::string("off") : "topic '" + changelog_topic + "'")
            << std::endl;
  if (!config.status_file.empty()) {
    if (auto written = WriteStatusFile(config.status_file, *port, bootstrap); !written.ok()) {
      Log(LogLevel::kError, written.message());
      return kExitRuntimeError;
    }
  }

  Scrubber scrubber(**store, config.erasure_scrub_interval, *registry);

  int exit_code = kExitOk;
  absl::Duration backoff = absl::Milliseconds(100);
  // A failed step committed nothing. Undelivered outputs: retry the same step until it goes
  // through, so no input is skipped and no timer lost, with readiness reporting the trouble
  // meanwhile. A storage fault (disk full, I/O error): RocksDB refuses writes until it recovers,
  // so nothing is consumed and no offset moves until Recover succeeds (the fault cleared), then
  // the same step is retried. Anything else, or a store that cannot recover without a reopen:
  // the caller exits, and a restart resumes from the offsets the state holds.
  auto pause = [&] {
    for (absl::Time until = absl::Now() + backoff; absl::Now() < until && !stop.load();) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
  };
  auto with_retries = [&](const std::string& what, const std::function<absl::Status()>& step) {
    absl::Status status = absl::CancelledError("stopping");
    bool recovering = false;
    while (!stop.load()) {
      if (recovering) {
        status = (*store)->Recover();
        if (absl::IsFailedPrecondition(status)) break;
        if (!status.ok()) {
          Log(LogLevel::kError, "the state store still refuses writes, trying again in ",
              absl::FormatDuration(backoff), ": ", status.message());
          pause();
          continue;
        }
        recovering = false;
        storage_failing.Set(0);
        Log(LogLevel::kInfo, "the state store accepts writes again; retrying the ", what);
      }
      status = step();
      recovering = pipeline::IsStorageFault(status);
      if (status.ok() || !(absl::IsUnavailable(status) || recovering)) break;
      ready = false;
      ready_gauge.Set(0);
      if (recovering) {
        storage_faults.Increment();
        storage_failing.Set(1);
      }
      Log(LogLevel::kError, what, " failed, retrying in ", absl::FormatDuration(backoff), ": ",
          status.message());
      pause();
    }
    if (status.ok()) {
      backoff = absl::Milliseconds(100);
      ready = true;
      ready_gauge.Set(1);
    } else if (absl::IsAborted(status)) {
      // The ownership check: the next poll takes the partitions away, and their new owner
      // processes the same records again.
      Log(LogLevel::kWarn, what, ": ", status.message());
    } else if (!stop.load()) {
      Log(LogLevel::kError, status.message(),
          "; exiting so that a restart resumes from the stored state");
    }
    return status;
  };
  // Wall clock: due timers are looked for a few times a second, so each fires well within a
  // second of its time. Event time: after every batch, since only input moves the clock.
  constexpr absl::Duration kTimerInterval = absl::Milliseconds(200);
  absl::Time timers_checked = absl::InfinitePast();
  bool timers_pending = false;
  auto fire_timers = [&] {
    timers_checked = absl::Now();
    std::size_t fired = 0;
    absl::Status status = with_retries("firing timers", [&] {
      auto result = processor.FireTimers();
      if (result.ok()) fired = *result;
      return result.status();
    });
    // A full round may have left timers behind: look again at once.
    timers_pending = status.ok() && fired > 0;
    return absl::IsAborted(status) ? absl::OkStatus() : status;
  };

  // A new segment file applies to input from the next batch on, and to the stored profiles a
  // chunk per partition between batches, so live events keep flowing meanwhile.
  absl::Time reevaluation_started = absl::InfinitePast();
  std::size_t reevaluated = 0;
  // Fails only when the state store does: the caller exits, as for a failed batch commit.
  auto reload_segments = [&]() -> absl::Status {
    std::optional<absl::StatusOr<rules::SegmentCatalogue>> reloaded =
        segment_watcher.Check(absl::Now());
    if (!reloaded.has_value()) return absl::OkStatus();
    // The counter moves last: whoever sees it move finds the gauge and the log line already
    // there.
    if (!reloaded->ok()) {
      Log(LogLevel::kError, "segment file not reloaded, the running definitions stay:\n",
          reloaded->status().message());
      config_valid.Set(0);
      reloads_invalid.Increment();
      return absl::OkStatus();
    }
    auto next = std::make_shared<const core::Engine>(
        std::make_shared<const rules::SegmentCatalogue>(std::move(**reloaded)), engine_options);
    if (absl::Status set = processor.SetEngine(next); !set.ok()) {
      Log(LogLevel::kError, set.message(),
          "; exiting so that a restart resumes from the stored state");
      return set;
    }
    current_engine.Set(next);
    const std::size_t partitions = processor.PartitionsToReevaluate();
    Log(LogLevel::kInfo, "segment file '", config.segments,
        "' reloaded: ", next->catalogue().segments.size(), " segments, ",
        next->catalogue().dimensions.size(), " dimensions; ",
        partitions == 0 ? std::string("no definition changed")
                        : absl::StrCat("re-evaluating the stored profiles of ", partitions,
                                       " partitions in the background"));
    config_valid.Set(1);
    reloads_applied.Increment();
    return absl::OkStatus();
  };
  auto reevaluate = [&] {
    if (reevaluation_started == absl::InfinitePast()) {
      reevaluation_started = absl::Now();
      reevaluated = 0;
    }
    absl::Status status = with_retries("re-evaluating stored profiles", [&] {
      auto result = processor.ReevaluateDefinitions();
      if (result.ok()) reevaluated += *result;
      return result.status();
    });
    if (status.ok() && processor.PartitionsToReevaluate() == 0) {
      Log(LogLevel::kInfo, "every stored profile follows the segment definitions: ", reevaluated,
          " re-evaluated in ", absl::FormatDuration(absl::Now() - reevaluation_started));
      reevaluation_started = absl::InfinitePast();
    }
    return absl::IsAborted(status) ? absl::OkStatus() : status;
  };

  // A failed commit is retried with the next batch's, or after a second when no batch comes.
  constexpr absl::Duration kOffsetCommitRetryInterval = absl::Seconds(1);
  absl::Time offsets_committed = absl::InfinitePast();
  RepeatLimiter commit_failures(absl::Minutes(1));
  auto commit_offsets = [&] {
    offsets_committed = absl::Now();
    ownership.RetryOffsetsToCommit((*consumer)->TakeFailedCommits());
    std::map<kafka::TopicPartition, Offset> offsets = ownership.TakeOffsetsToCommit();
    if (offsets.empty()) return;
    if (auto committed = (*consumer)->CommitOffsets(offsets); !committed.ok()) {
      LogLimited(
          commit_failures, LogLevel::kWarn,
          "offset commit for lag monitoring failed, retrying with the next: ", committed.message());
      ownership.RetryOffsetsToCommit(offsets);
    }
  };

  bool repartition_pending = false;
  auto lag = [&] {
    std::map<kafka::TopicPartition, std::int64_t> records = (*consumer)->Lag();
    records.merge((*repartition_consumer)->Lag());
    return records;
  };
  while (!stop.load()) {
    if (!reload_segments().ok() || (processor.PartitionsToReevaluate() > 0 && !reevaluate().ok())) {
      if (!stop.load()) exit_code = kExitRuntimeError;
      break;
    }
    if (timers_pending || absl::Now() - timers_checked >= kTimerInterval) {
      if (!fire_timers().ok()) {
        if (!stop.load()) exit_code = kExitRuntimeError;
        break;
      }
    }
    // Not waiting for input while stored profiles are being re-evaluated.
    // Nor while the repartition topic had records: they wait for no input.
    const absl::Duration poll_wait = processor.PartitionsToReevaluate() > 0 || repartition_pending
                                         ? absl::ZeroDuration()
                                         : absl::Milliseconds(100);
    // The group's poll first: a rebalance inside it also moves the repartition topic's
    // partitions, which are read after it, so no record of a revoked one is in hand.
    auto batch = (*consumer)->Poll(static_cast<std::size_t>(config.batch_size), poll_wait,
                                   config.batch_max_wait);
    if (batch.ok() && !ownership.failure().ok()) batch = ownership.failure();
    if (batch.ok() && batch->size() < static_cast<std::size_t>(config.batch_size)) {
      auto passed_on = (*repartition_consumer)
                           ->Poll(static_cast<std::size_t>(config.batch_size) - batch->size(),
                                  absl::ZeroDuration());
      if (!passed_on.ok()) {
        batch = passed_on.status();
      } else {
        repartition_pending = !passed_on->empty();
        std::move(passed_on->begin(), passed_on->end(), std::back_inserter(*batch));
      }
    }
    if (!batch.ok()) {
      Log(LogLevel::kError, "the Kafka consumer cannot go on: ", batch.status().message());
      exit_code = kExitRuntimeError;
      break;
    }
    ready = true;
    ready_gauge.Set(1);
    if (batch->empty()) {
      if (absl::Now() - offsets_committed >= kOffsetCommitRetryInterval) commit_offsets();
      ownership.UpdateLag(lag());
      continue;
    }
    crash_points->Reached(CrashPoint::kAfterPoll);
    const std::vector<pipeline::InputRecord> records = ToInputRecords(*batch, repartition_topic);
    const absl::Status processed =
        with_retries(absl::StrCat("batch of ", records.size(), " records"),
                     [&] { return processor.Process(records); });
    if (absl::IsAborted(processed)) continue;
    if (!processed.ok()) {
      if (!stop.load()) exit_code = kExitRuntimeError;
      break;
    }
    crash_points->Reached(CrashPoint::kAfterStateCommit);
    Log(LogLevel::kDebug, "committed a batch of ", records.size(), " records");
    ownership.AddOffsetsToCommit(NextOffsets(*batch));
    commit_offsets();
    ownership.UpdateLag(lag());
    if (config.clock == Clock::kEventTime) timers_pending = true;
  }

  Log(LogLevel::kInfo, "shutting down");
  ready = false;
  if (exit_code == kExitOk) {
    // Timers the last batches made due (event time) or that came due meanwhile go out now rather
    // than wait for whichever instance owns the partitions next.
    if (auto fired = processor.FireTimers(); !fired.ok()) {
      Log(LogLevel::kWarn, "firing the timers due at shutdown: ", fired.status().message());
    }
  }
  if (auto closed = (*consumer)->Close(); !closed.ok()) {
    Log(LogLevel::kWarn, "leaving the consumer group: ", closed.message());
  }
  healthy = false;
  server.Stop();
  if (auto flushed = (*producer)->Flush(absl::Seconds(10)); !flushed.ok()) {
    Log(LogLevel::kWarn, "flushing the producer: ", flushed.message());
  }
  return exit_code;
}

}  // namespace cdp::service
