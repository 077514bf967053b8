#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cdp/common/civil_days.h"
#include "cdp/core/population.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/eval_context.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::core::internal {

// The rules' view of one profile at one instant. Fields are computed on first use and cached for
// the life of the context (one evaluation); the windowed sums come from a single pass over the
// daily buckets. String values are views into the profile, which must outlive the context and not
// change while it is in use.
class ProfileContext final : public rules::EvalContext {
 public:
  // The moments whose day counts rules read (days_since_first_purchase and the like).
  enum Anchor { kFirstPurchase, kLastPurchase, kLastActivity, kAnchorCount };

  // `today` is now's civil day in the catalogue's time zone (Apply has it already, from folding).
  // `population` must outlive the context.
  ProfileContext(const v1::CustomerProfile& profile, CivilDate today,
                 const rules::SegmentCatalogue& catalogue, const Population& population);
  ProfileContext(const v1::CustomerProfile& profile, absl::CivilDay today,
                 const rules::SegmentCatalogue& catalogue, const Population& population)
      : ProfileContext(profile, CivilDate{today.year(), today.month(), today.day()}, catalogue,
                       population) {}

  [[nodiscard]] rules::Value field(rules::FieldId id) const override;
  [[nodiscard]] bool has_tag(std::string_view tag) const override;
  [[nodiscard]] rules::Value attr(std::string_view key) const override;
  [[nodiscard]] bool consent(std::string_view channel) const override;
  [[nodiscard]] bool ever_in(std::string_view id) const override;
  [[nodiscard]] std::optional<std::int64_t> entered_day(std::string_view id) const override;
  [[nodiscard]] std::int64_t today() const override { return today_; }
  [[nodiscard]] CivilDate today_date() const { return today_date_; }
  // The day of `anchor` in the catalogue's time zone, nullopt when the profile has none. Cached:
  // both the rules and the timer read it, and each read is a time zone lookup.
  [[nodiscard]] std::optional<std::int64_t> anchor_day(Anchor anchor) const;
  // The breakpoints the rfm scores use; null when they have none (quintiles not computed yet).
  [[nodiscard]] const rules::RfmBreakpoints* rfm() const { return rfm_; }

 private:
  struct Windows {
    std::int64_t orders_30d = 0;
    std::int64_t orders_90d = 0;
    std::int64_t orders_365d = 0;
    std::int64_t monetary_30d = 0;
    std::int64_t monetary_90d = 0;
    std::int64_t monetary_365d = 0;
    std::int64_t interactions_30d = 0;
  };

  [[nodiscard]] rules::Value Compute(rules::FieldId id) const;
  [[nodiscard]] const Windows& windows() const;
  [[nodiscard]] rules::Value DaysSince(Anchor anchor) const;
  [[nodiscard]] rules::Value TopCategory() const;
  [[nodiscard]] rules::Value Age() const;
  [[nodiscard]] rules::Value RfmRecency() const;
  [[nodiscard]] rules::Value RfmScore(std::int64_t value,
                                      const std::array<double, 4>& breakpoints) const;

  const v1::CustomerProfile& profile_;
  const absl::TimeZone zone_;
  const rules::RfmBreakpoints* rfm_;
  // Quintile scoring ranks lifetime orders and spend rather than the last 365 days'.
  const bool rfm_lifetime_;
  const CivilDate today_date_;
  const std::int64_t today_;
  mutable std::optional<Windows> windows_;
  mutable std::array<std::optional<std::int64_t>, kAnchorCount> anchor_days_;
  mutable std::bitset<kAnchorCount> anchor_known_;
  mutable std::array<rules::Value, rules::kFieldCount> values_{};
  mutable std::bitset<rules::kFieldCount> computed_;
};

}  // namespace cdp::core::internal
