#include "log.h"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Optional;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// Lines written to stderr while `write` runs, with the log configured as given; the default
// configuration is restored afterwards.
template <typename Write>
std::vector<std::string> LoggedLines(LogLevel minimum, LogFormat format, Write write) {
  ConfigureLog(minimum, format);
  ::testing::internal::CaptureStderr();
  write();
  const std::string logged = ::testing::internal::GetCapturedStderr();
  ConfigureLog(LogLevel::kInfo, LogFormat::kText);
  return absl::StrSplit(logged, '\n', absl::SkipEmpty());
}

TEST(LogTest, TextLinesCarryTimeLevelAndMessage) {
  const auto lines = LoggedLines(LogLevel::kInfo, LogFormat::kText, [] {
    Log(LogLevel::kInfo, "assigned ", 3, " partitions");
    Log(LogLevel::kError, "disk full");
  });
  EXPECT_THAT(lines, ElementsAre(MatchesRegex("[0-9-]+T[0-9:.]+Z INFO assigned 3 partitions"),
                                 MatchesRegex("[0-9-]+T[0-9:.]+Z ERROR disk full")));
}

TEST(LogTest, LinesBelowTheMinimumLevelAreDropped) {
  const auto lines = LoggedLines(LogLevel::kWarn, LogFormat::kText, [] {
    Log(LogLevel::kDebug, "batch committed");
    Log(LogLevel::kInfo, "assigned");
    Log(LogLevel::kWarn, "commit failed");
  });
  EXPECT_THAT(lines, ElementsAre(HasSubstr("WARN commit failed")));
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
}

TEST(LogTest, JsonLinesAreOneObjectEachEvenForMultiLineAndBinaryMessages) {
  const auto lines = LoggedLines(LogLevel::kDebug, LogFormat::kJson, [] {
    Log(LogLevel::kDebug, "segment file not reloaded:\nsegments.yaml:3:9: \"bad\"");
    Log(LogLevel::kWarn, "invalid id 'c\xff'");
  });
  ASSERT_EQ(lines.size(), 2u);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "debug");
  EXPECT_EQ(first["message"], "segment file not reloaded:\nsegments.yaml:3:9: \"bad\"");
  EXPECT_THAT(first["time"].get<std::string>(), MatchesRegex("[0-9-]+T[0-9:.]+Z"));
  EXPECT_FALSE(first.contains("held_back"));
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(second["level"], "warn");
  EXPECT_THAT(second["message"].get<std::string>(), HasSubstr("invalid id 'c"));
}

TEST(LogTest, RepeatsHeldBackAreCountedOnTheNextLineLetThrough) {
  RepeatLimiter limiter(absl::Hours(1));
  const auto text = LoggedLines(LogLevel::kInfo, LogFormat::kText, [&] {
    for (int i = 0; i < 5; ++i) LogLimited(limiter, LogLevel::kWarn, "commit failed");
  });
  EXPECT_THAT(text, ElementsAre(HasSubstr("WARN commit failed")));
  const auto json = LoggedLines(LogLevel::kInfo, LogFormat::kJson,
                                [&] { WriteLog(LogLevel::kWarn, "commit failed", 4); });
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(json[0])["held_back"], 4);
  const auto counted = LoggedLines(LogLevel::kInfo, LogFormat::kText,
                                   [&] { WriteLog(LogLevel::kWarn, "commit failed", 4); });
  EXPECT_THAT(counted,
              ElementsAre(HasSubstr("commit failed (4 more like it since the last such line)")));
}

TEST(RepeatLimiterTest, LetsTheFirstThroughThenOnePerIntervalCountingTheRest) {
  RepeatLimiter limiter(absl::Minutes(1));
  EXPECT_THAT(limiter.Admit(kT0), Optional(0));
  EXPECT_EQ(limiter.Admit(kT0 + absl::Seconds(1)), std::nullopt);
  EXPECT_EQ(limiter.Admit(kT0 + absl::Seconds(59)), std::nullopt);
  EXPECT_THAT(limiter.Admit(kT0 + absl::Minutes(1)), Optional(2));
  EXPECT_EQ(limiter.Admit(kT0 + absl::Seconds(61)), std::nullopt);
  EXPECT_THAT(limiter.Admit(kT0 + absl::Hours(1)), Optional(1));
  EXPECT_THAT(limiter.Admit(kT0 + absl::Hours(2)), Optional(0));
}

TEST(LogTest, LevelAndFormatNamesParseAndOthersAreRejected) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(LogLevelName(LogLevel::kWarn), "warn");
  EXPECT_THAT(ParseLogLevel("verbose").status().message(),
              HasSubstr("'verbose' is not one of: debug, info, warn, error"));
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_THAT(ParseLogFormat("logfmt").status().message(),
              HasSubstr("'logfmt' is not one of: text, json"));
}

}  // namespace
}  // namespace cdp::service
