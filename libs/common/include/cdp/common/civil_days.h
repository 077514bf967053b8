#pragma once

#include <compare>
#include <cstdint>

namespace cdp {

// Proleptic Gregorian day arithmetic in constant time, without absl::CivilDay's normalisation,
// which costs more than the rest of a date computation on the per-event paths. After H. Hinnant's
// public-domain days_from_civil / civil_from_days: years start in March so that the leap day comes
// last, and 400-year eras of 146097 days repeat exactly.

// A calendar date: month 1-12, day 1-31. Ordered by time.
struct CivilDate {
  std::int64_t year = 1970;
  int month = 1;
  int day = 1;

  friend constexpr auto operator<=>(const CivilDate&, const CivilDate&) = default;
};

[[nodiscard]] constexpr bool IsLeapYear(std::int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

// `month` is 1-12.
[[nodiscard]] constexpr int DaysInMonth(std::int64_t year, int month) {
  if (month == 2) return IsLeapYear(year) ? 29 : 28;
  // 31 days in odd months up to July and in even ones from August; no table to load.
  return 30 + ((month ^ (month >> 3)) & 1);
}

// Days since 1970-01-01 of `day` (1-31) of `month` (1-12) in `year`. A day past the end of the
// month counts on into the next, as absl::CivilDay normalises it (2023-02-29 is 2023-03-01).
[[nodiscard]] constexpr std::int64_t DaysFromCivil(std::int64_t year, int month, int day) {
  const std::int64_t march_year = month <= 2 ? year - 1 : year;
  const std::int64_t era = (march_year >= 0 ? march_year : march_year - 399) / 400;
  // Unsigned within the era, whose parts are never negative: cheaper division by constants.
  const auto year_of_era = static_cast<std::uint32_t>(march_year - era * 400);
  const auto march_month = static_cast<std::uint32_t>(month > 2 ? month - 3 : month + 9);
  const std::uint32_t day_of_year =
      (153 * march_month + 2) / 5 + static_cast<std::uint32_t>(day) - 1;
  const std::uint32_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

[[nodiscard]] constexpr std::int64_t DaysFromCivil(const CivilDate& date) {
  return DaysFromCivil(date.year, date.month, date.day);
}

// The date `days` days after 1970-01-01; the inverse of DaysFromCivil.
[[nodiscard]] constexpr CivilDate CivilFromDays(std::int64_t days) {
  const std::int64_t shifted = days + 719468;
  const std::int64_t era = (shifted >= 0 ? shifted : shifted - 146096) / 146097;
  const auto day_of_era = static_cast<std::uint32_t>(shifted - era * 146097);
  const std::uint32_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::uint32_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::uint32_t march_month = (5 * day_of_year + 2) / 153;
  const auto day = static_cast<int>(day_of_year - (153 * march_month + 2) / 5 + 1);
  const auto month = static_cast<int>(march_month < 10 ? march_month + 3 : march_month - 9);
  return CivilDate{era * 400 + year_of_era + (month <= 2 ? 1 : 0), month, day};
}

}  // namespace cdp
