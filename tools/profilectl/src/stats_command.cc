// stats: how many profiles, and how many customers each segment and tier holds.

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <map>
#include <ostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "arguments.h"
#include "cdp/rules/catalogue.h"
#include "commands.h"
#include "profile_source.h"
#include "state_dir.h"

namespace cdp::profilectl {
namespace {

constexpr FlagSpec kStatsFlags[] = {kDataDirFlag, kSegmentsFlag, kUrlFlag, kTokenFileFlag,
                                    kJsonFlag};

constexpr std::string_view kStatsUsage =
    R"(Usage: profilectl stats (--data-dir DIR [--segments FILE] | --url URL) [--json]

Counts the stored profiles, per input partition, and the members of each segment and tier
("DIMENSION/TIER"): what the profiles hold, as of their last update.

From a state directory it reads every profile; with --segments, segments and tiers nobody holds
are listed too, at 0. A running service does not count its profiles (that takes a scan of the
store): --url reports the member counts of its partitions from /metrics (cdp_segment_members),
with "profiles" and "partitions" null.

)";

constexpr std::string_view kSegmentMembers = "cdp_segment_members";

// The value of a Prometheus label value, unescaped; `text` starts after its opening quote.
// Returns where the closing quote is, or npos.
std::size_t ReadLabelValue(std::string_view text, std::string& value) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '"') return i;
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      value.push_back(text[i] == 'n' ? '\n' : text[i]);
    } else {
      value.push_back(text[i]);
    }
  }
  return std::string_view::npos;
}

// The cdp_segment_members series of a Prometheus text exposition, by member name ("segment" or
// "dimension/tier").
absl::StatusOr<std::map<std::string, std::int64_t>> MembersFromMetrics(std::string_view text) {
  std::map<std::string, std::int64_t> members;
  for (const absl::string_view line_view :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    const std::string_view line(line_view.data(), line_view.size());
    if (!line.starts_with(kSegmentMembers) || line.size() <= kSegmentMembers.size() ||
        line[kSegmentMembers.size()] != '{') {
      continue;
    }
    std::map<std::string, std::string> labels;
    std::size_t i = kSegmentMembers.size() + 1;
    while (i < line.size() && line[i] != '}') {
      const std::size_t equals = line.find("=\"", i);
      if (equals == std::string_view::npos) break;
      std::string value;
      const std::size_t close = ReadLabelValue(line.substr(equals + 2), value);
      if (close == std::string_view::npos) break;
      labels[std::string(line.substr(i, equals - i))] = std::move(value);
      i = equals + 2 + close + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    double count = 0;
    const std::size_t space = line.rfind(' ');
    if (i >= line.size() || line[i] != '}' || space == std::string_view::npos ||
        !absl::SimpleAtod(absl::string_view(line.data() + space + 1, line.size() - space - 1),
                          &count)) {
      return absl::InvalidArgumentError("cannot read the /metrics line '" + std::string(line) +
                                        "'");
    }
    const std::string& dimension = labels["dimension"];
    members[dimension.empty() ? labels["segment"] : dimension + "/" + labels["segment"]] +=
        static_cast<std::int64_t>(count);
  }
  return members;
}

void PrintStatsTable(const nlohmann::json& stats, std::ostream& out) {
  const nlohmann::json& partitions = stats["partitions"];
  if (stats["profiles"].is_null()) {
    out << "profiles  not counted by a running service (stop it and use --data-dir)\n";
  } else {
    out << "profiles  " << stats["profiles"].dump() << " in " << partitions.size()
        << " partition(s)\n\nPARTITION  PROFILES\n";
    for (const nlohmann::json& partition : partitions) {
      out << std::left << std::setw(9) << partition["partition"].dump() << "  "
          << partition["profiles"].dump() << "\n";
    }
  }
  std::size_t width = 7;
  for (const auto& [name, count] : stats["members"].items()) width = std::max(width, name.size());
  out << "\n"
      << std::left << std::setw(static_cast<int>(width)) << "SEGMENT"
      << "  MEMBERS\n";
  for (const auto& [name, count] : stats["members"].items()) {
    out << std::left << std::setw(static_cast<int>(width)) << name << "  " << count.dump() << "\n";
  }
}

}  // namespace

