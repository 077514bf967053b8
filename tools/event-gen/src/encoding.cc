#include "encoding.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/common/rfc3339.h"
#include "cdp/proto/deterministic.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace cdp::tools {
namespace {

constexpr std::array<std::string_view, 10> kChannelNames = {"channel_unspecified",
                                                            "app",
                                                            "mini_program",
                                                            "wechat",
                                                            "wecom",
                                                            "web",
                                                            "store",
                                                            "email",
                                                            "sms",
                                                            "other"};

constexpr std::array<std::string_view, 17> kInteractionTypeNames = {"type_unspecified",
                                                                    "page_view",
                                                                    "product_view",
                                                                    "search",
                                                                    "add_to_cart",
                                                                    "share",
                                                                    "like",
                                                                    "comment",
                                                                    "review",
                                                                    "coupon_claim",
                                                                    "message_open",
                                                                    "message_click",
                                                                    "support_ticket",
                                                                    "survey_response",
                                                                    "referral",
                                                                    "community_post",
                                                                    "login"};

// The protobuf Timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr std::int64_t kMinTimestampSeconds = -62135596800;
constexpr std::int64_t kMaxTimestampSeconds = 253402300799;

// Writes JSON the way google::protobuf::util's printer does. Clears ok() when it meets something
// it does not reproduce exactly; the caller then takes the reference path.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  [[nodiscard]] bool ok() const { return ok_; }

  void BeginObject() {
    out_.push_back('{');
    first_ = true;
  }
  void EndObject() {
    out_.push_back('}');
    first_ = false;
  }
  void BeginArray() {
    out_.push_back('[');
    first_ = true;
  }
  void EndArray() {
    out_.push_back(']');
    first_ = false;
  }
  void Element() {
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  // A field name: plain ASCII, nothing to escape.
  void Key(std::string_view name) {
    Element();
    out_.push_back('"');
    out_.append(name);
    out_.append("\":");
  }
  // A map key: any text.
  void MapKey(std::string_view name) {
    Element();
    String(name);
    out_.push_back(':');
  }

  void String(std::string_view value) {
    out_.push_back('"');
    std::size_t plain_from = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const auto byte = static_cast<unsigned char>(value[i]);
      if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\' && byte != '<' &&
          byte != '>') {
        continue;
      }
      out_.append(value.substr(plain_from, i - plain_from));
      plain_from = i + 1;
      if (byte >= 0x80) {
        // Non-ASCII text has escaping rules of its own (some code points are escaped).
        ok_ = false;
      } else {
        Escape(byte);
      }
    }
    out_.append(value.substr(plain_from));
    out_.push_back('"');
  }

  // 64-bit integers are quoted in protobuf-JSON; 32-bit ones are not.
  void Int64(std::int64_t value) {
    out_.push_back('"');
    Number(value);
    out_.push_back('"');
  }
  void Int32(std::int32_t value) { Number(value); }
  void Bool(bool value) { out_.append(value ? "true" : "false"); }

  template <std::size_t N>
  void Enum(int value, const std::array<std::string_view, N>& names) {
    if (value < 0 || static_cast<std::size_t>(value) >= N) {
      ok_ = false;
      return;
    }
    String(names[static_cast<std::size_t>(value)]);
  }

  void Timestamp(const google::protobuf::Timestamp& timestamp) {
    const std::int64_t seconds = timestamp.seconds();
    const std::int32_t nanos = timestamp.nanos();
    if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds || nanos < 0 ||
        nanos > 999'999'999) {
      ok_ = false;
      return;
    }
    out_.push_back('"');
    AppendRfc3339(seconds, nanos, out_);
    out_.push_back('"');
  }

 private:
  void Escape(unsigned char byte) {
    switch (byte) {
      case '\b':
        out_.append("\\b");
        return;
      case '\t':
        out_.append("\\t");
        return;
      case '\n':
        out_.append("\\n");
        return;
      case '\f':
        out_.append("\\f");
        return;
      case '\r':
        out_.append("\\r");
        return;
      case '"':
        out_.append("\\\"");
        return;
      case '\\':
        out_.append("\\\\");
        return;
      default: {
        constexpr std::string_view kHex = "0123456789abcdef";
        out_.append("\\u00");
        out_.push_back(kHex[byte >> 4]);
        out_.push_back(kHex[byte & 0xf]);
      }
    }
  }

  void Number(std::int64_t value) {
    char digits[24];
    const auto result = std::to_chars(digits, digits + sizeof digits, value);
    out_.append(digits, result.ptr);
  }

  std::string& out_;
  bool first_ = true;
  bool ok_ = true;
};

