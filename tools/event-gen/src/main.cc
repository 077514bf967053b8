// event-gen: synthetic customer traffic for the profile pipeline. See README.md.

#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "cdp/common/stop_signal.h"
#include "generator.h"
#include "options.h"
#include "run.h"
#include "sink.h"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int UsageError(absl::string_view message) {
  std::cerr << "event-gen: " << message << "\nRun 'event-gen --help' for the options.\n";
  return kExitUsage;
}

}  // namespace

namespace cdp::tools {

int Main(std::span<const std::string_view> args) {
  absl::StatusOr<CliOptions> options = ParseCommandLine(args);
  if (!options.ok()) return UsageError(options.status().message());
  if (options->help) {
    std::cout << Usage();
    return 0;
  }

  if (!options->bootstrap_file.empty()) {
    absl::StatusOr<std::string> brokers = ReadBootstrapFile(options->bootstrap_file);
    if (!brokers.ok()) return UsageError(brokers.status().message());
    options->brokers = *std::move(brokers);
  }
  if (options->generator.clock == ClockMode::kLive) options->generator.start = absl::Now();
  absl::StatusOr<Generator> generator = Generator::Create(options->generator);
  if (!generator.ok()) return UsageError(generator.status().message());

  absl::StatusOr<std::unique_ptr<Sink>> sink =
      options->out.empty() ? OpenKafkaSink({.brokers = options->brokers,
                                            .topic = options->topic,
                                            .format = options->format,
                                            .properties = options->kafka_properties})
                           : OpenFileSink(options->out);
  if (!sink.ok()) {
    std::cerr << "event-gen: " << sink.status().message() << "\n";
    return kExitFailed;
  }

  cdp::InstallStopHandlers();
  const RunSummary summary = RunTraffic(*generator, **sink,
                                        {.format = options->format,
                                         .rate = options->rate,
                                         .progress_interval = options->progress_interval},
                                        cdp::StopRequested(), std::cerr);
  const absl::Status finished = (*sink)->Finish();

  const double seconds = absl::ToDoubleSeconds(summary.elapsed);
  std::cerr << absl::StrFormat("event-gen: %s: %d events (%d invalid) in %.1f s, %.0f events/s\n",
                               summary.stopped ? "stopped" : "done", summary.written,
                               summary.invalid, seconds,
                               seconds > 0 ? static_cast<double>(summary.written) / seconds : 0.0);
  bool failed = false;
  if (!summary.status.ok()) {
    std::cerr << "event-gen: " << summary.status.message() << "\n";
    failed = true;
  }
  if (!finished.ok()) {
    std::cerr << "event-gen: not every record was delivered: " << finished.message() << "\n";
    failed = true;
  }
  return failed ? kExitFailed : 0;
}

}  // namespace cdp::tools

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return cdp::tools::Main(args);
}
