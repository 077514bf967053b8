#include "arguments.h"

#include <algorithm>
#include <ostream>

#include "absl/status/status.h"
#include "cdp/common/suggest.h"

namespace cdp::profilectl {
namespace {

absl::Status UsageError(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

absl::Status UnknownFlag(std::string_view name, std::span<const FlagSpec> flags) {
  std::vector<std::string> known = {"--help"};
  for (const FlagSpec& flag : flags) known.push_back("--" + std::string(flag.name));
  const std::vector<std::string_view> candidates(known.begin(), known.end());
  const std::string dashed = "--" + std::string(name);
  std::string message = "unknown option '" + dashed + "'";
  if (auto suggestion = Suggest(dashed, candidates)) {
    message += "; did you mean '" + *suggestion + "'?";
  }
  return UsageError(std::move(message));
}

}  // namespace

std::optional<std::string_view> Arguments::Flag(std::string_view name) const {
  auto it = flags.find(name);
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Arguments> ParseArguments(std::span<const std::string_view> args,
                                         std::span<const FlagSpec> flags) {
  Arguments parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (!arg.starts_with("--")) {
      if (arg.starts_with("-") && arg != "-") {
        return UsageError("unknown option '" + std::string(arg) + "' (options start with --)");
      }
      parsed.positional.emplace_back(arg);
      continue;
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string_view> value;
    if (const std::size_t equals = name.find('='); equals != std::string_view::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    if (name == "help") {
      if (value) return UsageError("--help takes no value");
      parsed.help = true;
      continue;
    }
    const auto spec = std::find_if(flags.begin(), flags.end(),
                                   [&](const FlagSpec& flag) { return flag.name == name; });
    if (spec == flags.end()) return UnknownFlag(name, flags);
    if (spec->value_name.empty()) {
      if (value) return UsageError("--" + std::string(name) + " takes no value");
      value = "true";
    } else if (!value) {
      if (i + 1 == args.size()) {
        return UsageError("--" + std::string(name) + " needs a value (" +
                          std::string(spec->value_name) + ")");
      }
      value = args[++i];
    }
    if (!parsed.flags.emplace(std::string(name), std::string(*value)).second) {
      return UsageError("--" + std::string(name) + " is given twice");
    }
  }
  return parsed;
}

int CommandUsageError(std::string_view command, std::ostream& err, std::string_view message) {
  err << "profilectl " << command << ": " << message << "\nRun 'profilectl " << command
      << " --help' for the options.\n";
  return kExitUsage;
}

int CommandFailure(std::string_view command, std::ostream& err, std::string_view message) {
  err << "profilectl " << command << ": " << message << "\n";
  return kExitFailure;
}

}  // namespace cdp::profilectl
