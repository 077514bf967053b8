#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>

#include <string>

namespace cdp::proto {

// Appends `message` serialised with its map entries in key order. Maps otherwise iterate in a
// per-instance order, so equal messages could give different bytes: what is compared, hashed or
// replayed byte for byte goes through here. False only for a message missing required fields,
// which proto3 messages cannot be.
[[nodiscard]] inline bool AppendDeterministic(const google::protobuf::Message& message,
                                              std::string& out) {
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  return message.SerializeToCodedStream(&coded);
}

}  // namespace cdp::proto
