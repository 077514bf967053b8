#include "segment_watcher.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace cdp::service {
namespace {

constexpr char kValid[] = "segments:\n  - id: buyer\n    when: orders_total >= 1\n";
constexpr char kEdited[] = "segments:\n  - id: buyer\n    when: orders_total >= 2\n";
constexpr char kInvalid[] = "segments:\n  - id: buyer\n    when: orders_totl >= 2\n";

class SegmentWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        (std::filesystem::path(::testing::TempDir()) /
         (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".yaml"))
            .string();
    Write(kValid);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  void Write(const char* text) const { std::ofstream(path_) << text; }

  std::string path_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(SegmentWatcherTest, ParsesTheFileAgainOnlyWhenItsContentChanged) {
  SegmentWatcher watcher(path_, absl::Seconds(1));
  EXPECT_FALSE(watcher.Check(now_).has_value());
  Write(kEdited);
  // Not yet time to look.
  EXPECT_FALSE(watcher.Check(now_ + absl::Milliseconds(500)).has_value());
  auto reloaded = watcher.Check(now_ + absl::Seconds(1));
  ASSERT_TRUE(reloaded.has_value());
  ASSERT_TRUE(reloaded->ok()) << reloaded->status();
  EXPECT_EQ((*reloaded)->segments.at(0).when.source(), "orders_total >= 2");
  EXPECT_FALSE(watcher.Check(now_ + absl::Seconds(5)).has_value());
}

TEST_F(SegmentWatcherTest, ReportsAnInvalidFileOnceWithWhereAndWhat) {
  SegmentWatcher watcher(path_, absl::Seconds(1));
  Write(kInvalid);
  auto reloaded = watcher.Check(now_);
  ASSERT_TRUE(reloaded.has_value());
  ASSERT_FALSE(reloaded->ok());
  EXPECT_NE(reloaded->status().message().find(path_ + ":3:11: unknown field 'orders_totl'"),
            std::string::npos)
      << reloaded->status().message();
  EXPECT_FALSE(watcher.Check(now_ + absl::Seconds(2)).has_value());
  // Fixed: taken up at the next look.
  Write(kEdited);
  auto fixed = watcher.Check(now_ + absl::Seconds(4));
  ASSERT_TRUE(fixed.has_value());
  EXPECT_TRUE(fixed->ok()) << fixed->status();
}

TEST_F(SegmentWatcherTest, SighupReloadsEvenWhenNotWatching) {
  SegmentWatcher watcher(path_, absl::ZeroDuration());
  SegmentWatcher::InstallSignalHandler();
  Write(kEdited);
  EXPECT_FALSE(watcher.Check(now_ + absl::Hours(1)).has_value());
  ASSERT_EQ(::raise(SIGHUP), 0);
  auto reloaded = watcher.Check(now_ + absl::Hours(1));
  ASSERT_TRUE(reloaded.has_value());
  EXPECT_TRUE(reloaded->ok()) << reloaded->status();
  // The request is consumed: the next check has nothing to do.
  EXPECT_FALSE(watcher.Check(now_ + absl::Hours(2)).has_value());
  // SIGHUP also re-reads an unchanged file: the caller finds the same definitions.
  ASSERT_EQ(::raise(SIGHUP), 0);
  EXPECT_TRUE(watcher.Check(now_ + absl::Hours(2)).has_value());
}

TEST_F(SegmentWatcherTest, AMissingFileIsReportedOnSighupOnly) {
  SegmentWatcher watcher(path_, absl::Seconds(1));
  SegmentWatcher::InstallSignalHandler();
  std::filesystem::remove(path_);
  EXPECT_FALSE(watcher.Check(now_).has_value());
  ASSERT_EQ(::raise(SIGHUP), 0);
  auto reloaded = watcher.Check(now_ + absl::Seconds(1));
  ASSERT_TRUE(reloaded.has_value());
  ASSERT_FALSE(reloaded->ok());
  EXPECT_NE(reloaded->status().message().find("cannot read segment file"), std::string::npos);
}

}  // namespace
}  // namespace cdp::service
