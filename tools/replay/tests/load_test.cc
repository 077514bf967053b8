#include "load.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "publish.h"

namespace cdp::tools::replay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Event(const std::string& id, const std::string& customer,
                  const std::string& occurred_at,
                  const std::string& payload = R"("interaction":{"type":"page_view"})") {
  return absl::StrCat(R"({"event_id":")", id, R"(","customer_id":")", customer,
                      R"(","occurred_at":")", occurred_at, R"(",)", payload, "}");
}

v1::CustomerEvent Decode(const ReplayEvent& event) {
  v1::CustomerEvent decoded;
  EXPECT_TRUE(decoded.ParseFromString(event.protobuf));
  return decoded;
}

std::vector<std::string> EventIds(const LoadResult& result) {
  std::vector<std::string> ids;
  for (const ReplayEvent& event : result.events) ids.push_back(Decode(event).event_id());
  return ids;
}

absl::Time At(std::string_view rfc3339) {
  absl::Time time;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, std::string(rfc3339), &time, &error)) << error;
  return time;
}

// Loads `inputs` (name, text) in order.
LoadResult Load(const std::vector<std::pair<std::string, std::string>>& inputs,
                const LoadOptions& options = {}) {
  Loader loader(options);
  for (const auto& [name, text] : inputs) {
    std::istringstream in(text);
    const absl::Status added = loader.Add(name, in);
    EXPECT_TRUE(added.ok()) << added;
  }
  return std::move(loader).Finish();
}

absl::Status AddFails(const std::string& text, const LoadOptions& options) {
  Loader loader(options);
  std::istringstream in(text);
  return loader.Add("bad.csv", in);
}

const LoadOptions kCsv{.format = InputFormat::kCsvPurchases};

TEST(JsonLinesTest, ReadsEventsAndIgnoresBlankLines) {
  const LoadResult result =
      Load({{"a.jsonl", absl::StrCat(Event("e1", "alice", "2024-01-01T10:00:00Z"), "\n\n   \r\n",
                                     Event("e2", "bob", "2024-01-01T09:00:00.5+08:00"), "\r\n")}});
  EXPECT_EQ(result.invalid, 0);
  ASSERT_EQ(result.events.size(), 2U);
  // e2 happened at 01:00:00.5Z, before e1.
  EXPECT_THAT(EventIds(result), ElementsAre("e2", "e1"));
  EXPECT_EQ(result.events[0].customer_id, "bob");
  EXPECT_EQ(result.events[0].occurred_at, At("2024-01-01T01:00:00.5Z"));
  EXPECT_EQ(Decode(result.events[0]).interaction().type(), v1::Interaction::page_view);
}

TEST(JsonLinesTest, InvalidLinesAreNamedByFileAndLineWithTheReason) {
  const std::string text = absl::StrJoin(
      {
          Event("ok", "alice", "2024-01-01T10:00:00Z"),
          std::string("{not json"),
          Event("e3", "", "2024-01-01T10:00:00Z"),
          std::string(R"({"event_id":"e4","customer_id":"c","interaction":{}})"),
          Event("e5", "c", "2024-01-01 10:00:00"),
          Event("e6", "c", "2024-01-01T10:00:00Z", R"("erasure":{},"refund":{"order_id":"o"})"),
          Event("e7", "c", "2024-01-01T10:00:00Z", R"("channel":"app")"),
          Event("", "c", "2024-01-01T10:00:00Z"),
          Event("e9", "c", "2024-01-01T10:00:00Z", R"("channel":"tiktok","erasure":{})"),
      },
      "\n");
  const LoadResult result = Load({{"h.jsonl", text}});
  EXPECT_THAT(EventIds(result), ElementsAre("ok"));
  EXPECT_EQ(result.invalid, 8);
  EXPECT_THAT(result.problems, ElementsAre(HasSubstr("h.jsonl:2: not valid protobuf-JSON"),
                                           "h.jsonl:3: customer_id is missing or empty",
                                           "h.jsonl:4: occurred_at is missing",
                                           HasSubstr("h.jsonl:5: not valid protobuf-JSON"),
                                           HasSubstr("h.jsonl:6: not valid protobuf-JSON"),
                                           HasSubstr("h.jsonl:7: no payload: one of purchase"),
                                           "h.jsonl:8: event_id is missing or empty",
                                           HasSubstr("h.jsonl:9: channel is \"tiktok\"")));
  EXPECT_THAT(result.problems[3], HasSubstr("2024-01-01 10:00:00"));
  EXPECT_THAT(result.problems[4], HasSubstr("oneof field 'payload' is already set"));
}

