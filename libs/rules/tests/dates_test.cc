#include "dates.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/time/civil_time.h"

namespace cdp::rules::internal {
namespace {

std::int64_t Day(int year, int month, int day) {
  return absl::CivilDay(year, month, day) - absl::CivilDay(1970, 1, 1);
}

TEST(ParseIsoDate, ValidDates) {
  EXPECT_EQ(ParseIsoDate("1970-01-01"), 0);
  EXPECT_EQ(ParseIsoDate("1970-01-02"), 1);
  EXPECT_EQ(ParseIsoDate("1969-12-31"), -1);
  EXPECT_EQ(ParseIsoDate("2024-02-29"), Day(2024, 2, 29));
  EXPECT_EQ(ParseIsoDate("2000-02-29"), Day(2000, 2, 29));
  EXPECT_EQ(ParseIsoDate("2023-12-31"), Day(2023, 12, 31));
  EXPECT_EQ(ParseIsoDate("0001-01-01"), Day(1, 1, 1));
}

TEST(ParseIsoDate, RejectsAnythingElse) {
  for (const char* text :
       {"", "2023-02-29", "1900-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00",
        "2024-1-05", "24-01-05", "2024/01/05", "2024-01-05T00:00:00Z", " 2024-01-05", "2024-01-05 ",
        "2024-0a-05", "+024-01-05", "2024-01--5"}) {
    EXPECT_EQ(ParseIsoDate(text), std::nullopt) << text;
  }
}

TEST(ParseIsoCivilDate, GivesTheDateParseIsoDateCounts) {
  EXPECT_EQ(ParseIsoCivilDate("2024-02-29"), (CivilDate{2024, 2, 29}));
  EXPECT_EQ(ParseIsoCivilDate("0001-01-01"), (CivilDate{1, 1, 1}));
  EXPECT_EQ(ParseIsoCivilDate("2023-02-29"), std::nullopt);
  EXPECT_EQ(ParseIsoCivilDate("2024-13-01"), std::nullopt);
  EXPECT_EQ(ParseIsoCivilDate("2024-1-05"), std::nullopt);
  const absl::CivilDay epoch(1970, 1, 1);
  for (absl::CivilDay day(1999, 1, 1); day.year() <= 2001; day += 1) {
    const std::string text = absl::FormatCivilTime(day);
    ASSERT_EQ(ParseIsoCivilDate(text), (CivilDate{day.year(), day.month(), day.day()})) << text;
    ASSERT_EQ(ParseIsoDate(text), day - epoch) << text;
  }
}

TEST(MonthsBetween, SameDayOfMonthCompletesAMonth) {
  EXPECT_EQ(MonthsBetween(Day(2024, 1, 15), Day(2024, 1, 15)), 0);
  EXPECT_EQ(MonthsBetween(Day(2024, 1, 15), Day(2024, 2, 14)), 0);
  EXPECT_EQ(MonthsBetween(Day(2024, 1, 15), Day(2024, 2, 15)), 1);
  EXPECT_EQ(MonthsBetween(Day(2023, 12, 15), Day(2024, 1, 15)), 1);
  EXPECT_EQ(MonthsBetween(Day(2023, 7, 1), Day(2024, 6, 30)), 11);
  EXPECT_EQ(MonthsBetween(Day(2023, 7, 1), Day(2024, 7, 1)), 12);
}

TEST(MonthsBetween, MonthEnds) {
  // The 31st completes a month on the last day of a shorter month.
  EXPECT_EQ(MonthsBetween(Day(2023, 1, 31), Day(2023, 2, 27)), 0);
  EXPECT_EQ(MonthsBetween(Day(2023, 1, 31), Day(2023, 2, 28)), 1);
  EXPECT_EQ(MonthsBetween(Day(2024, 1, 31), Day(2024, 2, 28)), 0);
  EXPECT_EQ(MonthsBetween(Day(2024, 1, 31), Day(2024, 2, 29)), 1);
  EXPECT_EQ(MonthsBetween(Day(2024, 1, 31), Day(2024, 4, 29)), 2);
  EXPECT_EQ(MonthsBetween(Day(2024, 1, 31), Day(2024, 4, 30)), 3);
  EXPECT_EQ(MonthsBetween(Day(2024, 3, 30), Day(2024, 4, 30)), 1);
  EXPECT_EQ(MonthsBetween(Day(2024, 2, 29), Day(2025, 2, 28)), 12);
  EXPECT_EQ(MonthsBetween(Day(2024, 2, 29), Day(2028, 2, 29)), 48);
}

TEST(MonthsBetween, EarlierEndRoundsDown) {
  EXPECT_EQ(MonthsBetween(Day(2024, 3, 15), Day(2024, 3, 14)), -1);
  EXPECT_EQ(MonthsBetween(Day(2024, 3, 15), Day(2024, 2, 15)), -1);
  EXPECT_EQ(MonthsBetween(Day(2024, 3, 15), Day(2024, 2, 14)), -2);
  EXPECT_EQ(MonthsBetween(Day(2024, 3, 31), Day(2024, 2, 29)), -1);
}

TEST(MonthsBetween, AgreesWithCalendarArithmeticOverCenturies) {
  // Every day from 1899 to 2101 against absl's (slower) civil arithmetic.
  const absl::CivilDay epoch(1970, 1, 1);
  const absl::CivilDay first(1899, 1, 1);
  for (absl::CivilDay day = first; day.year() <= 2101; day += 1) {
    const std::int64_t expected = (day.year() - first.year()) * 12 + (day.month() - first.month());
    ASSERT_EQ(MonthsBetween(first - epoch, day - epoch), expected) << day;
    if (day.day() <= 28) {
      const absl::CivilDay month_later(day.year(), day.month() + 1, day.day());
      ASSERT_EQ(MonthsBetween(day - epoch, month_later - epoch), 1) << day;
      ASSERT_EQ(MonthsBetween(day - epoch, month_later - epoch - 1), 0) << day;
    }
  }
}

TEST(AddMonths, LandsWhereMonthsBetweenReachesTheCount) {
  EXPECT_EQ(AddMonths(Day(2024, 1, 15), 1), Day(2024, 2, 15));
  EXPECT_EQ(AddMonths(Day(2024, 1, 31), 1), Day(2024, 2, 29));
  EXPECT_EQ(AddMonths(Day(2023, 1, 31), 1), Day(2023, 2, 28));
  EXPECT_EQ(AddMonths(Day(2023, 8, 31), 6), Day(2024, 2, 29));
  EXPECT_EQ(AddMonths(Day(2024, 11, 30), 2), Day(2025, 1, 30));
  EXPECT_EQ(AddMonths(Day(2024, 3, 31), -1), Day(2024, 2, 29));
  EXPECT_EQ(AddMonths(Day(2024, 1, 10), -13), Day(2022, 12, 10));
  EXPECT_EQ(AddMonths(Day(2024, 5, 5), 0), Day(2024, 5, 5));
}

TEST(AddMonths, IsTheFirstDayOfEachCountOverYears) {
  const absl::CivilDay epoch(1970, 1, 1);
  for (absl::CivilDay from(2019, 1, 1); from.year() < 2021; from += 1) {
    for (std::int64_t months = -14; months <= 14; ++months) {
      const std::int64_t day = AddMonths(from - epoch, months);
      ASSERT_EQ(MonthsBetween(from - epoch, day), months) << from << " + " << months;
      ASSERT_EQ(MonthsBetween(from - epoch, day - 1), months - 1) << from << " + " << months;
    }
  }
}

}  // namespace
}  // namespace cdp::rules::internal
