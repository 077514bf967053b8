// Routing customers to their partition: wrongly placed input goes through the repartition topic.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cdp/common/partitioner.h"
#include "cdp/core/memberships.h"
#include "cdp/pipeline/changelog.h"
#include "cdp/pipeline/processor.h"
#include "cdp/v1/partition_state.pb.h"
#include "prometheus/registry.h"
#include "test_support.h"

namespace cdp::pipeline {
namespace {

using test_support::Erasure;
using test_support::Interaction;
using test_support::MemoryBroker;
using test_support::Purchase;
using test_support::TestDir;
using test_support::TestEngine;

constexpr std::int32_t kPartitions = 4;
constexpr std::string_view kRepartitionTopic = "events-repartition";

Partition Home(std::string_view customer) {
  return PartitionFor(customer, kPartitions, Partitioner::kConsistent);
}

Partition Elsewhere(std::string_view customer) {
  return Partition((Home(customer).value() + 1) % kPartitions);
}

std::string HeaderOf(const OutputRecord& record, std::string_view key) {
  for (const Header& header : record.headers) {
    if (header.key == key) return header.value;
  }
  return "<absent>";
}

class RoutingTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override { Open(TestDir("_a"), ClockMode::kWall, true); }
  void TearDown() override {
    processor_.reset();
    store_.reset();
    for (const auto& dir : dirs_) std::filesystem::remove_all(dir);
  }

