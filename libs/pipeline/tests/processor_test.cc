#include "cdp/pipeline/processor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/core/memberships.h"
#include "cdp/rules/catalogue.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "prometheus/registry.h"
#include "test_support.h"

namespace cdp::pipeline {
namespace {

using test_support::Canonical;
using test_support::Interaction;
using test_support::kCatalogue;
using test_support::Purchase;
using test_support::TestDir;
using test_support::TestEngine;
using ::testing::ElementsAre;

// Send may be called by several lanes at once.
class RecordingSink : public OutputSink {
 public:
  absl::Status Send(OutputRecord record) override {
    std::lock_guard lock(mutex_);
    senders_.insert(std::this_thread::get_id());
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

  std::set<std::thread::id> Senders() {
    std::lock_guard lock(mutex_);
    return senders_;
  }

  bool fail_next_flush_ = false;

 private:
  std::mutex mutex_;
  std::set<std::thread::id> senders_;
  std::vector<OutputRecord> pending_;
  std::vector<OutputRecord> delivered_;
};

// kCatalogue after an edit: buyer's rule changed, browser added, lifecycle as it was.
constexpr std::string_view kEditedCatalogue = R"(
timezone: UTC
segments:
  - id: buyer
    when: orders_total >= 2
  - id: browser
    when: interactions_total >= 1
dimensions:
  - id: lifecycle
    tiers:
      - {id: at_risk, when: "orders_total >= 1 and days_since_last_purchase > 30"}
      - {id: active, when: "orders_total >= 1"}
)";

struct LaneLayout {
  std::size_t lanes;
  std::size_t threads;  // 0: one per busy lane
};

void PrintTo(const LaneLayout& layout, std::ostream* out) {
  *out << layout.lanes << " lanes on ";
  if (layout.threads == 0) {
    *out << "a thread each";
  } else {
    *out << layout.threads << " threads";
  }
}

// Every behaviour holds whether the partitions share one lane or are spread over several, on a
// thread each or on fewer threads than lanes; the lanes run in parallel even for the tests' tiny
// batches.
class ProcessorTest : public ::testing::TestWithParam<LaneLayout> {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    std::filesystem::remove_all(dir_);
    engine_ = TestEngine();
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
    options.lanes = GetParam().lanes;
    options.threads = GetParam().threads;
    options.parallel_min_records = 1;
    options.reevaluations_per_round = reevaluations_per_round_;
    processor_ = std::make_unique<Processor>(
        engine_, *store_, sink_, [this] { return now_; }, options, metrics_.get());
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

  // Member gauges, re-evaluation progress: fresh metrics for each OpenStore that wants them.
  void UseMetrics() {
    registry_ = std::make_unique<prometheus::Registry>();
    metrics_ =
        std::make_unique<PipelineMetrics>(*registry_, engine_->catalogue(), "customer-events");
  }

  // The value of a gauge or counter with these labels, nullopt when it has no such series.
  std::optional<double> Metric(std::string_view name,
                               const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& family : registry_->Collect()) {
      if (family.name != name) continue;
      for (const auto& metric : family.metric) {
        std::map<std::string, std::string> have;
        for (const auto& label : metric.label) have[label.name] = label.value;
        if (have != labels) continue;
        return family.type == prometheus::MetricType::Gauge ? metric.gauge.value
                                                            : metric.counter.value;
      }
    }
    return std::nullopt;
  }
  std::optional<double> Members(const std::string& dimension, const std::string& segment) const {
    return Metric("cdp_segment_members", {{"dimension", dimension}, {"segment", segment}});
  }

  // Delivered changes as "customer segment direction cause", in delivery order.
  std::vector<std::string> ChangeSummaries(std::size_t from = 0) const {
    std::vector<std::string> out;
    const auto changes = sink_.DeliveredChanges();
    for (std::size_t i = from; i < changes.size(); ++i) {
      v1::SegmentChange change;
      EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(changes[i], &change).ok());
      out.push_back(absl::StrCat(
          change.customer_id(), " ", change.dimension().empty() ? "" : change.dimension() + "/",
          change.segment(), " ", v1::SegmentChange::Direction_Name(change.direction()), " ",
          v1::SegmentChange::Cause_Name(change.cause())));
    }
    return out;
  }

  // Re-evaluation rounds until none is left; their count.
  int ReevaluateAll() {
    int rounds = 0;
    while (processor_->PartitionsToReevaluate() > 0 && rounds < 100) {
      auto done = processor_->ReevaluateDefinitions();
      EXPECT_TRUE(done.ok()) << done.status();
      if (!done.ok()) break;
      ++rounds;
    }
    return rounds;
  }

  std::map<std::string, std::int64_t> StoredMembers(Partition partition = Partition(0)) {
    auto state = store_->ReadPartitionState(partition);
    EXPECT_TRUE(state.ok()) << state.status();
    if (!state.ok() || !state->has_value()) return {};
    return {(*state)->members().begin(), (*state)->members().end()};
  }

  std::filesystem::path dir_;
  std::size_t reevaluations_per_round_ = 5'000;
  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<PipelineMetrics> metrics_;
  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);  // 2026-05-28
  std::shared_ptr<const core::Engine> engine_;
  RecordingSink sink_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<Processor> processor_;
};

