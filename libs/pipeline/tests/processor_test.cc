#include "cdp/pipeline/processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/rules/catalogue.h"

namespace cdp::pipeline {
namespace {

using ::testing::ElementsAre;

constexpr std::string_view kCatalogue = R"(
timezone: UTC
segments:
  - id: buyer
    when: orders_total >= 1
dimensions:
  - id: lifecycle
    tiers:
      - {id: at_risk, when: "orders_total >= 1 and days_since_last_purchase > 30"}
      - {id: active, when: "orders_total >= 1"}
)";

class RecordingSink : public OutputSink {
 public:
  absl::Status Send(OutputRecord record) override {
    pending_.push_back(std::move(record));
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    if (fail_next_flush_) {
      fail_next_flush_ = false;
      pending_.clear();
      return absl::UnavailableError("broker unreachable");
    }
    for (auto& record : pending_) delivered_.push_back(std::move(record));
    pending_.clear();
    return absl::OkStatus();
  }

  std::vector<std::string> DeliveredChanges() const {
    std::vector<std::string> out;
    for (const auto& record : delivered_) {
      if (record.kind == OutputRecord::Kind::kSegmentChange) out.push_back(record.value);
    }
    return out;
  }
  std::vector<const OutputRecord*> DeadLetters() const {
    std::vector<const OutputRecord*> out;
    for (const auto& record : delivered_) {
      if (record.kind == OutputRecord::Kind::kDeadLetter) out.push_back(&record);
    }
    return out;
  }

  bool fail_next_flush_ = false;

 private:
  std::vector<OutputRecord> pending_;
  std::vector<OutputRecord> delivered_;
};

std::string Purchase(const std::string& event_id, const std::string& customer,
                     const std::string& occurred_at) {
  return absl::StrCat(R"({"event_id":")", event_id, R"(","customer_id":")", customer,
                      R"(","occurred_at":")", occurred_at, R"(","purchase":{"order_id":"o-)",
                      event_id, R"(","total_amount":1000,"currency":"CNY"}})");
}

std::string Interaction(const std::string& event_id, const std::string& customer,
                        const std::string& occurred_at) {
  return absl::StrCat(R"({"event_id":")", event_id, R"(","customer_id":")", customer,
                      R"(","occurred_at":")", occurred_at,
                      R"(","interaction":{"type":"page_view"}})");
}

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    auto catalogue = rules::ParseSegmentCatalogue(kCatalogue, "test.yaml");
    ASSERT_TRUE(catalogue.ok()) << catalogue.status();
    engine_ = std::make_shared<const core::Engine>(
        std::make_shared<const rules::SegmentCatalogue>(std::move(*catalogue)),
        core::EngineOptions{});
    OpenStore();
  }
  void TearDown() override {
    processor_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void OpenStore(ClockMode clock = ClockMode::kWall) {
    processor_.reset();
    store_.reset();
    auto store = state::Store::Open(state::StoreOptions{.path = dir_.string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ProcessorOptions options;
    options.clock = clock;
    processor_ = std::make_unique<Processor>(
        engine_, *store_, sink_, [this] { return now_; }, options, nullptr);
  }

  absl::Status Process(const std::vector<std::pair<std::int64_t, std::string>>& values,
                       Partition partition = Partition(0)) {
    std::vector<InputRecord> records;
    for (const auto& [offset, value] : values) {
      records.push_back(InputRecord{partition, Offset(offset), std::string_view("k"),
                                    std::string_view(value), "", now_});
    }
    return processor_->Process(records);
  }

  std::optional<v1::CustomerProfile> Stored(std::string_view customer,
                                            Partition partition = Partition(0)) {
    auto profile = store_->ReadProfile(partition, customer);
    EXPECT_TRUE(profile.ok()) << profile.status();
    return profile.ok() ? *profile : std::nullopt;
  }

  std::filesystem::path dir_;
  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);  // 2026-05-28
  std::shared_ptr<const core::Engine> engine_;
  RecordingSink sink_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<Processor> processor_;
};

TEST_F(ProcessorTest, AppliesEventsCommitsOffsetAndEmitsChanges) {
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Interaction("e2", "c1", "2026-05-28T00:01:00Z")}})
                  .ok());
  auto profile = Stored("c1");
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->orders_total(), 1);
  EXPECT_EQ(profile->interactions_total(), 1);
  EXPECT_EQ(profile->events_applied(), 2);
  auto offset = store_->ReadOffset(Partition(0));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, Offset(2));
  const auto changes = sink_.DeliveredChanges();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_THAT(changes[0], ::testing::HasSubstr(R"("segment":"buyer")"));
  EXPECT_THAT(changes[1], ::testing::HasSubstr(R"("segment":"active")"));
  EXPECT_THAT(changes[1], ::testing::HasSubstr(R"("cause_event_id":"e1")"));
}

