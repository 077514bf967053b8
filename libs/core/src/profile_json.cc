#include "cdp/core/profile_json.h"

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "google/protobuf/util/time_util.h"

namespace cdp::core {
namespace {

// Counts and amounts are integers; keep them integers in JSON.
nlohmann::json NumberJson(double number) {
  if (number == static_cast<double>(static_cast<std::int64_t>(number))) {
    return static_cast<std::int64_t>(number);
  }
  return number;
}

nlohmann::json ValueJson(const rules::Value& value) {
  if (value.is_number()) return NumberJson(value.number());
  if (value.is_string()) return std::string(value.string());
  if (value.is_bool()) return value.boolean();
  return nullptr;
}

nlohmann::json ValueJson(const rules::TracedValue& value) {
  return std::visit(
      [](const auto& v) -> nlohmann::json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, double>) {
          return NumberJson(v);
        } else {
          return v;
        }
      },
      value);
}

nlohmann::json OptionalJson(const std::optional<std::string>& text) {
  return text ? nlohmann::json(*text) : nlohmann::json(nullptr);
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone());
}

nlohmann::json ExplanationJson(const MembershipExplanation& e) {
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& [field, value] : e.trace.fields) {
    fields[std::string(rules::Field(field).name)] = ValueJson(value);
  }
  nlohmann::json trace = nlohmann::json::array();
  for (const rules::TraceStep& step : e.trace.steps) {
    trace.push_back({{"depth", step.depth},
                     {"kind", std::string(rules::StepKindName(step.kind))},
                     {"text", step.text},
                     {"begin", step.begin},
                     {"end", step.end},
                     {"value", ValueJson(step.value)},
                     {"skipped", step.skipped},
                     {"deciding", step.deciding}});
  }
  return {{"segment", e.target.id},
          {"dimension", e.target.dimension.empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json(e.target.dimension)},
          {"name", e.target.name()},
          {"rule", e.rule},
          {"member", e.member},
          {"holds_now", e.holds_now},
          {"rule_matches", e.trace.matches},
          {"matched_first", OptionalJson(e.matched_first)},
          {"dimension_tier", OptionalJson(e.dimension_tier)},
          {"held_until",
           e.held_until ? nlohmann::json(Rfc3339(*e.held_until)) : nlohmann::json(nullptr)},
          {"reason", e.reason},
          {"fields", std::move(fields)},
          {"trace", std::move(trace)}};
}

}  // namespace

nlohmann::json ProfileJson(const v1::CustomerProfile& profile, const Engine& engine, absl::Time now,
                           const Population& population) {
  const Evaluation evaluation = engine.Evaluate(profile, now, population);
  nlohmann::json fields = nlohmann::json::object();
  for (const NamedValue& field : evaluation.fields) {
    fields[std::string(field.name)] = ValueJson(field.value);
  }
  nlohmann::json tiers = nlohmann::json::object();
  for (const v1::CustomerProfile::HeldTier& held : profile.tiers()) {
    tiers[held.dimension()] = held.tier();
  }
  nlohmann::json attributes = nlohmann::json::object();
  for (const auto& [key, value] : profile.attributes()) attributes[key] = value;
  nlohmann::json consent = nlohmann::json::object();
  for (const auto& [channel, granted] : profile.consent()) consent[channel] = granted;
  return nlohmann::json{
      {"customer_id", profile.customer_id()},
      {"as_of", Rfc3339(now)},
      {"fields", std::move(fields)},
      {"segments", std::vector<std::string>(profile.segments().begin(), profile.segments().end())},
      {"tiers", std::move(tiers)},
      {"tags", std::vector<std::string>(profile.tags().begin(), profile.tags().end())},
      {"attributes", std::move(attributes)},
      {"consent", std::move(consent)},
      {"events_applied", profile.events_applied()},
      {"last_event_at",
       profile.has_last_event_at()
           ? nlohmann::json(google::protobuf::util::TimeUtil::ToString(profile.last_event_at()))
           : nlohmann::json(nullptr)},
      {"next_timer_at",
       profile.has_timer_due_at()
           ? nlohmann::json(google::protobuf::util::TimeUtil::ToString(profile.timer_due_at()))
           : nlohmann::json(nullptr)},
  };
}

nlohmann::json ExplanationJson(std::string_view customer_id, std::string_view requested,
                               absl::Time now,
                               std::span<const MembershipExplanation> explanations) {
  nlohmann::json list = nlohmann::json::array();
  for (const MembershipExplanation& e : explanations) list.push_back(ExplanationJson(e));
  return {{"customer_id", std::string(customer_id)},
          {"as_of", Rfc3339(now)},
          {"segment", std::string(requested)},
          {"explanations", std::move(list)}};
}

}  // namespace cdp::core
