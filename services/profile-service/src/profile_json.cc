#include "profile_json.h"

#include "google/protobuf/util/time_util.h"

namespace cdp::service {
namespace {

nlohmann::json ToJson(const rules::Value& value) {
  if (value.is_number()) {
    const double number = value.number();
    // Counts and amounts are integers; keep them integers in JSON.
    if (number == static_cast<double>(static_cast<std::int64_t>(number))) {
      return static_cast<std::int64_t>(number);
    }
    return number;
  }
  if (value.is_string()) return std::string(value.string());
  if (value.is_bool()) return value.boolean();
  return nullptr;
}

nlohmann::json ErrorJson(absl::string_view message) {
  return nlohmann::json{{"error", std::string(message)}};
}

}  // namespace

nlohmann::json ProfileJson(const v1::CustomerProfile& profile, const core::Engine& engine,
                           absl::Time now, const core::Population& population) {
  const core::Evaluation evaluation = engine.Evaluate(profile, now, population);
  nlohmann::json fields = nlohmann::json::object();
  for (const core::NamedValue& field : evaluation.fields) {
    fields[std::string(field.name)] = ToJson(field.value);
  }
  nlohmann::json tiers = nlohmann::json::object();
  for (const auto& [dimension, tier] : profile.tiers()) tiers[dimension] = tier;
  nlohmann::json attributes = nlohmann::json::object();
  for (const auto& [key, value] : profile.attributes()) attributes[key] = value;
  nlohmann::json consent = nlohmann::json::object();
  for (const auto& [channel, granted] : profile.consent()) consent[channel] = granted;
  return nlohmann::json{
      {"customer_id", profile.customer_id()},
      {"as_of", absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())},
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

http::Response ProfileResponse(const state::Store& store, const core::Engine& engine,
                               std::string_view customer_id, absl::Time now) {
  constexpr const char* kJson = "application/json";
  auto partitions = store.StoredPartitions();
  if (!partitions.ok()) {
    return {500, kJson, ErrorJson(partitions.status().message()).dump() + "\n"};
  }
  // State is per input partition; a customer lives in one, found by asking each.
  for (Partition partition : *partitions) {
    auto profile = store.ReadProfile(partition, customer_id);
    if (!profile.ok()) return {500, kJson, ErrorJson(profile.status().message()).dump() + "\n"};
    if (!profile->has_value()) continue;
    // The rfm quintiles the customer is scored against are its partition's.
    auto state = store.ReadPartitionState(partition);
    if (!state.ok()) return {500, kJson, ErrorJson(state.status().message()).dump() + "\n"};
    const core::Population population =
        state->has_value() ? core::PopulationOf(**state) : core::Population{};
    return {200, kJson, ProfileJson(**profile, engine, now, population).dump() + "\n"};
  }
  return {404, kJson, ErrorJson("no profile for this customer").dump() + "\n"};
}

}  // namespace cdp::service
