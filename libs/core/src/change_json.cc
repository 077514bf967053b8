#include "change_json.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "cdp/common/rfc3339.h"

namespace cdp::core::internal {
namespace {

// The names of values 0..N-1; the strings are the descriptor's, which live as long as the program.
template <std::size_t N, typename NameFn>
std::array<std::string_view, N> NameTable(NameFn name) {
  std::array<std::string_view, N> names;
  for (std::size_t i = 0; i < N; ++i) names[i] = name(static_cast<int>(i));
  return names;
}

bool NeedsEscape(char c) { return static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\'; }

// Index of the first byte of `text` at or after `from` that needs escaping, or text.size().
// Values rarely need any, so eight bytes are tested at a time with the "has a zero byte" and "has
// a byte less than n" tricks from Bit Twiddling Hacks, which are exact as yes/no answers.
std::size_t FindEscape(std::string_view text, std::size_t from) {
  constexpr std::uint64_t kOnes = 0x0101010101010101;
  constexpr std::uint64_t kHighs = 0x8080808080808080;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  std::size_t i = from;
  for (; i + sizeof(std::uint64_t) <= text.size(); i += sizeof(std::uint64_t)) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, sizeof(word));
    const std::uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighs;
    if ((below_space | has_zero(word ^ (kOnes * '"')) | has_zero(word ^ (kOnes * '\\'))) != 0) {
      break;
    }
  }
  while (i < text.size() && !NeedsEscape(text[i])) ++i;
  return i;
}

void AppendEscaped(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;
  for (std::size_t i = FindEscape(text, 0); i < text.size(); i = FindEscape(text, run)) {
    out.append(text, run, i - run);
    run = i + 1;
    const char c = text[i];
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        out.append("\\u00");
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xF]);
      }
    }
  }
  out.append(text, run, text.size() - run);
  out.push_back('"');
}

// `key` is the name with its punctuation, `,"name":`; the comma is left out for the first field.
void AppendField(std::string_view key, std::string_view value, bool& first, std::string& out) {
  if (value.empty()) return;
  out.append(first ? key.substr(1) : key);
  first = false;
  AppendEscaped(value, out);
}

// Room for the whole line unless values need escaping: names, quotes, enum names and the
// timestamp stay under 200 bytes, and a consent entry ("sms":false) rarely takes 32.
std::size_t SizeHint(const v1::SegmentChange& change) {
  return 200 + change.change_id().size() + change.customer_id().size() + change.segment().size() +
         change.dimension().size() + change.previous_tier().size() + change.next_tier().size() +
         change.cause_event_id().size() + 32 * change.consent().size();
}

}  // namespace

std::string_view DirectionName(v1::SegmentChange::Direction direction) {
  static const auto kNames = NameTable<v1::SegmentChange::Direction_ARRAYSIZE>(
      [](int value) -> const std::string& { return v1::SegmentChange::Direction_Name(value); });
  const auto index = static_cast<std::size_t>(direction);
  return index < kNames.size() ? kNames[index] : v1::SegmentChange::Direction_Name(direction);
}

std::string_view CauseName(v1::SegmentChange::Cause cause) {
  static const auto kNames = NameTable<v1::SegmentChange::Cause_ARRAYSIZE>(
      [](int value) -> const std::string& { return v1::SegmentChange::Cause_Name(value); });
  const auto index = static_cast<std::size_t>(cause);
  return index < kNames.size() ? kNames[index] : v1::SegmentChange::Cause_Name(cause);
}

void AppendChangeJson(const v1::SegmentChange& change, std::string& out) {
  out.reserve(out.size() + SizeHint(change));
  bool first = true;
  out.push_back('{');
  AppendField(R"(,"change_id":)", change.change_id(), first, out);
  AppendField(R"(,"customer_id":)", change.customer_id(), first, out);
  AppendField(R"(,"segment":)", change.segment(), first, out);
  AppendField(R"(,"dimension":)", change.dimension(), first, out);
  if (change.direction() != v1::SegmentChange::direction_unspecified) {
    AppendField(R"(,"direction":)", DirectionName(change.direction()), first, out);
  }
  AppendField(R"(,"previous_tier":)", change.previous_tier(), first, out);
  AppendField(R"(,"next_tier":)", change.next_tier(), first, out);
  if (change.has_occurred_at()) {
    out.append(first ? "\"occurred_at\":" : ",\"occurred_at\":");
    first = false;
    out.push_back('"');
    AppendRfc3339(change.occurred_at().seconds(), change.occurred_at().nanos(), out);
    out.push_back('"');
  }
  if (change.cause() != v1::SegmentChange::cause_unspecified) {
    AppendField(R"(,"cause":)", CauseName(change.cause()), first, out);
  }
  AppendField(R"(,"cause_event_id":)", change.cause_event_id(), first, out);
  if (!change.consent().empty()) {
    absl::InlinedVector<std::pair<std::string_view, bool>, 8> consent(change.consent().begin(),
                                                                      change.consent().end());
    std::sort(consent.begin(), consent.end());
    out.append(first ? "\"consent\":{" : ",\"consent\":{");
    for (std::size_t i = 0; i < consent.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendEscaped(consent[i].first, out);
      out.append(consent[i].second ? ":true" : ":false");
    }
    out.push_back('}');
  }
  out.push_back('}');
}

}  // namespace cdp::core::internal
