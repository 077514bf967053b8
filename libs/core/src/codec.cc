#include "cdp/core/codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdp/internal/event_ids.pb.h"
#include "cdp/proto/deterministic.h"
#include "change_json.h"
#include "text_util.h"

namespace cdp::core {
namespace {

namespace pb = google::protobuf;

using internal::Quote;
using internal::Sanitize;

Rejection Undecodable(std::string detail) {
  return Rejection{RejectReason::kUndecodable, std::move(detail)};
}

std::optional<std::string> FindUnknownEnumName(const pb::Struct& object, const pb::Descriptor& type,
                                               const std::string& prefix);

// A field by the name JSON may use for it: the proto name or the lowerCamelCase JSON name.
const pb::FieldDescriptor* FindField(const pb::Descriptor& type, const std::string& key) {
  if (const pb::FieldDescriptor* field = type.FindFieldByName(key)) return field;
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == key) return type.field(i);
  }
  return nullptr;
}

// An enum name this version does not know, in `value` read as `field`; nullopt if none.
std::optional<std::string> CheckValue(const pb::FieldDescriptor& field, const pb::Value& value,
                                      const std::string& path) {
  if (const pb::EnumDescriptor* enum_type = field.enum_type(); enum_type != nullptr) {
    if (!value.has_string_value() || enum_type->FindValueByName(value.string_value()) != nullptr) {
      return std::nullopt;
    }
    std::vector<std::string> known;
    for (int i = 0; i < enum_type->value_count(); ++i) known.push_back(enum_type->value(i)->name());
    return absl::StrCat(
        path, " is ", Quote(value.string_value()),
        ", which this version does not know; known values: ", absl::StrJoin(known, ", "));
  }
  if (field.message_type() != nullptr && value.has_struct_value()) {
    return FindUnknownEnumName(value.struct_value(), *field.message_type(), path + ".");
  }
  return std::nullopt;
}

std::optional<std::string> FindUnknownEnumName(const pb::Struct& object, const pb::Descriptor& type,
                                               const std::string& prefix) {
  // Sorted keys, so the same input always names the same offender.
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.fields()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    const pb::FieldDescriptor* field = FindField(type, key);
    if (field == nullptr) continue;
    const pb::Value& value = object.fields().at(key);
    const std::string path = prefix + field->name();
    std::optional<std::string> found;
    if (field->is_map() && value.has_struct_value()) {
      const pb::FieldDescriptor& map_value = *field->message_type()->map_value();
      for (const auto& [map_key, entry] : value.struct_value().fields()) {
        found = CheckValue(map_value, entry, absl::StrCat(path, "[", Quote(map_key), "]"));
        if (found) break;
      }
    } else if (field->is_repeated() && value.has_list_value()) {
      for (int i = 0; i < value.list_value().values_size() && !found; ++i) {
        found = CheckValue(*field, value.list_value().values(i), absl::StrCat(path, "[", i, "]"));
      }
    } else {
      found = CheckValue(*field, value, path);
    }
    if (found) return found;
  }
  return std::nullopt;
}

std::optional<Rejection> DecodeJson(std::string_view bytes, v1::CustomerEvent& out) {
  pb::util::JsonParseOptions strict;
  strict.ignore_unknown_fields = false;
  if (pb::util::JsonStringToMessage(bytes, &out, strict).ok()) return std::nullopt;

  // Unknown fields are ignored so that a newer producer does not break an older consumer. The
  // lenient parse also drops unknown enum names silently, which would turn "channel": "tiktok"
  // into an unspecified channel: those are looked for separately and rejected.
  out.Clear();
  pb::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  if (const auto status = pb::util::JsonStringToMessage(bytes, &out, lenient); !status.ok()) {
    out.Clear();
    return Undecodable(
        absl::StrCat("not valid protobuf-JSON for cdp.v1.CustomerEvent: ",
                     Sanitize(std::string_view(status.message().data(), status.message().size()))));
  }
  pb::Struct tree;
  if (pb::util::JsonStringToMessage(bytes, &tree).ok()) {
    if (auto unknown = FindUnknownEnumName(tree, *v1::CustomerEvent::descriptor(), "")) {
      out.Clear();
      return Rejection{RejectReason::kUnknownEnum, *std::move(unknown)};
    }
  }
  return std::nullopt;
}

