#include "cdp/core/codec.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "test_support.h"

namespace cdp::core {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::optional<Rejection> Decode(std::string_view bytes, v1::CustomerEvent& out,
                                WireFormat format = WireFormat::kAuto) {
  return DecodeEvent(bytes, format, DecodeOptions{}, out);
}

std::optional<RejectReason> ReasonOf(std::string_view bytes,
                                     WireFormat format = WireFormat::kAuto) {
  v1::CustomerEvent event;
  const auto rejection = Decode(bytes, event, format);
  return rejection ? std::optional(rejection->reason) : std::nullopt;
}

constexpr std::string_view kFullJson = R"({
  "event_id": "e1",
  "customer_id": "c1",
  "occurred_at": "2024-03-01T10:00:00Z",
  "channel": "mini_program",
  "purchase": {
    "order_id": "o1",
    "total_amount": 12900,
    "currency": "CNY",
    "discount_amount": "1000",
    "coupon_code": "SPRING",
    "items": [{"sku": "s1", "category": "toys", "quantity": 2, "unit_price": 6950}]
  }
})";

TEST(ReasonName, EveryReasonHasItsStableSnakeCaseName) {
  const std::vector<std::string_view> expected = {"empty_value",         "oversize",
                                                  "undecodable",         "missing_event_id",
                                                  "missing_customer_id", "missing_occurred_at",
                                                  "invalid_id",          "missing_payload",
                                                  "unknown_enum",        "negative_amount",
                                                  "amount_overflow",     "unsupported_currency",
                                                  "inconsistent_total",  "invalid_date",
                                                  "invalid_rating",      "timestamp_out_of_range",
                                                  "misrouted",           "erased"};
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(RejectReason::kCount));
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(ReasonName(static_cast<RejectReason>(i)), expected[i]);
  }
}

TEST(DecodeEvent, RejectsAnEmptyRecord) {
  EXPECT_EQ(ReasonOf(""), RejectReason::kEmptyValue);
  EXPECT_EQ(ReasonOf("", WireFormat::kJson), RejectReason::kEmptyValue);
}

TEST(DecodeEvent, RejectsARecordOverTheLimitAndAcceptsOneAtIt) {
  v1::CustomerEvent event = testing::Event(kFullJson);
  const std::string bytes = event.SerializeAsString();
  v1::CustomerEvent out;
  const auto over =
      DecodeEvent(bytes, WireFormat::kAuto, {.max_record_bytes = bytes.size() - 1}, out);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->reason, RejectReason::kOversize);
  EXPECT_THAT(over->detail, HasSubstr(std::to_string(bytes.size() - 1)));
  EXPECT_FALSE(DecodeEvent(bytes, WireFormat::kAuto, {.max_record_bytes = bytes.size()}, out));
}

TEST(DecodeEvent, ReadsProtobufJsonWithLowercaseEnumNames) {
  v1::CustomerEvent event;
  ASSERT_FALSE(Decode(kFullJson, event));
  EXPECT_EQ(event.event_id(), "e1");
  EXPECT_EQ(event.channel(), v1::CustomerEvent::mini_program);
  EXPECT_EQ(event.occurred_at().seconds(),
            absl::ToUnixSeconds(testing::At("2024-03-01T10:00:00Z")));
  EXPECT_EQ(event.purchase().total_amount(), 12900);
  EXPECT_EQ(event.purchase().discount_amount(), 1000);
  ASSERT_EQ(event.purchase().items_size(), 1);
  EXPECT_EQ(event.purchase().items(0).unit_price(), 6950);

  ASSERT_FALSE(Decode(
      R"({"event_id":"e2","customer_id":"c1","interaction":{"type":"survey_response","score":9}})",
      event));
  EXPECT_EQ(event.interaction().type(), v1::Interaction::survey_response);
  EXPECT_EQ(event.interaction().score(), 9);
  ASSERT_FALSE(Decode(R"({"event_id":"e3","consent":{"channel":"sms","granted":true}})", event));
  EXPECT_EQ(event.consent().channel(), v1::CustomerEvent::sms);
}