TEST_P(ProcessorTest, AppliesEventsCommitsOffsetAndEmitsChanges) {
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

TEST_P(ProcessorTest, DeadLettersInvalidRecordsWithTheirSource) {
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

TEST_P(ProcessorTest, AppliesARepeatedEventIdOnce) {
  const std::string event = Purchase("e1", "c1", "2026-05-28T00:00:00Z");
  ASSERT_TRUE(Process({{0, event}, {1, event}}).ok());
  ASSERT_TRUE(Process({{2, event}}).ok());
  OpenStore();  // also across a restart, from the state on disk
  ASSERT_TRUE(Process({{3, event}}).ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 1);
  EXPECT_EQ(sink_.DeliveredChanges().size(), 2u);
}

// Repeats of events applied in earlier batches, first, last and between the customer's new ones,
// and a repeat within the batch (e4).
TEST_P(ProcessorTest, TellsARepeatOfAnEarlierBatchWhereverItComesInTheBatch) {
  UseMetrics();
  OpenStore();
  auto purchase = [](const std::string& id) { return Purchase(id, "c1", "2026-05-28T00:00:00Z"); };
  ASSERT_TRUE(Process({{0, purchase("e1")}, {1, purchase("e2")}, {2, purchase("e3")}}).ok());
  ASSERT_TRUE(Process({{3, purchase("e3")},
                       {4, purchase("e4")},
                       {5, purchase("e2")},
                       {6, purchase("e5")},
                       {7, purchase("e1")},
                       {8, purchase("e4")}})
                  .ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 5);
  ASSERT_TRUE(Process({{9, purchase("e6")}, {10, purchase("e5")}}).ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 6);
  EXPECT_EQ(Metric("cdp_events_duplicate_total"), 5.0);
}

TEST_P(ProcessorTest, AppliesARepeatedEventIdAgainOnceItsDedupWindowEnded) {
  const std::string event = Purchase("e1", "c1", "2026-05-28T00:00:00Z");
  ASSERT_TRUE(Process({{0, event}}).ok());
  now_ += absl::Hours(7 * 24) - absl::Seconds(1);
  ASSERT_TRUE(Process({{1, event}}).ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 1);
  // The profile still lists it: nothing wrote the profile since.
  now_ += absl::Seconds(1);
  ASSERT_TRUE(Process({{2, event}}).ok());
  EXPECT_EQ(Stored("c1")->orders_total(), 2);
}

TEST_P(ProcessorTest, FailedDeliveryCommitsNothingAndARetryGivesTheSameChanges) {
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

TEST_P(ProcessorTest, CachedProfilesStayConsistentAfterAFailedBatch) {
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

TEST_P(ProcessorTest, EventTimeClockFollowsTheLatestOccurredAt) {
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2025-01-01T00:00:00Z")},
                       {1, Interaction("e2", "c2", "2025-03-01T00:00:00Z")},
                       {2, Interaction("e3", "c1", "2025-03-01T00:00:00Z")}})
                  .ok());
  // c1 bought on Jan 1st; by event time Mar 1st that is 59 days ago: at risk.
  auto profile = Stored("c1");
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(core::HeldTier(*profile, "lifecycle"), "at_risk");
  const auto changes = sink_.DeliveredChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_THAT(changes[2], ::testing::HasSubstr(R"("segment":"active")"));
  EXPECT_THAT(changes[2], ::testing::HasSubstr(R"("direction":"exited")"));
  EXPECT_THAT(changes[3], ::testing::HasSubstr(R"("segment":"at_risk")"));
}

TEST_P(ProcessorTest, EventTimeSurvivesARestart) {
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2025-01-01T00:00:00Z")},
                       {1, Interaction("e2", "c2", "2025-03-01T00:00:00Z")}})
                  .ok());
  OpenStore(ClockMode::kEventTime);
  auto resume = processor_->ResumeOffset(Partition(0));
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(resume->input, Offset(2));
  // An older event after the restart is still judged at the partition's March 1st.
  ASSERT_TRUE(Process({{2, Interaction("e3", "c1", "2025-01-02T00:00:00Z")}}).ok());
  EXPECT_EQ(core::HeldTier(*Stored("c1"), "lifecycle"), "at_risk");
}

TEST_P(ProcessorTest, KeepsPartitionsApart) {
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}, Partition(3)).ok());
  EXPECT_FALSE(Stored("c1", Partition(0)).has_value());
  EXPECT_TRUE(Stored("c1", Partition(3)).has_value());
  processor_->Release(Partition(3));
  ASSERT_TRUE(Process({{1, Purchase("e2", "c1", "2026-05-28T00:00:00Z")}}, Partition(3)).ok());
  EXPECT_EQ(Stored("c1", Partition(3))->orders_total(), 2);
  auto resume = processor_->ResumeOffset(Partition(3));
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(resume->input, Offset(2));
}

// Takes the partition on, as on assignment: its timers fire from then on.
absl::Status Own(Processor& processor, Partition partition) {
  return processor.ResumeOffset(partition).status();
}

TEST_P(ProcessorTest, ATimerMovesACustomerWithoutEventsOnTimeAndSurvivesARestart) {
  ASSERT_TRUE(Own(*processor_, Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  // `days_since_last_purchase > 30` holds from 28 June, 31 days after the purchase.
  const absl::Time due = absl::FromUnixSeconds(1'782'604'800);  // 2026-06-28T00:00:00Z
  auto timers = store_->DueTimers(Partition(0), due, 10);
  ASSERT_TRUE(timers.ok()) << timers.status();
  ASSERT_EQ(timers->size(), 1u);
  EXPECT_EQ((*timers)[0].due, due);
  EXPECT_EQ((*timers)[0].customer_id, "c1");

  now_ = due - absl::Seconds(1);
  auto fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok()) << fired.status();
  EXPECT_EQ(*fired, 0u);
  EXPECT_EQ(sink_.DeliveredChanges().size(), 2u);

  OpenStore();
  ASSERT_TRUE(Own(*processor_, Partition(0)).ok());
  now_ = due;
  fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok()) << fired.status();
  EXPECT_EQ(*fired, 1u);
  const auto changes = sink_.DeliveredChanges();
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_THAT(changes[2], ::testing::HasSubstr(R"("direction":"exited")"));
  EXPECT_THAT(changes[3], ::testing::HasSubstr(R"("segment":"at_risk")"));
  EXPECT_THAT(changes[3], ::testing::HasSubstr(R"("cause":"time")"));
  EXPECT_THAT(changes[3], ::testing::HasSubstr(R"("occurred_at":"2026-06-28T00:00:00Z")"));
  EXPECT_EQ(core::HeldTier(*Stored("c1"), "lifecycle"), "at_risk");
  // Nothing further can change with time alone: the timer is gone, and firing again does nothing.
  EXPECT_FALSE(Stored("c1")->has_timer_due_at());
  timers = store_->DueTimers(Partition(0), absl::InfiniteFuture(), 10);
  ASSERT_TRUE(timers.ok());
  EXPECT_TRUE(timers->empty());
  fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 0u);
  EXPECT_EQ(sink_.DeliveredChanges().size(), 4u);
}

