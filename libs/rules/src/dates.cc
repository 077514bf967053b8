#include "dates.h"

#include <algorithm>

#include "absl/time/civil_time.h"

namespace cdp::rules::internal {
namespace {

// absl's civil-time normalisation walks year by year when adding many days, far too slow for a
// rule evaluated per event; only its field-to-days difference is used here, which is constant time.

constexpr absl::CivilDay kEpoch(1970, 1, 1);

struct Date {
  std::int64_t year;
  int month;
  int day;
};

bool IsLeapYear(std::int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int DaysInMonth(std::int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

std::int64_t DaysSinceEpoch(std::int64_t year, int month, int day) {
  return absl::CivilDay(year, month, day) - kEpoch;
}

Date DateOf(std::int64_t days) {
  // 146097 days per 400 years; the estimate is at most a year off either way.
  std::int64_t year = 1970 + days * 400 / 146097;
  while (DaysSinceEpoch(year, 1, 1) > days) --year;
  while (DaysSinceEpoch(year + 1, 1, 1) <= days) ++year;
  int day_of_year = static_cast<int>(days - DaysSinceEpoch(year, 1, 1));
  int month = 1;
  while (day_of_year >= DaysInMonth(year, month)) {
    day_of_year -= DaysInMonth(year, month);
    ++month;
  }
  return Date{year, month, day_of_year + 1};
}

bool ParseDigits(std::string_view text, int& out) {
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::optional<std::int64_t> ParseIsoDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int year = 0;
  int month = 0;
  int day = 0;
  if (!ParseDigits(text.substr(0, 4), year) || !ParseDigits(text.substr(5, 2), month) ||
      !ParseDigits(text.substr(8, 2), day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  return DaysSinceEpoch(year, month, day);
}

std::int64_t MonthsBetween(std::int64_t from, std::int64_t to) {
  const Date start = DateOf(from);
  const Date end = DateOf(to);
  std::int64_t months = (end.year - start.year) * 12 + (end.month - start.month);
  // `months` after `start` lands in end's month, on start's day or that month's last day.
  const int landing_day = std::min(start.day, DaysInMonth(end.year, end.month));
  if (landing_day > end.day) --months;
  return months;
}

std::int64_t AddMonths(std::int64_t from, std::int64_t months) {
  const Date start = DateOf(from);
  const std::int64_t index = start.year * 12 + (start.month - 1) + months;
  // Floor division: month indexes before year 0 stay in their year.
  const std::int64_t year = index >= 0 ? index / 12 : (index - 11) / 12;
  const int month = static_cast<int>(index - year * 12) + 1;
  return DaysSinceEpoch(year, month, std::min(start.day, DaysInMonth(year, month)));
}

}  // namespace cdp::rules::internal
