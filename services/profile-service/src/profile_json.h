#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/http/server.h"
#include "cdp/pipeline/stored_profile.h"
#include "cdp/state/store.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::service {

// An error as the profile API answers it: {"error": message}.
[[nodiscard]] http::Response JsonError(int status, absl::string_view message);

// GET /v1/profiles/{customer_id}: 200 with core::ProfileJson, 404 for a customer never seen.
[[nodiscard]] http::Response ProfileResponse(const state::Store& store, const core::Engine& engine,
                                             std::string_view customer_id, absl::Time now);

}  // namespace cdp::service