TEST_P(ProcessorTest, OnlyOwnedPartitionsFireTheirTimers) {
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}, Partition(1)).ok());
  now_ += absl::Hours(24 * 40);
  auto fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 0u);
  ASSERT_TRUE(Own(*processor_, Partition(1)).ok());
  processor_->Release(Partition(1));
  fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 0u);
  ASSERT_TRUE(Own(*processor_, Partition(1)).ok());
  fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 1u);
  EXPECT_EQ(core::HeldTier(*Stored("c1", Partition(1)), "lifecycle"), "at_risk");
}

TEST_P(ProcessorTest, AFailedTimerRoundCommitsNothingAndARetryGivesTheSameChanges) {
  ASSERT_TRUE(Own(*processor_, Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")}})
                  .ok());
  now_ += absl::Hours(24 * 40);
  sink_.fail_next_flush_ = true;
  auto fired = processor_->FireTimers();
  EXPECT_TRUE(absl::IsUnavailable(fired.status())) << fired.status();
  EXPECT_EQ(core::HeldTier(*Stored("c1"), "lifecycle"), "active");
  auto timers = store_->DueTimers(Partition(0), now_, 10);
  ASSERT_TRUE(timers.ok());
  EXPECT_EQ(timers->size(), 2u);

  fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok()) << fired.status();
  EXPECT_EQ(*fired, 2u);
  EXPECT_EQ(core::HeldTier(*Stored("c1"), "lifecycle"), "at_risk");
  EXPECT_EQ(core::HeldTier(*Stored("c2"), "lifecycle"), "at_risk");
  const auto first = sink_.DeliveredChanges();

  // A crash after delivery but before the commit fires the same timers again, with the same ids.
  std::filesystem::remove_all(dir_);
  OpenStore();
  ASSERT_TRUE(Own(*processor_, Partition(0)).ok());
  const absl::Time later = now_;
  now_ = absl::FromUnixSeconds(1'780'000'000);
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")}})
                  .ok());
  now_ = later;
  fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok()) << fired.status();
  const auto again = sink_.DeliveredChanges();
  ASSERT_EQ(again.size(), 2 * first.size());
  for (std::size_t i = 0; i < first.size(); ++i) EXPECT_EQ(again[first.size() + i], first[i]);
}

