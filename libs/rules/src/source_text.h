#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "cdp/rules/expression.h"

namespace cdp::rules::internal {

// Where each byte of `text` sits when the text is copied verbatim into a file from `start` on, plus
// where it ends. The bytes of one UTF-8 character share its column.
[[nodiscard]] std::vector<TextPosition> VerbatimPositions(std::string_view text,
                                                          TextPosition start);

// A file's text, to turn byte offsets into positions people see in an editor.
class SourceText {
 public:
  explicit SourceText(std::string_view text);

  [[nodiscard]] TextPosition PositionOf(std::size_t offset) const;

  // Where each byte of `value`, a YAML scalar's decoded text, sits in the file: value's characters
  // are matched in order against the file from `start`, the scalar's first character (its quote or
  // block indicator), which skips quotes, escapes, indentation and folded line breaks. nullopt when
  // they cannot all be matched.
  [[nodiscard]] std::optional<std::vector<TextPosition>> Locate(std::string_view value,
                                                                std::size_t start) const;

 private:
  std::string_view text_;
  // Offset of the first byte of each line.
  std::vector<std::size_t> line_starts_;
};

}  // namespace cdp::rules::internal
