#include "source_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cdp::rules::internal {
namespace {

std::string Show(const TextPosition& p) {
  return std::to_string(p.line) + ":" + std::to_string(p.column);
}

TEST(SourceText, PositionsCountCharactersPerLine) {
  const SourceText text("ab\n上海x\n\nz");
  EXPECT_EQ(Show(text.PositionOf(0)), "1:1");
  EXPECT_EQ(Show(text.PositionOf(2)), "1:3");  // the line break
  EXPECT_EQ(Show(text.PositionOf(3)), "2:1");
  EXPECT_EQ(Show(text.PositionOf(4)), "2:1");  // inside 上
  EXPECT_EQ(Show(text.PositionOf(6)), "2:2");  // 海
  EXPECT_EQ(Show(text.PositionOf(9)), "2:3");  // x
  EXPECT_EQ(Show(text.PositionOf(11)), "3:1");
  EXPECT_EQ(Show(text.PositionOf(12)), "4:1");
  EXPECT_EQ(Show(text.PositionOf(13)), "4:2");  // the end
  EXPECT_EQ(Show(text.PositionOf(99)), "4:2");
}

TEST(VerbatimPositions, FollowLinesAndCharacters) {
  const std::vector<TextPosition> positions = VerbatimPositions("a海\nb", TextPosition{3, 7});
  ASSERT_EQ(positions.size(), 7u);
  EXPECT_EQ(Show(positions[0]), "3:7");
  EXPECT_EQ(Show(positions[1]), "3:8");
  EXPECT_EQ(Show(positions[3]), "3:8");
  EXPECT_EQ(Show(positions[4]), "3:9");
  EXPECT_EQ(Show(positions[5]), "4:1");
  EXPECT_EQ(Show(positions[6]), "4:2");
}

std::vector<std::string> Locate(std::string_view file, std::string_view value, std::size_t start) {
  std::vector<std::string> out;
  const std::optional<std::vector<TextPosition>> positions = SourceText(file).Locate(value, start);
  if (!positions) return {"none"};
  for (const TextPosition& p : *positions) out.push_back(Show(p));
  return out;
}

TEST(Locate, QuotedScalarsSkipQuotesAndEscapes) {
  // when: "a\"b"
  EXPECT_EQ(Locate("when: \"a\\\"b\"", "a\"b", 6),
            (std::vector<std::string>{"1:8", "1:10", "1:11", "1:12"}));
  // when: 'it''s'
  EXPECT_EQ(Locate("when: 'it''s'", "it's", 6),
            (std::vector<std::string>{"1:8", "1:9", "1:10", "1:12", "1:13"}));
}

TEST(Locate, FoldedLinesSkipIndentation) {
  EXPECT_EQ(Locate("w: a\n   b", "a b", 3), (std::vector<std::string>{"1:4", "2:1", "2:4", "2:5"}));
}

TEST(Locate, BlockScalarsSkipTheHeaderLine) {
  // The header's comment must not be matched against the text.
  EXPECT_EQ(Locate("w: |  # x\n  x\n", "x\n", 3), (std::vector<std::string>{"2:3", "2:4", "3:1"}));
  EXPECT_EQ(Locate("w: |", "x", 3), (std::vector<std::string>{"none"}));
}

TEST(Locate, FailsWhenTheTextIsNotThere) {
  EXPECT_EQ(Locate("w: abc", "abd", 3), (std::vector<std::string>{"none"}));
}

}  // namespace
}  // namespace cdp::rules::internal