TEST_P(ProcessorTest, EventTimeTimersFireAtThePartitionsEventTime) {
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(Own(*processor_, Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2025-01-01T10:00:00Z")}}).ok());
  auto fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 0u);
  // Another customer's event moves the partition's clock past c1's timer (1 February).
  ASSERT_TRUE(Process({{1, Interaction("e2", "c2", "2025-02-15T00:00:00Z")}}).ok());
  fired = processor_->FireTimers();
  ASSERT_TRUE(fired.ok());
  EXPECT_EQ(*fired, 1u);
  const auto changes = sink_.DeliveredChanges();
  ASSERT_FALSE(changes.empty());
  EXPECT_THAT(changes.back(), ::testing::HasSubstr(R"("segment":"at_risk")"));
  EXPECT_THAT(changes.back(), ::testing::HasSubstr(R"("occurred_at":"2025-02-01T00:00:00Z")"));
  EXPECT_EQ(core::HeldTier(*Stored("c1"), "lifecycle"), "at_risk");
}

INSTANTIATE_TEST_SUITE_P(Lanes, ProcessorTest,
                         ::testing::Values(LaneLayout{1, 0}, LaneLayout{3, 0}, LaneLayout{3, 2}),
                         [](const auto& info) {
                           return absl::StrCat(info.param.lanes, "_lanes",
                                               info.param.threads == 0
                                                   ? std::string()
                                                   : absl::StrCat("_on_", info.param.threads));
                         });

// What one run leaves behind: per partition, the stored profiles and next offset, and the
// changes in the order they were delivered.
struct RunResult {
  std::map<std::pair<int, std::string>, std::string> profiles;
  std::map<int, std::int64_t> offsets;
  std::map<int, std::vector<std::string>> changes;
  std::size_t dead_letters = 0;
  std::set<std::thread::id> senders;
};

// A processor in event-time mode on a fresh store in `dir`, its lanes in parallel for any batch.
struct EventTimeRun {
  EventTimeRun(std::shared_ptr<const core::Engine> engine, std::size_t lanes,
               const std::filesystem::path& dir, std::size_t reevaluations_per_round = 5'000,
               std::size_t threads = 0) {
    std::filesystem::remove_all(dir);
    auto opened = state::Store::Open(state::StoreOptions{.path = dir.string()});
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (opened.ok()) store = std::move(*opened);
    ProcessorOptions options;
    options.clock = ClockMode::kEventTime;
    options.lanes = lanes;
    options.threads = threads;
    options.parallel_min_records = 1;
    options.reevaluations_per_round = reevaluations_per_round;
    processor = std::make_unique<Processor>(
        std::move(engine), *store, sink, [] { return absl::FromUnixSeconds(1'780'000'000); },
        options, nullptr);
  }

  std::unique_ptr<state::Store> store;
  RecordingSink sink;
  std::unique_ptr<Processor> processor;
};

RunResult RunBatches(const std::vector<std::vector<InputRecord>>& batches, std::size_t lanes,
                     const std::filesystem::path& dir, std::size_t threads = 0) {
  EventTimeRun run(TestEngine(), lanes, dir, /*reevaluations_per_round=*/5'000, threads);
  state::Store& store = *run.store;
  RecordingSink& sink = run.sink;
  Processor& processor = *run.processor;
  RunResult result;
  std::map<std::string, int> partition_of;
  for (const auto& batch : batches) {
    EXPECT_TRUE(processor.Process(batch).ok());
    for (const InputRecord& record : batch) {
      partition_of[std::string(*record.key)] = record.partition.value();
    }
  }
  for (const std::string& change : sink.DeliveredChanges()) {
    // Keys are customer ids; a change names its customer.
    for (const auto& [customer, partition] : partition_of) {
      if (change.find(absl::StrCat(R"("customer_id":")", customer, R"(")")) != std::string::npos) {
        result.changes[partition].push_back(change);
      }
    }
  }
  result.dead_letters = sink.DeadLetters().size();
  result.senders = sink.Senders();
  for (const auto& [customer, partition] : partition_of) {
    auto profile = store.ReadProfile(Partition(partition), customer);
    EXPECT_TRUE(profile.ok()) << profile.status();
    if (profile.ok() && profile->has_value()) {
      result.profiles[{partition, customer}] = Canonical(**profile);
    }
    auto offset = store.ReadOffset(Partition(partition));
    EXPECT_TRUE(offset.ok() && offset->has_value());
    if (offset.ok() && offset->has_value()) result.offsets[partition] = (*offset)->value();
  }
  return result;
}

TEST(ProcessorLanesTest, ParallelLanesLeaveWhatOneLaneLeaves) {
  // 7 partitions over 3 lanes, several customers each, repeated event ids and garbage included.
  struct Input {
    int partition;
    std::string customer;
    std::string value;
  };
  std::vector<std::vector<Input>> inputs(3);
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < 60; ++i) {
      const int customer = (i * 7 + batch) % 20;
      const std::string id = absl::StrCat("c", customer);
      const std::string day = absl::StrCat("2026-0", 1 + batch * 2, "-1", i % 10, "T00:00:00Z");
      inputs[batch].push_back({customer % 7, id,
                               i % 13 == 0 ? std::string("garbage")
                               : i % 3 == 0
                                   ? Purchase(absl::StrCat("e", batch, "-", i / 6), id, day)
                                   : Interaction(absl::StrCat("i", batch, "-", i), id, day)});
    }
  }
  std::map<int, std::int64_t> next_offset;
  std::vector<std::vector<InputRecord>> batches(inputs.size());
  for (std::size_t batch = 0; batch < inputs.size(); ++batch) {
    for (const Input& input : inputs[batch]) {
      // The key is the customer id, so results can be attributed to their partition.
      batches[batch].push_back(
          InputRecord{Partition(input.partition), Offset(next_offset[input.partition]++),
                      std::string_view(input.customer), std::string_view(input.value), "",
                      absl::FromUnixSeconds(1'780'000'000)});
    }
  }

  const RunResult one = RunBatches(batches, 1, TestDir("-one"));
  const RunResult three = RunBatches(batches, 3, TestDir("-three"));
  // More lanes than threads: a thread takes another lane once done with one.
  const RunResult seven_on_two = RunBatches(batches, 7, TestDir("-seven"), /*threads=*/2);
  const RunResult seven_on_one = RunBatches(batches, 7, TestDir("-seven-one"), /*threads=*/1);
  EXPECT_FALSE(one.profiles.empty());
  EXPECT_EQ(one.offsets.size(), 7u);
  EXPECT_EQ(one.changes.size(), 7u);
  EXPECT_GT(one.dead_letters, 0u);
  EXPECT_EQ(three.profiles, one.profiles);
  EXPECT_EQ(three.offsets, one.offsets);
  EXPECT_EQ(three.changes, one.changes);
  EXPECT_EQ(three.dead_letters, one.dead_letters);
  EXPECT_EQ(seven_on_two.profiles, one.profiles);
  EXPECT_EQ(seven_on_two.offsets, one.offsets);
  EXPECT_EQ(seven_on_two.changes, one.changes);
  EXPECT_EQ(seven_on_two.dead_letters, one.dead_letters);
  EXPECT_EQ(seven_on_one.profiles, one.profiles);
  EXPECT_EQ(seven_on_one.offsets, one.offsets);
  EXPECT_EQ(seven_on_one.changes, one.changes);
  EXPECT_EQ(seven_on_one.dead_letters, one.dead_letters);
  EXPECT_EQ(seven_on_one.senders, std::set{std::this_thread::get_id()});
}

TEST_P(ProcessorTest, CountsSegmentMembersPerPartitionWithTheirProfiles) {
  UseMetrics();
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(processor_->ResumeOffset(Partition(1)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")}})
                  .ok());
  ASSERT_TRUE(Process({{0, Purchase("e3", "c3", "2026-05-28T00:00:00Z")}}, Partition(1)).ok());
  EXPECT_EQ(StoredMembers(Partition(0)),
            (std::map<std::string, std::int64_t>{{"buyer", 2}, {"lifecycle/active", 2}}));
  EXPECT_EQ(StoredMembers(Partition(1)),
            (std::map<std::string, std::int64_t>{{"buyer", 1}, {"lifecycle/active", 1}}));
  EXPECT_EQ(Members("", "buyer"), 3);
  EXPECT_EQ(Members("lifecycle", "active"), 3);
  EXPECT_EQ(Members("lifecycle", "at_risk"), 0);

  // Time moves everyone to at_risk: exits and enters move the counts alike.
  now_ += absl::Hours(24 * 40);
  ASSERT_TRUE(processor_->FireTimers().ok());
  EXPECT_EQ(Members("lifecycle", "active"), 0);
  EXPECT_EQ(Members("lifecycle", "at_risk"), 3);

  processor_->Release(Partition(1));
  EXPECT_EQ(Members("", "buyer"), 2);
  EXPECT_EQ(Members("lifecycle", "at_risk"), 2);

  // Another instance taking the partition over starts from the counts stored with it.
  UseMetrics();
  OpenStore();
  EXPECT_EQ(Members("", "buyer"), 0);
  ASSERT_TRUE(processor_->ResumeOffset(Partition(1)).ok());
  EXPECT_EQ(Members("", "buyer"), 1);
  EXPECT_EQ(Members("lifecycle", "at_risk"), 1);
}

TEST_P(ProcessorTest, TimesEachBatchOnceAndEachEventOnce) {
  UseMetrics();
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")},
                       {2, Purchase("e3", "c3", "2026-05-28T00:00:00Z")}})
                  .ok());
  ASSERT_TRUE(Process({{3, Purchase("e4", "c1", "2026-05-29T00:00:00Z")}}).ok());
  auto samples = [&](std::string_view name) -> std::optional<std::uint64_t> {
    for (const auto& family : registry_->Collect()) {
      if (family.name == name) return family.metric.at(0).histogram.sample_count;
    }
    return std::nullopt;
  };
  EXPECT_EQ(samples("cdp_batch_duration_seconds"), 2u);
  EXPECT_EQ(samples("cdp_event_processing_seconds"), 4u);
}

TEST_P(ProcessorTest, CountsTheMembersOfStateWrittenWithoutCountsOnce) {
  // What a store of the previous format holds: profiles, no state record.
  state::Store::Batch batch;
  for (const char* id : {"c1", "c2"}) {
    v1::CustomerProfile profile;
    profile.set_customer_id(id);
    profile.add_segments("buyer");
    core::SetHeldTier(profile, "lifecycle", "active");
    batch.PutProfile(Partition(0), profile);
  }
  ASSERT_TRUE(store_->Commit(batch).ok());
  UseMetrics();
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  EXPECT_EQ(Members("", "buyer"), 2);
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 0u);
  ASSERT_TRUE(Process({{0, Purchase("e1", "c3", "2026-05-28T00:00:00Z")}}).ok());
  EXPECT_EQ(StoredMembers(),
            (std::map<std::string, std::int64_t>{{"buyer", 3}, {"lifecycle/active", 3}}));
  EXPECT_EQ(Members("", "buyer"), 3);
}

TEST_P(ProcessorTest, ReevaluatesEveryStoredProfileWhenTheDefinitionsChange) {
  reevaluations_per_round_ = 2;
  UseMetrics();
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  std::int64_t offset = 0;
  for (const char* customer : {"c1", "c2", "c3", "c4", "c5"}) {
    ASSERT_TRUE(Process({{offset, Purchase(absl::StrCat("p-", customer), customer,
                                           "2026-05-28T00:00:00Z")}})
                    .ok());
    ++offset;
  }
  for (const char* customer : {"c1", "c2"}) {
    ASSERT_TRUE(Process({{offset, Purchase(absl::StrCat("q-", customer), customer,
                                           "2026-05-28T01:00:00Z")}})
                    .ok());
    ++offset;
  }
  ASSERT_TRUE(Process({{offset++, Interaction("i-c3", "c3", "2026-05-28T01:00:00Z")}}).ok());
  const std::size_t before = sink_.DeliveredChanges().size();

  ASSERT_TRUE(processor_->SetEngine(TestEngine(kEditedCatalogue)).ok());
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 1u);
  EXPECT_EQ(Metric("cdp_definition_reevaluation_partitions"), 1);
  // Live input keeps flowing, under the new definitions, while the stored profiles wait.
  ASSERT_TRUE(Process({{offset++, Interaction("i-c6", "c6", "2026-05-28T02:00:00Z")}}).ok());
  EXPECT_THAT(ChangeSummaries(before), ElementsAre("c6 browser entered event"));

  // Six profiles, two per round: the fourth round finds the end.
  EXPECT_EQ(ReevaluateAll(), 4);
  EXPECT_THAT(
      ChangeSummaries(before),
      ElementsAre("c6 browser entered event", "c3 buyer exited definition_change",
                  "c3 browser entered definition_change", "c4 buyer exited definition_change",
                  "c5 buyer exited definition_change"));
  EXPECT_EQ(StoredMembers(), (std::map<std::string, std::int64_t>{
                                 {"browser", 2}, {"buyer", 2}, {"lifecycle/active", 5}}));
  EXPECT_EQ(Members("", "buyer"), 2);
  EXPECT_EQ(Members("", "browser"), 2);
  EXPECT_EQ(Metric("cdp_definition_reevaluated_profiles_total"), 6);
  EXPECT_EQ(Metric("cdp_definition_reevaluation_partitions"), 0);
  EXPECT_THAT(Stored("c5")->segments(), ::testing::IsEmpty());

  // The same definitions again change nothing.
  ASSERT_TRUE(processor_->SetEngine(TestEngine(kEditedCatalogue)).ok());
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 0u);
}

