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

TimePlan::TimePlan(const rules::SegmentCatalogue& catalogue) {
  auto read = [&](const rules::Expression& rule) {
    for (const rules::MembershipRef& ref : rule.membership_refs()) {
      if (!history_read(ref.id)) history_refs_.push_back(ref.id);
    }
    if (!rule.time_dependent()) return;
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
          count(kFirstPurchase);
          break;
        case FieldId::kDaysSinceLastPurchase:
          count(kLastPurchase);
          break;
        case FieldId::kDaysSinceLastActivity:
          count(kLastActivity);
          break;
        case FieldId::kRfmR:
          // Quintiles are known per partition only when the timer is set.
          if (catalogue.rfm_scoring == rules::RfmScoring::kQuintiles) {
            rfm_recency_quintiles_ = true;
          } else {
            DayCount& day_count = day_counts_[kLastPurchase];
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
  auto dwell = [&](const std::string& id, int days) {
    if (days == 0) return;
    empty_ = false;
    dwells_.push_back(Dwell{id, days});
  };
  for (const rules::Segment& segment : catalogue.segments) {
    read(segment.when);
    dwell(segment.id, segment.min_dwell_days);
  }
  for (const rules::Dimension& dimension : catalogue.dimensions) {
    for (const rules::Tier& tier : dimension.tiers) {
      read(tier.when);
      dwell(tier.id, tier.min_dwell_days);
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

  auto count_from = [&](Anchor anchor, const google::protobuf::Timestamp& at, bool present) {
    const DayCount& day_count = day_counts_[anchor];
    if (!day_count.read || !present) return;
    if (day_count.every_day) {
      consider(today + 1);
      return;
    }
    consider(NextFlip(DayOf(ToTime(at), context.zone()), today, day_count.flip_counts));
  };
  count_from(kFirstPurchase, profile.first_purchase_at(), profile.has_first_purchase_at());
  count_from(kLastPurchase, profile.last_purchase_at(), profile.has_last_purchase_at());
  count_from(kLastActivity, profile.last_activity_at(), profile.has_last_activity_at());
  if (rfm_recency_quintiles_ && profile.has_last_purchase_at() && context.rfm() != nullptr) {
    consider(NextFlip(DayOf(ToTime(profile.last_purchase_at()), context.zone()), today,
                      RecencySteps(*context.rfm())));
  }

  if (!purchase_windows_.empty() || !interaction_windows_.empty()) {
    // A bucket counts in window N from its day (a later day when it came with clock skew) until
    // day + N. Buckets are sorted by day, so the first one past each edge decides.
    for (const auto& bucket : profile.daily()) {
      const bool purchases = bucket.orders() != 0 || bucket.monetary() != 0;
      const bool interactions = bucket.interactions() != 0;
      if ((purchases && !purchase_windows_.empty()) ||
          (interactions && !interaction_windows_.empty())) {
        consider(bucket.day());
      }
      if (purchases) {
        for (std::int64_t days : purchase_windows_) consider(bucket.day() + days);
      }
      if (interactions) {
        for (std::int64_t days : interaction_windows_) consider(bucket.day() + days);
      }
    }
  }

  if (age_) {
    if (const auto birth = ParseIsoDate(profile.birth_date())) {
      const absl::CivilDay today_civil = context.today_civil();
      // absl normalises 29 February to 1 March in other years, the day such an age steps up.
      const absl::CivilDay this_year(today_civil.year(), birth->month(), birth->day());
      const absl::CivilDay next_year(today_civil.year() + 1, birth->month(), birth->day());
      consider(DayNumber(*birth));
      consider(DayNumber(this_year));
      consider(DayNumber(next_year));
    }
  }
  if (current_month_) {
    const absl::CivilMonth next_month = absl::CivilMonth(context.today_civil()) + 1;
    consider(DayNumber(absl::CivilDay(next_month)));
  }
  for (const rules::Expression* rule : with_date_calls_) consider(rule->NextDateChange(context));
  // Held memberships only: entered_day is nullopt for the others.
  for (const Dwell& dwell : dwells_) {
    if (const auto entered = context.entered_day(dwell.id)) consider(*entered + dwell.days);
  }
  return next;
}

}  // namespace cdp::core::internal