TEST(DecodeEvent, RecognisesJsonAfterLeadingWhitespace) {
  v1::CustomerEvent event;
  EXPECT_FALSE(Decode(" \r\n\t{\"event_id\": \"e1\"}", event));
  EXPECT_EQ(event.event_id(), "e1");
}

TEST(DecodeEvent, IgnoresUnknownJsonFieldsSoNewerProducersStillWork) {
  v1::CustomerEvent event;
  ASSERT_FALSE(Decode(
      R"({"event_id":"e1","schema_version":3,"purchase":{"total_amount":5,"loyalty":{"points":[1,2]}}})",
      event));
  EXPECT_EQ(event.event_id(), "e1");
  EXPECT_EQ(event.purchase().total_amount(), 5);
}

TEST(DecodeEvent, AcceptsLowerCamelCaseJsonNames) {
  v1::CustomerEvent event;
  ASSERT_FALSE(Decode(R"({"eventId":"e1","customerId":"c1","purchase":{"totalAmount":5}})", event));
  EXPECT_EQ(event.customer_id(), "c1");
  EXPECT_EQ(event.purchase().total_amount(), 5);
}

TEST(DecodeEvent, RejectsAnUnknownEnumNameInsteadOfDroppingIt) {
  struct Case {
    std::string_view json;
    std::string_view path;
    std::string_view value;
  };
  const Case cases[] = {
      {R"({"event_id":"e1","channel":"tiktok"})", "channel", "tiktok"},
      {R"({"event_id":"e1","channel":"APP"})", "channel", "APP"},
      {R"({"event_id":"e1","interaction":{"type":"teleport"}})", "interaction.type", "teleport"},
      {R"({"event_id":"e1","consent":{"channel":"pigeon","granted":true}})", "consent.channel",
       "pigeon"},
      // The strict parse stops at the unknown field first; the enum must still be found.
      {R"({"event_id":"e1","new_field":1,"interaction":{"type":"teleport"}})", "interaction.type",
       "teleport"},
  };
  for (const Case& c : cases) {
    v1::CustomerEvent event;
    const auto rejection = Decode(c.json, event);
    ASSERT_TRUE(rejection) << c.json;
    EXPECT_EQ(rejection->reason, RejectReason::kUnknownEnum) << c.json;
    EXPECT_THAT(rejection->detail, AllOf(HasSubstr(std::string(c.path) + " is \""),
                                         HasSubstr(c.value), HasSubstr("known values")))
        << c.json;
    EXPECT_EQ(event.ByteSizeLong(), 0u) << "the output is cleared on rejection";
  }
}

TEST(DecodeEvent, KeepsUnknownEnumNumbersForValidationToReject) {
  v1::CustomerEvent event;
  ASSERT_FALSE(Decode(R"({"event_id":"e1","channel":42})", event));
  EXPECT_EQ(static_cast<int>(event.channel()), 42);

  v1::CustomerEvent binary;
  binary.set_event_id("e1");
  binary.mutable_interaction()->set_type(static_cast<v1::Interaction::Type>(99));
  ASSERT_FALSE(Decode(binary.SerializeAsString(), event));
  EXPECT_EQ(static_cast<int>(event.interaction().type()), 99);
}

TEST(DecodeEvent, RejectsMalformedJsonAsUndecodable) {
  for (std::string_view json :
       {std::string_view(R"({"event_id": "e1")"), std::string_view(R"({"event_id": 5.5})"),
        std::string_view(R"({"purchase":{"total_amount":1.5}})"),
        std::string_view(R"({"purchase":{},"refund":{}})"),
        std::string_view(R"({"occurred_at":"yesterday"})")}) {
    v1::CustomerEvent event;
    const auto rejection = Decode(json, event);
    ASSERT_TRUE(rejection) << json;
    EXPECT_EQ(rejection->reason, RejectReason::kUndecodable) << json;
    EXPECT_THAT(rejection->detail, HasSubstr("protobuf-JSON")) << json;
  }
}

