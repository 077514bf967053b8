#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "generator.h"

namespace cdp::tools {

enum class WireFormat { kJson, kProtobuf };

// The event-gen command line, checked.
struct CliOptions {
  // Where to publish: `brokers`, or the file tools/kafka-local writes them to.
  std::string brokers;
  std::string bootstrap_file;
  std::string topic = "customer-events";
  WireFormat format = WireFormat::kJson;
  // Write JSON lines here instead of publishing ("-": standard output).
  std::string out;
  // Events per second; 0 = as fast as possible.
  double rate = 0.0;
  // Between progress lines on standard error; zero = none.
  absl::Duration progress_interval = absl::Seconds(10);
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  // The live clock's start is taken when the run begins.
  GeneratorOptions generator;
  bool help = false;
};

// Parses the arguments after the program name. An error names the offending option.
[[nodiscard]] absl::StatusOr<CliOptions> ParseCommandLine(std::span<const std::string_view> args);

// The --help text.
[[nodiscard]] std::string_view Usage();

}  // namespace cdp::tools
