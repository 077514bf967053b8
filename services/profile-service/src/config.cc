#include "config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cdp/common/suggest.h"

namespace cdp::service {
namespace {

using Setter = std::function<absl::Status(Config&, std::string_view)>;

// This abseil build keeps its own string_view type, which std::string_view does not convert to.
absl::string_view A(std::string_view text) { return {text.data(), text.size()}; }
using Shower = std::function<std::string(const Config&)>;

struct Option {
  std::string_view flag;        // without the leading "--"; the YAML key has '_' for '-'
  std::string_view value_name;  // empty for a switch
  std::string_view help;
  Setter set;
  Shower show;
};

absl::Status ParseInt(std::string_view text, int min, int max, int& out, std::string_view what) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(A(what), ": '", A(text), "' is not a whole number from ", min, " to ", max));
  }
  out = value;
  return absl::OkStatus();
}

Setter String(std::string Config::*field) {
  return [field](Config& config, std::string_view value) {
    config.*field = std::string(value);
    return absl::OkStatus();
  };
}

Setter NonEmpty(std::string Config::*field, std::string_view what) {
  return [field, what](Config& config, std::string_view value) {
    if (value.empty())
      return absl::InvalidArgumentError(absl::StrCat(A(what), " must not be empty"));
    config.*field = std::string(value);
    return absl::OkStatus();
  };
}

Setter Int(int Config::*field, int min, int max, std::string_view what) {
  return [=](Config& config, std::string_view value) {
    return ParseInt(value, min, max, config.*field, what);
  };
}

// A duration (1s, 30m, 168h) within [min, max]; `expected` completes "'X' is not ...".
Setter DurationIn(absl::Duration Config::*field, std::string_view flag, absl::Duration min,
                  absl::Duration max, std::string_view expected) {
  return [=](Config& config, std::string_view value) {
    absl::Duration duration;
    if (!absl::ParseDuration(A(value), &duration) || duration < min || duration > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(A(flag), ": '", A(value), "' is not ", A(expected)));
    }
    config.*field = duration;
    return absl::OkStatus();
  };
}

Shower Show(absl::Duration Config::*field) {
  return [field](const Config& config) { return absl::FormatDuration(config.*field); };
}

Shower Show(std::string Config::*field) {
  return [field](const Config& config) { return config.*field; };
}

Shower Show(int Config::*field) {
  return [field](const Config& config) { return absl::StrCat(config.*field); };
}

}  // namespace

Parallelism ResolveParallelism(Parallelism requested, int input_partitions) {
  const std::size_t threads =
      requested.threads > 0 ? requested.threads : std::max(1U, std::thread::hardware_concurrency());
  if (requested.lanes > 0) return {.threads = threads, .lanes = requested.lanes};
  // Lanes beyond the partitions would hold none, yet take their share of the cache.
  return {
      .threads = threads,
      .lanes = std::clamp<std::size_t>(threads * kLanesPerThread, 1,
                                       static_cast<std::size_t>(std::max(input_partitions, 1)))};
}

std::string ChangelogTopic(const Config& config) {
  if (config.changelog_topic == "off") return "";
  if (config.changelog_topic.empty()) return config.group_id + "-changelog";
  return config.changelog_topic;
}

std::string RepartitionTopic(const Config& config) {
  return config.repartition_topic.empty() ? config.group_id + "-repartition"
                                          : config.repartition_topic;
}

