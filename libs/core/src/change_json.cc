#include "change_json.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "cdp/common/rfc3339.h"

namespace cdp::core::internal {
namespace {

void AppendEscaped(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
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
      default:
        if (byte < 0x20) {
          out.append("\\u00");
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void AppendField(std::string_view name, std::string_view value, bool& first, std::string& out) {
  if (value.empty()) return;
  out.append(first ? "\"" : ",\"");
  first = false;
  out.append(name);
  out.append("\":");
  AppendEscaped(value, out);
}

}  // namespace

void AppendChangeJson(const v1::SegmentChange& change, std::string& out) {
  bool first = true;
  out.push_back('{');
  AppendField("change_id", change.change_id(), first, out);
  AppendField("customer_id", change.customer_id(), first, out);
  AppendField("segment", change.segment(), first, out);
  AppendField("dimension", change.dimension(), first, out);
  if (change.direction() != v1::SegmentChange::direction_unspecified) {
    AppendField("direction", v1::SegmentChange::Direction_Name(change.direction()), first, out);
  }
  AppendField("previous_tier", change.previous_tier(), first, out);
  AppendField("next_tier", change.next_tier(), first, out);
  if (change.has_occurred_at()) {
    out.append(first ? "\"occurred_at\":" : ",\"occurred_at\":");
    first = false;
    out.push_back('"');
    AppendRfc3339(change.occurred_at().seconds(), change.occurred_at().nanos(), out);
    out.push_back('"');
  }
  if (change.cause() != v1::SegmentChange::cause_unspecified) {
    AppendField("cause", v1::SegmentChange::Cause_Name(change.cause()), first, out);
  }
  AppendField("cause_event_id", change.cause_event_id(), first, out);
  if (!change.consent().empty()) {
    std::vector<std::pair<std::string_view, bool>> consent(change.consent().begin(),
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
