#pragma once

#include <cstdint>

#include "absl/time/time.h"
#include "cdp/v1/customer_event.pb.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::core::internal {

// Folds one event other than an erasure into the stored profile, per the definitions in the
// profile schema. Days are civil days in `zone`; `today` is now's day there, which bounds what
// daily buckets and recent orders are kept. Totals saturate instead of overflowing, so even an
// unvalidated event leaves a well-defined profile.
void FoldEvent(const v1::CustomerEvent& event, absl::TimeZone zone, std::int64_t today,
               v1::CustomerProfile& profile);

}  // namespace cdp::core::internal
