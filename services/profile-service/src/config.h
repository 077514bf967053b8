#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/common/partitioner.h"
#include "log.h"

namespace cdp::service {

enum class Clock { kWall, kEventTime };

// Every knob of profile-service. Each has a flag (--data-dir) and the same key in the YAML config
// file (data_dir); flags win over the file. The option table in config.cc is the one source of
// names, defaults and help text.
struct Config {
  std::string brokers;  // empty: start the embedded broker
  std::string segments = "deploy/config/segments.yaml";
  // 0: the file is re-read on SIGHUP only.
  absl::Duration segments_check_interval = absl::Seconds(1);
  std::string data_dir = "data/profile-service";
  std::string http_address = "127.0.0.1";
  int http_port = 8080;
  // Empty: no token; the admin endpoints are off and profiles are served to anyone who can
  // reach --http-address.
  std::string admin_token_file;
  // Requests per second to /v1/ endpoints; 0: unlimited.
  int http_rate_limit = 100;
  // How often the state store wipes erased customers from its files (Store::Scrub).
  absl::Duration erasure_scrub_interval = absl::Minutes(1);
  std::string group_id = "cdp-profile-service";
  Clock clock = Clock::kWall;
  std::string input_topic = "customer-events";
  std::string output_topic = "segment-changes";
  std::string dlq_topic = "customer-events-dlq";
  // Empty: "<group_id>-changelog". "off": no changelog.
  std::string changelog_topic;
  // Empty: "<group_id>-repartition".
  std::string repartition_topic;
  Partitioner partitioner = Partitioner::kMurmur2;
  int partitions = 8;
  std::string output_format = "json";
  std::string currency = "CNY";
  absl::Duration dedup_retention = absl::Hours(7 * 24);
  // Under a backlog, a customer's events within one batch cost one profile write and one changelog
  // record, and every event shares the batch's delivery waits and commit: 20,000 ran at 65-80 %
  // of this rate (pipeline-bench). Live traffic closes a batch by batch_max_wait, long before it
  // fills.
  int batch_size = 100000;
  absl::Duration batch_max_wait = absl::Milliseconds(20);
  int cache_profiles = 200000;
  // Threads a batch's lanes run on; 0: one per CPU core.
  int threads = 0;
  // Processing lanes; 0: kLanesPerThread per thread, at most one per input partition.
  int lanes = 0;
  // Threads that restore the partitions of one assignment from the changelog; 0: one per core.
  int restore_threads = 0;
  int max_record_bytes = 1 << 20;
  // Validation bounds (core::EngineOptions).
  int max_id_bytes = 128;
  double items_total_tolerance = 0.5;
  absl::Duration max_future_skew = absl::Hours(24);
  absl::Duration max_event_age = absl::Hours(24 * 365 * 10);
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  bool print_changes = false;
  std::string status_file;
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;
};

// With several lanes per thread, a thread done with a light lane takes another while a heavy one
// finishes: 8 lanes on 2 threads processed a backlog 14 % faster than 2 (pipeline-bench, median
// of 12 pairs), and 4 or 16 lanes were no better than 8.
inline constexpr int kLanesPerThread = 4;

// Threads a batch's lanes run on, and lanes. 0 in a request: the default.
struct Parallelism {
  std::size_t threads = 0;
  std::size_t lanes = 0;
};

// `requested` (as --threads and --lanes) with its defaults resolved for an input topic of
// `input_partitions`: a thread per core, kLanesPerThread lanes per thread but at most one per
// partition.
[[nodiscard]] Parallelism ResolveParallelism(Parallelism requested, int input_partitions);

// The changelog topic in use, or "" when it is off.
[[nodiscard]] std::string ChangelogTopic(const Config& config);
[[nodiscard]] std::string RepartitionTopic(const Config& config);

struct ParsedCommandLine {
  Config config;
  bool help = false;
  bool version = false;
};

// Parses flags (and the --config file they name). Errors say what to fix and are meant to be
// printed as they are, followed by exit code 2.
[[nodiscard]] absl::StatusOr<ParsedCommandLine> ParseCommandLine(int argc, const char* const* argv);

// Applies the YAML text of a config file to `config`; `file_name` only labels errors, which are
// "file:line:column: message", one per line. ParseCommandLine reads --config with it.
[[nodiscard]] absl::Status ApplyConfigText(std::string_view text, std::string_view file_name,
                                           Config& config);

// Every option as the YAML key it is set by and its value in `config`, in --help's order, for the
// start-up banner. librdkafka properties come as kafka_property.NAME; the values of those that
// hold secrets (passwords, keys, tokens) read "[redacted]".
[[nodiscard]] std::vector<std::pair<std::string, std::string>> EffectiveConfig(
    const Config& config);

// The --help text: every option with its default and meaning.
[[nodiscard]] std::string HelpText();

}  // namespace cdp::service
