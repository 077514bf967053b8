#include "cdp/common/rfc3339.h"

#include <gtest/gtest.h>

namespace cdp {
namespace {

std::string Format(std::int64_t seconds, std::int32_t nanos) {
  std::string out;
  AppendRfc3339(seconds, nanos, out);
  return out;
}

TEST(Rfc3339, FormatsInstantsLikeProtobuf) {
  EXPECT_EQ(Format(0, 0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Format(951'782'400, 0), "2000-02-29T00:00:00Z");
  EXPECT_EQ(Format(-86'401, 0), "1969-12-30T23:59:59Z");
  EXPECT_EQ(Format(-62'135'596'800, 0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Format(253'402'300'799, 999'999'999), "9999-12-31T23:59:59.999999999Z");
  EXPECT_EQ(Format(1'780'000'000, 5'000'000), "2026-05-28T20:26:40.005Z");
  EXPECT_EQ(Format(1'780'000'000, 123'456'000), "2026-05-28T20:26:40.123456Z");
}

}  // namespace
}  // namespace cdp
