// get: one customer's profile, as the service's profile API shows it.

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <set>
#include <string>

#include "arguments.h"
#include "cdp/core/profile_json.h"
#include "cdp/pipeline/stored_profile.h"
#include "cdp/rules/fields.h"
#include "commands.h"
#include "profile_source.h"
#include "state_dir.h"

namespace cdp::profilectl {
namespace {

constexpr FlagSpec kGetFlags[] = {kDataDirFlag, kSegmentsFlag,  kNowFlag,
                                  kUrlFlag,     kTokenFileFlag, kJsonFlag};

constexpr std::string_view kGetUsage =
    R"(Usage: profilectl get (--data-dir DIR [--segments FILE] | --url URL) [--json] CUSTOMER

Shows a customer's profile as profile-service's GET /v1/profiles/CUSTOMER does: every field rules
read (null when it has no value yet), the segments and tiers held, tags, attributes, consent and
the next timer. A table, or with --json the API's JSON.

)";

// Array items joined with ", ", or "-" for none.
std::string JoinList(const nlohmann::json& items) {
  std::string joined;
  for (const nlohmann::json& item : items) {
    if (!joined.empty()) joined += ", ";
    joined += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return joined.empty() ? "-" : joined;
}

// Object members as "key=value", values as JSON (quoted strings: attributes come from events).
std::string JoinMap(const nlohmann::json& object, bool quote_strings) {
  std::string joined;
  for (const auto& [key, value] : object.items()) {
    if (!joined.empty()) joined += ", ";
    joined +=
        key + "=" + (value.is_string() && !quote_strings ? value.get<std::string>() : value.dump());
  }
  return joined.empty() ? "-" : joined;
}

std::string Text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.is_null() ? "-" : value.dump();
}

void PrintProfileTable(const nlohmann::json& profile, std::ostream& out) {
  const auto row = [&](std::string_view label, const std::string& value) {
    out << std::left << std::setw(16) << label << value << "\n";
  };
  row("customer", Text(profile.value("customer_id", nlohmann::json())));
  row("as of", Text(profile.value("as_of", nlohmann::json())));
  row("segments", JoinList(profile.value("segments", nlohmann::json::array())));
  row("tiers", JoinMap(profile.value("tiers", nlohmann::json::object()), false));
  row("tags", JoinList(profile.value("tags", nlohmann::json::array())));
  row("attributes", JoinMap(profile.value("attributes", nlohmann::json::object()), true));
  row("consent", JoinMap(profile.value("consent", nlohmann::json::object()), false));
  row("events applied", Text(profile.value("events_applied", nlohmann::json())));
  row("last event at", Text(profile.value("last_event_at", nlohmann::json())));
  row("next timer at", Text(profile.value("next_timer_at", nlohmann::json())));

  // The catalogue's order (rules::Fields) reads better than the JSON's alphabetical one; a field
  // this build does not know (a newer service) comes last.
  const nlohmann::json fields = profile.value("fields", nlohmann::json::object());
  std::size_t width = 5;
  for (const auto& [name, value] : fields.items()) width = std::max(width, name.size());
  out << "\n"
      << std::left << std::setw(static_cast<int>(width)) << "FIELD"
      << "  VALUE\n";
  std::set<std::string> shown;
  const auto field_row = [&](const std::string& name) {
    if (!fields.contains(name) || !shown.insert(name).second) return;
    out << std::left << std::setw(static_cast<int>(width)) << name << "  " << fields[name].dump()
        << "\n";
  };
  for (const rules::FieldInfo& field : rules::Fields()) field_row(std::string(field.name));
  for (const auto& [name, value] : fields.items()) field_row(name);
}

}  // namespace

int RunGet(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  constexpr std::string_view kCommand = "get";
  auto parsed = ParseArguments(args, kGetFlags);
  if (!parsed.ok()) return CommandUsageError(kCommand, err, std::string(parsed.status().message()));
  if (parsed->help) {
    out << kGetUsage << kSourceUsage << kNowUsage << "  --json              the API's JSON object\n"
        << "  --help              this text\n\nExit status: 0 shown, 1 no such customer or "
           "failure, 2 bad usage.\n";
    return kExitOk;
  }
  if (parsed->positional.size() != 1) {
    return CommandUsageError(kCommand, err, "expected one CUSTOMER id");
  }
  const std::string& customer = parsed->positional.front();
  auto source = ReadProfileSource(*parsed);
  if (!source.ok()) return SourceError(kCommand, err, source.status());
  const std::string not_found = "no profile for customer '" + customer + "'";

  nlohmann::json profile;
  if (source->service) {
    auto fetched = GetJson(*source->service, "/v1/profiles/" + PathSegment(customer));
    if (!fetched.ok()) {
      return CommandFailure(kCommand, err,
                            fetched.status().code() == absl::StatusCode::kNotFound
                                ? not_found
                                : std::string(fetched.status().message()));
    }
    profile = *std::move(fetched);
  } else {
    const std::unique_ptr<state::Store> store = OpenStateDir(kCommand, source->data_dir, err);
    if (store == nullptr) return kExitFailure;
    auto engine = LoadEngine(*source);
    if (!engine.ok()) return CommandFailure(kCommand, err, std::string(engine.status().message()));
    auto found = pipeline::FindStoredProfile(*store, customer);
    if (!found.ok()) return CommandFailure(kCommand, err, std::string(found.status().message()));
    if (!found->has_value()) return CommandFailure(kCommand, err, not_found);
    profile = core::ProfileJson((*found)->profile, **engine, source->now, (*found)->population);
  }
  if (parsed->Flag("json")) {
    out << profile.dump() << "\n";
  } else {
    PrintProfileTable(profile, out);
  }
  out.flush();
  return out ? kExitOk : CommandFailure(kCommand, err, "cannot write to standard output");
}

}  // namespace cdp::profilectl
