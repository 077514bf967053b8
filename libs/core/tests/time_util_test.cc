#include "time_util.h"

#include <gtest/gtest.h>

#include "absl/time/civil_time.h"

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

}  // namespace
}  // namespace cdp::core::internal