  void Open(std::filesystem::path dir, ClockMode clock, bool fresh) {
    processor_.reset();
    store_.reset();
    if (fresh) std::filesystem::remove_all(dir);
    dirs_.push_back(dir);
    auto store = state::Store::Open(state::StoreOptions{.path = dir.string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ProcessorOptions options;
    options.input_topic = "events";
    options.routing =
        Routing{kPartitions, Partitioner::kConsistent, std::string(kRepartitionTopic)};
    options.clock = clock;
    options.changelog = true;
    options.lanes = GetParam();
    options.parallel_min_records = 1;
    registry_ = std::make_unique<prometheus::Registry>();
    metrics_ = std::make_unique<PipelineMetrics>(*registry_, engine_->catalogue(), "events",
                                                 kRepartitionTopic);
    processor_ = std::make_unique<Processor>(
        engine_, *store_, broker_, [this] { return now_; }, options, metrics_.get());
  }

  absl::Status Consume(InputSource source, Partition partition, std::int64_t offset,
                       const std::string& value, std::string_view content_type = "",
                       std::optional<absl::Time> source_clock = std::nullopt) {
    const InputRecord record{partition, Offset(offset), std::string_view("some-device"),
                             value,     content_type,   absl::InfinitePast(),
                             source,    source_clock};
    return processor_->Process(std::span<const InputRecord>(&record, 1));
  }

  std::optional<v1::CustomerProfile> Stored(std::string_view customer, Partition partition) {
    auto profile = store_->ReadProfile(partition, customer);
    EXPECT_TRUE(profile.ok()) << profile.status();
    return profile.ok() ? *profile : std::nullopt;
  }

  double CounterValue(std::string_view name) const {
    for (const auto& family : registry_->Collect()) {
      if (family.name == name && family.metric.size() == 1) return family.metric[0].counter.value;
    }
    ADD_FAILURE() << "no counter " << name;
    return -1;
  }

  // The partition's last changelog checkpoint.
  v1::ChangelogCheckpoint LastCheckpoint(Partition partition) {
    v1::ChangelogCheckpoint checkpoint;
    const auto& log = broker_.log(partition);
    for (auto record = log.rbegin(); record != log.rend(); ++record) {
      if (record->kind == kChangelogCheckpoint) {
        EXPECT_TRUE(checkpoint.ParseFromString(record->value.value_or("")));
        return checkpoint;
      }
    }
    ADD_FAILURE() << "no checkpoint in partition " << partition.value();
    return checkpoint;
  }

  std::shared_ptr<const core::Engine> engine_ = TestEngine();
  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);  // 2026-05-28
  MemoryBroker broker_;
  std::vector<std::filesystem::path> dirs_;
  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<PipelineMetrics> metrics_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<Processor> processor_;
};

TEST_P(RoutingTest, AnEventInAnotherCustomersPartitionIsPassedOnUnchanged) {
  const std::string event = Purchase("e1", "c1", "2026-05-28T00:00:00Z");
  ASSERT_TRUE(Consume(InputSource::kInput, Elsewhere("c1"), 7, event, "application/json").ok());

  EXPECT_FALSE(Stored("c1", Elsewhere("c1")).has_value());
  EXPECT_FALSE(Stored("c1", Home("c1")).has_value());
  EXPECT_TRUE(broker_.changes_.empty());
  ASSERT_EQ(broker_.other_outputs_.size(), 1u);
  const OutputRecord& passed = broker_.other_outputs_[0];
  EXPECT_EQ(passed.kind, OutputRecord::Kind::kRepartition);
  EXPECT_EQ(passed.key, "c1");
  EXPECT_EQ(passed.value, event);
  EXPECT_EQ(passed.partition, Home("c1"));
  EXPECT_EQ(HeaderOf(passed, "content-type"), "application/json");
  EXPECT_EQ(HeaderOf(passed, kDlqTopicHeader), "events");
  EXPECT_EQ(HeaderOf(passed, kDlqPartitionHeader), std::to_string(Elsewhere("c1").value()));
  EXPECT_EQ(HeaderOf(passed, kDlqOffsetHeader), "7");
  EXPECT_EQ(HeaderOf(passed, kSourceClockHeader), std::to_string(absl::ToUnixMicros(now_)));
  EXPECT_EQ(CounterValue("cdp_events_repartitioned_total"), 1.0);

  // The input partition moved past it, and says so in its checkpoint.
  auto resume = processor_->ResumeOffset(Elsewhere("c1"));
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->input, Offset(8));
  EXPECT_EQ(resume->repartition, std::nullopt);
  EXPECT_EQ(LastCheckpoint(Elsewhere("c1")).next_offset(), 8);
}

TEST_P(RoutingTest, RepartitionedEventsApplyInTheirPartitionWithAnOffsetOfTheirOwn) {
  const Partition home = Home("c1");
  ASSERT_TRUE(
      Consume(InputSource::kInput, home, 4, Purchase("e1", "c1", "2026-05-28T00:00:00Z")).ok());
  ASSERT_TRUE(
      Consume(InputSource::kRepartition, home, 0, Interaction("e2", "c1", "2026-05-28T01:00:00Z"))
          .ok());
  // A publish retried through another partition is still a duplicate.
  ASSERT_TRUE(
      Consume(InputSource::kRepartition, home, 1, Purchase("e1", "c1", "2026-05-28T00:00:00Z"))
          .ok());

  const auto profile = Stored("c1", home);
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->events_applied(), 2);
  EXPECT_EQ(profile->orders_total(), 1);
  EXPECT_TRUE(broker_.other_outputs_.empty());
  auto resume = processor_->ResumeOffset(home);
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->input, Offset(5));
  EXPECT_EQ(resume->repartition, Offset(2));
  const v1::ChangelogCheckpoint checkpoint = LastCheckpoint(home);
  EXPECT_EQ(checkpoint.next_offset(), 5);
  EXPECT_EQ(checkpoint.repartition_next_offset(), 2);

  // Both offsets survive a restart, and a restore from the changelog on another machine.
  processor_.reset();
  store_.reset();
  Open(dirs_.back(), ClockMode::kWall, false);
  resume = processor_->ResumeOffset(home);
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->repartition, Offset(2));
  Open(TestDir("_b"), ClockMode::kWall, true);
  ASSERT_TRUE(RestoreFromChangelog(*store_, broker_, home).ok());
  resume = processor_->ResumeOffset(home);
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->input, Offset(5));
  EXPECT_EQ(resume->repartition, Offset(2));
  EXPECT_EQ(Stored("c1", home)->events_applied(), 2);
}

