// check-config and fields: what a segment file author needs before the service sees the file.

#include <algorithm>
#include <cstddef>
#include <iomanip>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "arguments.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/fields.h"
#include "cdp/rules/value.h"
#include "commands.h"
#include "nlohmann/json.hpp"

namespace cdp::profilectl {
namespace {

constexpr FlagSpec kCatalogueCommandFlags[] = {{"json", ""}};

constexpr std::string_view kCheckConfigUsage =
    R"(Usage: profilectl check-config [--json] FILE

Loads FILE as profile-service loads its --segments file and reports every error, one per line as
"FILE:LINE:COLUMN: message", or what the file defines. Exit status 0 when it is valid, 1 when not.

  --json    one JSON object: {"valid": true, "timezone", "segments", "dimensions"} or
            {"valid": false, "errors": [{"line", "column", "message"}]}
  --help    this text
)";

constexpr std::string_view kFieldsUsage =
    R"(Usage: profilectl fields [--json]

Lists the profile fields segment rules can read: name, type, whether time alone changes the
value (days_since_*, windows), and meaning.

  --json    one JSON object per line: {"name", "type", "time_dependent", "description"}
  --help    this text
)";

// "FILE:LINE:COLUMN: message" of one error line, as numbers and text where it has that shape.
nlohmann::json ErrorJson(std::string_view file, std::string_view line) {
  nlohmann::json error = {{"message", std::string(line)}};
  if (line.substr(0, file.size() + 1) != std::string(file) + ":") return error;
  const std::vector<absl::string_view> parts = absl::StrSplit(
      absl::string_view(line.data() + file.size() + 1, line.size() - file.size() - 1),
      absl::MaxSplits(':', 2));
  int line_number = 0;
  int column = 0;
  if (parts.size() == 3 && absl::SimpleAtoi(parts[0], &line_number) &&
      absl::SimpleAtoi(parts[1], &column)) {
    error = {{"line", line_number},
             {"column", column},
             {"message", std::string(absl::StripLeadingAsciiWhitespace(parts[2]))}};
  }
  return error;
}

void PrintCatalogue(const rules::SegmentCatalogue& catalogue, std::string_view file,
                    std::ostream& out) {
  std::size_t tiers = 0;
  for (const auto& dimension : catalogue.dimensions) tiers += dimension.tiers.size();
  out << file << ": valid: " << catalogue.segments.size() << " segments, "
      << catalogue.dimensions.size() << " dimensions with " << tiers << " tiers, time zone "
      << catalogue.timezone_name << "\n\n";
  std::size_t width = 0;
  for (const auto& segment : catalogue.segments) width = std::max(width, segment.id.size());
  for (const auto& dimension : catalogue.dimensions) {
    for (const auto& tier : dimension.tiers) {
      width = std::max(width, dimension.id.size() + 1 + tier.id.size());
    }
  }
  const auto row = [&](std::string_view id, const rules::Expression& when) {
    out << "  " << std::left << std::setw(static_cast<int>(width)) << id << "  " << when.source()
        << (when.time_dependent() ? "   [time]" : "") << "\n";
  };
  for (const auto& segment : catalogue.segments) row(segment.id, segment.when);
  for (const auto& dimension : catalogue.dimensions) {
    for (const auto& tier : dimension.tiers) row(dimension.id + "/" + tier.id, tier.when);
  }
}

nlohmann::json CatalogueJson(const rules::SegmentCatalogue& catalogue) {
  const auto rule = [](std::string_view id, const rules::Expression& when) {
    return nlohmann::json{{"id", std::string(id)},
                          {"when", std::string(when.source())},
                          {"time_dependent", when.time_dependent()}};
  };
  nlohmann::json segments = nlohmann::json::array();
  for (const auto& segment : catalogue.segments) segments.push_back(rule(segment.id, segment.when));
  nlohmann::json dimensions = nlohmann::json::array();
  for (const auto& dimension : catalogue.dimensions) {
    nlohmann::json tiers = nlohmann::json::array();
    for (const auto& tier : dimension.tiers) tiers.push_back(rule(tier.id, tier.when));
    dimensions.push_back({{"id", dimension.id}, {"tiers", std::move(tiers)}});
  }
  return {{"valid", true},
          {"timezone", catalogue.timezone_name},
          {"segments", std::move(segments)},
          {"dimensions", std::move(dimensions)}};
}

}  // namespace

int RunCheckConfig(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  auto parsed = ParseArguments(args, kCatalogueCommandFlags);
  if (!parsed.ok())
    return CommandUsageError("check-config", err, std::string(parsed.status().message()));
  if (parsed->help) {
    out << kCheckConfigUsage;
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return CommandUsageError("check-config", err, "expected one FILE, the segment file to check");
  }
  const std::string& file = parsed->positional.front();
  const bool json = parsed->Flag("json").has_value();
  auto catalogue = rules::LoadSegmentCatalogue(file);
  if (catalogue.ok()) {
    if (json) {
      out << CatalogueJson(*catalogue).dump() << "\n";
    } else {
      PrintCatalogue(*catalogue, file, out);
    }
    return kExitOk;
  }
  const absl::string_view message = catalogue.status().message();
  if (json) {
    nlohmann::json errors = nlohmann::json::array();
    for (const absl::string_view line : absl::StrSplit(message, '\n')) {
      errors.push_back(ErrorJson(file, std::string_view(line.data(), line.size())));
    }
    out << nlohmann::json{{"valid", false}, {"errors", std::move(errors)}}.dump() << "\n";
  } else {
    err << message << "\n";
  }
  return kExitFailure;
}

int RunFields(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  auto parsed = ParseArguments(args, kCatalogueCommandFlags);
  if (!parsed.ok()) return CommandUsageError("fields", err, std::string(parsed.status().message()));
  if (parsed->help) {
    out << kFieldsUsage;
    return kExitOk;
  }
  if (!parsed->positional.empty()) {
    return CommandUsageError("fields", err,
                             "unexpected argument '" + parsed->positional.front() + "'");
  }
  const auto fields = rules::Fields();
  if (parsed->Flag("json")) {
    for (const rules::FieldInfo& field : fields) {
      out << nlohmann::json{{"name", std::string(field.name)},
                            {"type", std::string(rules::TypeName(field.type))},
                            {"time_dependent", field.time_dependent},
                            {"description", std::string(field.description)}}
                 .dump()
          << "\n";
    }
    return kExitOk;
  }
  std::size_t width = 0;
  for (const rules::FieldInfo& field : fields) width = std::max(width, field.name.size());
  out << std::left << std::setw(static_cast<int>(width)) << "FIELD"
      << "  TYPE    TIME  MEANING\n";
  for (const rules::FieldInfo& field : fields) {
    out << std::left << std::setw(static_cast<int>(width)) << field.name << "  " << std::setw(6)
        << rules::TypeName(field.type) << "  " << std::setw(4)
        << (field.time_dependent ? "yes" : "") << "  " << field.description << "\n";
  }
  return kExitOk;
}

}  // namespace cdp::profilectl
