#pragma once

#include <string>

#include "cdp/v1/segment_change.pb.h"

namespace cdp::core::internal {

// Appends `change` as one line of protobuf-JSON (snake_case names, enum names, empty fields left
// out, consent keys sorted): what google::protobuf::util prints, several times faster, because a
// change is encoded on the hot path. Sorted keys also make a replayed change byte-identical.
void AppendChangeJson(const v1::SegmentChange& change, std::string& out);

}  // namespace cdp::core::internal
