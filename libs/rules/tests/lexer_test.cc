#include "lexer.h"

#include <gtest/gtest.h>

#include <vector>

namespace cdp::rules::internal {
namespace {

std::vector<TokenKind> Kinds(std::string_view source) {
  std::vector<TokenKind> kinds;
  for (const Token& token : Tokenize(source)) kinds.push_back(token.kind);
  return kinds;
}

using K = TokenKind;

TEST(Lexer, EveryToken) {
  EXPECT_EQ(Kinds("a_1 12 3.5 'x' \"y\" true false and or not in ( ) [ ] , - == != < <= > >="),
            (std::vector<K>{K::kIdentifier, K::kNumber,      K::kNumber,       K::kString,
                            K::kString,     K::kTrue,        K::kFalse,        K::kAnd,
                            K::kOr,         K::kNot,         K::kIn,           K::kLeftParen,
                            K::kRightParen, K::kLeftBracket, K::kRightBracket, K::kComma,
                            K::kMinus,      K::kEqual,       K::kNotEqual,     K::kLess,
                            K::kLessEqual,  K::kGreater,     K::kGreaterEqual, K::kEnd}));
}

TEST(Lexer, TokensKnowWhereTheyAre) {
  const std::vector<Token> tokens = Tokenize("  ab >= 'c\\'d'");
  ASSERT_EQ(tokens.size(), 4u);
  EXPECT_EQ(tokens[0].offset, 2u);
  EXPECT_EQ(tokens[0].length, 2u);
  EXPECT_EQ(tokens[0].text, "ab");
  EXPECT_EQ(tokens[1].offset, 5u);
  EXPECT_EQ(tokens[1].length, 2u);
  EXPECT_EQ(tokens[2].offset, 8u);
  EXPECT_EQ(tokens[2].length, 6u);
  EXPECT_EQ(tokens[2].text, "c'd");
  EXPECT_EQ(tokens[3].kind, K::kEnd);
  EXPECT_EQ(tokens[3].offset, 14u);
}

TEST(Lexer, Numbers) {
  const std::vector<Token> tokens = Tokenize("0 42 0.125 100000000");
  EXPECT_EQ(tokens[0].number, 0);
  EXPECT_EQ(tokens[1].number, 42);
  EXPECT_EQ(tokens[2].number, 0.125);
  EXPECT_EQ(tokens[3].number, 100000000);
}

TEST(Lexer, KeywordsAreCaseSensitive) {
  EXPECT_EQ(Kinds("AND Or NOT"),
            (std::vector<K>{K::kIdentifier, K::kIdentifier, K::kIdentifier, K::kEnd}));
  EXPECT_TRUE(IsKeyword("in"));
  EXPECT_FALSE(IsKeyword("In"));
}

TEST(Lexer, StopsAtTheFirstError) {
  const std::vector<Token> tokens = Tokenize("a = b @");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[1].kind, K::kError);
  EXPECT_EQ(tokens[1].offset, 2u);
  EXPECT_EQ(tokens[1].text, "'=' is not a comparison; did you mean '=='?");
}

TEST(Lexer, StringsEndAtTheLine) {
  const std::vector<Token> tokens = Tokenize("'abc\n'");
  EXPECT_EQ(tokens.back().kind, K::kError);
  EXPECT_EQ(tokens.back().text, "unterminated string; add the closing '");
}

}  // namespace
}  // namespace cdp::rules::internal