TEST(DecodeEvent, KeepsInvalidUtf8OutOfTheDetail) {
  v1::CustomerEvent event;
  const auto rejection = Decode("{\"event_id\":\"a\xff\xfe\"}\n\x01", event);
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->reason, RejectReason::kUndecodable);
  for (char c : rejection->detail) {
    EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F)
        << "byte " << static_cast<int>(static_cast<unsigned char>(c)) << " in "
        << rejection->detail;
  }
}

TEST(DecodeEvent, ReadsBinaryProtobuf) {
  const v1::CustomerEvent original = testing::Event(kFullJson);
  v1::CustomerEvent event;
  ASSERT_FALSE(Decode(original.SerializeAsString(), event));
  EXPECT_TRUE(MessageDifferencer::Equals(event, original));
  ASSERT_FALSE(Decode(original.SerializeAsString(), event, WireFormat::kProtobuf));
  EXPECT_TRUE(MessageDifferencer::Equals(event, original));
}

TEST(DecodeEvent, RejectsGarbageAsUndecodable) {
  EXPECT_EQ(ReasonOf("\xff\xff\xff\xff"), RejectReason::kUndecodable);
  // Field 1, length 5, but only two bytes follow.
  EXPECT_EQ(ReasonOf("\x0a\x05"
                     "ab"),
            RejectReason::kUndecodable);
  // Labelled JSON, but not JSON; and JSON forced through the binary parser.
  EXPECT_EQ(ReasonOf(testing::Event(kFullJson).SerializeAsString(), WireFormat::kJson),
            RejectReason::kUndecodable);
  EXPECT_EQ(ReasonOf(kFullJson, WireFormat::kProtobuf), RejectReason::kUndecodable);
}

// Protobuf refuses a string field that is not UTF-8 (and logs a line saying so, expected in the
// output); the decoder then tells an id from any other field.
TEST(DecodeEvent, RejectsBinaryIdsThatAreNotUtf8AsInvalidIds) {
  v1::CustomerEvent event = testing::Event(kFullJson);
  event.set_customer_id("c\xff");
  auto rejection = Decode(event.SerializeAsString(), event);
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->reason, RejectReason::kInvalidId);
  EXPECT_EQ(rejection->detail, "customer_id is not valid UTF-8");

  event = testing::Event(kFullJson);
  event.set_event_id("\xc0\x80");
  EXPECT_EQ(ReasonOf(event.SerializeAsString()), RejectReason::kInvalidId);
  event = testing::Event(kFullJson);
  event.mutable_purchase()->set_order_id("o\xed\xa0\x80");  // a UTF-16 surrogate
  rejection = Decode(event.SerializeAsString(), event);
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->detail, "purchase.order_id is not valid UTF-8");
  // Framed for the schema registry, the same.
  event = testing::Event(kFullJson);
  event.set_customer_id("c\xff");
  EXPECT_EQ(ReasonOf(std::string("\0\0\0\0\x07\0", 6) + event.SerializeAsString()),
            RejectReason::kInvalidId);
}

TEST(DecodeEvent, RejectsOtherBinaryStringsThatAreNotUtf8AsUndecodable) {
  v1::CustomerEvent event = testing::Event(kFullJson);
  event.mutable_purchase()->set_currency("C\xffY");
  const auto rejection = Decode(event.SerializeAsString(), event);
  ASSERT_TRUE(rejection);
  EXPECT_EQ(rejection->reason, RejectReason::kUndecodable);
  EXPECT_THAT(rejection->detail, HasSubstr("UTF-8"));
}

std::string Framed(std::string_view indexes, const v1::CustomerEvent& event) {
  return std::string("\0\0\0\0\x07", 5) + std::string(indexes) + event.SerializeAsString();
}

TEST(DecodeEvent, ReadsSchemaRegistryFramedProtobuf) {
  const v1::CustomerEvent original = testing::Event(kFullJson);
  // [0] written compactly, with a zigzag count and with a plain count.
  for (std::string_view indexes :
       {std::string_view("\0", 1), std::string_view("\x02\0", 2), std::string_view("\x01\0", 2)}) {
    v1::CustomerEvent event;
    ASSERT_FALSE(Decode(Framed(indexes, original), event));
    EXPECT_TRUE(MessageDifferencer::Equals(event, original));
  }
}

