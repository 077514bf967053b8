#pragma once

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "cdp/rules/catalogue.h"
#include "cdp/v1/customer_profile.pb.h"
#include "cdp/v1/partition_state.pb.h"

namespace cdp::core {

// What the rfm scores of a partition's customers rank them against when the catalogue scores
// rfm by quintiles (rules::RfmScoring::kQuintiles): the partition's quintile breakpoints, or none
// before the first customer with a purchase (the scores are null then). Ignored otherwise.
struct Population {
  std::optional<rules::RfmBreakpoints> rfm_quintiles;
};

// Quintile scoring ranks customers by values that change only with their own events (lifetime
// orders and spend, the last purchase's day), so a partition's population is kept exactly, one
// profile update at a time, and replaying the same input rebuilds the same population. Only the
// breakpoints are refreshed, once a day, from the population as it stands.

// A customer's place in the population; nullopt without a purchase.
struct RfmSample {
  // UTC day number of the last purchase: a day in the business time zone would move with the
  // catalogue's time zone, and the population could not then remove what it counted.
  std::int64_t last_purchase_day = 0;
  std::int64_t orders_bucket = 0;
  std::int64_t monetary_bucket = 0;
  bool operator==(const RfmSample&) const = default;
};
[[nodiscard]] std::optional<RfmSample> SampleOf(const v1::CustomerProfile& profile);
// The same from the profile's fields: `last_purchase_at_seconds` is nullopt when unset.
[[nodiscard]] std::optional<RfmSample> SampleOf(
    std::int64_t orders_total, std::int64_t monetary_total,
    std::optional<std::int64_t> last_purchase_at_seconds);

// A log-linear bucket of a count or an amount in minor units: values below 128 have one each,
// larger ones share a bucket with values within 1/128 (0.78 %) of them. Values below 0 share 0's.
[[nodiscard]] std::int64_t RfmBucket(std::int64_t value);
// The largest value in a bucket.
[[nodiscard]] std::int64_t RfmBucketUpper(std::int64_t bucket);

// Moves one customer's contribution from `before` to `after` (absent: not counted).
void UpdatePopulation(const std::optional<RfmSample>& before, const std::optional<RfmSample>& after,
                      v1::RfmPopulation& population);

// The quintile breakpoints of `population` on `today` (a business day number), computed at `now`:
// k-th breakpoint from the customer at rank ceil(k * customers / 5). rfm_r steps down where the
// days since the last purchase exceed the recency quintiles (counted in UTC days, so a customer
// can sit a day off in the business time zone); rfm_f and rfm_m step up where orders_total and
// monetary_total exceed the frequency and monetary quintiles. Exact for values below 128 and for
// recency; larger counts and amounts are placed within 0.78 % of the exact quintile. nullopt for
// an empty population.
[[nodiscard]] std::optional<v1::RfmQuintiles> ComputeQuintiles(const v1::RfmPopulation& population,
                                                               std::int64_t today, absl::Time now);

// The engine's view of a partition's quintiles.
[[nodiscard]] Population PopulationOf(const v1::PartitionState& state);

}  // namespace cdp::core
