#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/http/server.h"
#include "cdp/state/store.h"
#include "nlohmann/json.hpp"

namespace cdp::service {

// The profile API's view of a customer: every field by its domain name (null when it has no
// value), current segments, the tier held in each dimension, and the customer's own attributes.
// `population`: the customer's partition's, which rfm quintile scores rank against.
[[nodiscard]] nlohmann::json ProfileJson(const v1::CustomerProfile& profile,
                                         const core::Engine& engine, absl::Time now,
                                         const core::Population& population);

// GET /v1/profiles/{customer_id}: 200 with ProfileJson, 404 for a customer never seen.
[[nodiscard]] http::Response ProfileResponse(const state::Store& store, const core::Engine& engine,
                                             std::string_view customer_id, absl::Time now);

}  // namespace cdp::service
