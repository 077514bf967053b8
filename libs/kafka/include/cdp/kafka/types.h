#pragma once

#include <compare>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdp/common/strong_type.h"

namespace cdp::kafka {

// librdkafka configuration properties (CONFIGURATION.md), applied in order after this library's
// defaults, so any property can be set or overridden: security.protocol, sasl.*, ssl.*, tuning.
using Properties = std::vector<std::pair<std::string, std::string>>;

struct TopicPartition {
  std::string topic;
  Partition partition;

  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
  friend bool operator==(const TopicPartition&, const TopicPartition&) = default;
};

// "topic[partition]", the form used in every message of this library.
[[nodiscard]] std::string ToString(const TopicPartition& tp);

// A record header. Kafka allows a header name to repeat; readers take the last one.
struct Header {
  std::string_view name;
  std::string_view value;

  friend bool operator==(const Header&, const Header&) = default;
};

}  // namespace cdp::kafka