// Rounds larger than the slices profiles are read in: every profile once, in customer id order,
// each round ending where the last slice it read did.
TEST_P(ProcessorTest, ReevaluatesRoundsOfManySlices) {
  reevaluations_per_round_ = 600;
  UseMetrics();
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  std::vector<std::pair<std::int64_t, std::string>> purchases;
  std::vector<std::string> exits;
  for (int i = 0; i < 1'300; ++i) {
    const std::string customer = absl::StrCat("c", 10'000 + i);
    purchases.emplace_back(
        i, Purchase(absl::StrCat("p-", customer), customer, "2026-05-28T00:00:00Z"));
    exits.push_back(absl::StrCat(customer, " buyer exited definition_change"));
  }
  ASSERT_TRUE(Process(purchases).ok());
  const std::size_t before = sink_.DeliveredChanges().size();

  ASSERT_TRUE(processor_->SetEngine(TestEngine(kEditedCatalogue)).ok());
  // 600, 600, then the last 100 and the end.
  EXPECT_EQ(ReevaluateAll(), 3);
  EXPECT_EQ(ChangeSummaries(before), exits);
  EXPECT_EQ(Metric("cdp_definition_reevaluated_profiles_total"), 1'300);
  EXPECT_EQ(StoredMembers(),
            (std::map<std::string, std::int64_t>{{"buyer", 0}, {"lifecycle/active", 1'300}}));
}

TEST_P(ProcessorTest, ARestartWithAnotherSegmentFileReevaluatesTheStoredProfiles) {
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Interaction("e2", "c1", "2026-05-28T00:01:00Z")}})
                  .ok());
  const std::size_t before = sink_.DeliveredChanges().size();
  engine_ = TestEngine(kEditedCatalogue);
  OpenStore();
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 0u);
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 1u);
  EXPECT_EQ(ReevaluateAll(), 1);
  EXPECT_THAT(ChangeSummaries(before), ElementsAre("c1 buyer exited definition_change",
                                                   "c1 browser entered definition_change"));
  // Done for good: the next start finds the partition up to date.
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 0u);
}

