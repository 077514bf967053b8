#include "time_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <optional>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace cdp::core::internal {
namespace {

TEST(CivilDayOf, InvertsDayNumberOverCenturies) {
  // Every day from 1600 to 2400, leap centuries included, against absl's civil arithmetic.
  for (absl::CivilDay day(1600, 1, 1); day.year() <= 2400; day += 1) {
    ASSERT_EQ(CivilDayOf(DayNumber(day)), day) << day;
  }
}

TEST(CivilDayOf, KnownDays) {
  EXPECT_EQ(CivilDayOf(0), absl::CivilDay(1970, 1, 1));
  EXPECT_EQ(CivilDayOf(-1), absl::CivilDay(1969, 12, 31));
  EXPECT_EQ(CivilDayOf(19782), absl::CivilDay(2024, 2, 29));
}

TEST(DayNumber, IsAbslDaysSinceTheEpoch) {
  const absl::CivilDay epoch(1970, 1, 1);
  for (absl::CivilDay day(1600, 1, 1); day.year() <= 2600; day += 1) {
    ASSERT_EQ(DayNumber(day), day - epoch) << day;
  }
}

std::int64_t AbslDayOf(absl::Time time, absl::TimeZone zone) {
  return absl::ToCivilDay(time, zone) - absl::CivilDay(1970, 1, 1);
}

TEST(DayOf, AgreesWithAbslInZonesWithAnyKindOfTransition) {
  // Zones with DST north and south, half-hour and 45-minute offsets, a negative DST (Dublin), a
  // skipped day (Apia, 2011) and none at all.
  std::vector<absl::TimeZone> zones = {absl::UTCTimeZone(),
                                       absl::FixedTimeZone(-(3 * 3600 + 1800))};
  for (const char* name :
       {"Asia/Shanghai", "America/New_York", "Europe/London", "Europe/Dublin",
        "Australia/Lord_Howe", "America/St_Johns", "Asia/Kathmandu", "Pacific/Apia",
        "Africa/Casablanca", "Pacific/Kiritimati", "Antarctica/Troll"}) {
    absl::TimeZone zone;
    ASSERT_TRUE(absl::LoadTimeZone(name, &zone)) << name;
    zones.push_back(zone);
  }
  const absl::Time first = absl::FromCivil(absl::CivilDay(1890, 1, 1), absl::UTCTimeZone());
  const absl::Time last = absl::FromCivil(absl::CivilDay(2210, 1, 1), absl::UTCTimeZone());
  for (const absl::TimeZone& zone : zones) {
    // Every transition, where a day can start early or late, and the instants either side.
    absl::TimeZone::CivilTransition transition;
    for (absl::Time at = first; at < last && zone.NextTransition(at, &transition);) {
      at = zone.At(transition.to).trans;
      for (const absl::Duration delta :
           {-absl::Seconds(1), -absl::Nanoseconds(1), absl::ZeroDuration(), absl::Nanoseconds(1),
            absl::Seconds(1)}) {
        ASSERT_EQ(DayOf(at + delta, zone), AbslDayOf(at + delta, zone))
            << zone << " " << at + delta;
      }
    }
    // And instants across the whole range, at minutes that drift through the day.
    for (absl::Time at = first; at < last; at += absl::Minutes(5 * 60 + 7)) {
      ASSERT_EQ(DayOf(at, zone), AbslDayOf(at, zone)) << zone << " " << at;
    }
  }
}

TEST(DayOf, AgreesWithAbslFarFromToday) {
  absl::TimeZone zone;
  ASSERT_TRUE(absl::LoadTimeZone("America/New_York", &zone));
  for (const absl::Time at :
       {absl::FromUnixSeconds(-9'000'000'000), absl::FromUnixSeconds(-2'208'988'801),
        absl::FromUnixSeconds(7'258'118'400), absl::FromUnixSeconds(90'000'000'000)}) {
    EXPECT_EQ(DayOf(at, zone), AbslDayOf(at, zone)) << at;
    EXPECT_EQ(DayOf(at, absl::UTCTimeZone()), AbslDayOf(at, absl::UTCTimeZone())) << at;
  }
}

// The absl::CivilDay-based parse this one replaced.
std::optional<absl::CivilDay> AbslParse(int year, int month, int day) {
  const absl::CivilDay date(year, month, day);
  if (date.year() != year || date.month() != month || date.day() != day) return std::nullopt;
  return date;
}

TEST(ParseIsoDate, AcceptsExactlyTheRealDates) {
  for (const int year : {0, 1, 1600, 1900, 1999, 2000, 2023, 2024, 2100, 9999}) {
    for (int month = 0; month <= 13; ++month) {
      for (int day = 0; day <= 32; ++day) {
        char text[16];
        std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
        const std::optional<CivilDate> parsed = ParseIsoDate(text);
        const std::optional<absl::CivilDay> expected = AbslParse(year, month, day);
        ASSERT_EQ(parsed.has_value(), expected.has_value()) << text;
        if (parsed) {
          ASSERT_EQ(DayNumber(*expected), DaysFromCivil(*parsed)) << text;
          ASSERT_EQ((CivilDate{year, month, day}), *parsed) << text;
        }
      }
    }
  }
  for (const char* text :
       {"", "2024-1-05", "2024/01/05", "2024-01-05 ", "+024-01-05", "2024-0a-05"}) {
    EXPECT_EQ(ParseIsoDate(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace cdp::core::internal