TEST_F(ProcessorTest, DeadLettersInvalidRecordsWithTheirSource) {
  ASSERT_TRUE(Process({{7, "not an event"}, {8, Purchase("e1", "", "2026-05-28T00:00:00Z")}}).ok());
  const auto dead = sink_.DeadLetters();
  ASSERT_EQ(dead.size(), 2u);
  auto header = [](const OutputRecord& record, std::string_view name) {
    for (const auto& h : record.headers) {
      if (h.key == name) return h.value;
    }
    return std::string("<missing>");
  };
  EXPECT_EQ(header(*dead[0], kDlqReasonHeader), "undecodable");
  EXPECT_EQ(header(*dead[0], kDlqOffsetHeader), "7");
  EXPECT_EQ(header(*dead[0], kDlqPartitionHeader), "0");
  EXPECT_EQ(header(*dead[0], kDlqTopicHeader), "customer-events");
  EXPECT_EQ(dead[0]->value, "not an event");
  EXPECT_EQ(header(*dead[1], kDlqReasonHeader), "missing_customer_id");
  auto offset = store_->ReadOffset(Partition(0));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, Offset(9));
}

TEST_F(ProcessorTest, AppliesARepeatedEventIdOnce) {
  const std::string event = Purchase("e1", "c1", "2026-05-28T00:00:00Z");
  ASSERT_TRUE(Process({{0, event}, {1, event}}).ok());
  ASSERT_TRUE(Process({{2, event}}).ok());
  OpenStore();  // also across a restart, from the state on disk
  ASSERT_TRUE(Process({{3, event}}).ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 1);
  EXPECT_EQ(sink_.DeliveredChanges().size(), 2u);
}

TEST_F(ProcessorTest, FailedDeliveryCommitsNothingAndARetryGivesTheSameChanges) {
  const std::vector<std::pair<std::int64_t, std::string>> batch = {
      {0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}};
  sink_.fail_next_flush_ = true;
  EXPECT_FALSE(Process(batch).ok());
  EXPECT_FALSE(Stored("c1").has_value());
  auto offset = store_->ReadOffset(Partition(0));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, std::nullopt);
  EXPECT_TRUE(sink_.DeliveredChanges().empty());

  ASSERT_TRUE(Process(batch).ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 1);
  const auto first = sink_.DeliveredChanges();

  // A crash after delivery but before the commit replays the batch: the same change ids come out.
  std::filesystem::remove_all(dir_);
  OpenStore();
  ASSERT_TRUE(Process(batch).ok());
  const auto again = sink_.DeliveredChanges();
  ASSERT_EQ(again.size(), 2 * first.size());
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(again[first.size() + i], first[i]);
}

TEST_F(ProcessorTest, CachedProfilesStayConsistentAfterAFailedBatch) {
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  // The dead letter makes the batch deliver something, and the delivery fails.
  const std::vector<std::pair<std::int64_t, std::string>> batch = {
      {1, "garbage"}, {2, Purchase("e2", "c1", "2026-05-28T01:00:00Z")}};
  sink_.fail_next_flush_ = true;
  const absl::Status failed = Process(batch);
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_EQ(Stored("c1")->orders_total(), 1);
  ASSERT_TRUE(Process(batch).ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 2);
  EXPECT_EQ(Stored("c1")->events_applied(), 2);
}

TEST_F(ProcessorTest, EventTimeClockFollowsTheLatestOccurredAt) {
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2025-01-01T00:00:00Z")},
                       {1, Interaction("e2", "c2", "2025-03-01T00:00:00Z")},
                       {2, Interaction("e3", "c1", "2025-03-01T00:00:00Z")}})
                  .ok());
  // c1 bought on Jan 1st; by event time Mar 1st that is 59 days ago: at risk.
  auto profile = Stored("c1");
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->tiers().at("lifecycle"), "at_risk");
  const auto changes = sink_.DeliveredChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_THAT(changes[2], ::testing::HasSubstr(R"("segment":"active")"));
  EXPECT_THAT(changes[2], ::testing::HasSubstr(R"("direction":"exited")"));
  EXPECT_THAT(changes[3], ::testing::HasSubstr(R"("segment":"at_risk")"));
}

TEST_F(ProcessorTest, EventTimeSurvivesARestart) {
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2025-01-01T00:00:00Z")},
                       {1, Interaction("e2", "c2", "2025-03-01T00:00:00Z")}})
                  .ok());
  OpenStore(ClockMode::kEventTime);
  auto resume = processor_->ResumeOffset(Partition(0));
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(*resume, Offset(2));
  // An older event after the restart is still judged at the partition's March 1st.
  ASSERT_TRUE(Process({{2, Interaction("e3", "c1", "2025-01-02T00:00:00Z")}}).ok());
  EXPECT_EQ(Stored("c1")->tiers().at("lifecycle"), "at_risk");
}

TEST_F(ProcessorTest, KeepsPartitionsApart) {
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}, Partition(3)).ok());
  EXPECT_FALSE(Stored("c1", Partition(0)).has_value());
  EXPECT_TRUE(Stored("c1", Partition(3)).has_value());
  processor_->Release(Partition(3));
  ASSERT_TRUE(Process({{1, Purchase("e2", "c1", "2026-05-28T00:00:00Z")}}, Partition(3)).ok());
  EXPECT_EQ(Stored("c1", Partition(3))->orders_total(), 2);
  auto resume = processor_->ResumeOffset(Partition(3));
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(*resume, Offset(2));
}

}  // namespace
}  // namespace cdp::pipeline
