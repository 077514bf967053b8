#pragma once

#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "cdp/common/strong_type.h"
#include "cdp/core/population.h"
#include "cdp/state/store.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::pipeline {

// A customer's stored profile, and the population of its partition that rfm quintile scores
// rank it against.
struct StoredProfile {
  Partition partition;
  v1::CustomerProfile profile;
  core::Population population;
};

// The customer's profile from whichever partition of `store` holds it; nullopt for a customer
// never seen. Asks each stored partition in turn: for lookups by people (the profile API,
// profilectl), not for the processing path.
[[nodiscard]] absl::StatusOr<std::optional<StoredProfile>> FindStoredProfile(
    const state::Store& store, std::string_view customer_id);

}  // namespace cdp::pipeline
