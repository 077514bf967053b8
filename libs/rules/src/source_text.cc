#include "source_text.h"

#include <algorithm>

namespace cdp::rules::internal {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

std::vector<TextPosition> VerbatimPositions(std::string_view text, TextPosition start) {
  std::vector<TextPosition> positions;
  positions.reserve(text.size() + 1);
  TextPosition at = start;
  for (std::size_t i = 0; i < text.size(); ++i) {
    positions.push_back(at);
    if (text[i] == '\n') {
      ++at.line;
      at.column = 1;
    } else if (i + 1 == text.size() || !IsContinuationByte(text[i + 1])) {
      ++at.column;
    }
  }
  positions.push_back(at);
  return positions;
}

SourceText::SourceText(std::string_view text) : text_(text) {
  line_starts_.push_back(0);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') line_starts_.push_back(i + 1);
  }
}

TextPosition SourceText::PositionOf(std::size_t offset) const {
  offset = std::min(offset, text_.size());
  const auto line = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
  int column = 1;
  for (std::size_t i = *line; i < offset; ++i) {
    if (!IsContinuationByte(text_[i])) ++column;
  }
  if (offset < text_.size() && IsContinuationByte(text_[offset])) --column;
  return TextPosition{static_cast<int>(line - line_starts_.begin()) + 1, column};
}

std::optional<std::vector<TextPosition>> SourceText::Locate(std::string_view value,
                                                            std::size_t start) const {
  std::size_t at = start;
  if (at < text_.size() && (text_[at] == '|' || text_[at] == '>')) {
    // A block scalar's header line holds only indicators and comments, never its text.
    at = text_.find('\n', at);
    if (at == std::string_view::npos) return std::nullopt;
  }
  std::vector<TextPosition> positions;
  positions.reserve(value.size() + 1);
  for (char c : value) {
    at = text_.find(c, at);
    if (at == std::string_view::npos) return std::nullopt;
    positions.push_back(PositionOf(at));
    ++at;
  }
  positions.push_back(PositionOf(at));
  return positions;
}

}  // namespace cdp::rules::internal
