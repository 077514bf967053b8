#include "options.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"
#include "cdp/common/suggest.h"

namespace cdp::tools::replay {
namespace {

constexpr std::string_view kUsage = R"(Usage: replay --brokers HOST:PORT [OPTIONS] FILE...

Publishes a file of historical customer events to the input topic in occurred_at order, so that
profile-service run with --clock event-time derives the segments that history implies.

Input:
  FILE...                     JSON lines: one cdp.v1.CustomerEvent per line in protobuf-JSON with
                              snake_case names (as event-gen --out writes); blank lines are
                              ignored; '-' reads standard input
  --csv-purchases             the files are CSV instead, one purchase item per row, with a header
                              naming the columns (see below)
  --currency CODE             currency of CSV purchases whose row names none (default CNY)
  --skip-invalid              publish the valid events and list the invalid lines; without it, an
                              invalid line ends the run before anything is published

Publishing:
  --brokers HOST:PORT         Kafka bootstrap servers, host:port[,host:port...] (required)
  --topic NAME                (default customer-events)
  --format protobuf|json      record encoding (default protobuf; json is sent with the header
                              content-type: application/json)
  --rate EVENTS_PER_S         events per second, 0 = as fast as possible (default 0)
  --kafka-property KEY=VALUE  librdkafka producer property, repeatable
  --help                      this text

CSV columns: event_id, customer_id, occurred_at, order_id, total_amount (required); currency,
discount_amount, coupon_code, store_id, channel, sku, category, quantity, unit_price (optional).
Rows with the same event_id are one purchase with one item per row, and must agree on every
column but the item's four. Amounts and prices are whole numbers of minor units (fen for CNY).
Fields with commas, quotes or line breaks are quoted as RFC 4180 says.

Every event is checked (event_id, customer_id, RFC 3339 occurred_at, one payload) before the
first is published. The whole input is held in memory, roughly 300 bytes an event, and sorted by
occurred_at (ties keep the order of the files and lines): split a bigger history by time range
and replay the parts in order. Records are keyed by customer_id and sent by an idempotent
producer. Progress goes to standard error every second, a summary to standard output.

Exit status: 0 all published and delivered; 1 invalid input or a failed delivery; 2 bad usage;
130 or 143 stopped by SIGINT or SIGTERM, after delivering what was sent and saying how far the
run got.
)";

constexpr std::array<std::string_view, 6> kValueOptions = {"brokers", "topic",    "format",
                                                           "rate",    "currency", "kafka-property"};
constexpr std::array<std::string_view, 3> kFlags = {"csv-purchases", "skip-invalid", "help"};

absl::Status OptionError(std::string_view name, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", ToAbsl(name), ": ", ToAbsl(problem)));
}

absl::Status UnknownOption(std::string_view name) {
  std::vector<std::string_view> known(kValueOptions.begin(), kValueOptions.end());
  known.insert(known.end(), kFlags.begin(), kFlags.end());
  const std::optional<std::string> suggestion = Suggest(name, known);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown option '--", ToAbsl(name), "'",
                   suggestion ? absl::StrCat("; did you mean '--", *suggestion, "'?") : ""));
}

bool IsCurrencyCode(std::string_view code) {
  return code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) {
           return absl::ascii_isupper(static_cast<unsigned char>(c));
         });
}

}  // namespace

std::string_view Usage() { return kUsage; }

absl::StatusOr<CliOptions> ParseCommandLine(std::span<const std::string_view> args) {
  CliOptions options;
  bool currency_given = false;
  bool options_ended = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (options_ended || !arg.starts_with("--")) {
      options.files.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (const std::size_t equals = name.find('='); equals != std::string_view::npos) {
      inline_value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    if (std::find(kFlags.begin(), kFlags.end(), name) != kFlags.end()) {
      if (inline_value) return OptionError(name, "takes no value");
      if (name == "help") {
        options.help = true;
      } else if (name == "csv-purchases") {
        options.load.format = InputFormat::kCsvPurchases;
      } else {
        options.skip_invalid = true;
      }
      continue;
    }
    if (std::find(kValueOptions.begin(), kValueOptions.end(), name) == kValueOptions.end()) {
      return UnknownOption(name);
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
    } else if (name == "topic") {
      if (value.empty()) return OptionError(name, "needs a topic name");
      options.publish.topic = std::string(value);
    } else if (name == "format") {
      if (value == "protobuf") {
        options.publish.format = OutputFormat::kProtobuf;
      } else if (value == "json") {
        options.publish.format = OutputFormat::kJson;
      } else {
        return OptionError(name,
                           absl::StrCat("expected protobuf or json, got '", ToAbsl(value), "'"));
      }
    } else if (name == "rate") {
      double rate = 0.0;
      if (!absl::SimpleAtod(ToAbsl(value), &rate) || !std::isfinite(rate) || rate < 0.0 ||
          rate > 1e9) {
        return OptionError(name, absl::StrCat("expected events per second from 0 (as fast as "
                                              "possible) to 1e9, got '",
                                              ToAbsl(value), "'"));
      }
      options.publish.rate = rate;
    } else if (name == "currency") {
      if (!IsCurrencyCode(value)) {
        return OptionError(
            name, absl::StrCat("expected an ISO 4217 code such as CNY, got '", ToAbsl(value), "'"));
      }
      options.load.currency = std::string(value);
      currency_given = true;
    } else if (name == "kafka-property") {
      const std::size_t equals = value.find('=');
      if (equals == std::string_view::npos || equals == 0) {
        return OptionError(name, absl::StrCat("expected KEY=VALUE, got '", ToAbsl(value), "'"));
      }
      options.kafka_properties.emplace_back(std::string(value.substr(0, equals)),
                                            std::string(value.substr(equals + 1)));
    }
  }
  if (options.help) return options;

  if (options.brokers.empty()) {
    return absl::InvalidArgumentError("--brokers is required: the Kafka cluster to publish to");
  }
  if (options.files.empty()) {
    return absl::InvalidArgumentError("no input: name one or more FILEs ('-': standard input)");
  }
  if (std::count(options.files.begin(), options.files.end(), "-") > 1) {
    return absl::InvalidArgumentError("'-' (standard input) can be read only once");
  }
  if (currency_given && options.load.format != InputFormat::kCsvPurchases) {
    return absl::InvalidArgumentError(
        "--currency fills in CSV rows without a currency: it needs --csv-purchases (JSON events "
        "are published with the currency they name)");
  }
  return options;
}

}  // namespace cdp::tools::replay