namespace {

const std::vector<Option>& Options() {
  static const std::vector<Option> options = {
      {"brokers", "LIST",
       "Kafka bootstrap.servers. Empty starts an embedded broker (librdkafka's mock cluster) "
       "in-process and creates the topics.",
       String(&Config::brokers), Show(&Config::brokers)},
      {"segments", "FILE",
       "Segment catalogue (YAML, see libs/rules/README.md). Reloaded while running when it "
       "changes (see --segments-check-interval) or on SIGHUP: an invalid file is reported and "
       "the running one kept; a valid one applies to new input at once and to every stored "
       "profile in the background.",
       NonEmpty(&Config::segments, "--segments"), Show(&Config::segments)},
      {"segments-check-interval", "DURATION",
       "How often to look for a changed --segments file (e.g. 1s); 0 looks only on SIGHUP.",
       DurationIn(&Config::segments_check_interval, "--segments-check-interval",
                  absl::ZeroDuration(), absl::InfiniteDuration(),
                  "a duration such as 1s (0 to look only on SIGHUP)"),
       Show(&Config::segments_check_interval)},
      {"data-dir", "DIR", "RocksDB state directory; created if missing.",
       NonEmpty(&Config::data_dir, "--data-dir"), Show(&Config::data_dir)},
      {"http-address", "ADDR",
       "Address the HTTP server binds (/metrics, /healthz, /readyz, /v1/profiles/ID, "
       "/v1/profiles/ID/explain/SEGMENT). Use 0.0.0.0 in containers.",
       NonEmpty(&Config::http_address, "--http-address"), Show(&Config::http_address)},
      {"http-port", "PORT", "HTTP port; 0 picks a free port and prints it.",
       Int(&Config::http_port, 0, 65535, "--http-port"), Show(&Config::http_port)},
      {"admin-token-file", "FILE",
       "File holding the bearer token (its first line) that the admin endpoints require: POST "
       "/v1/admin/erasures/ID (publishes an erasure of the customer to the input topic) and "
       "POST /v1/admin/reload (reloads --segments). With a token, GET /v1/profiles/ID (and its "
       "explanations) requires it too, since a profile is personal data. Unset: the admin "
       "endpoints answer 403 and "
       "profiles are served to anyone who reaches --http-address.",
       String(&Config::admin_token_file), Show(&Config::admin_token_file)},
      {"http-rate-limit", "N",
       "Requests per second the /v1/ endpoints answer, in bursts of up to as many; more get "
       "429. 0: unlimited. /metrics, /healthz and /readyz are never limited.",
       Int(&Config::http_rate_limit, 0, 1'000'000, "--http-rate-limit"),
       Show(&Config::http_rate_limit)},
      {"erasure-scrub-interval", "DURATION",
       "How often the RocksDB files are rid of the customers erased since the last time: a "
       "flush and a compaction of their keys. An erased customer's bytes leave the local disk "
       "within this interval plus the time that takes.",
       DurationIn(&Config::erasure_scrub_interval, "--erasure-scrub-interval", absl::Seconds(1),
                  absl::Hours(24), "a duration from 1s to 24h"),
       Show(&Config::erasure_scrub_interval)},
      {"group-id", "ID", "Kafka consumer group of the service's instances.",
       NonEmpty(&Config::group_id, "--group-id"), Show(&Config::group_id)},
      {"clock", "wall|event-time",
       "What \"now\" is: the wall clock (live traffic) or, per partition, the latest occurred_at "
       "seen (replays and backfills).",
       [](Config& config, std::string_view value) {
         if (value == "wall") {
           config.clock = Clock::kWall;
         } else if (value == "event-time") {
           config.clock = Clock::kEventTime;
         } else {
           return absl::InvalidArgumentError(
               absl::StrCat("--clock: '", A(value), "' is not one of: wall, event-time"));
         }
         return absl::OkStatus();
       },
       [](const Config& config) {
         return std::string(config.clock == Clock::kWall ? "wall" : "event-time");
       }},
      {"input-topic", "TOPIC", "Topic of customer events.",
       NonEmpty(&Config::input_topic, "--input-topic"), Show(&Config::input_topic)},
      {"output-topic", "TOPIC", "Topic segment changes are published to.",
       NonEmpty(&Config::output_topic, "--output-topic"), Show(&Config::output_topic)},
      {"dlq-topic", "TOPIC", "Dead-letter topic for records that cannot be applied.",
       NonEmpty(&Config::dlq_topic, "--dlq-topic"), Show(&Config::dlq_topic)},
      {"changelog-topic", "TOPIC|off",
       "Changelog of the profiles, partitioned like the input topic: every profile write also "
       "goes there, so an instance that takes over a partition without its state (or with an "
       "older copy) restores it from the changelog before consuming it. Created compacted. "
       "off: state lives in --data-dir only, and a partition that moves to another instance "
       "starts there from nothing. The default name follows --group-id: GROUP-ID-changelog.",
       String(&Config::changelog_topic),
       [](const Config& config) {
         std::string topic = ChangelogTopic(config);
         return topic.empty() ? std::string("off") : topic;
       }},
      {"repartition-topic", "TOPIC",
       "Internal topic, partitioned like the input topic, through which an event that arrives "
       "in another partition than its customer's (a null key, another id as key, another "
       "partitioner) is passed on to the instance owning the customer, so that every customer "
       "has one profile. Created if missing. The default name follows --group-id: "
       "GROUP-ID-repartition.",
       String(&Config::repartition_topic),
       [](const Config& config) { return RepartitionTopic(config); }},
      {"partitioner", "murmur2|consistent",
       "How upstream producers map keys to partitions, so that the service puts customers "
       "where the producers do: murmur2 (the Java client's default, and event-gen's) or "
       "consistent (CRC-32: librdkafka's default, and so kcat's and the Python, Go, .NET and "
       "C/C++ clients' unless they set partitioner=murmur2_random). A mismatch loses nothing "
       "but passes most events on through the repartition topic "
       "(cdp_events_repartitioned_total). Every instance must use the same.",
       [](Config& config, std::string_view value) {
         const std::optional<Partitioner> partitioner = ParsePartitioner(value);
         if (!partitioner.has_value()) {
           return absl::InvalidArgumentError(
               absl::StrCat("--partitioner: '", A(value), "' is not one of: consistent, murmur2"));
         }
         config.partitioner = *partitioner;
         return absl::OkStatus();
       },
       [](const Config& config) { return std::string(PartitionerName(config.partitioner)); }},
      {"partitions", "N",
       "Partitions of the input, output, changelog and repartition topics when the service "
       "creates them. The input, changelog and repartition topics must have the same count.",
       Int(&Config::partitions, 1, 1024, "--partitions"), Show(&Config::partitions)},
      {"output-format", "json|protobuf", "Encoding of published segment changes.",
       [](Config& config, std::string_view value) {
         if (value != "json" && value != "protobuf") {
           return absl::InvalidArgumentError(
               absl::StrCat("--output-format: '", A(value), "' is not one of: json, protobuf"));
         }
         config.output_format = std::string(value);
         return absl::OkStatus();
       },
       Show(&Config::output_format)},
      {"currency", "CODE",
       "Reporting currency (ISO 4217); purchases and refunds in another are rejected.",
       [](Config& config, std::string_view value) {
         if (value.size() != 3 || !std::all_of(value.begin(), value.end(),
                                               [](char c) { return c >= 'A' && c <= 'Z'; })) {
           return absl::InvalidArgumentError(
               absl::StrCat("--currency: '", A(value), "' is not an ISO 4217 code such as CNY"));
         }
         config.currency = std::string(value);
         return absl::OkStatus();
       },
       Show(&Config::currency)},
      {"dedup-retention", "DURATION",
       "How long an event_id is remembered to drop retried publishes (e.g. 168h, 30m).",
       DurationIn(&Config::dedup_retention, "--dedup-retention", absl::Nanoseconds(1),
                  absl::InfiniteDuration(), "a positive duration such as 168h"),
       Show(&Config::dedup_retention)},
      {"batch-size", "N",
       "Most records processed (and committed) as one batch. Under a backlog, a customer's "
       "events in one batch share one profile write and changelog record, and more events "
       "share each delivery wait and commit; live traffic closes batches by --batch-max-wait "
       "first.",
       Int(&Config::batch_size, 1, 1'000'000, "--batch-size"), Show(&Config::batch_size)},
      {"batch-max-wait", "DURATION",
       "How long to keep filling a batch after its first record (e.g. 20ms); longer batches "
       "amortise the delivery wait and state commit, shorter ones lower latency.",
       DurationIn(&Config::batch_max_wait, "--batch-max-wait", absl::ZeroDuration(),
                  absl::Seconds(10), "a duration from 0ms to 10s"),
       Show(&Config::batch_max_wait)},
      {"cache-profiles", "N", "Profiles kept in memory in front of RocksDB (0 disables).",
       Int(&Config::cache_profiles, 0, 100'000'000, "--cache-profiles"),
       Show(&Config::cache_profiles)},
      {"threads", "N",
       "A batch is processed on this many threads; 0: one per CPU core. Under a CPU limit "
       "below the machine's core count (a container), set it to the limit.",
       Int(&Config::threads, 0, 256, "--threads"), Show(&Config::threads)},
      {"lanes", "N",
       "Partitions are processed in this many lanes, each owning the partitions equal to it "
       "modulo N and its share of the profile cache. A batch's lanes are handed to the "
       "threads busiest first, so with more lanes than threads an uneven load evens out; 0: "
       "four per thread, at most one per input partition.",
       Int(&Config::lanes, 0, 256, "--lanes"), Show(&Config::lanes)},
      {"restore-threads", "N",
       "Partitions assigned together are restored from the changelog on this many threads at "
       "once, each with its own reader; 0: one per CPU core. Nothing else is processed while "
       "they restore, so the default uses every core; under a CPU limit, set it to the limit.",
       Int(&Config::restore_threads, 0, 256, "--restore-threads"), Show(&Config::restore_threads)},
      {"max-record-bytes", "N", "Larger input records are dead-lettered as oversize.",
       Int(&Config::max_record_bytes, 1024, 64 << 20, "--max-record-bytes"),
       Show(&Config::max_record_bytes)},
      {"max-id-bytes", "N",
       "Longer event_id, customer_id and order_id values are dead-lettered as invalid_id.",
       Int(&Config::max_id_bytes, 1, 4096, "--max-id-bytes"), Show(&Config::max_id_bytes)},
      {"items-total-tolerance", "FRACTION",
       "A purchase whose priced items (unit_price x quantity, summed) and total_amount + "
       "discount_amount differ by more than this fraction of the larger is dead-lettered as "
       "inconsistent_total: room for shipping, tax and rounding, not for an amount in the "
       "wrong unit. 1 lets everything but a zero on one side through.",
       [](Config& config, std::string_view value) {
         double fraction = 0;
         if (!absl::SimpleAtod(A(value), &fraction) || !(fraction >= 0 && fraction <= 1)) {
           return absl::InvalidArgumentError(absl::StrCat("--items-total-tolerance: '", A(value),
                                                          "' is not a fraction from 0 to 1"));
         }
         config.items_total_tolerance = fraction;
         return absl::OkStatus();
       },
       [](const Config& config) { return absl::StrCat(config.items_total_tolerance); }},
      {"max-future-skew", "DURATION",
       "Events whose occurred_at is further ahead of the wall clock are dead-lettered as "
       "timestamp_out_of_range (a producer's clock or time zone is wrong).",
       DurationIn(&Config::max_future_skew, "--max-future-skew", absl::ZeroDuration(),
                  absl::InfiniteDuration(), "a duration such as 24h"),
       Show(&Config::max_future_skew)},
      {"max-event-age", "DURATION",
       "Events whose occurred_at is further behind the wall clock are dead-lettered as "
       "timestamp_out_of_range. Raise it to replay older history.",
       DurationIn(&Config::max_event_age, "--max-event-age", absl::Nanoseconds(1),
                  absl::InfiniteDuration(), "a positive duration such as 87600h"),
       Show(&Config::max_event_age)},
      {"kafka-property", "KEY=VALUE",
       "Any librdkafka property, for the consumer and the producers (repeatable; e.g. "
       "security.protocol=SASL_SSL). In the YAML file: a map under kafka_property.",
       [](Config& config, std::string_view value) {
         const std::size_t eq = value.find('=');
         if (eq == std::string_view::npos || eq == 0) {
           return absl::InvalidArgumentError(
               absl::StrCat("--kafka-property: '", A(value), "' is not KEY=VALUE"));
         }
         config.kafka_properties.emplace_back(value.substr(0, eq), value.substr(eq + 1));
         return absl::OkStatus();
       },
       [](const Config&) { return std::string(); }},
      {"print-changes", "", "Print every segment change on stdout as it is published.",
       [](Config& config, std::string_view value) {
         if (value != "true" && value != "false") {
           return absl::InvalidArgumentError(
               absl::StrCat("print_changes: '", A(value), "' is not true or false"));
         }
         config.print_changes = value == "true";
         return absl::OkStatus();
       },
       [](const Config& config) { return std::string(config.print_changes ? "true" : "false"); }},
      {"log-level", "debug|info|warn|error", "Log lines below this level are not written.",
       [](Config& config, std::string_view value) {
         auto level = ParseLogLevel(value);
         if (!level.ok())
           return absl::InvalidArgumentError(
               absl::StrCat("--log-level: ", level.status().message()));
         config.log_level = *level;
         return absl::OkStatus();
       },
       [](const Config& config) { return std::string(LogLevelName(config.log_level)); }},
      {"log-format", "text|json",
       "The log on stderr: text lines (time, level, message), or one JSON object per line "
       "(time, level, message, and held_back when repeats of a message were held back).",
       [](Config& config, std::string_view value) {
         auto format = ParseLogFormat(value);
         if (!format.ok())
           return absl::InvalidArgumentError(
               absl::StrCat("--log-format: ", format.status().message()));
         config.log_format = *format;
         return absl::OkStatus();
       },
       [](const Config& config) {
         return std::string(config.log_format == LogFormat::kJson ? "json" : "text");
       }},
      {"status-file", "PATH",
       "Once ready, write {\"http_port\":..,\"bootstrap_servers\":..} here (for scripts).",
       String(&Config::status_file), Show(&Config::status_file)},
  };
  return options;
}

std::vector<std::string_view> FlagNames() {
  std::vector<std::string_view> names = {"config", "help", "version"};
  for (const Option& option : Options()) names.push_back(option.flag);
  return names;
}

std::string YamlKey(std::string_view flag) {
  std::string key(flag);
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

const Option* FindOption(std::string_view flag) {
  for (const Option& option : Options()) {
    if (option.flag == flag) return &option;
  }
  return nullptr;
}

std::string UnknownName(std::string_view what, std::string_view name,
                        std::span<const std::string_view> known) {
  std::string message = absl::StrCat("unknown ", A(what), " '", A(name), "'");
  if (auto suggestion = Suggest(name, known))
    absl::StrAppend(&message, "; did you mean '", *suggestion, "'?");
  return message;
}

absl::Status ApplyConfigFile(const std::string& path, Config& config) {
  const auto cannot_read = [&path](std::string_view why) {
    return absl::NotFoundError(absl::StrCat("--config: cannot read '", path, "': ", A(why)));
  };
  std::error_code error;
  const auto type = std::filesystem::status(path, error).type();
  if (type == std::filesystem::file_type::not_found) return cannot_read("no such file");
  if (type != std::filesystem::file_type::regular) {
    return cannot_read(error ? error.message() : "not a regular file");
  }
  std::ifstream file(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file.is_open() || file.bad()) return cannot_read("permission denied or I/O error");
  return ApplyConfigText(text, path, config);
}

// Wraps `text` at word boundaries into lines of at most `width` characters after `indent`.
std::string Wrap(std::string_view text, std::size_t indent, std::size_t width) {
  std::string out;
  std::size_t line_length = 0;
  for (absl::string_view word : absl::StrSplit(A(text), ' ', absl::SkipEmpty())) {
    if (line_length > 0 && line_length + 1 + word.size() > width) {
      out.append("\n");
      line_length = 0;
    }
    if (line_length == 0) {
      out.append(indent, ' ');
    } else {
      out.push_back(' ');
      ++line_length;
    }
    out.append(word.data(), word.size());
    line_length += word.size();
  }
  out.append("\n");
  return out;
}

}  // namespace

absl::Status ApplyConfigText(std::string_view text, std::string_view file_name, Config& config) {
  const std::string path(file_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a map of option: value (e.g. data_dir: /var/lib/cdp)"));
  }
  std::vector<std::string> keys;
  for (const Option& option : Options()) keys.push_back(YamlKey(option.flag));
  const std::vector<std::string_view> key_views(keys.begin(), keys.end());
  std::vector<std::string> errors;
  // Only scalars are read as strings: yaml-cpp throws on converting anything else.
  for (const auto& entry : root) {
    const YAML::Mark mark = entry.first.Mark();
    const std::string where = absl::StrCat(path, ":", mark.line + 1, ":", mark.column + 1, ": ");
    if (!entry.first.IsScalar()) {
      errors.push_back(where + "expected an option name (e.g. data_dir)");
      continue;
    }
    const std::string key = entry.first.as<std::string>();
    const auto found = std::find(keys.begin(), keys.end(), key);
    if (found == keys.end()) {
      errors.push_back(where + UnknownName("key", key, key_views));
      continue;
    }
    const Option& option = Options()[static_cast<std::size_t>(found - keys.begin())];
    absl::Status status;
    if (option.flag == "kafka-property") {
      if (!entry.second.IsMap()) {
        errors.push_back(where + "kafka_property: expected a map of librdkafka property: value");
        continue;
      }
      for (const auto& property : entry.second) {
        if (!property.first.IsScalar() || !property.second.IsScalar()) {
          const YAML::Mark at = property.first.Mark();
          errors.push_back(absl::StrCat(path, ":", at.line + 1, ":", at.column + 1,
                                        ": kafka_property: expected property: value, both single "
                                        "values (e.g. security.protocol: SASL_SSL)"));
          continue;
        }
        config.kafka_properties.emplace_back(property.first.as<std::string>(),
                                             property.second.as<std::string>());
      }
    } else if (!entry.second.IsScalar()) {
      status = absl::InvalidArgumentError(absl::StrCat(key, ": expected a single value"));
    } else {
      status = option.set(config, entry.second.as<std::string>());
    }
    if (!status.ok()) errors.push_back(where + std::string(status.message()));
  }
  if (errors.empty()) return absl::OkStatus();
  // One error per line: line breaks inside one (from a quoted key or value) are spelled out.
  for (std::string& error : errors) {
    error = absl::StrReplaceAll(error, {{"\n", "\\n"}, {"\r", "\\r"}});
  }
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

namespace {

// librdkafka properties whose values are credentials (CONFIGURATION.md): passwords, private keys,
// OAuth client secrets and unsecured-JWT configs, JAAS-style settings.
bool HoldsSecret(std::string_view property) {
  for (std::string_view marker : {"password", "secret", "key.pem", "oauthbearer.config", "jaas"}) {
    if (property.find(marker) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> EffectiveConfig(const Config& config) {
  std::vector<std::pair<std::string, std::string>> effective;
  for (const Option& option : Options()) {
    if (option.flag == "kafka-property") {
      for (const auto& [property, value] : config.kafka_properties) {
        effective.emplace_back(absl::StrCat("kafka_property.", A(property)),
                               HoldsSecret(property) ? "[redacted]" : value);
      }
      continue;
    }
    effective.emplace_back(absl::StrReplaceAll(A(option.flag), {{"-", "_"}}), option.show(config));
  }
  return effective;
}

std::string HelpText() {
  std::string text =
      "Usage: profile-service [--config FILE] [OPTION]...\n"
      "\n"
      "Consumes customer events from Kafka, keeps one profile per customer in RocksDB, evaluates\n"
      "segments and publishes a change event whenever a customer enters or leaves one.\n"
      "\n"
      "Options (each can also be set in the --config YAML file under the same name with '_'\n"
      "instead of '-'; flags win over the file):\n"
      "  --config FILE\n      YAML configuration file.\n";
  const Config defaults;
  for (const Option& option : Options()) {
    absl::StrAppend(&text, "  --", A(option.flag));
    if (!option.value_name.empty()) absl::StrAppend(&text, " ", A(option.value_name));
    absl::StrAppend(&text, "\n");
    std::string help(option.help);
    const std::string shown = option.show(defaults);
    if (!shown.empty() && !option.value_name.empty()) {
      absl::StrAppend(&help, " Default: ", shown, ".");
    }
    text.append(Wrap(help, 6, 88));
  }
  absl::StrAppend(
      &text,
      "  --help\n      Print this help and exit.\n"
      "  --version\n      Print the version and exit.\n"
      "\n"
      "Environment:\n"
      "  MALLOC_CONF\n"
      "      Options for jemalloc, the allocator, over the service's own: those keep freed\n"
      "      memory 30 s for reuse, in transparent huge pages (see libs/allocator/README.md).\n"
      "\n"
      "Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 on a runtime failure,\n"
      "2 on a bad option or configuration.\n");
  return text;
}

absl::StatusOr<ParsedCommandLine> ParseCommandLine(int argc, const char* const* argv) {
  ParsedCommandLine parsed;
  struct FlagValue {
    const Option* option;
    std::string value;
  };
  std::vector<FlagValue> flags;
  std::string config_file;
  const std::vector<std::string_view> names = FlagNames();
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", A(arg), "' (options start with --; see --help)"));
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::optional<std::string> value;
    if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = std::string(arg.substr(eq + 1));
    }
    if (name == "help") {
      parsed.help = true;
      continue;
    }
    if (name == "version") {
      parsed.version = true;
      continue;
    }
    const Option* option = FindOption(name);
    if (name != "config" && option == nullptr) {
      std::vector<std::string> dashed;
      dashed.reserve(names.size());
      for (std::string_view known : names) dashed.push_back(absl::StrCat("--", A(known)));
      const std::vector<std::string_view> dashed_views(dashed.begin(), dashed.end());
      return absl::InvalidArgumentError(
          UnknownName("option", absl::StrCat("--", A(name)), dashed_views));
    }
    const bool is_switch = option != nullptr && option->value_name.empty();
    if (!value) {
      if (is_switch) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", A(name), " needs a value"));
      }
    }
    if (name == "config") {
      config_file = *value;
    } else {
      flags.push_back({option, *value});
    }
  }
  if (!config_file.empty()) {
    if (absl::Status status = ApplyConfigFile(config_file, parsed.config); !status.ok()) {
      return status;
    }
  }
  for (const FlagValue& flag : flags) {
    if (absl::Status status = flag.option->set(parsed.config, flag.value); !status.ok()) {
      return status;
    }
  }
  return parsed;
}

}  // namespace cdp::service
