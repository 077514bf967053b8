#include "dates.h"

#include <algorithm>

#include "absl/time/civil_time.h"

namespace cdp::rules::internal {
namespace {

constexpr absl::CivilDay kEpoch(1970, 1, 1);

bool ParseDigits(std::string_view text, int& out) {
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

int DaysInMonth(absl::civil_year_t year, int month) {
  return (absl::CivilDay(absl::CivilMonth(year, month) + 1) - 1).day();
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
  return absl::CivilDay(year, month, day) - kEpoch;
}

std::int64_t MonthsBetween(std::int64_t from, std::int64_t to) {
  const absl::CivilDay start = kEpoch + from;
  const absl::CivilDay end = kEpoch + to;
  std::int64_t months = (end.year() - start.year()) * 12 + (end.month() - start.month());
  // `months` after `start` lands in end's month, on start's day or that month's last day.
  const int landing_day = std::min(start.day(), DaysInMonth(end.year(), end.month()));
  if (landing_day > end.day()) --months;
  return months;
}

}  // namespace cdp::rules::internal
