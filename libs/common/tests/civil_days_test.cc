#include "cdp/common/civil_days.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"

namespace cdp {
namespace {

const absl::CivilDay kEpoch(1970, 1, 1);

TEST(CivilDays, AgreesWithAbslEveryDayFrom1600To2600) {
  // Leap centuries (1600, 2000, 2400) and common ones (1700, 1900, 2100) included.
  std::int64_t expected = absl::CivilDay(1600, 1, 1) - kEpoch;
  for (absl::CivilDay day(1600, 1, 1); day.year() <= 2600; day += 1, ++expected) {
    ASSERT_EQ(DaysFromCivil(day.year(), day.month(), day.day()), expected) << day;
    ASSERT_EQ(CivilFromDays(expected), (CivilDate{day.year(), day.month(), day.day()})) << day;
    ASSERT_EQ(DaysInMonth(day.year(), day.month()),
              absl::CivilDay(absl::CivilMonth(day) + 1) - absl::CivilDay(absl::CivilMonth(day)))
        << day;
  }
}

TEST(CivilDays, AgreesWithAbslAcrossYearZeroAndFarYears) {
  for (const std::int64_t year : {-401, -400, -1, 0, 1, 4, 100, 9999, 10000, 1'000'000}) {
    for (int month = 1; month <= 12; ++month) {
      const absl::CivilDay first(year, month, 1);
      const absl::CivilDay last(year, month, DaysInMonth(year, month));
      ASSERT_EQ(last.month(), month) << last;
      ASSERT_EQ(DaysFromCivil(year, month, 1), first - kEpoch) << first;
      ASSERT_EQ(DaysFromCivil(year, month, last.day()), last - kEpoch) << last;
      ASSERT_EQ(CivilFromDays(last - kEpoch), (CivilDate{year, month, last.day()})) << last;
    }
  }
}

TEST(CivilDays, DaysPastTheMonthEndCountOnLikeAbslNormalisation) {
  for (const std::int64_t year : {2023, 2024, 2100}) {
    for (int month = 1; month <= 12; ++month) {
      for (int day = DaysInMonth(year, month) + 1; day <= 31; ++day) {
        ASSERT_EQ(DaysFromCivil(year, month, day), absl::CivilDay(year, month, day) - kEpoch)
            << year << "-" << month << "-" << day;
      }
    }
  }
  EXPECT_EQ(DaysFromCivil(2023, 2, 29), DaysFromCivil(2023, 3, 1));
}

TEST(CivilDays, KnownDays) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2024, 2, 29), 19782);
  EXPECT_EQ(DaysFromCivil(CivilDate{2000, 3, 1}), 11017);
  EXPECT_EQ(CivilFromDays(19782), (CivilDate{2024, 2, 29}));
  EXPECT_EQ(CivilFromDays(-719468), (CivilDate{0, 3, 1}));
}

TEST(CivilDays, LeapYears) {
  EXPECT_TRUE(IsLeapYear(2024));
  EXPECT_TRUE(IsLeapYear(2000));
  EXPECT_TRUE(IsLeapYear(0));
  EXPECT_TRUE(IsLeapYear(-4));
  EXPECT_FALSE(IsLeapYear(1900));
  EXPECT_FALSE(IsLeapYear(2023));
  EXPECT_FALSE(IsLeapYear(-1));
}

TEST(CivilDays, DatesOrderByTime) {
  EXPECT_LT((CivilDate{2023, 12, 31}), (CivilDate{2024, 1, 1}));
  EXPECT_LT((CivilDate{2024, 1, 31}), (CivilDate{2024, 2, 1}));
  EXPECT_LT((CivilDate{2024, 2, 1}), (CivilDate{2024, 2, 2}));
  EXPECT_EQ((CivilDate{2024, 2, 2}), (CivilDate{2024, 2, 2}));
}

}  // namespace
}  // namespace cdp