TEST(JsonLinesTest, ProblemDetailsAreCappedButAllCounted) {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "nonsense\n";
  const LoadResult result = Load({{"x", text}});
  EXPECT_EQ(result.invalid, 25);
  EXPECT_EQ(result.problems.size(), kMaxProblemDetails);
  EXPECT_THAT(result.problems.back(), HasSubstr("x:20: "));
}

TEST(OrderingTest, SortsByOccurredAtKeepingFileAndLineOrderForTies) {
  const LoadResult result = Load({
      {"first",
       absl::StrJoin(
           {Event("f1", "a", "2024-02-01T00:00:00Z"), Event("f2", "b", "2024-01-01T00:00:00Z"),
            Event("f3", "c", "2024-03-01T00:00:00Z"), Event("f4", "d", "2024-01-01T00:00:00Z")},
           "\n")},
      {"second", absl::StrJoin({Event("s1", "a", "2024-01-01T00:00:00Z"),
                                Event("s2", "b", "2023-12-31T23:59:59.999Z"),
                                Event("s3", "c", "2024-02-01T00:00:00Z")},
                               "\n")},
  });
  EXPECT_THAT(EventIds(result), ElementsAre("s2", "f2", "f4", "s1", "f1", "s3", "f3"));
}

TEST(CheckShapeTest, AcceptsACompleteEvent) {
  v1::CustomerEvent event;
  event.set_event_id("e");
  event.set_customer_id("c");
  event.mutable_occurred_at()->set_seconds(1);
  event.mutable_erasure();
  EXPECT_EQ(CheckShape(event), std::nullopt);
  event.mutable_occurred_at()->set_seconds(253'402'300'800);
  EXPECT_THAT(CheckShape(event), testing::Optional(HasSubstr("years 0001-9999")));
}

const std::string kHeader =
    "event_id,customer_id,occurred_at,order_id,total_amount,discount_amount,coupon_code,store_id,"
    "channel,sku,category,quantity,unit_price\n";

TEST(CsvPurchasesTest, RowsSharingAnEventIdAreOnePurchaseWithAnItemEach) {
  const LoadResult result =
      Load({{"orders.csv",
             absl::StrCat(kHeader,
                          "p1,alice,2024-05-01T10:00:00Z,o1,25000,500,\"SAVE,20\",s-9,store,sku-1,"
                          "shoes,1,15000\n"
                          "p2,bob,2024-05-01T09:00:00Z,o2,999,,,,,,,,\n"
                          "p1,alice,2024-05-01T10:00:00Z,o1,25000,500,\"SAVE,20\",s-9,store,"
                          "\"sku \"\"2\"\"\",socks,2,5250\n")}},
           kCsv);
  EXPECT_EQ(result.invalid, 0);
  ASSERT_EQ(result.events.size(), 2U);

  const v1::CustomerEvent bob = Decode(result.events[0]);
  EXPECT_EQ(bob.event_id(), "p2");
  EXPECT_EQ(bob.purchase().total_amount(), 999);
  EXPECT_EQ(bob.purchase().currency(), "CNY");
  EXPECT_EQ(bob.purchase().items_size(), 0);
  EXPECT_EQ(bob.channel(), v1::CustomerEvent::channel_unspecified);

  const v1::CustomerEvent alice = Decode(result.events[1]);
  EXPECT_EQ(result.events[1].customer_id, "alice");
  EXPECT_EQ(alice.customer_id(), "alice");
  EXPECT_EQ(alice.occurred_at().seconds(), absl::ToUnixSeconds(At("2024-05-01T10:00:00Z")));
  EXPECT_EQ(alice.channel(), v1::CustomerEvent::store);
  const v1::Purchase& purchase = alice.purchase();
  EXPECT_EQ(purchase.order_id(), "o1");
  EXPECT_EQ(purchase.total_amount(), 25000);
  EXPECT_EQ(purchase.discount_amount(), 500);
  EXPECT_EQ(purchase.coupon_code(), "SAVE,20");
  EXPECT_EQ(purchase.store_id(), "s-9");
  ASSERT_EQ(purchase.items_size(), 2);
  EXPECT_EQ(purchase.items(0).sku(), "sku-1");
  EXPECT_EQ(purchase.items(0).category(), "shoes");
  EXPECT_EQ(purchase.items(0).quantity(), 1);
  EXPECT_EQ(purchase.items(0).unit_price(), 15000);
  EXPECT_EQ(purchase.items(1).sku(), "sku \"2\"");
  EXPECT_EQ(purchase.items(1).quantity(), 2);
  EXPECT_EQ(purchase.items(1).unit_price(), 5250);
}

TEST(CsvPurchasesTest, ColumnsMayComeInAnyOrderAndCurrencyDefaultsFromTheOption) {
  const LoadResult result =
      Load({{"a.csv",
             "total_amount,currency,occurred_at,order_id,customer_id,event_id\n"
             "100,,2024-05-01T18:00:00+08:00,o1,c1,p1\n"
             "200,EUR,2024-05-01T09:00:00Z,o2,c2,p2\n"}},
           {.format = InputFormat::kCsvPurchases, .currency = "HKD"});
  ASSERT_EQ(result.invalid, 0) << result.problems[0];
  ASSERT_EQ(result.events.size(), 2U);
  EXPECT_EQ(Decode(result.events[0]).purchase().currency(), "EUR");
  EXPECT_EQ(Decode(result.events[1]).purchase().currency(), "HKD");
  EXPECT_EQ(result.events[1].occurred_at, At("2024-05-01T10:00:00Z"));
}

TEST(CsvPurchasesTest, AMissingRequiredColumnFailsTheWholeFile) {
  const absl::Status status = AddFails("event_id,customer_id,occurred_at,sku\n", kCsv);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("bad.csv:1: the header lacks required columns "
                                          "order_id, total_amount"));
}

