#pragma once

#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "cdp/common/civil_days.h"

namespace cdp::core::internal {

// Daily buckets, recent orders and the longest window all cover this many civil days.
inline constexpr std::int64_t kRetentionDays = 365;

[[nodiscard]] inline absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

[[nodiscard]] google::protobuf::Timestamp ToTimestamp(absl::Time time);

// Orders timestamps by (seconds, nanos) without converting them.
[[nodiscard]] inline bool Earlier(const google::protobuf::Timestamp& a,
                                  const google::protobuf::Timestamp& b) {
  return a.seconds() != b.seconds() ? a.seconds() < b.seconds() : a.nanos() < b.nanos();
}

// Days since 1970-01-01, the unit the profile stores days in.
[[nodiscard]] inline std::int64_t DayNumber(absl::CivilDay day) {
  return DaysFromCivil(day.year(), day.month(), day.day());
}

// The inverse of DayNumber.
[[nodiscard]] inline absl::CivilDay CivilDayOf(std::int64_t day_number) {
  const CivilDate date = CivilFromDays(day_number);
  return absl::CivilDay(date.year, date.month, date.day);
}

// The day number of `time` in `zone`, what DayNumber(absl::ToCivilDay(time, zone)) is, at a
// fraction of the cost: several are needed per event, and absl's lookup normalises a whole civil
// time each time.
[[nodiscard]] std::int64_t DayOf(absl::Time time, absl::TimeZone zone);

// A strict YYYY-MM-DD calendar date (2023-02-29 is not one); nullopt otherwise.
[[nodiscard]] std::optional<CivilDate> ParseIsoDate(std::string_view text);

}  // namespace cdp::core::internal