TEST_P(ProcessorTest, ARemovedSegmentIsLeftByEveryStoredProfile) {
  UseMetrics();
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")}})
                  .ok());
  const std::size_t before = sink_.DeliveredChanges().size();
  ASSERT_TRUE(processor_
                  ->SetEngine(TestEngine(R"(
timezone: UTC
dimensions:
  - id: lifecycle
    tiers:
      - {id: at_risk, when: "orders_total >= 1 and days_since_last_purchase > 30"}
      - {id: active, when: "orders_total >= 1"}
)"))
                  .ok());
  EXPECT_EQ(ReevaluateAll(), 1);
  EXPECT_THAT(ChangeSummaries(before), ElementsAre("c1 buyer exited definition_change",
                                                   "c2 buyer exited definition_change"));
  EXPECT_EQ(Members("", "buyer"), 0);
  EXPECT_EQ(Members("lifecycle", "active"), 2);
}

TEST_P(ProcessorTest, AFailedReevaluationRoundCommitsNothingAndARetryGivesTheSameChanges) {
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  const std::size_t before = sink_.DeliveredChanges().size();
  ASSERT_TRUE(processor_->SetEngine(TestEngine(kEditedCatalogue)).ok());
  sink_.fail_next_flush_ = true;
  EXPECT_TRUE(absl::IsUnavailable(processor_->ReevaluateDefinitions().status()));
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 1u);
  EXPECT_THAT(Stored("c1")->segments(), ElementsAre("buyer"));
  EXPECT_EQ(sink_.DeliveredChanges().size(), before);

  EXPECT_EQ(ReevaluateAll(), 1);
  EXPECT_THAT(ChangeSummaries(before), ElementsAre("c1 buyer exited definition_change"));
  EXPECT_THAT(Stored("c1")->segments(), ::testing::IsEmpty());
}

TEST_P(ProcessorTest, AnEventTimePartitionWithoutEventsFinishesItsReevaluation) {
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(processor_->ResumeOffset(Partition(1)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2025-01-01T00:00:00Z")}}).ok());
  ASSERT_TRUE(processor_->SetEngine(TestEngine(kEditedCatalogue)).ok());
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 2u);
  // Partition 1 has no clock yet, and nothing to walk: it must not stay pending for ever.
  EXPECT_EQ(ReevaluateAll(), 1);
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 0u);
  EXPECT_THAT(ChangeSummaries(2), ElementsAre("c1 buyer exited definition_change"));
}

TEST_P(ProcessorTest, AReevaluationRedoneAfterACrashGivesTheSameChangeIds) {
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                       {1, Interaction("e2", "c2", "2026-05-28T00:01:00Z")}})
                  .ok());
  engine_ = TestEngine(kEditedCatalogue);
  ASSERT_TRUE(processor_->SetEngine(engine_).ok());
  // What a crash after delivering the re-evaluated changes but before committing them leaves.
  processor_.reset();
  store_.reset();
  const std::filesystem::path before_commit = TestDir("-before-commit");
  std::filesystem::remove_all(before_commit);
  std::filesystem::copy(dir_, before_commit, std::filesystem::copy_options::recursive);

  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  const std::size_t before_first = sink_.DeliveredChanges().size();
  EXPECT_EQ(ReevaluateAll(), 1);
  const std::vector<std::string> first = ChangeSummaries(before_first);
  const std::vector<std::string> first_json = sink_.DeliveredChanges();
  EXPECT_THAT(first, ElementsAre("c1 buyer exited definition_change",
                                 "c2 browser entered definition_change"));

  processor_.reset();
  store_.reset();
  std::filesystem::remove_all(dir_);
  std::filesystem::rename(before_commit, dir_);
  now_ += absl::Hours(1);
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  const std::vector<std::string> all = sink_.DeliveredChanges();
  EXPECT_EQ(ReevaluateAll(), 1);
  const std::vector<std::string> again = sink_.DeliveredChanges();
  ASSERT_EQ(again.size(), all.size() + 2);
  // Byte for byte, change ids and occurred_at included.
  EXPECT_EQ(std::vector<std::string>(again.end() - 2, again.end()),
            std::vector<std::string>(first_json.end() - 2, first_json.end()));
}

