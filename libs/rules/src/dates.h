#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "cdp/common/civil_days.h"

namespace cdp::rules::internal {

// The date "YYYY-MM-DD" names, or nullopt when `text` is not exactly that form or names no real day
// (2023-02-29).
[[nodiscard]] std::optional<CivilDate> ParseIsoCivilDate(std::string_view text);

// Days since 1970-01-01 of a "YYYY-MM-DD" date, or nullopt as for ParseIsoCivilDate.
[[nodiscard]] std::optional<std::int64_t> ParseIsoDate(std::string_view text);

// Whole calendar months from day `from` to day `to` (both days since 1970-01-01), rounded down, so
// negative when `to` is earlier. A month is complete on the same day of a later month, or on the
// last day of a month too short to have that day: 2024-01-31 to 2024-02-29 is one month.
[[nodiscard]] std::int64_t MonthsBetween(std::int64_t from, std::int64_t to);
// The same from dates: evaluation has them already, and converting day numbers costs more than
// the rest.
[[nodiscard]] std::int64_t MonthsBetween(const CivilDate& from, const CivilDate& to);

// The day `months` whole months after day `from` (before it when negative): the first day on
// which MonthsBetween(from, day) reaches `months`. 2024-01-31 plus one month is 2024-02-29.
[[nodiscard]] std::int64_t AddMonths(std::int64_t from, std::int64_t months);
[[nodiscard]] std::int64_t AddMonths(const CivilDate& from, std::int64_t months);

}  // namespace cdp::rules::internal
