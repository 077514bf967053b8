#include "event_record.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"

namespace cdp::profilectl {
namespace {

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

absl::StatusOr<std::int64_t> NonNegative(const nlohmann::json& object, const char* name,
                                         std::int64_t max) {
  const auto it = object.find(name);
  if (it == object.end()) return Invalid(std::string("\"") + name + "\" is missing");
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > max) {
    return Invalid(std::string("\"") + name + "\" must be a whole number from 0 to " +
                   std::to_string(max) + ", got " + it->dump());
  }
  return it->get<std::int64_t>();
}

}  // namespace

absl::StatusOr<EventRecord> ParseEventRecord(std::string_view line) {
  const nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return Invalid(
        "not a JSON object such as {\"partition\": 0, \"offset\": 0, \"value\": \"...\"}");
  }
  EventRecord record;
  auto partition = NonNegative(object, "partition", std::numeric_limits<std::int32_t>::max());
  if (!partition.ok()) return partition.status();
  record.partition = Partition(static_cast<std::int32_t>(*partition));
  auto offset = NonNegative(object, "offset", std::numeric_limits<std::int64_t>::max());
  if (!offset.ok()) return offset.status();
  record.offset = *offset;

  const auto text = object.find("value");
  const auto base64 = object.find("value_b64");
  if ((text == object.end()) == (base64 == object.end())) {
    return Invalid("give exactly one of \"value\" (text or null) and \"value_b64\" (base64)");
  }
  if (text != object.end()) {
    if (text->is_string()) {
      record.value = text->get<std::string>();
    } else if (!text->is_null()) {
      return Invalid("\"value\" must be a string or null, got " + text->dump());
    }
  } else {
    std::string bytes;
    if (!base64->is_string() || !absl::Base64Unescape(base64->get<std::string>(), &bytes)) {
      return Invalid("\"value_b64\" must be a base64 string");
    }
    record.value = std::move(bytes);
  }
  if (const auto content_type = object.find("content_type"); content_type != object.end()) {
    if (!content_type->is_string()) {
      return Invalid("\"content_type\" must be a string, got " + content_type->dump());
    }
    record.content_type = content_type->get<std::string>();
  }
  return record;
}

}  // namespace cdp::profilectl
