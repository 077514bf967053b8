#include "profile_json.h"

#include <string>

#include "cdp/core/profile_json.h"
#include "nlohmann/json.hpp"

namespace cdp::service {

http::Response JsonError(int status, absl::string_view message) {
  return {status, "application/json",
          nlohmann::json{{"error", std::string(message)}}.dump() + "\n"};
}

http::Response ProfileResponse(const state::Store& store, const core::Engine& engine,
                               std::string_view customer_id, absl::Time now) {
  auto found = pipeline::FindStoredProfile(store, customer_id);
  if (!found.ok()) return JsonError(500, found.status().message());
  if (!found->has_value()) return JsonError(404, "no profile for this customer");
  return {200, "application/json",
          core::ProfileJson((*found)->profile, engine, now, (*found)->population).dump() + "\n"};
}

}  // namespace cdp::service