int RunStats(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  constexpr std::string_view kCommand = "stats";
  auto parsed = ParseArguments(args, kStatsFlags);
  if (!parsed.ok()) return CommandUsageError(kCommand, err, std::string(parsed.status().message()));
  if (parsed->help) {
    out << kStatsUsage << kSourceUsage
        << "  --json              one object: {\"profiles\", \"partitions\": [{\"partition\", "
           "\"profiles\"}],\n"
           "                      \"members\": {NAME: count}}\n"
        << "  --help              this text\n";
    return kExitOk;
  }
  if (!parsed->positional.empty()) {
    return CommandUsageError(kCommand, err,
                             "unexpected argument '" + parsed->positional.front() + "'");
  }
  auto source = ReadProfileSource(*parsed);
  if (!source.ok()) return SourceError(kCommand, err, source.status());

  nlohmann::json stats = {{"profiles", nullptr}, {"partitions", nullptr}};
  std::map<std::string, std::int64_t> members;
  if (source->service) {
    auto metrics = source->service->Get("/metrics");
    if (!metrics.ok())
      return CommandFailure(kCommand, err, std::string(metrics.status().message()));
    if (metrics->status != 200) {
      return CommandFailure(
          kCommand, err,
          source->service->url() + "/metrics answered " + std::to_string(metrics->status));
    }
    auto parsed_members = MembersFromMetrics(metrics->body);
    if (!parsed_members.ok()) {
      return CommandFailure(kCommand, err, std::string(parsed_members.status().message()));
    }
    members = *std::move(parsed_members);
  } else {
    if (source->segments_given) {
      auto catalogue = rules::LoadSegmentCatalogue(source->segments);
      if (!catalogue.ok()) {
        return CommandFailure(
            kCommand, err,
            "invalid segment file (--segments):\n" + std::string(catalogue.status().message()));
      }
      for (const rules::Segment& segment : catalogue->segments) members[segment.id] = 0;
      for (const rules::Dimension& dimension : catalogue->dimensions) {
        for (const rules::Tier& tier : dimension.tiers) members[dimension.id + "/" + tier.id] = 0;
      }
    }
    const std::unique_ptr<state::Store> store = OpenStateDir(kCommand, source->data_dir, err);
    if (store == nullptr) return kExitFailure;
    std::map<std::int32_t, std::int64_t> per_partition;
    const absl::Status scanned = store->ForEachProfile(
        std::nullopt, [&](Partition partition, const v1::CustomerProfile& profile) {
          ++per_partition[partition.value()];
          for (const std::string& segment : profile.segments()) ++members[segment];
          for (const v1::CustomerProfile::HeldTier& held : profile.tiers()) {
            ++members[held.dimension() + "/" + held.tier()];
          }
          return true;
        });
    if (!scanned.ok()) return CommandFailure(kCommand, err, std::string(scanned.message()));
    std::int64_t profiles = 0;
    nlohmann::json partitions = nlohmann::json::array();
    for (const auto& [partition, count] : per_partition) {
      partitions.push_back({{"partition", partition}, {"profiles", count}});
      profiles += count;
    }
    stats["profiles"] = profiles;
    stats["partitions"] = std::move(partitions);
  }
  stats["members"] = members;
  if (parsed->Flag("json")) {
    out << stats.dump() << "\n";
  } else {
    PrintStatsTable(stats, out);
  }
  out.flush();
  return out ? kExitOk : CommandFailure(kCommand, err, "cannot write to standard output");
}

}  // namespace cdp::profilectl
