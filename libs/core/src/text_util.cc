#include "text_util.h"

#include <cstddef>
#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace cdp::core::internal {
namespace {

constexpr std::size_t kMaxQuoted = 64;
constexpr std::size_t kMaxMessage = 240;

// Length of the valid UTF-8 sequence starting at text[pos], or 0 if it is not one.
std::size_t Utf8SequenceLength(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[i]); };
  const std::uint8_t lead = byte(pos);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t code_point = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(pos + i) & 0x3F);
  }
  static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kMinForLength[length] || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return 0;
  }
  return length;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t length = Utf8SequenceLength(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

std::string Quote(std::string_view text) {
  const bool cut = text.size() > kMaxQuoted;
  return absl::StrCat("\"", absl::CHexEscape(ToAbsl(text.substr(0, kMaxQuoted))),
                      cut ? "...\"" : "\"");
}

std::string Sanitize(std::string_view message) {
  std::string out;
  bool pending_space = false;
  std::size_t pos = 0;
  while (pos < message.size() && out.size() < kMaxMessage) {
    const std::size_t length = Utf8SequenceLength(message, pos);
    const unsigned char c = static_cast<unsigned char>(message[pos]);
    if (length == 1 && (c == ' ' || c == '\n' || c == '\t' || c == '\r')) {
      pending_space = !out.empty();
      ++pos;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (length == 0 || (length == 1 && (c < 0x20 || c == 0x7F))) {
      out.push_back('?');
      ++pos;
    } else {
      out.append(message.substr(pos, length));
      pos += length;
    }
  }
  if (pos < message.size()) out.append("...");
  return out;
}

}  // namespace cdp::core::internal
