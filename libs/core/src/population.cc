#include "cdp/core/population.h"

#include <algorithm>
#include <bit>
#include <map>

#include "time_util.h"

namespace cdp::core {
namespace {

// Values with their own bucket, and sub-buckets per power of two above.
constexpr std::int64_t kExact = 128;
constexpr int kExactBits = 7;

void Count(google::protobuf::Map<std::int64_t, std::int64_t>& counts, std::int64_t key,
           std::int64_t delta) {
  std::int64_t& count = counts[key];
  count += delta;
  if (count == 0) counts.erase(key);
}

// The keys at ranks ceil(k * total / 5), k = 1..4, walking `counts` in key order (ascending, or
// descending when `descending`).
std::array<std::int64_t, 4> QuintileKeys(
    const google::protobuf::Map<std::int64_t, std::int64_t>& counts, std::int64_t total,
    bool descending) {
  // protobuf maps are unordered.
  std::map<std::int64_t, std::int64_t> ordered(counts.begin(), counts.end());
  std::array<std::int64_t, 4> keys{};
  std::size_t next = 0;
  std::int64_t seen = 0;
  auto visit = [&](std::int64_t key, std::int64_t count) {
    seen += count;
    while (next < keys.size() && seen * 5 >= static_cast<std::int64_t>(next + 1) * total) {
      keys[next++] = key;
    }
  };
  if (descending) {
    for (auto it = ordered.rbegin(); it != ordered.rend(); ++it) visit(it->first, it->second);
  } else {
    for (const auto& [key, count] : ordered) visit(key, count);
  }
  return keys;
}

}  // namespace

std::int64_t RfmBucket(std::int64_t value) {
  if (value < kExact) return std::max<std::int64_t>(value, 0);
  const int magnitude = std::bit_width(static_cast<std::uint64_t>(value)) - 1;
  const int shift = magnitude - kExactBits;
  return kExact * (shift + 1) + ((value >> shift) - kExact);
}

std::int64_t RfmBucketUpper(std::int64_t bucket) {
  if (bucket < kExact) return bucket;
  const std::int64_t shift = bucket / kExact - 1;
  const std::int64_t lowest = (kExact + bucket % kExact) << shift;
  return lowest + (std::int64_t{1} << shift) - 1;
}

std::optional<RfmSample> SampleOf(const v1::CustomerProfile& profile) {
  return SampleOf(profile.orders_total(), profile.monetary_total(),
                  profile.has_last_purchase_at()
                      ? std::optional<std::int64_t>(profile.last_purchase_at().seconds())
                      : std::nullopt);
}

std::optional<RfmSample> SampleOf(std::int64_t orders_total, std::int64_t monetary_total,
                                  std::optional<std::int64_t> last_purchase_at_seconds) {
  if (orders_total == 0 || !last_purchase_at_seconds.has_value()) return std::nullopt;
  constexpr std::int64_t kSecondsPerDay = 86'400;
  const std::int64_t seconds = *last_purchase_at_seconds;
  return RfmSample{
      // Every update samples the customer twice: plain arithmetic rather than a time zone lookup.
      .last_purchase_day = seconds / kSecondsPerDay - (seconds % kSecondsPerDay < 0 ? 1 : 0),
      .orders_bucket = RfmBucket(orders_total),
      .monetary_bucket = RfmBucket(monetary_total),
  };
}

void UpdatePopulation(const std::optional<RfmSample>& before, const std::optional<RfmSample>& after,
                      v1::RfmPopulation& population) {
  if (before == after) return;
  auto count = [&](const RfmSample& sample, std::int64_t delta) {
    population.set_customers(population.customers() + delta);
    Count(*population.mutable_last_purchase_days(), sample.last_purchase_day, delta);
    Count(*population.mutable_orders(), sample.orders_bucket, delta);
    Count(*population.mutable_monetary(), sample.monetary_bucket, delta);
  };
  if (before) count(*before, -1);
  if (after) count(*after, +1);
}

std::optional<v1::RfmQuintiles> ComputeQuintiles(const v1::RfmPopulation& population,
                                                 std::int64_t today, absl::Time now) {
  const std::int64_t total = population.customers();
  if (total <= 0) return std::nullopt;
  v1::RfmQuintiles quintiles;
  quintiles.set_day(today);
  quintiles.set_customers(total);
  const std::int64_t today_utc = internal::DayOf(now, absl::UTCTimeZone());
  // Most recent first: the first quintile is the most recent fifth of the customers.
  for (std::int64_t day : QuintileKeys(population.last_purchase_days(), total, true)) {
    quintiles.add_recency_days(static_cast<double>(std::max<std::int64_t>(0, today_utc - day)));
  }
  // A score counts the breakpoints reached: reaching one above the quintile's largest value is
  // exceeding the quintile.
  for (std::int64_t bucket : QuintileKeys(population.orders(), total, false)) {
    quintiles.add_frequency(static_cast<double>(RfmBucketUpper(bucket) + 1));
  }
  for (std::int64_t bucket : QuintileKeys(population.monetary(), total, false)) {
    quintiles.add_monetary(static_cast<double>(RfmBucketUpper(bucket) + 1));
  }
  return quintiles;
}

Population PopulationOf(const v1::PartitionState& state) {
  if (!state.has_rfm_quintiles()) return {};
  const v1::RfmQuintiles& quintiles = state.rfm_quintiles();
  if (quintiles.recency_days_size() != 4 || quintiles.frequency_size() != 4 ||
      quintiles.monetary_size() != 4) {
    return {};
  }
  rules::RfmBreakpoints breakpoints;
  for (int i = 0; i < 4; ++i) {
    breakpoints.recency_days[i] = quintiles.recency_days(i);
    breakpoints.frequency_orders_365d[i] = quintiles.frequency(i);
    breakpoints.monetary_365d[i] = quintiles.monetary(i);
  }
  return Population{breakpoints};
}

}  // namespace cdp::core
