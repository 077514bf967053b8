#include <algorithm>
#include <charconv>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "arguments.h"
#include "cdp/common/absl_string.h"
#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"
#include "commands.h"
#include "event_record.h"
#include "profile_json.h"
#include "reference_fold.h"

namespace cdp::profilectl {
namespace {

constexpr FlagSpec kFlags[] = {
    {"segments", "FILE"},
    {"clock", "wall|event-time"},
    {"now", "RFC3339"},
    {"currency", "CODE"},
    {"changes", "FILE"},
    {"rejects", "FILE"},
    {"dedup-retention", "DURATION"},
    {"partitions", "N"},
    {"partitioner", "murmur2|consistent"},
    {"max-record-bytes", "N"},
    {"max-id-bytes", "N"},
    {"items-total-tolerance", "FRACTION"},
    {"max-future-skew", "DURATION"},
    {"max-event-age", "DURATION"},
};

constexpr std::string_view kUsage =
    R"(Usage: profilectl fold --segments FILE --clock wall|event-time [OPTION]... EVENTS

The offline reference of the pipeline: replays input records with the core engine alone (no
Kafka, no RocksDB) exactly as profile-service processes them - decode, validate, drop repeated
event ids per partition, apply, collect segment changes, and at the end fire the timers due by
each partition's "now" - and prints the final profiles as 'profilectl export' does, so the two
can be compared.

EVENTS ('-': standard input) holds one input record per line, in consumption order (ascending
offsets within each partition):
  {"partition": 0, "offset": 12, "value": "{\"event_id\": ...}"}
  {"partition": 3, "offset": 7, "value_b64": "CgJl...", "content_type": "application/json"}
"value" is the record value as text (null for a null value), "value_b64" its bytes in base64;
"content_type" is the record's content-type header, if any.

  --segments FILE             segment catalogue, as given to the service
  --clock wall|event-time     the service's --clock: wall applies every event at --now;
                              event-time at the latest occurred_at applied in its partition
  --now RFC3339               the service's wall clock: occurred_at bounds are checked against
                              it in both modes (default: the current time)
  --currency CODE             reporting currency (default CNY)
  --dedup-retention DURATION  how long an event_id is remembered (default 168h)
  --max-record-bytes N        larger records are rejected as oversize (default 1048576)
  --max-id-bytes N, --items-total-tolerance FRACTION, --max-future-skew DURATION,
  --max-event-age DURATION    the service's validation bounds of the same names (defaults 128,
                              0.5, 24h, 87600h)
  --partitions N              the input topic's partition count: a valid event in another
                              partition than its customer's is applied in the customer's, as
                              the service does through its repartition topic (without it,
                              every event is applied where it arrives)
  --partitioner NAME          with --partitions, how customers map to partitions, as the
                              service's --partitioner: murmur2 (default) or consistent
  --changes FILE              write the segment changes here, one JSON line each, as the service
                              publishes them
  --rejects FILE              write {"partition", "offset", "reason", "detail"} per rejected
                              record here
  --help                      this text
)";

struct FoldCommand {
  std::string segments;
  std::string events;
  std::string changes;
  std::string rejects;
  core::EngineOptions engine;
  FoldOptions fold;
};

