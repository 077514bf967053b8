#pragma once

#include <iosfwd>
#include <span>
#include <string_view>

namespace cdp::profilectl {

// A subcommand: reads its own arguments (after the command name), writes results to `out` and
// messages to `err`, and returns the process exit status (kExitOk, kExitFailure, kExitUsage).
struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
};

int RunCheckConfig(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int RunExplain(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int RunExport(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int RunFields(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int RunFold(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int RunGet(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int RunStats(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// Every command, in the order the top-level help lists them.
inline constexpr Command kCommands[] = {
    {"check-config", "validate a segment file as the service does, or show what it defines",
     &RunCheckConfig},
    {"get", "show a customer's profile, from a state directory or a running service", &RunGet},
    {"explain", "why a customer is or is not in a segment, step by step through its rule",
     &RunExplain},
    {"stats", "count profiles and the members of each segment and tier", &RunStats},
    {"export", "print every stored profile as JSON lines (the service must be stopped)",
     &RunExport},
    {"fields", "list the profile fields segment rules can read, with types and meanings",
     &RunFields},
    {"fold", "replay input records offline with the core engine: the pipeline's reference",
     &RunFold},
};

}  // namespace cdp::profilectl