TEST_P(RoutingTest, APartitionWithOnlyRepartitionedInputKeepsItsEventTime) {
  Open(TestDir("_a"), ClockMode::kEventTime, true);
  const Partition home = Home("c1");
  ASSERT_TRUE(
      Consume(InputSource::kRepartition, home, 0, Purchase("e1", "c1", "2025-01-01T00:00:00Z"))
          .ok());
  // Passed on, an event does not move the clock of the partition it arrived in.
  ASSERT_TRUE(
      Consume(InputSource::kInput, Elsewhere("c1"), 0, Purchase("e2", "c1", "2025-06-01T00:00:00Z"))
          .ok());
  EXPECT_EQ(*store_->ReadEventTime(Elsewhere("c1")), std::nullopt);

  Open(dirs_.back(), ClockMode::kEventTime, false);
  EXPECT_EQ(*store_->ReadEventTime(home), absl::FromUnixSeconds(1'735'689'600));
  auto resume = processor_->ResumeOffset(home);
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->input, std::nullopt);
  EXPECT_EQ(resume->repartition, Offset(1));
  // The restarted clock judges an older event at January 1st, not at its own time.
  ASSERT_TRUE(
      Consume(InputSource::kRepartition, home, 1, Purchase("e3", "c1", "2024-11-01T00:00:00Z"))
          .ok());
  EXPECT_EQ(core::HeldTier(*Stored("c1", home), "lifecycle"), "active");
}

TEST_P(RoutingTest, AReplayIsJudgedAtTheClockOfItsSourceNotOfItsDestination) {
  Open(TestDir("_a"), ClockMode::kEventTime, true);
  const Partition home = Home("c1");
  const absl::Time january_1 = absl::FromUnixSeconds(1'735'689'600);
  const std::string first = Purchase("e1", "c1", "2025-01-01T00:00:00Z");
  ASSERT_TRUE(Consume(InputSource::kRepartition, home, 0, first, "", january_1).ok());
  // The destination's clock moves on by more than the 7 days of dedup retention...
  ASSERT_TRUE(Consume(InputSource::kRepartition, home, 1,
                      Interaction("e2", "c1", "2025-01-20T00:00:00Z"), "", january_1)
                  .ok());
  // ...before the source, restarted from its last commit, passes the first event on again: its
  // clock then is still January 1st, so the repeat is recognised.
  ASSERT_TRUE(Consume(InputSource::kRepartition, home, 2, first, "", january_1).ok());
  EXPECT_EQ(Stored("c1", home)->events_applied(), 2);
  EXPECT_EQ(Stored("c1", home)->orders_total(), 1);
  // Judged at the destination's clock, as a record without a source clock is, the entry has
  // expired: the retention is the only bound then.
  ASSERT_TRUE(Consume(InputSource::kRepartition, home, 3, first).ok());
  EXPECT_EQ(Stored("c1", home)->orders_total(), 2);
}

TEST_P(RoutingTest, InvalidRecordsAreRejectedWhereTheyArriveAndMisroutedOnesTooFromRepartition) {
  ASSERT_TRUE(Consume(InputSource::kInput, Elsewhere("c1"), 3, "not json").ok());
  ASSERT_TRUE(Consume(InputSource::kRepartition, Elsewhere("c1"), 9,
                      Purchase("e1", "c1", "2026-05-28T00:00:00Z"))
                  .ok());
  ASSERT_EQ(broker_.other_outputs_.size(), 2u);
  const OutputRecord& undecodable = broker_.other_outputs_[0];
  EXPECT_EQ(undecodable.kind, OutputRecord::Kind::kDeadLetter);
  EXPECT_EQ(HeaderOf(undecodable, kDlqReasonHeader), "undecodable");
  EXPECT_EQ(HeaderOf(undecodable, kDlqTopicHeader), "events");
  const OutputRecord& misrouted = broker_.other_outputs_[1];
  EXPECT_EQ(misrouted.kind, OutputRecord::Kind::kDeadLetter);
  EXPECT_EQ(HeaderOf(misrouted, kDlqReasonHeader), "misrouted");
  EXPECT_EQ(HeaderOf(misrouted, kDlqTopicHeader), kRepartitionTopic);
  EXPECT_EQ(HeaderOf(misrouted, kDlqOffsetHeader), "9");
  EXPECT_NE(HeaderOf(misrouted, kDlqDetailHeader).find("--partitioner"), std::string::npos);
  EXPECT_FALSE(Stored("c1", Elsewhere("c1")).has_value());
  auto resume = processor_->ResumeOffset(Elsewhere("c1"));
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->input, Offset(4));
  EXPECT_EQ(resume->repartition, Offset(10));
}

TEST_P(RoutingTest, ADeadLetterOfAPassedOnEventNamesTheInputRecordItCameFrom) {
  const std::string value = Purchase("e1", "c1", "2026-05-28T00:00:00Z");
  InputRecord record{Elsewhere("c1"),          Offset(9), "c1", value, "", absl::InfinitePast(),
                     InputSource::kRepartition};
  record.origin = SourceRecord{"events", Partition(5), Offset(1234)};
  ASSERT_TRUE(processor_->Process(std::span<const InputRecord>(&record, 1)).ok());
  ASSERT_EQ(broker_.other_outputs_.size(), 1u);
  const OutputRecord& misrouted = broker_.other_outputs_[0];
  EXPECT_EQ(HeaderOf(misrouted, kDlqReasonHeader), "misrouted");
  EXPECT_EQ(HeaderOf(misrouted, kDlqTopicHeader), "events");
  EXPECT_EQ(HeaderOf(misrouted, kDlqPartitionHeader), "5");
  EXPECT_EQ(HeaderOf(misrouted, kDlqOffsetHeader), "1234");
  // Its own position in the repartition topic is still what processing resumes after.
  auto resume = processor_->ResumeOffset(Elsewhere("c1"));
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->repartition, Offset(10));
}