constexpr std::string_view kQuintileCatalogue = R"(
timezone: UTC
rfm: {scoring: quintiles}
segments:
  - id: buyer
    when: orders_total >= 1
  - id: top_spender
    when: rfm_m == 5
)";

std::string PurchaseOf(const std::string& customer, std::int64_t amount,
                       const std::string& occurred_at) {
  return absl::StrCat(R"({"event_id":"p-)", customer, occurred_at, R"(","customer_id":")", customer,
                      R"(","occurred_at":")", occurred_at, R"(","purchase":{"order_id":"o-)",
                      customer, occurred_at, R"(","total_amount":)", amount,
                      R"(,"currency":"CNY"}})");
}

// The rfm population the store holds for a partition, and the one its profiles imply.
std::pair<v1::RfmPopulation, v1::RfmPopulation> StoredAndCounted(const state::Store& store,
                                                                 Partition partition) {
  auto state = store.ReadPartitionState(partition);
  EXPECT_TRUE(state.ok() && state->has_value());
  v1::RfmPopulation counted;
  EXPECT_TRUE(store
                  .ForEachProfile(partition,
                                  [&](Partition, const v1::CustomerProfile& profile) {
                                    core::UpdatePopulation(std::nullopt, core::SampleOf(profile),
                                                           counted);
                                    return true;
                                  })
                  .ok());
  return {state.ok() && state->has_value() ? (*state)->rfm_population() : v1::RfmPopulation(),
          counted};
}

TEST_P(ProcessorTest, ScoresRfmByTheQuintilesOfThePartitionRefreshedOnEachNewDay) {
  engine_ = TestEngine(kQuintileCatalogue);
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  // Day 1: the first buyer finds no quintiles; the second one ranks against the first.
  std::vector<std::pair<std::int64_t, std::string>> day1;
  for (int i = 1; i <= 5; ++i) {
    day1.emplace_back(i - 1, PurchaseOf(absl::StrCat("c", i), 100 * i, "2026-05-28T10:00:00Z"));
  }
  ASSERT_TRUE(Process(day1).ok());
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 0u);
  EXPECT_THAT(ChangeSummaries(),
              ElementsAre("c1 buyer entered event", "c2 buyer entered event",
                          "c2 top_spender entered event", "c3 buyer entered event",
                          "c3 top_spender entered event", "c4 buyer entered event",
                          "c4 top_spender entered event", "c5 buyer entered event",
                          "c5 top_spender entered event"));
  const std::size_t after_day1 = sink_.DeliveredChanges().size();

  // Day 2: the first event of the day refreshes the quintiles from all five; in event-time mode
  // every stored profile is re-evaluated then and there, and the customers below the top fifth
  // leave before the event is applied.
  ASSERT_TRUE(Process({{5, Interaction("i1", "c6", "2026-05-29T09:00:00Z")}}).ok());
  EXPECT_EQ(processor_->PartitionsToReevaluate(), 0u);
  EXPECT_THAT(ChangeSummaries(after_day1), ElementsAre("c2 top_spender exited definition_change",
                                                       "c3 top_spender exited definition_change",
                                                       "c4 top_spender exited definition_change"));
  auto state = store_->ReadPartitionState(Partition(0));
  ASSERT_TRUE(state.ok() && state->has_value());
  EXPECT_EQ((*state)->rfm_quintiles().day(), 20602);
  // One past each quintile's value, or past the largest value of its bucket: above 256 buckets
  // are 2 wide, so 300 and 400 count as 301 and 401.
  EXPECT_THAT((*state)->rfm_quintiles().monetary(), ElementsAre(101, 201, 302, 402));
  EXPECT_EQ((*state)->members().at("top_spender"), 1);
  EXPECT_THAT(Stored("c5")->segments(), ElementsAre("buyer", "top_spender"));
}

