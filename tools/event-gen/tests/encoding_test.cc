#include "encoding.h"

#include <string>

#include "absl/time/time.h"
#include "generator.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace cdp::tools {
namespace {

std::string FastJson(const v1::CustomerEvent& event) {
  std::string out;
  EXPECT_TRUE(AppendEventJson(event, out).ok());
  return out;
}

std::string ReferenceJson(const v1::CustomerEvent& event) {
  std::string out;
  EXPECT_TRUE(AppendEventJsonReference(event, out).ok());
  return out;
}

TEST(EncodingTest, MatchesTheReferenceOnGeneratedTraffic) {
  absl::StatusOr<Generator> generator = Generator::Create(
      {.seed = 7, .customers = 2'000, .events = 100'000, .invalid_fraction = 0.05});
  ASSERT_TRUE(generator.ok()) << generator.status();
  Record record;
  std::string fast;
  std::string reference;
  int compared = 0;
  while (generator->Next(record)) {
    if (record.defect == Defect::kGarbage) continue;
    fast.clear();
    reference.clear();
    ASSERT_TRUE(AppendEventJson(record.event, fast).ok());
    ASSERT_TRUE(AppendEventJsonReference(record.event, reference).ok());
    ASSERT_EQ(fast, reference);
    ++compared;
  }
  EXPECT_GT(compared, 90'000);
}

TEST(EncodingTest, WritesTheExampleFromTheContract) {
  v1::CustomerEvent event;
  event.set_event_id("7-1");
  event.set_customer_id("c000042");
  event.mutable_occurred_at()->set_seconds(1704067200);
  event.mutable_occurred_at()->set_nanos(5'000'000);
  event.set_channel(v1::CustomerEvent::mini_program);
  event.mutable_interaction()->set_type(v1::Interaction::page_view);
  EXPECT_EQ(FastJson(event),
            R"({"event_id":"7-1","customer_id":"c000042","occurred_at":"2024-01-01T00:00:00.005Z",)"
            R"("channel":"mini_program","interaction":{"type":"page_view"}})");
}

TEST(EncodingTest, EscapesEveryAsciiCharacterAsProtobufDoes) {
  v1::CustomerEvent event;
  std::string all_ascii;
  for (int c = 0; c < 0x80; ++c) all_ascii.push_back(static_cast<char>(c));
  event.set_event_id(all_ascii);
  (*event.mutable_profile_update()->mutable_attributes())[all_ascii] = "<\"\\>";
  EXPECT_EQ(FastJson(event), ReferenceJson(event));
}

TEST(EncodingTest, FallsBackForWhatItCannotReproduce) {
  v1::CustomerEvent event;
  event.set_customer_id("c\xe5\xbc\xa0\xe2\x80\xa8");  // non-ASCII, including U+2028
  event.mutable_interaction()->set_type(static_cast<v1::Interaction::Type>(99));
  EXPECT_EQ(FastJson(event), ReferenceJson(event));
  EXPECT_THAT(FastJson(event), testing::HasSubstr(R"("type":99)"));
}

TEST(EncodingTest, WritesPresenceAndEmptyMessagesAsProtobufDoes) {
  v1::CustomerEvent event;
  event.mutable_occurred_at();  // present, at the epoch
  event.mutable_consent();
  EXPECT_EQ(FastJson(event), ReferenceJson(event));

  event.mutable_interaction()->set_score(0);
  event.mutable_interaction()->set_rating(0);
  EXPECT_EQ(FastJson(event), ReferenceJson(event));

  v1::ProfileUpdate& update = *event.mutable_profile_update();
  update.set_birth_date("");
  update.set_city("");
  (*update.mutable_attributes())["zeta"] = "1";
  (*update.mutable_attributes())["alpha"] = "";
  (*update.mutable_attributes())["mid"] = "x";
  update.add_remove_tags("vip");
  EXPECT_EQ(FastJson(event), ReferenceJson(event));

  event.mutable_erasure();
  EXPECT_EQ(FastJson(event), ReferenceJson(event));
  event.mutable_consent()->set_channel(v1::CustomerEvent::sms);
  event.mutable_consent()->set_granted(true);
  EXPECT_EQ(FastJson(event), ReferenceJson(event));
}

TEST(EncodingTest, WritesTimestampsAsProtobufDoes) {
  v1::CustomerEvent event;
  google::protobuf::Timestamp& at = *event.mutable_occurred_at();
  for (const std::int64_t seconds :
       {-62135596800LL, -86401LL, -1LL, 0LL, 951782400LL, 4107542399LL, 253402300799LL}) {
    for (const std::int32_t nanos : {0, 1, 1'000, 120'000'000, 999'999'999}) {
      at.set_seconds(seconds);
      at.set_nanos(nanos);
      EXPECT_EQ(FastJson(event), ReferenceJson(event)) << seconds << "s " << nanos << "ns";
    }
  }
}

TEST(EncodingTest, ReportsTimestampsJsonCannotHold) {
  v1::CustomerEvent event;
  event.set_event_id("7-9");
  event.mutable_occurred_at()->set_seconds(253402300800);
  std::string out = "kept";
  const absl::Status status = AppendEventJson(event, out);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("7-9"));
  EXPECT_EQ(out, "kept");
}

TEST(EncodingTest, ProtobufRoundTripsAndAppends) {
  v1::CustomerEvent event;
  event.set_event_id("7-2");
  event.mutable_purchase()->set_total_amount(12'900);
  std::string out = "x";
  AppendEventProtobuf(event, out);
  ASSERT_EQ(out.front(), 'x');
  v1::CustomerEvent decoded;
  ASSERT_TRUE(decoded.ParseFromString(out.substr(1)));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decoded, event));
}

}  // namespace
}  // namespace cdp::tools
