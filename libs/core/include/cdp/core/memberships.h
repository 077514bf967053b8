#pragma once

#include <string>
#include <string_view>

#include "cdp/v1/customer_profile.pb.h"

namespace cdp::core {

// Lookups in what a profile holds. The lists are short (one entry per dimension, per segment
// whose history is kept), so a linear scan beats any index; it also reads a profile an earlier
// version stored, whose entries came in no particular order.

// The tier `profile` holds in `dimension`; empty when it holds none.
[[nodiscard]] std::string_view HeldTier(const v1::CustomerProfile& profile,
                                        std::string_view dimension);

// The membership history of the segment or tier `id`; nullptr when the profile keeps none.
[[nodiscard]] const v1::CustomerProfile::MembershipHistory* HistoryOf(
    const v1::CustomerProfile& profile, std::string_view id);

// Makes `profile` hold `tier` in `dimension`, keeping the list sorted by dimension.
void SetHeldTier(v1::CustomerProfile& profile, std::string_view dimension, std::string_view tier);

// Makes `profile` hold no tier in `dimension`.
void ClearHeldTier(v1::CustomerProfile& profile, std::string_view dimension);

// The history of `id`, added (keeping the list sorted by id) if the profile kept none.
[[nodiscard]] v1::CustomerProfile::MembershipHistory& MutableHistoryOf(v1::CustomerProfile& profile,
                                                                       std::string_view id);

}  // namespace cdp::core
