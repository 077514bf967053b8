#include "dates.h"

#include <algorithm>

#include "cdp/common/civil_days.h"

namespace cdp::rules::internal {
namespace {

bool ParseDigits(std::string_view text, int& out) {
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

std::optional<CivilDate> ParseIsoCivilDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  int year = 0;
  int month = 0;
  int day = 0;
  if (!ParseDigits(text.substr(0, 4), year) || !ParseDigits(text.substr(5, 2), month) ||
      !ParseDigits(text.substr(8, 2), day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  return CivilDate{year, month, day};
}

std::optional<std::int64_t> ParseIsoDate(std::string_view text) {
  const std::optional<CivilDate> date = ParseIsoCivilDate(text);
  if (!date) return std::nullopt;
  return DaysFromCivil(*date);
}

std::int64_t MonthsBetween(const CivilDate& from, const CivilDate& to) {
  std::int64_t months = (to.year - from.year) * 12 + (to.month - from.month);
  // `months` after `from` lands in to's month, on from's day or that month's last day.
  const int landing_day = std::min(from.day, DaysInMonth(to.year, to.month));
  if (landing_day > to.day) --months;
  return months;
}

std::int64_t MonthsBetween(std::int64_t from, std::int64_t to) {
  return MonthsBetween(CivilFromDays(from), CivilFromDays(to));
}

std::int64_t AddMonths(const CivilDate& from, std::int64_t months) {
  const std::int64_t index = from.year * 12 + (from.month - 1) + months;
  // Floor division: month indexes before year 0 stay in their year.
  const std::int64_t year = index >= 0 ? index / 12 : (index - 11) / 12;
  const int month = static_cast<int>(index - year * 12) + 1;
  return DaysFromCivil(year, month, std::min(from.day, DaysInMonth(year, month)));
}

std::int64_t AddMonths(std::int64_t from, std::int64_t months) {
  return AddMonths(CivilFromDays(from), months);
}

}  // namespace cdp::rules::internal