TEST(CsvPurchasesTest, AnUnknownColumnFailsWithASuggestion) {
  const absl::Status status = AddFails(
      "event_id,customer_id,occurred_at,order_id,totl_amount\n1,2,2024-01-01T00:00:00Z,o,1\n",
      kCsv);
  EXPECT_EQ(status.message(),
            "bad.csv:1: unknown column 'totl_amount'; did you mean "
            "'total_amount'?");
  const absl::Status unrelated =
      AddFails("event_id,customer_id,occurred_at,order_id,total_amount,weather\n", kCsv);
  EXPECT_THAT(unrelated.message(),
              HasSubstr("unknown column 'weather'; the columns are event_id, customer_id"));
  EXPECT_THAT(AddFails("event_id,event_id\n", kCsv).message(), HasSubstr("appears twice"));
  EXPECT_THAT(AddFails("\n\n", kCsv).message(), HasSubstr("bad.csv is empty"));
}

TEST(CsvPurchasesTest, ConflictingRowsNameBothLinesAndLeaveThePurchaseOut) {
  const LoadResult result =
      Load({{"a.csv", absl::StrCat(kHeader,
                                   "p1,alice,2024-05-01T10:00:00Z,o1,100,,,,,s1,c,1,100\n"
                                   "p2,bob,2024-05-01T10:00:00Z,o2,50,,,,,,,,\n")},
            {"b.csv", absl::StrCat(kHeader,
                                   "p1,alice,2024-05-01T10:00:00Z,o1,100,,,,,s2,c,1,100\n"
                                   "p1,alice,2024-05-01T10:00:00Z,o1,200,,,,,s3,c,1,100\n"
                                   "p1,alice,2024-05-01T10:00:00Z,o1,100,,,,,s4,c,1,100\n")}},
           kCsv);
  EXPECT_EQ(result.invalid, 1);
  EXPECT_THAT(result.problems,
              ElementsAre("b.csv:3: event_id 'p1' is also on a.csv:2 with another total_amount "
                          "('100' there, '200' here): the rows of one purchase must agree on "
                          "every column but sku, category, quantity and unit_price"));
  EXPECT_THAT(EventIds(result), ElementsAre("p2"));
  // a.csv:2 and b.csv:2 before the conflict, b.csv:4 after it.
  EXPECT_EQ(result.rows_left_out, 3);
}

