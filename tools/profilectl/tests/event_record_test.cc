#include "event_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace cdp::profilectl {
namespace {

using ::testing::HasSubstr;

TEST(EventRecordTest, ReadsATextValue) {
  auto record = ParseEventRecord(R"({"partition": 2, "offset": 41, "value": "{\"a\": 1}"})");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->partition, Partition(2));
  EXPECT_EQ(record->offset, 41);
  EXPECT_EQ(record->value, R"({"a": 1})");
  EXPECT_EQ(record->content_type, "");
}

TEST(EventRecordTest, ReadsBase64BytesAndTheContentType) {
  // "\0\xff\n" in base64.
  auto record = ParseEventRecord(
      R"({"partition": 0, "offset": 0, "value_b64": "AP8K", "content_type": "application/x-protobuf"})");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->value, std::string("\0\xff\n", 3));
  EXPECT_EQ(record->content_type, "application/x-protobuf");
}

TEST(EventRecordTest, ANullValueIsATombstone) {
  auto record = ParseEventRecord(R"({"partition": 1, "offset": 5, "value": null})");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->value, std::nullopt);
}

TEST(EventRecordTest, SaysWhatIsWrong) {
  auto message = [](std::string_view line) {
    return std::string(ParseEventRecord(line).status().message());
  };
  EXPECT_THAT(message("not json"), HasSubstr("not a JSON object"));
  EXPECT_THAT(message("[1]"), HasSubstr("not a JSON object"));
  EXPECT_THAT(message(R"({"offset": 0, "value": ""})"), HasSubstr("\"partition\" is missing"));
  EXPECT_THAT(message(R"({"partition": -1, "offset": 0, "value": ""})"),
              HasSubstr("\"partition\" must be a whole number"));
  EXPECT_THAT(message(R"({"partition": 0, "offset": 1.5, "value": ""})"),
              HasSubstr("\"offset\" must be a whole number"));
  EXPECT_THAT(message(R"({"partition": 0, "offset": 0})"), HasSubstr("exactly one of"));
  EXPECT_THAT(message(R"({"partition": 0, "offset": 0, "value": "", "value_b64": ""})"),
              HasSubstr("exactly one of"));
  EXPECT_THAT(message(R"({"partition": 0, "offset": 0, "value": 7})"),
              HasSubstr("must be a string or null"));
  EXPECT_THAT(message(R"({"partition": 0, "offset": 0, "value_b64": "***"})"), HasSubstr("base64"));
  EXPECT_THAT(message(R"({"partition": 0, "offset": 0, "value": "", "content_type": 1})"),
              HasSubstr("\"content_type\" must be a string"));
}

}  // namespace
}  // namespace cdp::profilectl
