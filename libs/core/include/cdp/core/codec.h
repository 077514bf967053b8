#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "cdp/core/reject_reason.h"
#include "cdp/v1/customer_event.pb.h"
#include "cdp/v1/segment_change.pb.h"

namespace cdp::core {

enum class WireFormat { kAuto, kJson, kProtobuf };

struct DecodeOptions {
  std::size_t max_record_bytes = 1 << 20;
};

// Decodes one input record. kAuto: JSON when the first non-space byte is '{', binary protobuf
// otherwise. Returns nullopt on success, with the event in `out`.
[[nodiscard]] std::optional<Rejection> DecodeEvent(std::string_view bytes, WireFormat format,
                                                   const DecodeOptions& options,
                                                   v1::CustomerEvent& out);

// The format a `content-type` header asks for; kAuto for none or an unknown one.
[[nodiscard]] WireFormat FormatFromContentType(std::string_view content_type);

enum class OutputFormat { kJson, kProtobuf };

// Serialises a segment change for the output topic (JSON: snake_case names, one line).
[[nodiscard]] std::string EncodeChange(const v1::SegmentChange& change, OutputFormat format);

// Serialises an event as protobuf-JSON (snake_case names), as upstream apps send it.
[[nodiscard]] std::string EventToJson(const v1::CustomerEvent& event);

}  // namespace cdp::core
