#include "time_util.h"

namespace cdp::core::internal {

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp ts;
  // ToUnixSeconds rounds towards the infinite past, so the remainder is never negative.
  const std::int64_t seconds = absl::ToUnixSeconds(time);
  ts.set_seconds(seconds);
  ts.set_nanos(
      static_cast<std::int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return ts;
}

std::optional<absl::CivilDay> ParseIsoDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int value = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const auto year = number(0, 4);
  const auto month = number(5, 2);
  const auto day = number(8, 2);
  if (!year || !month || !day) return std::nullopt;
  const absl::CivilDay date(*year, *month, *day);
  // CivilDay normalises out-of-range parts (02-30 becomes 03-02); a real date survives unchanged.
  if (date.year() != *year || date.month() != *month || date.day() != *day) return std::nullopt;
  return date;
}

}  // namespace cdp::core::internal
