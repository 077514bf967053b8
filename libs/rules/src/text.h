#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace cdp::rules::internal {

// String building for messages. The installed abseil has its own string_view type, so absl::StrCat
// does not take std::string_view.
inline void AppendTo(std::string& out, std::string_view text) { out.append(text); }
inline void AppendTo(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
requires(!std::same_as<T, char> && !std::same_as<T, bool>) void AppendTo(std::string& out,
                                                                         T value) {
  out.append(std::to_string(value));
}
// Shortest form that reads back the same, without exponents: 300000, 0.25.
inline void AppendTo(std::string& out, double value) {
  // Enough for any double in fixed notation.
  char buffer[512];
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed);
  out.append(buffer, result.ptr);
}

template <typename... Parts>
[[nodiscard]] std::string Cat(const Parts&... parts) {
  std::string out;
  (AppendTo(out, parts), ...);
  return out;
}

// `text` with control characters spelled out (\n, \x01...): a message echoing what a file holds
// stays on its one line and prints as it reads.
[[nodiscard]] inline std::string SpellOutControls(std::string_view text) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out.append("\\n");
    } else if (byte < 0x20 || byte == 0x7f) {
      out.append({'\\', 'x', kHex[byte >> 4], kHex[byte & 0xf]});
    } else {
      out.push_back(c);
    }
  }
  return out;
}

template <typename Range>
[[nodiscard]] std::string Join(const Range& items, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& item : items) {
    if (!first) out.append(separator);
    first = false;
    AppendTo(out, item);
  }
  return out;
}

}  // namespace cdp::rules::internal
