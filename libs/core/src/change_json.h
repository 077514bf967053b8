#pragma once

#include <string>
#include <string_view>

#include "cdp/v1/segment_change.pb.h"

namespace cdp::core::internal {

// Appends `change` as one line of protobuf-JSON (snake_case names, enum names, empty fields left
// out, consent keys sorted): what google::protobuf::util prints, several times faster, because a
// change is encoded on the hot path. Sorted keys also make a replayed change byte-identical.
void AppendChangeJson(const v1::SegmentChange& change, std::string& out);

// Direction_Name and Cause_Name (the names change ids and the JSON carry), read from the
// descriptor once instead of looked up in it on every call.
[[nodiscard]] std::string_view DirectionName(v1::SegmentChange::Direction direction);
[[nodiscard]] std::string_view CauseName(v1::SegmentChange::Cause cause);

}  // namespace cdp::core::internal