// Reads one base-128 varint at `pos`; nullopt when truncated or longer than 64 bits.
std::optional<std::uint64_t> ReadVarint(std::string_view bytes, std::size_t& pos) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64 && pos < bytes.size(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(bytes[pos++]);
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

// The Confluent Schema Registry framing: a zero magic byte, a 4-byte schema id, then the path of
// message indexes to the message type in its file (a count, then the indexes); the common path
// [0] may be written as a lone 0. Writers disagree on whether the count is zigzag-encoded, so
// both spellings of a count of one are accepted. A bare CustomerEvent never starts with 0 (field
// number 0 is invalid), so the framing is recognised without configuration. Returns the offset of
// the protobuf payload.
std::optional<std::size_t> SkipSchemaRegistryHeader(std::string_view bytes, std::string& problem) {
  constexpr std::size_t kHeaderBytes = 5;
  if (bytes.size() < kHeaderBytes) {
    problem = "starts with the schema-registry magic byte 0 but is shorter than its 5-byte header";
    return std::nullopt;
  }
  std::size_t pos = kHeaderBytes;
  const auto count = ReadVarint(bytes, pos);
  if (!count) {
    problem = "schema-registry message-index list is truncated";
    return std::nullopt;
  }
  if (*count == 0) return pos;
  const bool count_is_one = *count == 1 || *count == 2;
  const auto index = count_is_one ? ReadVarint(bytes, pos) : std::nullopt;
  if (!index || *index != 0) {
    problem =
        "schema-registry framing names a message other than cdp.v1.CustomerEvent (the first "
        "message of its file)";
    return std::nullopt;
  }
  return pos;
}

// Of an event protobuf refused: the name of an id that is not UTF-8, if that is why.
std::optional<std::string_view> IdNotUtf8(std::string_view payload) {
  cdp::internal::CustomerEventIds ids;
  if (!ids.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return std::nullopt;
  const std::pair<std::string_view, const std::string*> named[] = {
      {"event_id", &ids.event_id()},
      {"customer_id", &ids.customer_id()},
      {"purchase.order_id", &ids.purchase().order_id()},
      {"refund.order_id", &ids.refund().order_id()}};
  for (const auto& [name, value] : named) {
    if (!internal::IsValidUtf8(*value)) return name;
  }
  return std::nullopt;
}

std::optional<Rejection> DecodeBinary(std::string_view bytes, v1::CustomerEvent& out) {
  std::size_t offset = 0;
  if (bytes.front() == '\0') {
    std::string problem;
    const auto payload = SkipSchemaRegistryHeader(bytes, problem);
    if (!payload) return Undecodable(std::move(problem));
    offset = *payload;
  }
  const std::string_view payload = bytes.substr(offset);
  if (!out.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    out.Clear();
    if (auto id = IdNotUtf8(payload)) {
      return Rejection{RejectReason::kInvalidId,
                       absl::StrCat(internal::ToAbsl(*id), " is not valid UTF-8")};
    }
    return Undecodable(absl::StrCat(
        "not valid binary protobuf for cdp.v1.CustomerEvent (", payload.size(),
        " bytes; its strings must be UTF-8); a JSON record must start with '{' or carry "
        "content-type application/json"));
  }
  return std::nullopt;
}

std::string ToJson(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  // Printing fails only for a timestamp outside years 0001-9999, which validation excludes.
  if (!pb::util::MessageToJsonString(message, &json, options).ok()) json.clear();
  return json;
}

}  // namespace

std::optional<Rejection> DecodeEvent(std::string_view bytes, WireFormat format,
                                     const DecodeOptions& options, v1::CustomerEvent& out) {
  out.Clear();
  if (bytes.empty()) return Rejection{RejectReason::kEmptyValue, "record value is empty"};
  if (bytes.size() > options.max_record_bytes) {
    return Rejection{RejectReason::kOversize,
                     absl::StrCat("record is ", bytes.size(), " bytes; the limit is ",
                                  options.max_record_bytes)};
  }
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Undecodable("record is larger than protobuf can parse");
  }
  bool json = format == WireFormat::kJson;
  if (format == WireFormat::kAuto) {
    const auto first = std::find_if_not(bytes.begin(), bytes.end(), [](char c) {
      return absl::ascii_isspace(static_cast<unsigned char>(c));
    });
    json = first != bytes.end() && *first == '{';
  }
  return json ? DecodeJson(bytes, out) : DecodeBinary(bytes, out);
}

WireFormat FormatFromContentType(std::string_view content_type) {
  const std::string media_type = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(internal::ToAbsl(content_type.substr(0, content_type.find(';')))));
  if (media_type == "application/json") return WireFormat::kJson;
  if (media_type == "application/x-protobuf" || media_type == "application/protobuf") {
    return WireFormat::kProtobuf;
  }
  return WireFormat::kAuto;
}

std::string EncodeChange(const v1::SegmentChange& change, OutputFormat format) {
  std::string out;
  if (format == OutputFormat::kProtobuf) {
    // Deterministic, so that a change replayed after a crash is byte-identical.
    static_cast<void>(proto::AppendDeterministic(change, out));
    return out;
  }
  internal::AppendChangeJson(change, out);
  return out;
}

std::string EventToJson(const v1::CustomerEvent& event) { return ToJson(event); }

}  // namespace cdp::core