TEST(DecodeEvent, RejectsBrokenSchemaRegistryFraming) {
  const v1::CustomerEvent original = testing::Event(kFullJson);
  v1::CustomerEvent event;
  const auto short_header = Decode(std::string("\0\0\0", 3), event);
  ASSERT_TRUE(short_header);
  EXPECT_EQ(short_header->reason, RejectReason::kUndecodable);
  EXPECT_THAT(short_header->detail, HasSubstr("5-byte header"));

  const auto other_message = Decode(Framed(std::string_view("\x02\x02", 2), original), event);
  ASSERT_TRUE(other_message);
  EXPECT_EQ(other_message->reason, RejectReason::kUndecodable);
  EXPECT_THAT(other_message->detail, HasSubstr("other than cdp.v1.CustomerEvent"));

  EXPECT_EQ(ReasonOf(std::string("\0\0\0\0\x07\x80", 6)), RejectReason::kUndecodable);
}

TEST(FormatFromContentType, MapsMediaTypesIgnoringCaseAndParameters) {
  EXPECT_EQ(FormatFromContentType("application/json"), WireFormat::kJson);
  EXPECT_EQ(FormatFromContentType(" Application/JSON; charset=utf-8"), WireFormat::kJson);
  EXPECT_EQ(FormatFromContentType("application/x-protobuf"), WireFormat::kProtobuf);
  EXPECT_EQ(FormatFromContentType("application/protobuf"), WireFormat::kProtobuf);
  EXPECT_EQ(FormatFromContentType(""), WireFormat::kAuto);
  EXPECT_EQ(FormatFromContentType("text/plain"), WireFormat::kAuto);
}

v1::SegmentChange SampleChange() {
  v1::SegmentChange change;
  change.set_change_id("abc");
  change.set_customer_id("c1");
  change.set_segment("new");
  change.set_dimension("lifecycle");
  change.set_direction(v1::SegmentChange::entered);
  *change.mutable_occurred_at() = testing::Ts("2024-03-01T10:00:00Z");
  change.set_cause(v1::SegmentChange::event);
  change.set_cause_event_id("e1");
  (*change.mutable_consent())["sms"] = true;
  return change;
}

TEST(EncodeChange, WritesOneLineOfSnakeCaseJsonWithEnumNamesAndNoEmptyFields) {
  const std::string json = EncodeChange(SampleChange(), OutputFormat::kJson);
  EXPECT_EQ(json.find('\n'), std::string::npos) << json;
  EXPECT_THAT(json, AllOf(HasSubstr(R"("change_id":"abc")"), HasSubstr(R"("customer_id":"c1")"),
                          HasSubstr(R"("direction":"entered")"), HasSubstr(R"("cause":"event")"),
                          HasSubstr(R"("cause_event_id":"e1")"),
                          HasSubstr(R"("occurred_at":"2024-03-01T10:00:00Z")"),
                          HasSubstr(R"("consent":{"sms":true})")));
  EXPECT_THAT(json, AllOf(Not(HasSubstr("previous_tier")), Not(HasSubstr("next_tier"))));

  v1::SegmentChange parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, SampleChange()));
}

TEST(EncodeChange, WritesBinaryProtobuf) {
  v1::SegmentChange parsed;
  ASSERT_TRUE(parsed.ParseFromString(EncodeChange(SampleChange(), OutputFormat::kProtobuf)));
  EXPECT_TRUE(MessageDifferencer::Equals(parsed, SampleChange()));
}

TEST(EventToJson, RoundTripsThroughTheDecoder) {
  const v1::CustomerEvent original = testing::Event(kFullJson);
  const std::string json = EventToJson(original);
  EXPECT_THAT(json, AllOf(HasSubstr(R"("event_id":"e1")"), HasSubstr(R"("channel":"mini_program")"),
                          HasSubstr(R"("total_amount":"12900")")));
  v1::CustomerEvent event;
  ASSERT_FALSE(Decode(json, event));
  EXPECT_TRUE(MessageDifferencer::Equals(event, original));
}

}  // namespace
}  // namespace cdp::core