// Per customer, the changes delivered in event-time mode, the service's loop run between
// batches: batches of `batch_size` records.
std::map<std::string, std::vector<std::string>> QuintileRun(const std::vector<std::string>& values,
                                                            std::size_t batch_size,
                                                            std::size_t lanes,
                                                            const std::filesystem::path& dir) {
  EventTimeRun run(TestEngine(R"(
timezone: Asia/Shanghai
rfm: {scoring: quintiles}
segments:
  - {id: top_spender, when: "rfm_m == 5"}
  - {id: recent, when: "rfm_r >= 4"}
dimensions:
  - id: value
    tiers:
      - {id: high, when: "rfm_f >= 4 and rfm_m >= 4"}
      - {id: low, when: "orders_total >= 1"}
)"),
                   lanes, dir, /*reevaluations_per_round=*/3);
  RecordingSink& sink = run.sink;
  Processor& processor = *run.processor;
  EXPECT_TRUE(processor.ResumeOffset(Partition(0)).ok());
  std::vector<InputRecord> records;
  for (std::size_t i = 0; i < values.size(); ++i) {
    records.push_back(InputRecord{Partition(0), Offset(static_cast<std::int64_t>(i)),
                                  std::string_view("k"), std::string_view(values[i]), "",
                                  absl::FromUnixSeconds(1'780'000'000)});
  }
  for (std::size_t first = 0; first < records.size(); first += batch_size) {
    const std::size_t count = std::min(batch_size, records.size() - first);
    EXPECT_TRUE(processor.Process(std::span(records).subspan(first, count)).ok());
    auto fired = processor.FireTimers();
    EXPECT_TRUE(fired.ok()) << fired.status();
    auto reevaluated = processor.ReevaluateDefinitions();
    EXPECT_TRUE(reevaluated.ok()) << reevaluated.status();
  }
  std::map<std::string, std::vector<std::string>> by_customer;
  for (const std::string& json : sink.DeliveredChanges()) {
    v1::SegmentChange change;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &change).ok());
    by_customer[change.customer_id()].push_back(json);
  }
  return by_customer;
}

TEST(ProcessorQuintilesTest, EventTimeGivesTheSameChangesHoweverTheInputIsBatched) {
  // Ten customers over three weeks, with quiet days between, so that quintile refreshes, timers
  // due before them and events all meet.
  std::vector<std::string> values;
  for (int i = 0; i < 60; ++i) {
    const int day = 1 + (i * 7) / 20;
    const std::string at =
        absl::StrCat("2026-03-", day < 10 ? "0" : "", day, "T0", i % 10, ":", 10 + i % 50, ":00Z");
    const std::string customer = absl::StrCat("c", (i * 7) % 10);
    values.push_back(i % 6 == 5 ? Interaction(absl::StrCat("i", i), customer, at)
                                : PurchaseOf(customer, 100 + (i * 7919) % 3000, at));
  }
  const auto one_batch = QuintileRun(values, values.size(), 1, TestDir("-all"));
  std::size_t changes = 0;
  for (const auto& [customer, list] : one_batch) changes += list.size();
  EXPECT_GT(changes, 30u);
  for (std::size_t batch_size : {1, 4, 13}) {
    for (std::size_t lanes : {1, 2}) {
      const auto run =
          QuintileRun(values, batch_size, lanes, TestDir(absl::StrCat("-", batch_size)));
      for (const auto& [customer, expected] : one_batch) {
        const auto it = run.find(customer);
        ASSERT_NE(it, run.end()) << customer;
        // The first difference only: whole lists are long.
        const auto [mismatch, unused] =
            std::mismatch(expected.begin(), expected.end(), it->second.begin(), it->second.end());
        EXPECT_TRUE(mismatch == expected.end() && it->second.size() == expected.size())
            << batch_size << " records a batch, " << lanes << " lanes: " << customer
            << " differs at change " << (mismatch - expected.begin()) << ": expected "
            << (mismatch == expected.end() ? "nothing" : *mismatch) << ", got "
            << (unused == it->second.end() ? "nothing" : *unused);
      }
      EXPECT_EQ(run.size(), one_batch.size());
    }
  }
}

TEST_P(ProcessorTest, KeepsTheRfmPopulationEqualToWhatTheProfilesImply) {
  engine_ = TestEngine(kQuintileCatalogue);
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  std::int64_t offset = 0;
  std::vector<std::pair<std::int64_t, std::string>> batch;
  for (int i = 0; i < 60; ++i) {
    const std::string customer = absl::StrCat("c", i % 17);
    const std::string at = absl::StrCat("2026-05-", 10 + i / 4, "T10:00:00Z");
    batch.emplace_back(offset++, i % 5 == 4 ? Interaction(absl::StrCat("i", i), customer, at)
                                            : PurchaseOf(customer, 50 + 37 * i, at));
    if (i % 7 == 6) {
      ASSERT_TRUE(Process(batch).ok());
      batch.clear();
    }
  }
  batch.emplace_back(offset++, R"({"event_id":"x1","customer_id":"c3",)"
                               R"("occurred_at":"2026-05-25T11:00:00Z","erasure":{}})");
  ASSERT_TRUE(Process(batch).ok());
  auto [stored, counted] = StoredAndCounted(*store_, Partition(0));
  EXPECT_GT(counted.customers(), 10);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(stored, counted))
      << stored.DebugString() << "\nvs\n"
      << counted.DebugString();

  // State written before the store kept the population is counted once, on load.
  auto state = store_->ReadPartitionState(Partition(0));
  ASSERT_TRUE(state.ok() && state->has_value());
  v1::PartitionState without = **state;
  without.clear_rfm_population();
  state::Store::Batch rewrite;
  rewrite.PutPartitionState(Partition(0), without);
  ASSERT_TRUE(store_->Commit(rewrite).ok());
  OpenStore(ClockMode::kEventTime);
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  auto [reloaded, recounted] = StoredAndCounted(*store_, Partition(0));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(reloaded, counted));
}

TEST_P(ProcessorTest, RefreshesTheQuintilesOfAPartitionWithoutInputWhenTheDayChanges) {
  engine_ = TestEngine(kQuintileCatalogue);
  OpenStore();
  ASSERT_TRUE(processor_->ResumeOffset(Partition(0)).ok());
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(
        Process({{i, PurchaseOf(absl::StrCat("c", i), 100 * i, "2026-05-28T00:00:00Z")}}).ok());
  }
  ReevaluateAll();
  const std::size_t before = sink_.DeliveredChanges().size();
  now_ += absl::Hours(24);
  auto round = processor_->ReevaluateDefinitions();
  ASSERT_TRUE(round.ok()) << round.status();
  ReevaluateAll();
  EXPECT_THAT(ChangeSummaries(before), ElementsAre("c2 top_spender exited definition_change",
                                                   "c3 top_spender exited definition_change",
                                                   "c4 top_spender exited definition_change"));
}

}  // namespace
}  // namespace cdp::pipeline
