#include "lexer.h"

#include <charconv>
#include <system_error>

#include "text.h"

namespace cdp::rules::internal {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentifierStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentifierPart(char c) { return IsIdentifierStart(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

TokenKind KeywordOrIdentifier(std::string_view word) {
  if (word == "and") return TokenKind::kAnd;
  if (word == "or") return TokenKind::kOr;
  if (word == "not") return TokenKind::kNot;
  if (word == "in") return TokenKind::kIn;
  if (word == "true") return TokenKind::kTrue;
  if (word == "false") return TokenKind::kFalse;
  return TokenKind::kIdentifier;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : source_(source) {}

  std::vector<Token> Run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < source_.size() && IsSpace(source_[pos_])) ++pos_;
      Token token = Next();
      const TokenKind kind = token.kind;
      tokens.push_back(std::move(token));
      if (kind == TokenKind::kEnd || kind == TokenKind::kError) return tokens;
    }
  }

 private:
  Token Make(TokenKind kind, std::size_t length) {
    Token token;
    token.kind = kind;
    token.offset = pos_;
    token.length = length;
    pos_ += length;
    return token;
  }

  Token Error(std::size_t offset, std::string message) {
    Token token;
    token.kind = TokenKind::kError;
    token.offset = offset;
    token.text = std::move(message);
    return token;
  }

  char At(std::size_t i) const { return i < source_.size() ? source_[i] : '\0'; }

  Token Next() {
    if (pos_ >= source_.size()) return Make(TokenKind::kEnd, 0);
    const char c = source_[pos_];
    const char next = At(pos_ + 1);
    if (IsIdentifierStart(c)) return Identifier();
    if (IsDigit(c)) return Number();
    switch (c) {
      case '"':
      case '\'':
        return String();
      case '(':
        return Make(TokenKind::kLeftParen, 1);
      case ')':
        return Make(TokenKind::kRightParen, 1);
      case '[':
        return Make(TokenKind::kLeftBracket, 1);
      case ']':
        return Make(TokenKind::kRightBracket, 1);
      case ',':
        return Make(TokenKind::kComma, 1);
      case '-':
        return Make(TokenKind::kMinus, 1);
      case '<':
        if (next == '=') return Make(TokenKind::kLessEqual, 2);
        if (next == '>') return Error(pos_, "'<>' is not an operator; did you mean '!='?");
        return Make(TokenKind::kLess, 1);
      case '>':
        if (next == '=') return Make(TokenKind::kGreaterEqual, 2);
        return Make(TokenKind::kGreater, 1);
      case '=':
        if (next == '=') return Make(TokenKind::kEqual, 2);
        if (next == '<') return Error(pos_, "'=<' is not an operator; did you mean '<='?");
        if (next == '>') return Error(pos_, "'=>' is not an operator; did you mean '>='?");
        return Error(pos_, "'=' is not a comparison; did you mean '=='?");
      case '!':
        if (next == '=') return Make(TokenKind::kNotEqual, 2);
        return Error(pos_, "'!' is not an operator; use 'not'");
      case '&':
        return Error(pos_, Cat("'", next == '&' ? "&&" : "&", "' is not an operator; use 'and'"));
      case '|':
        return Error(pos_, Cat("'", next == '|' ? "||" : "|", "' is not an operator; use 'or'"));
      case '.':
        if (IsDigit(next))
          return Error(pos_, "a number must start with a digit; write 0.5, not .5");
        break;
      default:
        break;
    }
    return Error(pos_, Cat("unexpected character '", Character(pos_), "'"));
  }

  // The whole UTF-8 sequence starting at `offset`, so messages do not show half a character.
  std::string_view Character(std::size_t offset) const {
    std::size_t end = offset + 1;
    while (end < source_.size() && (static_cast<unsigned char>(source_[end]) & 0xC0) == 0x80) ++end;
    return source_.substr(offset, end - offset);
  }

  Token Identifier() {
    std::size_t end = pos_;
    while (end < source_.size() && IsIdentifierPart(source_[end])) ++end;
    const std::string_view word = source_.substr(pos_, end - pos_);
    Token token = Make(KeywordOrIdentifier(word), word.size());
    if (token.kind == TokenKind::kIdentifier) token.text = std::string(word);
    return token;
  }

  Token Number() {
    std::size_t end = pos_;
    while (end < source_.size() && IsDigit(source_[end])) ++end;
    if (At(end) == '.' && IsDigit(At(end + 1))) {
      ++end;
      while (end < source_.size() && IsDigit(source_[end])) ++end;
    }
    if (IsIdentifierPart(At(end)) || At(end) == '.') {
      std::size_t bad_end = end;
      while (bad_end < source_.size() &&
             (IsIdentifierPart(source_[bad_end]) || source_[bad_end] == '.')) {
        ++bad_end;
      }
      return Error(pos_, Cat("invalid number '", source_.substr(pos_, bad_end - pos_), "'"));
    }
    double value = 0;
    const auto [ptr, ec] = std::from_chars(source_.data() + pos_, source_.data() + end, value);
    if (ec != std::errc() || ptr != source_.data() + end) {
      return Error(pos_, Cat("number '", source_.substr(pos_, end - pos_), "' is out of range"));
    }
    Token token = Make(TokenKind::kNumber, end - pos_);
    token.number = value;
    return token;
  }

  Token String() {
    const std::size_t start = pos_;
    const char quote = source_[start];
    std::string text;
    std::size_t i = start + 1;
    while (true) {
      if (i >= source_.size() || source_[i] == '\n' ||
          (source_[i] == '\\' && i + 1 >= source_.size())) {
        return Error(start, Cat("unterminated string; add the closing ", quote));
      }
      const char c = source_[i];
      if (c == quote) break;
      if (c != '\\') {
        text += c;
        ++i;
        continue;
      }
      switch (source_[i + 1]) {
        case '\\':
          text += '\\';
          break;
        case '"':
          text += '"';
          break;
        case '\'':
          text += '\'';
          break;
        case 'n':
          text += '\n';
          break;
        case 't':
          text += '\t';
          break;
        default:
          return Error(
              i, Cat("unknown escape '\\", Character(i + 1), "'; use \\\\, \\\", \\', \\n or \\t"));
      }
      i += 2;
    }
    Token token = Make(TokenKind::kString, i + 1 - start);
    token.text = std::move(text);
    return token;
  }

  std::string_view source_;
  std::size_t pos_ = 0;
};

}  // namespace

bool IsKeyword(std::string_view word) {
  return KeywordOrIdentifier(word) != TokenKind::kIdentifier;
}

std::vector<Token> Tokenize(std::string_view source) { return Lexer(source).Run(); }

}  // namespace cdp::rules::internal
