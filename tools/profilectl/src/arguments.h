#pragma once

#include <iosfwd>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cdp::profilectl {

// Exit status of every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// A flag a command accepts, without its leading "--".
struct FlagSpec {
  std::string_view name;
  // Empty for a switch; otherwise what the value is, for the usage text (FILE, N...).
  std::string_view value_name;
};

// A command line checked against a command's flags.
struct Arguments {
  std::map<std::string, std::string, std::less<>> flags;  // a switch maps to "true"
  std::vector<std::string> positional;
  bool help = false;

  [[nodiscard]] std::optional<std::string_view> Flag(std::string_view name) const;
};

// Accepts "--name value", "--name=value", switches, "--help", "-" (standard input) and "--"
// (everything after it is positional). An unknown flag is reported with the nearest known one.
[[nodiscard]] absl::StatusOr<Arguments> ParseArguments(std::span<const std::string_view> args,
                                                       std::span<const FlagSpec> flags);

// Reports a bad command line of `command` on `err`, pointing at its --help; returns kExitUsage.
int CommandUsageError(std::string_view command, std::ostream& err, std::string_view message);
// Reports that `command` failed, as "profilectl COMMAND: message"; returns kExitFailure.
int CommandFailure(std::string_view command, std::ostream& err, std::string_view message);

}  // namespace cdp::profilectl