void WritePurchase(const v1::Purchase& purchase, JsonWriter& json) {
  json.BeginObject();
  if (!purchase.order_id().empty()) {
    json.Key("order_id");
    json.String(purchase.order_id());
  }
  if (purchase.total_amount() != 0) {
    json.Key("total_amount");
    json.Int64(purchase.total_amount());
  }
  if (!purchase.currency().empty()) {
    json.Key("currency");
    json.String(purchase.currency());
  }
  if (purchase.discount_amount() != 0) {
    json.Key("discount_amount");
    json.Int64(purchase.discount_amount());
  }
  if (!purchase.coupon_code().empty()) {
    json.Key("coupon_code");
    json.String(purchase.coupon_code());
  }
  if (!purchase.store_id().empty()) {
    json.Key("store_id");
    json.String(purchase.store_id());
  }
  if (!purchase.items().empty()) {
    json.Key("items");
    json.BeginArray();
    for (const v1::Purchase::Item& item : purchase.items()) {
      json.Element();
      json.BeginObject();
      if (!item.sku().empty()) {
        json.Key("sku");
        json.String(item.sku());
      }
      if (!item.category().empty()) {
        json.Key("category");
        json.String(item.category());
      }
      if (item.quantity() != 0) {
        json.Key("quantity");
        json.Int64(item.quantity());
      }
      if (item.unit_price() != 0) {
        json.Key("unit_price");
        json.Int64(item.unit_price());
      }
      json.EndObject();
    }
    json.EndArray();
  }
  json.EndObject();
}

void WriteRefund(const v1::Refund& refund, JsonWriter& json) {
  json.BeginObject();
  if (!refund.order_id().empty()) {
    json.Key("order_id");
    json.String(refund.order_id());
  }
  if (refund.amount() != 0) {
    json.Key("amount");
    json.Int64(refund.amount());
  }
  if (!refund.currency().empty()) {
    json.Key("currency");
    json.String(refund.currency());
  }
  json.EndObject();
}

void WriteInteraction(const v1::Interaction& interaction, JsonWriter& json) {
  json.BeginObject();
  if (interaction.type() != v1::Interaction::type_unspecified) {
    json.Key("type");
    json.Enum(interaction.type(), kInteractionTypeNames);
  }
  if (!interaction.target_id().empty()) {
    json.Key("target_id");
    json.String(interaction.target_id());
  }
  if (!interaction.category().empty()) {
    json.Key("category");
    json.String(interaction.category());
  }
  if (interaction.has_rating()) {
    json.Key("rating");
    json.Int32(interaction.rating());
  }
  if (interaction.has_score()) {
    json.Key("score");
    json.Int32(interaction.score());
  }
  json.EndObject();
}

void WriteStrings(std::string_view key,
                  const google::protobuf::RepeatedPtrField<std::string>& values, JsonWriter& json) {
  if (values.empty()) return;
  json.Key(key);
  json.BeginArray();
  for (const std::string& value : values) {
    json.Element();
    json.String(value);
  }
  json.EndArray();
}

