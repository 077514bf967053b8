#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"
#include "cdp/v1/customer_profile.pb.h"
#include "profile_context.h"

namespace cdp::core::internal {

// Which inputs of a catalogue's rules time alone can change, worked out once per catalogue, so that
// after each update a profile learns the next day on which it may have to be re-evaluated. That day
// is where a timer is set: time-driven changes then cost work in proportion to the changes due, not
// to the number of customers.
//
// Memberships can only change when "today" changes, at the start of a day in the catalogue's time
// zone. The plan lists, per profile, every day on which some value a time-dependent rule reads can
// change in a way the rule sees: a day count reaching a number it is compared with, a day's
// purchases or interactions entering or leaving a window, a birthday, a new month, an attribute
// date's anniversary; and the day a min_dwell held ends. The earliest such day after today is when
// to look again.
class TimePlan {
 public:
  // The plan of the rules `only` selects: NextChangeDay and empty see only those. Which
  // membership histories are read or kept is the whole catalogue's.
  explicit TimePlan(const rules::SegmentCatalogue& catalogue,
                    const RuleSelection& only = RuleSelection::All());

  // The first day after the context's today (days since 1970-01-01) on which time alone could
  // change a membership of `profile`; nullopt when nothing can change without a new event.
  [[nodiscard]] std::optional<std::int64_t> NextChangeDay(const v1::CustomerProfile& profile,
                                                          const ProfileContext& context) const;

  // Whether no rule the plan sees depends on time.
  [[nodiscard]] bool empty() const { return empty_; }
  // Whether a rule reads the membership history (ever_in, days_in) of the segment or tier `id`.
  [[nodiscard]] bool history_read(std::string_view id) const {
    return std::find(history_refs_.begin(), history_refs_.end(), id) != history_refs_.end();
  }
  // Whether the profile keeps the membership history of the segment or tier `id`: rules read it,
  // or it has a min_dwell, which counts from its entry.
  [[nodiscard]] bool history_kept(std::string_view id) const {
    return history_read(id) || std::any_of(dwells_.begin(), dwells_.end(),
                                           [&](const Dwell& dwell) { return dwell.id == id; });
  }

 private:
  // A count of days since an anchor (first purchase, last purchase, last activity).
  struct DayCount {
    bool read = false;
    // Counts at which a comparison can flip; ascending, once each.
    std::vector<std::int64_t> flip_counts;
    // Compared with another value: may flip whenever the count changes, so every day.
    bool every_day = false;
  };
  // A segment or tier with a min_dwell.
  struct Dwell {
    std::string id;
    std::int64_t days = 0;
    // Whether the plan's selection holds it; the others only say whose history is kept.
    bool selected = true;
  };
  using Anchor = ProfileContext::Anchor;

  std::array<DayCount, ProfileContext::kAnchorCount> day_counts_;
  // Window lengths in days over purchase buckets and over interaction buckets (0 = not read).
  std::vector<std::int64_t> purchase_windows_;
  std::vector<std::int64_t> interaction_windows_;
  // rfm_r is read and scored by quintiles: its steps come from each profile's partition.
  bool rfm_recency_quintiles_ = false;
  bool age_ = false;
  bool current_month_ = false;
  std::vector<const rules::Expression*> with_date_calls_;
  bool empty_ = true;
  std::vector<std::string> history_refs_;
  std::vector<Dwell> dwells_;
};

}  // namespace cdp::core::internal
