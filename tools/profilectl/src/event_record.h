#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cdp/common/strong_type.h"

namespace cdp::profilectl {

// One input-topic record as `fold` reads it: a line of its EVENTS file.
struct EventRecord {
  Partition partition;
  std::int64_t offset = 0;
  // The record value exactly as published; nullopt for a null value (a tombstone).
  std::optional<std::string> value;
  // The record's content-type header; empty when it has none.
  std::string content_type;
};

// Parses {"partition": P, "offset": O, "value": "..."} where the value is the record's text, or
// "value_b64" its bytes in base64 (binary protobuf is not valid JSON text), or "value": null.
// "content_type" is optional. The error says what is wrong with the line, not where it is.
[[nodiscard]] absl::StatusOr<EventRecord> ParseEventRecord(std::string_view line);

}  // namespace cdp::profilectl
