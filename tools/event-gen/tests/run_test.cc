#include "run.h"

#include <atomic>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sink.h"

namespace cdp::tools {
namespace {

class MemorySink final : public Sink {
 public:
  explicit MemorySink(std::int64_t fail_at = -1, std::atomic<bool>* stop_after_first = nullptr)
      : fail_at_(fail_at), stop_after_first_(stop_after_first) {}

  absl::Status Write(std::string_view key, std::string_view value) override {
    if (static_cast<std::int64_t>(records.size()) == fail_at_) {
      return absl::UnavailableError("disk full");
    }
    records.emplace_back(key, value);
    if (stop_after_first_ != nullptr) stop_after_first_->store(true);
    return absl::OkStatus();
  }
  absl::Status Finish() override { return absl::OkStatus(); }

  std::vector<std::pair<std::string, std::string>> records;

 private:
  std::int64_t fail_at_;
  std::atomic<bool>* stop_after_first_;
};

Generator MakeGenerator(std::int64_t events, double invalid_fraction = 0.0) {
  absl::StatusOr<Generator> generator = Generator::Create(
      {.seed = 9, .customers = 100, .events = events, .invalid_fraction = invalid_fraction});
  EXPECT_TRUE(generator.ok()) << generator.status();
  return *std::move(generator);
}

TEST(RunTest, WritesEveryRecordKeyedAndEncoded) {
  Generator generator = MakeGenerator(500, 0.2);
  MemorySink sink;
  std::atomic<bool> stop{false};
  std::ostringstream progress;
  const RunSummary summary = RunTraffic(generator, sink, {}, stop, progress);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_FALSE(summary.stopped);
  EXPECT_EQ(summary.written, 500);
  EXPECT_GT(summary.invalid, 50);
  ASSERT_EQ(sink.records.size(), 500U);
  EXPECT_EQ(progress.str(), "");

  // The same records, encoded as the run did.
  Generator again = MakeGenerator(500, 0.2);
  Record record;
  for (const auto& [key, value] : sink.records) {
    ASSERT_TRUE(again.Next(record));
    EXPECT_EQ(key, record.key);
    std::string expected = record.garbage;
    if (record.defect != Defect::kGarbage) {
      ASSERT_TRUE(AppendEventJson(record.event, expected).ok());
    }
    EXPECT_EQ(value, expected);
  }
}

TEST(RunTest, EncodesProtobufOnRequest) {
  Generator generator = MakeGenerator(20);
  MemorySink sink;
  std::atomic<bool> stop{false};
  std::ostringstream progress;
  const RunSummary summary =
      RunTraffic(generator, sink, {.format = WireFormat::kProtobuf}, stop, progress);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  ASSERT_EQ(sink.records.size(), 20U);
  for (const auto& [key, value] : sink.records) {
    v1::CustomerEvent event;
    ASSERT_TRUE(event.ParseFromString(value));
    EXPECT_EQ(event.customer_id(), key);
  }
}

TEST(RunTest, StopsWhenAsked) {
  Generator generator = MakeGenerator(0 + 1'000);
  std::atomic<bool> stop{false};
  MemorySink sink(-1, &stop);
  std::ostringstream progress;
  const RunSummary summary = RunTraffic(generator, sink, {}, stop, progress);
  EXPECT_TRUE(summary.stopped);
  EXPECT_EQ(summary.written, 1);
  EXPECT_EQ(sink.records.size(), 1U);
}

TEST(RunTest, EndsOnTheFirstWriteError) {
  Generator generator = MakeGenerator(100);
  MemorySink sink(/*fail_at=*/10);
  std::atomic<bool> stop{false};
  std::ostringstream progress;
  const RunSummary summary = RunTraffic(generator, sink, {}, stop, progress);
  EXPECT_EQ(summary.status, absl::UnavailableError("disk full"));
  EXPECT_EQ(summary.written, 10);
}

TEST(RunTest, PacesToTheRateAndReportsProgress) {
  Generator generator = MakeGenerator(30);
  MemorySink sink;
  std::atomic<bool> stop{false};
  std::ostringstream progress;
  // 30 events at 100/s: the last is due 0.29 s after the start.
  const RunSummary summary = RunTraffic(
      generator, sink, {.rate = 100, .progress_interval = absl::Milliseconds(100)}, stop, progress);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_EQ(summary.written, 30);
  EXPECT_GE(summary.elapsed, absl::Milliseconds(290));
  EXPECT_THAT(progress.str(), testing::ContainsRegex("event-gen: [0-9]+ events, 0 invalid, "
                                                     "[0-9]+ events/s\n"));
}

}  // namespace
}  // namespace cdp::tools
