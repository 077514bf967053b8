// replay: publishes historical customer events in occurred_at order. See README.md.

#include <csignal>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdp/common/stop_signal.h"
#include "cdp/kafka/producer.h"
#include "load.h"
#include "options.h"
#include "publish.h"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int UsageError(absl::string_view message) {
  std::cerr << "replay: " << message << "\nRun 'replay --help' for the options.\n";
  return kExitUsage;
}

}  // namespace

namespace cdp::tools::replay {
namespace {

void ListProblems(const LoadResult& loaded) {
  for (const std::string& problem : loaded.problems) std::cerr << "  " << problem << "\n";
  const auto listed = static_cast<std::int64_t>(loaded.problems.size());
  if (loaded.invalid > listed) std::cerr << "  ... and " << loaded.invalid - listed << " more\n";
}

}  // namespace

int Main(std::span<const std::string_view> args) {
  absl::StatusOr<CliOptions> options = ParseCommandLine(args);
  if (!options.ok()) return UsageError(options.status().message());
  if (options->help) {
    std::cout << Usage();
    return 0;
  }
  // Created first, so that a bad --kafka-property is told before a long read; it connects only
  // when the first record is sent.
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer = kafka::Producer::Create(
      {.bootstrap_servers = options->brokers, .properties = options->kafka_properties});
  if (!producer.ok()) {
    if (absl::IsInvalidArgument(producer.status())) {
      return UsageError(producer.status().message());
    }
    std::cerr << "replay: " << producer.status().message() << "\n";
    return kExitFailed;
  }

  const absl::Time load_start = absl::Now();
  absl::StatusOr<LoadResult> loaded = LoadFiles(options->files, options->load, &std::cerr);
  if (!loaded.ok()) {
    std::cerr << "replay: " << loaded.status().message() << "\nreplay: nothing was published\n";
    return kExitFailed;
  }
  if (loaded->invalid > 0) {
    if (!options->skip_invalid) {
      std::cerr << "replay: " << loaded->invalid << " invalid line(s); nothing was published:\n";
      ListProblems(*loaded);
      std::cerr << "replay: fix them, or add --skip-invalid to publish only the valid events\n";
      return kExitFailed;
    }
    std::cerr << "replay: skipping " << loaded->invalid << " invalid line(s):\n";
    ListProblems(*loaded);
    if (loaded->rows_left_out > 0) {
      std::cerr << "replay: also skipping " << loaded->rows_left_out
                << " valid row(s) of the purchases those rows belong to\n";
    }
  }

  std::cerr << absl::StrFormat(
      "replay: read %d events in %.1f s; publishing to %s\n", loaded->events.size(),
      absl::ToDoubleSeconds(absl::Now() - load_start), options->publish.topic);

  cdp::InstallStopHandlers();
  const std::span<const ReplayEvent> events = loaded->events;
  const PublishSummary summary =
      Publish(events, **producer, options->publish, cdp::StopRequested(), std::cerr);

  const double seconds = absl::ToDoubleSeconds(summary.elapsed);
  const double rate = seconds > 0 ? static_cast<double>(summary.delivered) / seconds : 0.0;
  if (!summary.status.ok()) std::cerr << "replay: " << summary.status.message() << "\n";
  if (summary.status.ok() && !summary.stopped) {
    std::cout << absl::StrFormat("replay: published %d events in %.1f s (%.0f events/s)",
                                 summary.delivered, seconds, rate);
    if (!events.empty()) {
      std::cout << ", occurred_at " << Rfc3339(events.front().occurred_at) << " to "
                << Rfc3339(events.back().occurred_at);
    }
    std::cout << "\n";
    return 0;
  }

  const int signal = cdp::StopSignal();
  const std::optional<absl::Time> complete = LastCompleteOccurredAt(events, summary.delivered);
  std::cout << absl::StrFormat("replay: %s after %d of %d events were delivered (%.1f s); ",
                               !summary.stopped    ? "failed"
                               : signal == SIGTERM ? "stopped by SIGTERM"
                                                   : "stopped by SIGINT",
                               summary.delivered, events.size(), seconds)
            << (complete ? "every event up to occurred_at " + Rfc3339(*complete) + " was delivered"
                         : std::string("no occurred_at was fully delivered"))
            << "\n";
  return summary.stopped ? 128 + signal : kExitFailed;
}

}  // namespace cdp::tools::replay

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return cdp::tools::replay::Main(args);
}
