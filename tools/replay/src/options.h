#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "load.h"
#include "publish.h"

namespace cdp::tools::replay {

// The replay command line, checked.
struct CliOptions {
  std::string brokers;
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  // Input files in the order given; "-" is standard input.
  std::vector<std::string> files;
  bool skip_invalid = false;
  LoadOptions load;
  PublishOptions publish;
  bool help = false;
};

// Parses the arguments after the program name. An error names the offending option.
[[nodiscard]] absl::StatusOr<CliOptions> ParseCommandLine(std::span<const std::string_view> args);

// The --help text.
[[nodiscard]] std::string_view Usage();

}  // namespace cdp::tools::replay
