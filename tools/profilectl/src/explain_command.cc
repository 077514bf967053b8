// explain: why a customer is or is not in a segment, step by step through its rule.

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <string>

#include "absl/strings/str_split.h"
#include "arguments.h"
#include "cdp/core/explain.h"
#include "cdp/core/profile_json.h"
#include "cdp/pipeline/stored_profile.h"
#include "commands.h"
#include "profile_source.h"
#include "state_dir.h"

namespace cdp::profilectl {
namespace {

constexpr FlagSpec kExplainFlags[] = {kDataDirFlag, kSegmentsFlag,  kNowFlag,
                                      kUrlFlag,     kTokenFileFlag, kJsonFlag};

constexpr std::string_view kExplainUsage =
    R"(Usage: profilectl explain (--data-dir DIR [--segments FILE] | --url URL) [--json]
                         CUSTOMER SEGMENT

Explains why CUSTOMER is or is not in SEGMENT: an independent segment's id, DIMENSION/TIER, a tier
id only one dimension has, or a dimension's id (each of its tiers). For each: the rule, whether
the stored profile holds it and whether evaluating now does, why (the conditions the result rests
on, the earlier tier that wins, a min_dwell holding it), the field values the rule reads, and each
step of the rule with its value. As profile-service's GET /v1/profiles/CUSTOMER/explain/SEGMENT.

)";

// A rule written over several lines, on one.
std::string SingleLine(const std::string& text) {
  std::string line;
  for (const absl::string_view word :
       absl::StrSplit(text, absl::ByAnyChar(" \n\t\r"), absl::SkipEmpty())) {
    if (!line.empty()) line += ' ';
    line.append(word.data(), word.size());
  }
  return line;
}

void PrintExplanation(const nlohmann::json& e, std::ostream& out) {
  const bool member = e.value("member", false);
  const bool holds_now = e.value("holds_now", false);
  out << e.value("name", "") << ": " << (member ? "member" : "not a member");
  if (member != holds_now) {
    out << " (evaluated now: " << (holds_now ? "a member" : "not a member") << ")";
  }
  out << "\n  rule     " << SingleLine(e.value("rule", "")) << "\n  why      "
      << e.value("reason", "") << "\n  fields   ";
  std::string fields;
  const nlohmann::json values = e.value("fields", nlohmann::json::object());
  for (const auto& [name, value] : values.items()) {
    if (!fields.empty()) fields += ", ";
    fields += name + " = " + value.dump();
  }
  out << (fields.empty() ? "-" : fields) << "\n  trace\n";
  const nlohmann::json trace = e.value("trace", nlohmann::json::array());
  std::size_t width = 5;
  for (const nlohmann::json& step : trace) {
    width = std::max(
        width, std::min<std::size_t>(step.value("value", nlohmann::json()).dump().size(), 24));
  }
  for (const nlohmann::json& step : trace) {
    out << "    " << std::left << std::setw(static_cast<int>(width))
        << step.value("value", nlohmann::json()).dump() << "  "
        << std::string(2 * static_cast<std::size_t>(std::max(0, step.value("depth", 0))), ' ')
        << SingleLine(step.value("text", ""));
    if (step.value("deciding", false)) out << "   <- decides";
    if (step.value("skipped", false)) out << "   (not evaluated: decided before it)";
    out << "\n";
  }
}

void PrintExplanationTable(const nlohmann::json& answer, std::ostream& out) {
  out << "customer " << answer.value("customer_id", "") << ", as of " << answer.value("as_of", "")
      << "\n";
  for (const nlohmann::json& e : answer.value("explanations", nlohmann::json::array())) {
    out << "\n";
    PrintExplanation(e, out);
  }
}

}  // namespace

int RunExplain(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  constexpr std::string_view kCommand = "explain";
  auto parsed = ParseArguments(args, kExplainFlags);
  if (!parsed.ok()) return CommandUsageError(kCommand, err, std::string(parsed.status().message()));
  if (parsed->help) {
    out << kExplainUsage << kSourceUsage << kNowUsage
        << "  --json              the API's JSON object (with each step's span of the rule)\n"
        << "  --help              this text\n\nExit status: 0 explained, 1 no such customer or "
           "segment, or failure, 2 bad usage.\n";
    return kExitOk;
  }
  if (parsed->positional.size() != 2) {
    return CommandUsageError(kCommand, err, "expected CUSTOMER and SEGMENT");
  }
  const std::string& customer = parsed->positional[0];
  const std::string& segment = parsed->positional[1];
  auto source = ReadProfileSource(*parsed);
  if (!source.ok()) return SourceError(kCommand, err, source.status());
  const std::string not_found = "no profile for customer '" + customer + "'";

  nlohmann::json answer;
  if (source->service) {
    // A tier's name keeps its '/': the API takes DIMENSION/TIER as two path segments.
    std::string path = "/v1/profiles/" + PathSegment(customer) + "/explain";
    for (const absl::string_view part : absl::StrSplit(segment, '/')) {
      path += "/" + PathSegment(std::string_view(part.data(), part.size()));
    }
    auto fetched = GetJson(*source->service, path);
    if (!fetched.ok()) {
      const std::string message(fetched.status().message());
      // The service says which was not found: the customer, or the segment (with a suggestion).
      return CommandFailure(kCommand, err,
                            message == "no profile for this customer" ? not_found : message);
    }
    answer = *std::move(fetched);
  } else {
    auto engine = LoadEngine(*source);
    if (!engine.ok()) return CommandFailure(kCommand, err, std::string(engine.status().message()));
    // The name first: a typo is reported without opening the store.
    if (auto targets = core::ResolveRuleTargets((*engine)->catalogue(), segment); !targets.ok()) {
      return CommandFailure(kCommand, err, std::string(targets.status().message()));
    }
    const std::unique_ptr<state::Store> store = OpenStateDir(kCommand, source->data_dir, err);
    if (store == nullptr) return kExitFailure;
    auto found = pipeline::FindStoredProfile(*store, customer);
    if (!found.ok()) return CommandFailure(kCommand, err, std::string(found.status().message()));
    if (!found->has_value()) return CommandFailure(kCommand, err, not_found);
    auto explanations = core::ExplainMembership(**engine, (*found)->profile, segment, source->now,
                                                (*found)->population);
    if (!explanations.ok()) {
      return CommandFailure(kCommand, err, std::string(explanations.status().message()));
    }
    answer = core::ExplanationJson(customer, segment, source->now, *explanations);
  }
  if (parsed->Flag("json")) {
    out << answer.dump() << "\n";
  } else {
    PrintExplanationTable(answer, out);
  }
  out.flush();
  return out ? kExitOk : CommandFailure(kCommand, err, "cannot write to standard output");
}

}  // namespace cdp::profilectl
