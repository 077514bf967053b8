#include "cdp/common/rfc3339.h"

#include <array>

namespace cdp {
namespace {

void AppendDigits(std::int64_t value, int width, std::string& out) {
  std::array<char, 20> digits{};
  for (int i = width - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits.data(), static_cast<std::size_t>(width));
}

}  // namespace

void AppendRfc3339(std::int64_t seconds, std::int32_t nanos, std::string& out) {
  std::int64_t days = seconds / 86400;
  std::int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (proleptic Gregorian), after H. Hinnant's public-domain
  // algorithm.
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t day_of_era = days - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t shifted_month = (5 * day_of_year + 2) / 153;
  const std::int64_t day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const std::int64_t month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  AppendDigits(year, 4, out);
  out.push_back('-');
  AppendDigits(month, 2, out);
  out.push_back('-');
  AppendDigits(day, 2, out);
  out.push_back('T');
  AppendDigits(second_of_day / 3600, 2, out);
  out.push_back(':');
  AppendDigits(second_of_day / 60 % 60, 2, out);
  out.push_back(':');
  AppendDigits(second_of_day % 60, 2, out);
  if (nanos != 0) {
    out.push_back('.');
    if (nanos % 1'000'000 == 0) {
      AppendDigits(nanos / 1'000'000, 3, out);
    } else if (nanos % 1'000 == 0) {
      AppendDigits(nanos / 1'000, 6, out);
    } else {
      AppendDigits(nanos, 9, out);
    }
  }
  out.push_back('Z');
}

}  // namespace cdp
