#include "options.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"

namespace cdp::tools {
namespace {

constexpr std::string_view kUsage = R"(Usage: event-gen [OPTIONS]

Synthetic customer traffic for the profile pipeline: purchases, refunds, interactions, profile
updates and consent from Zipf-skewed customers, some drifting away, some only browsing.

Destination (one of):
  --brokers LIST             Kafka bootstrap servers, host:port[,host:port...]
  --bootstrap-file PATH      read the bootstrap servers from a file (as tools/kafka-local writes)
  --out FILE                 write JSON lines to FILE instead of publishing ('-': standard output)

Traffic:
  --customers N              distinct customers (default 10000)
  --events N                 events to make, 0 = no end (default 0)
  --rate N                   events per second, 0 = as fast as possible (default 0)
  --seed N                   same seed, same traffic (default 1)
  --invalid-fraction F       share of deliberately invalid records, 0-1 (default 0): negative
                             amounts, unknown currencies, missing customer_id, garbage bytes
  --clock live|simulated     live: occurred_at is now (default); simulated: occurred_at moves from
                             --start across --days, spread over --events
  --start RFC3339            simulated clock start (default 2024-01-01T00:00:00Z)
  --days D                   days the customers' lives are laid out over, and the simulated span
                             (default 365)

Publishing:
  --topic NAME               (default customer-events)
  --format json|protobuf     record encoding (default json, with header content-type:
                             application/json)
  --kafka-property K=V       librdkafka producer property, repeatable

Other:
  --progress-interval S      seconds between progress lines on stderr, 0 = none (default 10)
  --help                     this text

Records are keyed by customer_id. Exit status: 0 done (or stopped by SIGINT/SIGTERM), 1 a
delivery or write failed, 2 bad options.
)";

// Every option but --help takes a value.
constexpr std::array<std::string_view, 15> kValueOptions = {
    "brokers", "bootstrap-file", "topic", "customers",         "events",
    "rate",    "format",         "seed",  "invalid-fraction",  "clock",
    "start",   "days",           "out",   "progress-interval", "kafka-property"};

absl::Status OptionError(std::string_view name, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", ToAbsl(name), ": ", ToAbsl(problem)));
}

template <typename Int>
absl::StatusOr<Int> ParseInteger(std::string_view name, std::string_view value, Int min, Int max) {
  Int parsed;
  if (!absl::SimpleAtoi(ToAbsl(value), &parsed) || parsed < min || parsed > max) {
    return OptionError(name, absl::StrCat("expected a whole number from ", min, " to ", max,
                                          ", got '", ToAbsl(value), "'"));
  }
  return parsed;
}

absl::StatusOr<double> ParseReal(std::string_view name, std::string_view value, double min,
                                 double max) {
  double parsed;
  if (!absl::SimpleAtod(ToAbsl(value), &parsed) || !std::isfinite(parsed) || parsed < min ||
      parsed > max) {
    return OptionError(name, absl::StrCat("expected a number from ", min, " to ", max, ", got '",
                                          ToAbsl(value), "'"));
  }
  return parsed;
}

}  // namespace

std::string_view Usage() { return kUsage; }

