#pragma once

#include <string_view>

#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/http/server.h"
#include "cdp/state/store.h"

namespace cdp::service {

// GET /v1/profiles/{customer_id}/explain/{segment}: why the customer is or is not in a segment,
// a tier ("dimension/tier") or each tier of a dimension. 200 with core::ExplanationJson; 404 for
// a name the catalogue does not define (with the nearest one) or a customer never seen; 400 for a
// tier id that several dimensions have.
[[nodiscard]] http::Response ExplainResponse(const state::Store& store, const core::Engine& engine,
                                             std::string_view customer_id, std::string_view segment,
                                             absl::Time now);

}  // namespace cdp::service
