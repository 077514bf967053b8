#include "change_json.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

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

void AppendDigits(std::int64_t value, int width, std::string& out) {
  std::array<char, 20> digits{};
  for (int i = width - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(digits.data(), static_cast<std::size_t>(width));
}

// RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as protobuf's JSON printer writes it.
// Days to civil date after Howard Hinnant's public-domain algorithm.
void AppendTimestamp(const google::protobuf::Timestamp& ts, std::string& out) {
  std::int64_t seconds = ts.seconds();
  std::int64_t days = seconds / 86400;
  std::int64_t second_of_day = seconds % 86400;
  if (second_of_day < 0) {
    second_of_day += 86400;
    --days;
  }
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const std::int64_t day_of_era = days - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t mp = (5 * day_of_year + 2) / 153;
  const std::int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  out.push_back('"');
  AppendDigits(year, 4, out);
  out.push_back('-');
  AppendDigits(month, 2, out);
  out.push_back('-');
  AppendDigits(day, 2, out);
  out.push_back('T');
  AppendDigits(second_of_day / 3600, 2, out);
  out.push_back(':');
  AppendDigits(second_of_day / 60 % 60, 2, out);
  out.push_back(':');
  AppendDigits(second_of_day % 60, 2, out);
  if (const std::int32_t nanos = ts.nanos(); nanos != 0) {
    out.push_back('.');
    if (nanos % 1'000'000 == 0) {
      AppendDigits(nanos / 1'000'000, 3, out);
    } else if (nanos % 1'000 == 0) {
      AppendDigits(nanos / 1'000, 6, out);
    } else {
      AppendDigits(nanos, 9, out);
    }
  }
  out.append("Z\"");
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
    AppendTimestamp(change.occurred_at(), out);
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
