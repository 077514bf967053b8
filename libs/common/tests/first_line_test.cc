#include "cdp/common/first_line.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace cdp {
namespace {

std::string Write(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(ReadFirstLineTest, TakesTheFirstLineWithoutSurroundingBlanks) {
  EXPECT_EQ(ReadFirstLine(Write("token", "  s3cret-token \r\nsecond line\n")), "s3cret-token");
  EXPECT_EQ(ReadFirstLine(Write("bare", "inner blanks stay")), "inner blanks stay");
}

TEST(ReadFirstLineTest, NothingForAMissingFileOrABlankFirstLine) {
  EXPECT_EQ(ReadFirstLine(Write("blank", " \t\nnot first\n")), std::nullopt);
  EXPECT_EQ(ReadFirstLine(Write("empty", "")), std::nullopt);
  EXPECT_EQ(ReadFirstLine((std::filesystem::path(::testing::TempDir()) / "absent").string()),
            std::nullopt);
}

}  // namespace
}  // namespace cdp