absl::StatusOr<CliOptions> ParseCommandLine(std::span<const std::string_view> args) {
  CliOptions options;
  options.generator.clock = ClockMode::kLive;
  bool start_given = false;
  std::int64_t days = 365;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!arg.starts_with("--") || arg.size() == 2) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", ToAbsl(arg), "'"));
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (const std::size_t equals = name.find('='); equals != std::string_view::npos) {
      inline_value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    if (name == "help") {
      if (inline_value) return OptionError(name, "takes no value");
      options.help = true;
      continue;
    }
    if (std::find(kValueOptions.begin(), kValueOptions.end(), name) == kValueOptions.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option '--", ToAbsl(name), "'"));
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return OptionError(name, "needs a value");
    }

    if (name == "brokers") {
      if (value.empty()) return OptionError(name, "needs host:port[,host:port...]");
      options.brokers = std::string(value);
    } else if (name == "bootstrap-file") {
      if (value.empty()) return OptionError(name, "needs a path");
      options.bootstrap_file = std::string(value);
    } else if (name == "topic") {
      if (value.empty()) return OptionError(name, "needs a topic name");
      options.topic = std::string(value);
    } else if (name == "customers") {
      auto parsed = ParseInteger<std::int64_t>(name, value, 1, 10'000'000);
      if (!parsed.ok()) return parsed.status();
      options.generator.customers = *parsed;
    } else if (name == "events") {
      auto parsed =
          ParseInteger<std::int64_t>(name, value, 0, std::numeric_limits<std::int64_t>::max());
      if (!parsed.ok()) return parsed.status();
      options.generator.events = *parsed;
    } else if (name == "rate") {
      auto parsed = ParseReal(name, value, 0.0, 1e9);
      if (!parsed.ok()) return parsed.status();
      options.rate = *parsed;
    } else if (name == "format") {
      if (value == "json") {
        options.format = WireFormat::kJson;
      } else if (value == "protobuf") {
        options.format = WireFormat::kProtobuf;
      } else {
        return OptionError(name,
                           absl::StrCat("expected json or protobuf, got '", ToAbsl(value), "'"));
      }
    } else if (name == "seed") {
      auto parsed =
          ParseInteger<std::uint64_t>(name, value, 0, std::numeric_limits<std::uint64_t>::max());
      if (!parsed.ok()) return parsed.status();
      options.generator.seed = *parsed;
    } else if (name == "invalid-fraction") {
      auto parsed = ParseReal(name, value, 0.0, 1.0);
      if (!parsed.ok()) return parsed.status();
      options.generator.invalid_fraction = *parsed;
    } else if (name == "clock") {
      if (value == "live") {
        options.generator.clock = ClockMode::kLive;
      } else if (value == "simulated") {
        options.generator.clock = ClockMode::kSimulated;
      } else {
        return OptionError(name,
                           absl::StrCat("expected live or simulated, got '", ToAbsl(value), "'"));
      }
    } else if (name == "start") {
      std::string error;
      if (!absl::ParseTime(absl::RFC3339_full, ToAbsl(value), &options.generator.start, &error)) {
        return OptionError(name, absl::StrCat("expected an RFC 3339 time such as ",
                                              "2024-01-01T00:00:00Z, got '", ToAbsl(value), "'"));
      }
      start_given = true;
    } else if (name == "days") {
      auto parsed = ParseInteger<std::int64_t>(name, value, 1, 36'500);
      if (!parsed.ok()) return parsed.status();
      days = *parsed;
    } else if (name == "out") {
      if (value.empty()) return OptionError(name, "needs a file name, or '-' for standard output");
      options.out = std::string(value);
    } else if (name == "progress-interval") {
      auto parsed = ParseReal(name, value, 0.0, 86'400.0);
      if (!parsed.ok()) return parsed.status();
      options.progress_interval = absl::Seconds(*parsed);
    } else if (name == "kafka-property") {
      const std::size_t equals = value.find('=');
      if (equals == std::string_view::npos || equals == 0) {
        return OptionError(name, absl::StrCat("expected KEY=VALUE, got '", ToAbsl(value), "'"));
      }
      options.kafka_properties.emplace_back(std::string(value.substr(0, equals)),
                                            std::string(value.substr(equals + 1)));
    }
  }
  options.generator.span = absl::Hours(24 * days);
  if (options.help) return options;

  const bool publishing = !options.brokers.empty() || !options.bootstrap_file.empty();
  if (!options.brokers.empty() && !options.bootstrap_file.empty()) {
    return absl::InvalidArgumentError("give --brokers or --bootstrap-file, not both");
  }
  if (options.out.empty() && !publishing) {
    return absl::InvalidArgumentError(
        "nowhere to send the events: give --brokers, --bootstrap-file or --out");
  }
  if (!options.out.empty() && publishing) {
    return absl::InvalidArgumentError(
        "--out writes a file instead of publishing: drop --brokers/--bootstrap-file");
  }
  if (!options.out.empty() && options.format == WireFormat::kProtobuf) {
    return absl::InvalidArgumentError("--out writes JSON lines: --format protobuf needs a broker");
  }
  if (!options.out.empty() && !options.kafka_properties.empty()) {
    return absl::InvalidArgumentError("--kafka-property needs a broker, not --out");
  }
  if (options.generator.clock == ClockMode::kSimulated && options.generator.events == 0) {
    return absl::InvalidArgumentError(
        "--clock simulated needs --events N: the simulated days are divided among the events");
  }
  if (options.generator.clock == ClockMode::kLive && start_given) {
    return absl::InvalidArgumentError(
        "--start sets the simulated clock: add --clock simulated (a live clock starts now)");
  }
  return options;
}

}  // namespace cdp::tools