TEST_P(RoutingTest, AReplayOfPassedOnRecordsIsSkippedEvenOnceAnErasureForgotTheirEventIds) {
  const Partition home = Home("c1");
  const Partition source = Elsewhere("c1");
  std::int64_t next_offset = 0;
  auto pass_on = [&](std::int64_t origin_offset, const std::string& value) {
    InputRecord record{home,
                       Offset(next_offset++),
                       "c1",
                       value,
                       "",
                       absl::InfinitePast(),
                       InputSource::kRepartition};
    record.origin = SourceRecord{"events", source, Offset(origin_offset)};
    return processor_->Process(std::span<const InputRecord>(&record, 1));
  };
  const std::string purchase = Purchase("e1", "c1", "2026-05-27T00:00:00Z");
  // Upstream's clock says after the erasure, but it was published before it: erased too.
  const std::string interaction = Interaction("e2", "c1", "2026-05-28T01:00:00Z");
  const std::string erasure = Erasure("e3", "c1", "2026-05-28T00:00:00Z");
  ASSERT_TRUE(pass_on(10, purchase).ok());
  ASSERT_TRUE(pass_on(11, interaction).ok());
  ASSERT_TRUE(pass_on(12, erasure).ok());
  ASSERT_FALSE(Stored("c1", home).has_value());
  const std::size_t changes_before_replay = broker_.changes_.size();

  // The source died before committing offset 12 and passes all three on again, to a new owner of
  // the destination restored from the changelog.
  Open(TestDir("_b"), ClockMode::kWall, true);
  ASSERT_TRUE(RestoreFromChangelog(*store_, broker_, home).ok());
  ASSERT_TRUE(pass_on(10, purchase).ok());
  ASSERT_TRUE(pass_on(11, interaction).ok());

  // Neither refused as an erased customer's event nor applied again: the erasure forgot their
  // event ids, but they were judged once already.
  EXPECT_TRUE(broker_.other_outputs_.empty());
  EXPECT_EQ(broker_.changes_.size(), changes_before_replay);
  EXPECT_FALSE(Stored("c1", home).has_value());
  ASSERT_TRUE(pass_on(12, erasure).ok());
  EXPECT_EQ(broker_.changes_.size(), changes_before_replay);
  EXPECT_EQ(CounterValue("cdp_events_duplicate_total"), 3.0);
  EXPECT_EQ(LastCheckpoint(home).state().passed_on_through().at(source.value()), 12);

  // What the source passes on next is judged as usual: a second publish of the erased
  // customer's old purchase, at a later offset, is refused.
  ASSERT_TRUE(pass_on(13, purchase).ok());
  ASSERT_EQ(broker_.other_outputs_.size(), 1u);
  EXPECT_EQ(HeaderOf(broker_.other_outputs_[0], kDlqReasonHeader), "erased");
  EXPECT_EQ(HeaderOf(broker_.other_outputs_[0], kDlqOffsetHeader), "13");
}

