#include "time_plan.h"

#include <algorithm>
#include <cmath>

#include "time_util.h"

namespace cdp::core::internal {
namespace {

using rules::FieldId;

void Merge(const std::vector<std::int64_t>& from, std::vector<std::int64_t>& into) {
  into.insert(into.end(), from.begin(), from.end());
  std::sort(into.begin(), into.end());
  into.erase(std::unique(into.begin(), into.end()), into.end());
}

void AddWindow(std::int64_t days, std::vector<std::int64_t>& windows) {
  if (std::find(windows.begin(), windows.end(), days) == windows.end()) windows.push_back(days);
}

// The first day after `today` on which the count of days since `anchor` reaches one of
// `flip_counts`. Days up to the anchor count 0 (an anchor ahead of today came with clock skew).
std::optional<std::int64_t> NextFlip(std::int64_t anchor, std::int64_t today,
                                     const std::vector<std::int64_t>& flip_counts) {
  const std::int64_t current = std::max<std::int64_t>(0, today - anchor);
  const auto next = std::upper_bound(flip_counts.begin(), flip_counts.end(), current);
  if (next == flip_counts.end()) return std::nullopt;
  return anchor + *next;
}

// The counts of days since the last purchase at which rfm_r steps down: one past each breakpoint.
std::vector<std::int64_t> RecencySteps(const rules::RfmBreakpoints& rfm) {
  std::vector<std::int64_t> steps;
  for (double breakpoint : rfm.recency_days) {
    if (breakpoint >= 0 && breakpoint < 1e7) {
      steps.push_back(static_cast<std::int64_t>(std::floor(breakpoint)) + 1);
    }
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

}  // namespace

TimePlan::TimePlan(const rules::SegmentCatalogue& catalogue, const RuleSelection& only) {
  auto read = [&](const rules::Expression& rule, bool selected) {
    for (const rules::MembershipRef& ref : rule.membership_refs()) {
      if (!history_read(ref.id)) history_refs_.push_back(ref.id);
    }
    if (!selected || !rule.time_dependent()) return;
    empty_ = false;
    if (rule.calls_date_functions()) with_date_calls_.push_back(&rule);
    for (const rules::TimeFieldUse& use : rule.time_fields()) {
      auto count = [&](Anchor anchor) {
        DayCount& day_count = day_counts_[anchor];
        day_count.read = true;
        day_count.every_day = day_count.every_day || use.compared_with_non_literal;
        Merge(use.flip_counts, day_count.flip_counts);
      };
      switch (use.field) {
        case FieldId::kDaysSinceFirstPurchase:
          count(ProfileContext::kFirstPurchase);
          break;
        case FieldId::kDaysSinceLastPurchase:
          count(ProfileContext::kLastPurchase);
          break;
        case FieldId::kDaysSinceLastActivity:
          count(ProfileContext::kLastActivity);
          break;
        case FieldId::kRfmR:
          // Quintiles are known per partition only when the timer is set.
          if (catalogue.rfm_scoring == rules::RfmScoring::kQuintiles) {
            rfm_recency_quintiles_ = true;
          } else {
            DayCount& day_count = day_counts_[ProfileContext::kLastPurchase];
            day_count.read = true;
            Merge(RecencySteps(catalogue.rfm), day_count.flip_counts);
          }
          break;
        case FieldId::kOrders30d:
        case FieldId::kMonetary30d:
          AddWindow(30, purchase_windows_);
          break;
        case FieldId::kOrders90d:
        case FieldId::kMonetary90d:
          AddWindow(90, purchase_windows_);
          break;
        case FieldId::kRfmF:
        case FieldId::kRfmM:
          // Quintile scores rank lifetime totals, which only events change.
          if (catalogue.rfm_scoring == rules::RfmScoring::kBreakpoints) {
            AddWindow(365, purchase_windows_);
          }
          break;
        case FieldId::kOrders365d:
        case FieldId::kMonetary365d:
          AddWindow(365, purchase_windows_);
          break;
        case FieldId::kInteractions30d:
          AddWindow(30, interaction_windows_);
          break;
        case FieldId::kAge:
          age_ = true;
          break;
        case FieldId::kCurrentMonth:
          current_month_ = true;
          break;
        default:
          // A time-dependent field without a case here would never get a timer; timer_test
          // checks that every one does.
          break;
      }
    }
  };
  auto dwell = [&](const std::string& id, int days, bool selected) {
    if (days == 0) return;
    empty_ = empty_ && !selected;
    dwells_.push_back(Dwell{id, days, selected});
  };
  for (std::size_t i = 0; i < catalogue.segments.size(); ++i) {
    const rules::Segment& segment = catalogue.segments[i];
    read(segment.when, only.segment(i));
    dwell(segment.id, segment.min_dwell_days, only.segment(i));
  }
  for (std::size_t i = 0; i < catalogue.dimensions.size(); ++i) {
    for (const rules::Tier& tier : catalogue.dimensions[i].tiers) {
      read(tier.when, only.dimension(i));
      dwell(tier.id, tier.min_dwell_days, only.dimension(i));
    }
  }
}

std::optional<std::int64_t> TimePlan::NextChangeDay(const v1::CustomerProfile& profile,
                                                    const ProfileContext& context) const {
  if (empty_) return std::nullopt;
  const std::int64_t today = context.today();
  std::optional<std::int64_t> next;
  auto consider = [&](std::optional<std::int64_t> day) {
    if (day && *day > today && (!next || *day < *next)) next = day;
  };

  for (int anchor = 0; anchor < ProfileContext::kAnchorCount; ++anchor) {
    const DayCount& day_count = day_counts_[anchor];
    if (!day_count.read) continue;
    const std::optional<std::int64_t> day = context.anchor_day(static_cast<Anchor>(anchor));
    if (!day) continue;
    consider(day_count.every_day ? today + 1 : NextFlip(*day, today, day_count.flip_counts));
  }
  if (rfm_recency_quintiles_ && context.rfm() != nullptr) {
    if (const auto day = context.anchor_day(ProfileContext::kLastPurchase)) {
      consider(NextFlip(*day, today, RecencySteps(*context.rfm())));
    }
  }

  // A bucket counts in window N from its day (a later day when it came with clock skew) until
  // day + N. Buckets are sorted by day, so for each edge the first one past it decides: found by
  // bisection rather than by walking every bucket.
  const auto& daily = profile.daily();
  const auto first_after = [&](std::int64_t day, auto counts) -> std::optional<std::int64_t> {
    auto it = std::partition_point(daily.begin(), daily.end(),
                                   [&](const auto& bucket) { return bucket.day() <= day; });
    it = std::find_if(it, daily.end(), counts);
    if (it == daily.end()) return std::nullopt;
    return it->day();
  };
  const auto with_purchases = [](const auto& bucket) {
    return bucket.orders() != 0 || bucket.monetary() != 0;
  };
  const auto with_interactions = [](const auto& bucket) { return bucket.interactions() != 0; };
  if (!purchase_windows_.empty()) consider(first_after(today, with_purchases));
  if (!interaction_windows_.empty()) consider(first_after(today, with_interactions));
  for (std::int64_t days : purchase_windows_) {
    if (const auto day = first_after(today - days, with_purchases)) consider(*day + days);
  }
  for (std::int64_t days : interaction_windows_) {
    if (const auto day = first_after(today - days, with_interactions)) consider(*day + days);
  }

  if (age_) {
    if (const auto birth = ParseIsoDate(profile.birth_date())) {
      const std::int64_t year = context.today_date().year;
      // 29 February counts on to 1 March in other years, the day such an age steps up.
      consider(DaysFromCivil(*birth));
      consider(DaysFromCivil(year, birth->month, birth->day));
      consider(DaysFromCivil(year + 1, birth->month, birth->day));
    }
  }
  if (current_month_) {
    const CivilDate today_date = context.today_date();
    consider(DaysFromCivil(today_date.year, today_date.month, 1) +
             DaysInMonth(today_date.year, today_date.month));
  }
  for (const rules::Expression* rule : with_date_calls_) consider(rule->NextDateChange(context));
  // Held memberships only: entered_day is nullopt for the others.
  for (const Dwell& dwell : dwells_) {
    if (!dwell.selected) continue;
    if (const auto entered = context.entered_day(dwell.id)) consider(*entered + dwell.days);
  }
  return next;
}

}  // namespace cdp::core::internal
