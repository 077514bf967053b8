#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cdp::rules::internal {

enum class TokenKind : unsigned char {
  kEnd,
  // Lexing stopped here; `text` is the message.
  kError,
  kIdentifier,
  kNumber,
  kString,
  kTrue,
  kFalse,
  kAnd,
  kOr,
  kNot,
  kIn,
  kLeftParen,
  kRightParen,
  kLeftBracket,
  kRightBracket,
  kComma,
  kMinus,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  // Where the token's text is in the rule.
  std::size_t offset = 0;
  std::size_t length = 0;
  // Identifier name, decoded string literal, or the error message.
  std::string text;
  double number = 0;
};

// Whether `word` is one of the (lowercase) keywords: and, or, not, in, true, false.
[[nodiscard]] bool IsKeyword(std::string_view word);

// Splits a rule into tokens. The last token is kEnd, or kError at the first character that cannot
// start a token, so that a parser meets errors in reading order.
[[nodiscard]] std::vector<Token> Tokenize(std::string_view source);

}  // namespace cdp::rules::internal
