#include <charconv>
#include <limits>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "arguments.h"
#include "cdp/state/store.h"
#include "commands.h"
#include "profile_json.h"
#include "state_dir.h"

namespace cdp::profilectl {
namespace {

constexpr FlagSpec kFlags[] = {{"data-dir", "DIR"}, {"partition", "N"}};

constexpr std::string_view kUsage =
    R"(Usage: profilectl export --data-dir DIR [--partition N]

Prints every profile stored in a profile-service state directory as one JSON line: the
cdp.v1.CustomerProfile in protobuf-JSON (snake_case names, every scalar field, int64 values as
strings) preceded by "partition". Lines are sorted by partition, then customer id.

  --data-dir DIR    the service's --data-dir
  --partition N     only this input partition
  --help            this text

The state store allows one process at a time: stop the service first.
)";

}  // namespace

int RunExport(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  auto parsed = ParseArguments(args, kFlags);
  if (!parsed.ok()) return CommandUsageError("export", err, std::string(parsed.status().message()));
  if (parsed->help) {
    out << kUsage;
    return kExitOk;
  }
  if (!parsed->positional.empty()) {
    return CommandUsageError("export", err,
                             "unexpected argument '" + parsed->positional.front() + "'");
  }
  const std::optional<std::string_view> data_dir = parsed->Flag("data-dir");
  if (!data_dir || data_dir->empty())
    return CommandUsageError("export", err, "--data-dir DIR is required");
  std::optional<Partition> only;
  if (auto text = parsed->Flag("partition")) {
    std::int32_t value = -1;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (error != std::errc() || end != text->data() + text->size() || value < 0) {
      return CommandUsageError("export", err,
                               "--partition: '" + std::string(*text) +
                                   "' is not a whole number from 0 to " +
                                   std::to_string(std::numeric_limits<std::int32_t>::max()));
    }
    only = Partition(value);
  }

  const std::unique_ptr<state::Store> store = OpenStateDir("export", *data_dir, err);
  if (store == nullptr) return kExitFailure;
  absl::Status line_error;
  const absl::Status scanned =
      store->ForEachProfile(only, [&](Partition partition, const v1::CustomerProfile& profile) {
        auto line = ProfileJsonLine(partition, profile);
        if (!line.ok()) {
          line_error = line.status();
          return false;
        }
        out << *line << '\n';
        return true;
      });
  if (!scanned.ok() || !line_error.ok()) {
    err << "profilectl export: " << (scanned.ok() ? line_error : scanned).message() << "\n";
    return kExitFailure;
  }
  out.flush();
  if (!out) {
    err << "profilectl export: cannot write the profiles to standard output\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace cdp::profilectl