void WriteProfileUpdate(const v1::ProfileUpdate& update, JsonWriter& json) {
  json.BeginObject();
  // Explicit presence: a field set to "" is written, it clears the profile's value.
  const auto optional = [&](std::string_view key, bool present, const std::string& value) {
    if (!present) return;
    json.Key(key);
    json.String(value);
  };
  optional("birth_date", update.has_birth_date(), update.birth_date());
  optional("gender", update.has_gender(), update.gender());
  optional("region", update.has_region(), update.region());
  optional("city", update.has_city(), update.city());
  optional("income_band", update.has_income_band(), update.income_band());
  optional("membership_level", update.has_membership_level(), update.membership_level());
  if (!update.attributes().empty()) {
    std::vector<const google::protobuf::Map<std::string, std::string>::value_type*> entries;
    entries.reserve(update.attributes().size());
    for (const auto& entry : update.attributes()) entries.push_back(&entry);
    std::sort(entries.begin(), entries.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    json.Key("attributes");
    json.BeginObject();
    for (const auto* entry : entries) {
      json.MapKey(entry->first);
      json.String(entry->second);
    }
    json.EndObject();
  }
  WriteStrings("add_tags", update.add_tags(), json);
  WriteStrings("remove_tags", update.remove_tags(), json);
  json.EndObject();
}

void WriteConsent(const v1::Consent& consent, JsonWriter& json) {
  json.BeginObject();
  if (consent.channel() != v1::CustomerEvent::channel_unspecified) {
    json.Key("channel");
    json.Enum(consent.channel(), kChannelNames);
  }
  if (consent.granted()) {
    json.Key("granted");
    json.Bool(true);
  }
  json.EndObject();
}

}  // namespace

absl::Status AppendEventJson(const v1::CustomerEvent& event, std::string& out) {
  const std::size_t original_size = out.size();
  JsonWriter json(out);
  json.BeginObject();
  if (!event.event_id().empty()) {
    json.Key("event_id");
    json.String(event.event_id());
  }
  if (!event.customer_id().empty()) {
    json.Key("customer_id");
    json.String(event.customer_id());
  }
  if (event.has_occurred_at()) {
    json.Key("occurred_at");
    json.Timestamp(event.occurred_at());
  }
  if (event.channel() != v1::CustomerEvent::channel_unspecified) {
    json.Key("channel");
    json.Enum(event.channel(), kChannelNames);
  }
  switch (event.payload_case()) {
    case v1::CustomerEvent::kPurchase:
      json.Key("purchase");
      WritePurchase(event.purchase(), json);
      break;
    case v1::CustomerEvent::kRefund:
      json.Key("refund");
      WriteRefund(event.refund(), json);
      break;
    case v1::CustomerEvent::kInteraction:
      json.Key("interaction");
      WriteInteraction(event.interaction(), json);
      break;
    case v1::CustomerEvent::kProfileUpdate:
      json.Key("profile_update");
      WriteProfileUpdate(event.profile_update(), json);
      break;
    case v1::CustomerEvent::kConsent:
      json.Key("consent");
      WriteConsent(event.consent(), json);
      break;
    case v1::CustomerEvent::kErasure:
      json.Key("erasure");
      json.BeginObject();
      if (!event.erasure().reason().empty()) {
        json.Key("reason");
        json.String(event.erasure().reason());
      }
      json.EndObject();
      break;
    case v1::CustomerEvent::PAYLOAD_NOT_SET:
      break;
  }
  json.EndObject();
  if (json.ok()) return absl::OkStatus();
  out.resize(original_size);
  return AppendEventJsonReference(event, out);
}

absl::Status AppendEventJsonReference(const v1::CustomerEvent& event, std::string& out) {
  static constexpr char kUrlPrefix[] = "type.googleapis.com";
  // Built once and kept for the life of the process, like protobuf's own generated resolver.
  static google::protobuf::util::TypeResolver* const resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          kUrlPrefix, google::protobuf::DescriptorPool::generated_pool());
  std::string binary;
  AppendEventProtobuf(event, binary);
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  const std::size_t original_size = out.size();
  const auto status = google::protobuf::util::BinaryToJsonString(
      resolver, absl::StrCat(kUrlPrefix, "/", event.GetDescriptor()->full_name()), binary, &out,
      options);
  if (!status.ok()) {
    out.resize(original_size);
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write event '", event.event_id(), "' as JSON: ", status.ToString()));
  }
  return absl::OkStatus();
}

void AppendEventProtobuf(const v1::CustomerEvent& event, std::string& out) {
  // Cannot fail: proto3 messages have no required fields.
  static_cast<void>(proto::AppendDeterministic(event, out));
}

}  // namespace cdp::tools
