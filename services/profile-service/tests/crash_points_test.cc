#include "crash_points.h"

#include <csignal>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::service {
namespace {

using ::testing::HasSubstr;

TEST(CrashPointsTest, KillsTheProcessTheNthTimeItsPointIsReached) {
  auto points = CrashPoints::Parse("after-produce:3");
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_EXIT(
      {
        points->Reached(CrashPoint::kAfterProduce);
        points->Reached(CrashPoint::kAfterPoll);
        points->Reached(CrashPoint::kAfterProduce);
        std::fputs("survived the first two\n", stderr);
        points->Reached(CrashPoint::kAfterProduce);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGKILL), "survived the first two");
}

TEST(CrashPointsTest, OtherPointsAndUnsetDoNothing) {
  auto points = CrashPoints::Parse("during-restore:1");
  ASSERT_TRUE(points.ok()) << points.status();
  for (int i = 0; i < 3; ++i) {
    points->Reached(CrashPoint::kAfterPoll);
    points->Reached(CrashPoint::kAfterStateCommit);
  }
  CrashPoints unset;
  unset.Reached(CrashPoint::kDuringRestore);
  SUCCEED() << "still running";
}

TEST(CrashPointsTest, MalformedSpecsNameTheAcceptedForm) {
  for (const char* spec :
       {"after-poll", "after-poll:0", "after-poll:x", "before-poll:1", ":1", "after-poll:-2"}) {
    auto points = CrashPoints::Parse(spec);
    ASSERT_FALSE(points.ok()) << spec;
    EXPECT_THAT(std::string(points.status().message()),
                HasSubstr("is not POINT:N with POINT one of after-poll"))
        << spec;
  }
}

}  // namespace
}  // namespace cdp::service
