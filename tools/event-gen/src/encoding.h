#pragma once

#include <string>

#include "absl/status/status.h"
#include "cdp/v1/customer_event.pb.h"

namespace cdp::tools {

// Appends `event` as protobuf-JSON with proto field names (snake_case), lowercase enum names and
// map entries ordered by key: byte for byte what AppendEventJsonReference appends, several times
// faster, because the generator must outrun the pipeline it loads. Events it has no fast path for
// (non-ASCII text, unknown enum values) take the reference path.
[[nodiscard]] absl::Status AppendEventJson(const v1::CustomerEvent& event, std::string& out);

// google::protobuf::util's JSON printer (preserve_proto_field_names) over a deterministic binary
// serialisation, so that map entries come in key order: the definition AppendEventJson meets.
[[nodiscard]] absl::Status AppendEventJsonReference(const v1::CustomerEvent& event,
                                                    std::string& out);

// Appends the binary protobuf encoding, with map entries in key order.
void AppendEventProtobuf(const v1::CustomerEvent& event, std::string& out);

}  // namespace cdp::tools
