#include "explain_endpoint.h"

#include "absl/status/status.h"
#include "cdp/core/explain.h"
#include "cdp/core/profile_json.h"
#include "cdp/pipeline/stored_profile.h"
#include "profile_json.h"

namespace cdp::service {

http::Response ExplainResponse(const state::Store& store, const core::Engine& engine,
                               std::string_view customer_id, std::string_view segment,
                               absl::Time now) {
  // The name first: a typo is answered without reading the store.
  if (auto targets = core::ResolveRuleTargets(engine.catalogue(), segment); !targets.ok()) {
    return JsonError(targets.status().code() == absl::StatusCode::kNotFound ? 404 : 400,
                     targets.status().message());
  }
  auto found = pipeline::FindStoredProfile(store, customer_id);
  if (!found.ok()) return JsonError(500, found.status().message());
  if (!found->has_value()) return JsonError(404, "no profile for this customer");
  auto explanations =
      core::ExplainMembership(engine, (*found)->profile, segment, now, (*found)->population);
  if (!explanations.ok()) return JsonError(500, explanations.status().message());
  return {200, "application/json",
          core::ExplanationJson(customer_id, segment, now, *explanations).dump() + "\n"};
}

}  // namespace cdp::service
