#include "arguments.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace cdp::profilectl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr FlagSpec kFlags[] = {{"data-dir", "DIR"}, {"partition", "N"}, {"verbose", ""}};

absl::StatusOr<Arguments> Parse(std::vector<std::string_view> args) {
  return ParseArguments(args, kFlags);
}

TEST(ArgumentsTest, TakesSeparateAndInlineValuesSwitchesAndPositionals) {
  auto parsed = Parse({"--data-dir", "/state", "--partition=3", "--verbose", "events", "-"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->Flag("data-dir"), "/state");
  EXPECT_EQ(parsed->Flag("partition"), "3");
  EXPECT_EQ(parsed->Flag("verbose"), "true");
  EXPECT_EQ(parsed->Flag("missing"), std::nullopt);
  EXPECT_THAT(parsed->positional, ElementsAre("events", "-"));
  EXPECT_FALSE(parsed->help);
}

TEST(ArgumentsTest, HelpAndDoubleDash) {
  auto parsed = Parse({"--help", "--", "--partition", "x"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->help);
  EXPECT_TRUE(parsed->flags.empty());
  EXPECT_THAT(parsed->positional, ElementsAre("--partition", "x"));
}

TEST(ArgumentsTest, UnknownFlagSuggestsTheNearestOne) {
  auto parsed = Parse({"--data-dri", "/state"});
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("unknown option '--data-dri'"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("did you mean '--data-dir'?"));
}

TEST(ArgumentsTest, RejectsMisuse) {
  EXPECT_THAT(Parse({"--partition"}).status().message(), HasSubstr("--partition needs a value"));
  EXPECT_THAT(Parse({"--verbose=yes"}).status().message(), HasSubstr("takes no value"));
  EXPECT_THAT(Parse({"--partition", "1", "--partition", "2"}).status().message(),
              HasSubstr("given twice"));
  EXPECT_THAT(Parse({"-p"}).status().message(), HasSubstr("unknown option '-p'"));
  EXPECT_THAT(Parse({"--help=1"}).status().message(), HasSubstr("takes no value"));
}

}  // namespace
}  // namespace cdp::profilectl