// The checked command line; the error is a usage error.
absl::StatusOr<FoldCommand> ReadCommand(const Arguments& args) {
  FoldCommand command;
  auto invalid = [](std::string message) { return absl::InvalidArgumentError(std::move(message)); };
  if (args.positional.size() != 1) {
    return invalid(args.positional.empty()
                       ? "EVENTS is missing: give the records file, or '-'"
                       : "give one EVENTS file, not " + std::to_string(args.positional.size()));
  }
  command.events = args.positional.front();
  const auto segments = args.Flag("segments");
  if (!segments || segments->empty()) return invalid("--segments FILE is required");
  command.segments = std::string(*segments);

  const auto clock = args.Flag("clock");
  if (!clock) return invalid("--clock wall|event-time is required");
  if (*clock == "wall") {
    command.fold.clock = ClockMode::kWall;
  } else if (*clock == "event-time") {
    command.fold.clock = ClockMode::kEventTime;
  } else {
    return invalid("--clock: '" + std::string(*clock) + "' is not one of: wall, event-time");
  }

  command.fold.validation_now = absl::Now();
  if (const auto now = args.Flag("now")) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, std::string(*now), &command.fold.validation_now,
                         &error)) {
      return invalid("--now: '" + std::string(*now) +
                     "' is not an RFC 3339 time such as 2024-06-30T12:00:00Z");
    }
  }
  if (const auto currency = args.Flag("currency")) {
    if (currency->size() != 3 || !std::all_of(currency->begin(), currency->end(),
                                              [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return invalid("--currency: '" + std::string(*currency) +
                     "' is not an ISO 4217 code such as CNY");
    }
    command.engine.reporting_currency = std::string(*currency);
  }
  if (const auto limit = args.Flag("max-id-bytes")) {
    std::size_t bytes = 0;
    const auto [end, error] = std::from_chars(limit->data(), limit->data() + limit->size(), bytes);
    if (error != std::errc() || end != limit->data() + limit->size() || bytes < 1) {
      return invalid("--max-id-bytes: '" + std::string(*limit) + "' is not a positive number");
    }
    command.engine.max_id_bytes = bytes;
  }
  if (const auto tolerance = args.Flag("items-total-tolerance")) {
    double fraction = 0;
    if (!absl::SimpleAtod(ToAbsl(*tolerance), &fraction) || !(fraction >= 0 && fraction <= 1)) {
      return invalid("--items-total-tolerance: '" + std::string(*tolerance) +
                     "' is not a fraction from 0 to 1");
    }
    command.engine.items_total_tolerance = fraction;
  }
  for (const auto& [flag, bound] : {std::pair{"max-future-skew", &command.engine.max_future_skew},
                                    std::pair{"max-event-age", &command.engine.max_past}}) {
    if (const auto value = args.Flag(flag)) {
      if (!absl::ParseDuration(std::string(*value), bound) || *bound < absl::ZeroDuration()) {
        return invalid("--" + std::string(flag) + ": '" + std::string(*value) +
                       "' is not a duration such as 24h");
      }
    }
  }
  if (const auto retention = args.Flag("dedup-retention")) {
    if (!absl::ParseDuration(std::string(*retention), &command.fold.dedup_retention) ||
        command.fold.dedup_retention <= absl::ZeroDuration()) {
      return invalid("--dedup-retention: '" + std::string(*retention) +
                     "' is not a positive duration such as 168h");
    }
  }
  if (const auto limit = args.Flag("max-record-bytes")) {
    std::size_t bytes = 0;
    const auto [end, error] = std::from_chars(limit->data(), limit->data() + limit->size(), bytes);
    if (error != std::errc() || end != limit->data() + limit->size() || bytes < 1) {
      return invalid("--max-record-bytes: '" + std::string(*limit) +
                     "' is not a whole number of bytes");
    }
    command.fold.decode.max_record_bytes = bytes;
  }
  if (const auto partitions = args.Flag("partitions")) {
    std::int32_t count = 0;
    const auto [end, error] =
        std::from_chars(partitions->data(), partitions->data() + partitions->size(), count);
    if (error != std::errc() || end != partitions->data() + partitions->size() || count < 1) {
      return invalid("--partitions: '" + std::string(*partitions) +
                     "' is not a positive number of partitions");
    }
    command.fold.routing = FoldRouting{.partitions = count};
  }
  if (const auto partitioner = args.Flag("partitioner")) {
    const std::optional<Partitioner> parsed = ParsePartitioner(*partitioner);
    if (!parsed.has_value()) {
      return invalid("--partitioner: '" + std::string(*partitioner) +
                     "' is not one of: murmur2, consistent");
    }
    if (!command.fold.routing.has_value()) return invalid("--partitioner needs --partitions");
    command.fold.routing->partitioner = *parsed;
  }
  command.changes = std::string(args.Flag("changes").value_or(""));
  command.rejects = std::string(args.Flag("rejects").value_or(""));
  return command;
}

// An output file named by a flag, or nothing when the flag is absent.
absl::StatusOr<std::unique_ptr<std::ofstream>> OpenOutput(const std::string& path,
                                                          std::string_view flag) {
  if (path.empty()) return nullptr;
  auto file = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
  if (!*file) {
    return absl::InvalidArgumentError("--" + std::string(flag) + ": cannot write '" + path + "'");
  }
  return file;
}

std::string RejectLine(const RejectedRecord& reject) {
  const nlohmann::ordered_json line = {
      {"partition", reject.partition.value()},
      {"offset", reject.offset},
      {"reason", std::string(core::ReasonName(reject.rejection.reason))},
      {"detail", reject.rejection.detail},
  };
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

int RunFold(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  auto parsed = ParseArguments(args, kFlags);
  if (!parsed.ok()) return CommandUsageError("fold", err, std::string(parsed.status().message()));
  if (parsed->help) {
    out << kUsage;
    return kExitOk;
  }
  auto command = ReadCommand(*parsed);
  if (!command.ok()) return CommandUsageError("fold", err, std::string(command.status().message()));

  auto catalogue = rules::LoadSegmentCatalogue(command->segments);
  if (!catalogue.ok()) {
    return CommandFailure(
        "fold", err, "invalid segment catalogue:\n" + std::string(catalogue.status().message()));
  }
  const core::Engine engine(std::make_shared<const rules::SegmentCatalogue>(*std::move(catalogue)),
                            command->engine);

  std::ifstream events_file;
  std::istream* events = &std::cin;
  if (command->events != "-") {
    events_file.open(command->events, std::ios::binary);
    if (!events_file)
      return CommandFailure("fold", err, "cannot read EVENTS file '" + command->events + "'");
    events = &events_file;
  }
  auto changes_file = OpenOutput(command->changes, "changes");
  if (!changes_file.ok())
    return CommandFailure("fold", err, std::string(changes_file.status().message()));
  auto rejects_file = OpenOutput(command->rejects, "rejects");
  if (!rejects_file.ok())
    return CommandFailure("fold", err, std::string(rejects_file.status().message()));

  ReferenceFold fold(engine, command->fold);
  std::size_t line_number = 0;
  std::size_t applied = 0;
  std::size_t duplicates = 0;
  std::string line;
  while (std::getline(*events, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = command->events + ":" + std::to_string(line_number) + ": ";
    auto record = ParseEventRecord(line);
    if (!record.ok())
      return CommandFailure("fold", err, where + std::string(record.status().message()));
    auto outcome = fold.Consume(*record);
    if (!outcome.ok())
      return CommandFailure("fold", err, where + std::string(outcome.status().message()));
    applied += *outcome == Outcome::kApplied;
    duplicates += *outcome == Outcome::kDuplicate;
  }
  if (events->bad()) return CommandFailure("fold", err, "reading '" + command->events + "' failed");
  fold.FireTimers();

  for (const auto& [key, profile] : fold.profiles()) {
    auto json = ProfileJsonLine(key.first, profile);
    if (!json.ok()) return CommandFailure("fold", err, std::string(json.status().message()));
    out << *json << '\n';
  }
  if (*changes_file) {
    for (const v1::SegmentChange& change : fold.changes()) {
      **changes_file << core::EncodeChange(change, core::OutputFormat::kJson) << '\n';
    }
    if (!(*changes_file)->flush())
      return CommandFailure("fold", err, "cannot write '" + command->changes + "'");
  }
  if (*rejects_file) {
    for (const RejectedRecord& reject : fold.rejects())
      **rejects_file << RejectLine(reject) << '\n';
    if (!(*rejects_file)->flush())
      return CommandFailure("fold", err, "cannot write '" + command->rejects + "'");
  }
  if (!out.flush())
    return CommandFailure("fold", err, "cannot write the profiles to standard output");
  err << "profilectl fold: " << applied << " applied, " << duplicates << " duplicates, "
      << fold.rejects().size() << " rejected; " << fold.profiles().size() << " profiles, "
      << fold.changes().size() << " changes\n";
  return kExitOk;
}

}  // namespace cdp::profilectl