// A broker that does not check the idempotent producer's sequence numbers (the embedded one) may
// drop a passed-on record while acknowledging it, and keep the next. The source then passes its
// batch on again; the destination must not have moved past the lost record meanwhile.
TEST_P(RoutingTest, APassedOnRecordThatArrivesWithoutTheOneBeforeItWaitsForBoth) {
  const Partition home = Home("c1");
  const Partition source = Elsewhere("c1");
  const std::vector<std::string> purchases = {Purchase("e1", "c1", "2026-05-27T00:00:00Z"),
                                              Purchase("e2", "c1", "2026-05-27T01:00:00Z"),
                                              Purchase("e3", "c1", "2026-05-27T02:00:00Z")};
  std::vector<InputRecord> published;
  for (std::size_t i = 0; i < purchases.size(); ++i) {
    published.push_back(InputRecord{source, Offset(20 + static_cast<std::int64_t>(i)),
                                    std::string_view("some-device"), purchases[i], ""});
  }
  ASSERT_TRUE(processor_->Process(published).ok());
  // Copied: the outputs of what the destination processes are appended to the same vector.
  const std::vector<OutputRecord> passed = broker_.other_outputs_;
  ASSERT_EQ(passed.size(), 3u);
  EXPECT_EQ(HeaderOf(passed[0], kSourcePreviousHeader), "-1");
  EXPECT_EQ(HeaderOf(passed[1], kSourcePreviousHeader), "20");
  EXPECT_EQ(HeaderOf(passed[2], kSourcePreviousHeader), "21");
  EXPECT_EQ(LastCheckpoint(source).state().passed_on_last().at(home.value()), 22);

  // As the service reads them from the repartition topic.
  std::int64_t next_offset = 0;
  auto arrive = [&](const std::vector<std::size_t>& which) {
    std::vector<InputRecord> records;
    for (std::size_t i : which) {
      InputRecord& record = records.emplace_back(InputRecord{
          home, Offset(next_offset++), std::string_view(passed[i].key),
          std::string_view(passed[i].value), "", absl::InfinitePast(), InputSource::kRepartition});
      record.origin = SourceRecord{"events", source, Offset(20 + static_cast<std::int64_t>(i))};
      record.passed_on_after = std::stoll(HeaderOf(passed[i], kSourcePreviousHeader));
    }
    return processor_->Process(records);
  };
  ASSERT_TRUE(arrive({1, 2}).ok());
  EXPECT_FALSE(Stored("c1", home).has_value());
  EXPECT_TRUE(broker_.changes_.empty());
  EXPECT_EQ(CounterValue("cdp_events_duplicate_total"), 2.0);

  // The source's batch again: all three apply, once each and in order.
  ASSERT_TRUE(arrive({0, 1, 2}).ok());
  const std::optional<v1::CustomerProfile> profile = Stored("c1", home);
  ASSERT_TRUE(profile.has_value());
  EXPECT_EQ(profile->events_applied(), 3);
  EXPECT_EQ(LastCheckpoint(home).state().passed_on_through().at(source.value()), 22);
  ASSERT_TRUE(arrive({0, 1, 2}).ok());
  EXPECT_EQ(Stored("c1", home)->events_applied(), 3);
  EXPECT_EQ(CounterValue("cdp_events_duplicate_total"), 5.0);

  // A predecessor below the mark can never come again (state written before the header
  // existed): the record is judged as it would be without the header.
  const std::string later = Purchase("e4", "c1", "2026-05-27T03:00:00Z");
  InputRecord record{home, Offset(next_offset++), std::string_view("c1"),   later,
                     "",   absl::InfinitePast(),  InputSource::kRepartition};
  record.origin = SourceRecord{"events", source, Offset(30)};
  record.passed_on_after = 5;
  ASSERT_TRUE(processor_->Process(std::span<const InputRecord>(&record, 1)).ok());
  EXPECT_EQ(Stored("c1", home)->events_applied(), 4);
}

INSTANTIATE_TEST_SUITE_P(Lanes, RoutingTest, ::testing::Values(1, 3));

}  // namespace
}  // namespace cdp::pipeline