TEST(CsvPurchasesTest, AnInvalidRowTakesItsWholePurchaseOut) {
  const LoadResult result =
      Load({{"a.csv", absl::StrCat(kHeader,
                                   "p1,alice,2024-05-01T10:00:00Z,o1,100,,,,,s1,c,1,100\n"
                                   "p1,alice,2024-05-01T10:00:00Z,o1,100,,,,,s2,c,,100\n"
                                   "p2,bob,2024-05-01T10:00:00Z,o2,12.50,,,,,,,,\n"
                                   "p3,carol,yesterday,o3,1,,,,,,,,\n"
                                   "p4,dan,2024-05-01T10:00:00Z,o4,1,,,,fax,,,,\n"
                                   "p5,erin,2024-05-01T10:00:00Z,o5,1,,,,\n"
                                   "p6,,2024-05-01T10:00:00Z,o6,1,,,,,,,,\n"
                                   "p7,gus,2024-05-01T10:00:00Z,o7,1,,,,,,,,\n")}},
           kCsv);
  EXPECT_THAT(EventIds(result), ElementsAre("p7"));
  EXPECT_EQ(result.invalid, 6);
  EXPECT_THAT(
      result.problems,
      ElementsAre(HasSubstr("a.csv:3: the row has an item but no quantity"),
                  "a.csv:4: total_amount '12.50' is not a whole number of minor currency units "
                  "(e.g. 1250 for 12.50)",
                  HasSubstr("a.csv:5: occurred_at 'yesterday' is not an RFC 3339 time"),
                  HasSubstr("a.csv:6: channel 'fax' is not one of: app, mini_program"),
                  "a.csv:7: 9 fields where the header has 13 (quote fields that hold commas)",
                  "a.csv:8: customer_id is empty"));
  EXPECT_EQ(result.rows_left_out, 1);
}

TEST(CsvPurchasesTest, AMalformedRowIsOneInvalidRow) {
  const LoadResult result =
      Load({{"a.csv", absl::StrCat(kHeader,
                                   "p1,alice,2024-05-01T10:00:00Z,o1,100,,,,,s\"1,c,1,100\n"
                                   "p2,bob,2024-05-01T10:00:00Z,o2,50,,,,,,,,\n")}},
           kCsv);
  EXPECT_THAT(result.problems, ElementsAre(HasSubstr("a.csv:2: field 10 has a quote")));
  EXPECT_THAT(EventIds(result), ElementsAre("p2"));
}

TEST(LoadFilesTest, ReadsFilesInOrderAndReportsOnesItCannotRead) {
  const std::string dir = testing::TempDir();
  const std::string first = dir + "/replay_first.jsonl";
  const std::string second = dir + "/replay_second.jsonl";
  std::ofstream(first) << Event("a", "c", "2024-01-02T00:00:00Z") << "\n";
  std::ofstream(second) << Event("b", "c", "2024-01-01T00:00:00Z") << "\n";
  const std::vector<std::string> paths = {first, second};
  absl::StatusOr<LoadResult> loaded = LoadFiles(paths, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_THAT(EventIds(*loaded), ElementsAre("b", "a"));

  const std::vector<std::string> missing = {first, dir + "/replay_missing.jsonl"};
  EXPECT_THAT(LoadFiles(missing, {}).status().message(),
              HasSubstr("cannot open " + dir + "/replay_missing.jsonl: No such file"));
  const std::vector<std::string> directory = {dir};
  EXPECT_THAT(LoadFiles(directory, {}).status().message(), HasSubstr("is a directory"));
}

TEST(LastCompleteOccurredAtTest, AnInstantCountsOnlyWhenAllItsEventsWereDelivered) {
  std::vector<ReplayEvent> events(5);
  const absl::Time t0 = At("2024-01-01T00:00:00Z");
  const std::vector<int> minutes = {0, 1, 1, 2, 3};
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].occurred_at = t0 + absl::Minutes(minutes[i]);
  }
  EXPECT_EQ(LastCompleteOccurredAt(events, 0), std::nullopt);
  EXPECT_EQ(LastCompleteOccurredAt(events, 1), t0);
  EXPECT_EQ(LastCompleteOccurredAt(events, 2), t0);
  EXPECT_EQ(LastCompleteOccurredAt(events, 3), t0 + absl::Minutes(1));
  EXPECT_EQ(LastCompleteOccurredAt(events, 5), t0 + absl::Minutes(3));
  // The only delivered event shares its instant with an undelivered one.
  EXPECT_EQ(LastCompleteOccurredAt(std::span<const ReplayEvent>(events.data() + 1, 2), 1),
            std::nullopt);
  EXPECT_EQ(Rfc3339(t0 + absl::Milliseconds(5)), "2024-01-01T00:00:00.005Z");
}

}  // namespace
}  // namespace cdp::tools::replay
