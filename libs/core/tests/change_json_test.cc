
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "cdp/core/codec.h"

namespace cdp::core {
namespace {

std::string Reference(const v1::SegmentChange& change) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(change, &json, options).ok());
  return json;
}

// EncodeChange has its own JSON writer for speed; protobuf's printer is the reference.
std::string Fast(const v1::SegmentChange& change) {
  return EncodeChange(change, OutputFormat::kJson);
}

v1::SegmentChange Change(std::int64_t seconds, std::int32_t nanos) {
  v1::SegmentChange change;
  change.set_change_id("0123abcd");
  change.set_customer_id("c-\"quoted\"\\back\nline\x01\xe5\xae\xa2");
  change.set_segment("loyal");
  change.set_dimension("lifecycle");
  change.set_direction(v1::SegmentChange::exited);
  change.set_next_tier("at_risk");
  change.mutable_occurred_at()->set_seconds(seconds);
  change.mutable_occurred_at()->set_nanos(nanos);
  change.set_cause(v1::SegmentChange::time);
  (*change.mutable_consent())["sms"] = false;
  return change;
}

TEST(EncodeChangeJson, MatchesProtobufsPrinterByteForByte) {
  for (const auto& [seconds, nanos] : std::initializer_list<std::pair<std::int64_t, std::int32_t>>{
           {0, 0},
           {1'780'000'000, 0},
           {1'780'000'000, 5'000'000},
           {1'780'000'000, 123'456'000},
           {1'780'000'000, 1},
           {951'782'400, 0},                   // 2000-02-29
           {-86'401, 0},                       // 1969-12-30T23:59:59Z
           {-62'135'596'800, 0},               // 0001-01-01
           {253'402'300'799, 999'999'999}}) {  // 9999-12-31T23:59:59.999999999Z
    const v1::SegmentChange change = Change(seconds, nanos);
    EXPECT_EQ(Fast(change), Reference(change)) << seconds << "." << nanos;
  }
}

TEST(EncodeChangeJson, LeavesEmptyFieldsOut) {
  v1::SegmentChange change;
  change.set_segment("vip");
  EXPECT_EQ(Fast(change), Reference(change));
  EXPECT_EQ(Fast(v1::SegmentChange()), "{}");
}

TEST(EncodeChangeJson, SortsConsentAndRoundTrips) {
  v1::SegmentChange change = Change(1'780'000'000, 0);
  (*change.mutable_consent())["wechat"] = true;
  (*change.mutable_consent())["email"] = true;
  const std::string json = Fast(change);
  EXPECT_NE(json.find(R"("consent":{"email":true,"sms":false,"wechat":true})"), std::string::npos)
      << json;
  v1::SegmentChange parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, change));
}

TEST(EncodeChangeJson, EscapesAtEveryOffsetOfLongValues) {
  // Long values are scanned for escapes several bytes at a time: try every position in and
  // around a block.
  for (const char special : {'"', '\\', '\n', '\t', '\x01', '\x1f'}) {
    for (std::size_t at = 0; at < 20; ++at) {
      std::string id(20, 'a');
      id[at] = special;
      v1::SegmentChange change = Change(1'780'000'000, 0);
      change.set_customer_id(id);
      change.set_cause_event_id(id + id);
      EXPECT_EQ(Fast(change), Reference(change)) << static_cast<int>(special) << " at " << at;
    }
  }
}

TEST(EncodeChangeJson, PassesOtherBytesThrough) {
  v1::SegmentChange change;
  change.set_segment("a b\x7f\xe5\xae\xa2 ~~~~~~~~~~~~\x7f");
  EXPECT_EQ(Fast(change), "{\"segment\":\"" + change.segment() + "\"}");
}

}  // namespace
}  // namespace cdp::core
