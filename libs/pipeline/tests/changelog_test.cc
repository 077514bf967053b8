#include "cdp/pipeline/changelog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/pipeline/processor.h"
#include "test_support.h"

namespace cdp::pipeline {
namespace {

using test_support::Canonical;
using test_support::Erasure;
using test_support::Interaction;
using test_support::LoggedRecord;
using test_support::MemoryBroker;
using test_support::Purchase;
using test_support::TestDir;
using test_support::TestEngine;
using ::testing::ElementsAre;

// One owner of the partitions: a store in its own directory and a processor writing the
// changelog to the shared broker.
class Owner {
 public:
  Owner(std::filesystem::path dir, MemoryBroker& broker, std::shared_ptr<const core::Engine> engine,
        const absl::Time& now, std::size_t lanes, bool changelog = true, bool fresh = true)
      : dir_(std::move(dir)) {
    if (fresh) std::filesystem::remove_all(dir_);
    auto store = state::Store::Open(state::StoreOptions{.path = dir_.string()});
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ProcessorOptions options;
    options.changelog = changelog;
    options.lanes = lanes;
    options.parallel_min_records = 1;
    processor_ = std::make_unique<Processor>(
        std::move(engine), *store_, broker, [&now] { return now; }, options, nullptr);
  }
  ~Owner() {
    processor_.reset();
    store_.reset();
    if (remove_) std::filesystem::remove_all(dir_);
  }
  // Leaves the directory for another Owner to open.
  void Keep() { remove_ = false; }

  absl::Status Process(const std::vector<std::pair<std::int64_t, std::string>>& values,
                       Partition partition = Partition(0)) {
    std::vector<InputRecord> records;
    for (const auto& [offset, value] : values) {
      records.push_back(InputRecord{partition, Offset(offset), std::string_view("k"),
                                    std::string_view(value), "", absl::InfinitePast()});
    }
    return processor_->Process(records);
  }

  // Every profile of the partition, serialized, by customer id.
  std::map<std::string, std::string> Profiles(Partition partition = Partition(0)) const {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store_
                    ->ForEachProfile(partition,
                                     [&](Partition, const v1::CustomerProfile& profile) {
                                       out[profile.customer_id()] = Canonical(profile);
                                       return true;
                                     })
                    .ok());
    return out;
  }

  state::Store& store() { return *store_; }
  Processor& processor() { return *processor_; }

 private:
  std::filesystem::path dir_;
  bool remove_ = true;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<Processor> processor_;
};

class ChangelogTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  // Partition 0's member counts and rfm population are the same in both stores.
  static void ExpectSameCounts(const state::Store& expected, const state::Store& actual) {
    auto expected_state = expected.ReadPartitionState(Partition(0));
    auto actual_state = actual.ReadPartitionState(Partition(0));
    ASSERT_TRUE(expected_state.ok() && actual_state.ok() && expected_state->has_value() &&
                actual_state->has_value());
    EXPECT_EQ((std::map<std::string, std::int64_t>((*actual_state)->members().begin(),
                                                   (*actual_state)->members().end())),
              (std::map<std::string, std::int64_t>((*expected_state)->members().begin(),
                                                   (*expected_state)->members().end())));
    EXPECT_EQ(Canonical((*actual_state)->rfm_population()),
              Canonical((*expected_state)->rfm_population()));
  }

  // Every timer of partition 0: (due, customer id).
  static std::vector<std::pair<absl::Time, std::string>> Timers(const state::Store& store) {
    std::vector<std::pair<absl::Time, std::string>> timers;
    auto due = store.DueTimers(Partition(0), absl::InfiniteFuture(), 1000);
    EXPECT_TRUE(due.ok()) << due.status();
    if (due.ok()) {
      for (const auto& timer : *due) timers.emplace_back(timer.due, timer.customer_id);
    }
    return timers;
  }

  std::unique_ptr<Owner> MakeOwner(std::string_view name) {
    return std::make_unique<Owner>(TestDir(std::string("_").append(name)), broker_, TestEngine(),
                                   now_, GetParam());
  }

  // Restores partition 0 into new owners, with the partition held back whole and window by
  // window: each must fail as DataLoss with `reason` and leave no state record.
  void ExpectRestoreOfPartition0Refused(std::string_view reason) {
    for (const std::size_t window_bytes : {kRestoreWindowBytes, std::size_t{1}}) {
      SCOPED_TRACE(window_bytes);
      auto other = MakeOwner(window_bytes == 1 ? "b" : "c");
      auto refused = RestoreFromChangelog(other->store(), broker_, Partition(0), {}, window_bytes);
      ASSERT_FALSE(refused.ok());
      EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
      EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr(reason));
      auto state = other->store().ReadPartitionState(Partition(0));
      ASSERT_TRUE(state.ok());
      EXPECT_FALSE(state->has_value());
    }
  }

  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);  // 2026-05-28
  MemoryBroker broker_;
};

TEST_P(ChangelogTest, EveryWrittenProfileThenACheckpointFollowTheDeliveredChanges) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner
                  ->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                             {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")}})
                  .ok());
  const auto& log = broker_.log(Partition(0));
  ASSERT_EQ(log.size(), 3u);
  std::map<std::string, std::string> logged;
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(log[i].kind, kChangelogProfile);
    ASSERT_TRUE(log[i].key.has_value() && log[i].value.has_value());
    v1::CustomerProfile parsed;
    ASSERT_TRUE(parsed.ParseFromString(*log[i].value));
    logged[*log[i].key] = Canonical(parsed);
  }
  // Byte for byte what the store holds, applied events included.
  EXPECT_EQ(logged, owner->Profiles());
  v1::CustomerProfile profile;
  ASSERT_TRUE(profile.ParseFromString(log[0].key == "c1" ? *log[0].value : *log[1].value));
  ASSERT_EQ(profile.applied_events_size(), 1);
  EXPECT_EQ(profile.applied_events(0).event_id(), "e1");
  EXPECT_EQ(profile.applied_events(0).expires_at_us(),
            absl::ToUnixMicros(now_ + absl::Hours(7 * 24)));

  EXPECT_EQ(log[2].kind, kChangelogCheckpoint);
  EXPECT_EQ(log[2].key, "");
  v1::ChangelogCheckpoint checkpoint;
  ASSERT_TRUE(checkpoint.ParseFromString(log[2].value.value_or("")));
  EXPECT_EQ(checkpoint.next_offset(), 2);
  auto state = owner->store().ReadPartitionState(Partition(0));
  ASSERT_TRUE(state.ok() && state->has_value());
  EXPECT_NE((*state)->changelog_token(), 0u);
  EXPECT_EQ(checkpoint.state().changelog_token(), (*state)->changelog_token());

  // The changes went out in a flush before the changelog's.
  ASSERT_FALSE(broker_.changes_.empty());
  for (const auto& [flush, change] : broker_.changes_) EXPECT_EQ(flush, 1);
  EXPECT_EQ(broker_.flushes_, 2);
}

TEST_P(ChangelogTest, AppliedEventsExpireWithTheirDedupWindow) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  now_ += absl::Hours(8 * 24);
  ASSERT_TRUE(owner->Process({{1, Purchase("e2", "c1", "2026-06-05T00:00:00Z")}}).ok());
  auto profile = owner->store().ReadProfile(Partition(0), "c1");
  ASSERT_TRUE(profile.ok() && profile->has_value());
  ASSERT_EQ((*profile)->applied_events_size(), 1);
  EXPECT_EQ((*profile)->applied_events(0).event_id(), "e2");
}

TEST_P(ChangelogTest, AFailedChangelogDeliveryCommitsNothing) {
  auto owner = MakeOwner("a");
  broker_.fail_flush_ = 2;
  const std::vector<std::pair<std::int64_t, std::string>> batch = {
      {0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}};
  const absl::Status failed = owner->Process(batch);
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_THAT(std::string(failed.message()), ::testing::HasSubstr("changelog"));
  EXPECT_TRUE(owner->Profiles().empty());
  auto offset = owner->store().ReadOffset(Partition(0));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, std::nullopt);
  ASSERT_TRUE(owner->Process(batch).ok());
  EXPECT_EQ(owner->Profiles().size(), 1u);
  // The failed attempt had moved the partition's rfm population while the changelog was being
  // delivered: it is put back, so the customer counts once.
  auto state = owner->store().ReadPartitionState(Partition(0));
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(state->has_value());
  EXPECT_EQ((*state)->rfm_population().customers(), 1);
  std::int64_t counted = 0;
  for (const auto& [bucket, customers] : (*state)->rfm_population().orders()) counted += customers;
  EXPECT_EQ(counted, 1);
}

TEST_P(ChangelogTest, AnInstanceThatMayHaveLostItsPartitionsLogsAndCommitsNothing) {
  auto owner = MakeOwner("a");
  absl::Status ownership = absl::FailedPreconditionError("the group session expired");
  owner->processor().SetOwnershipCheck([&] { return ownership; });
  const std::vector<std::pair<std::int64_t, std::string>> batch = {
      {0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}};
  const absl::Status dropped = owner->Process(batch);
  EXPECT_TRUE(absl::IsAborted(dropped)) << dropped;
  EXPECT_THAT(std::string(dropped.message()), ::testing::HasSubstr("the group session expired"));
  // The changes went out, as they may before any crash; nothing else did.
  const std::size_t changes = broker_.changes_.size();
  EXPECT_GT(changes, 0u);
  EXPECT_TRUE(broker_.log(Partition(0)).empty());
  EXPECT_TRUE(owner->Profiles().empty());
  auto offset = owner->store().ReadOffset(Partition(0));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, std::nullopt);

  // Owned again, the same batch goes through as if the first attempt had never been.
  ownership = absl::OkStatus();
  ASSERT_TRUE(owner->Process(batch).ok());
  ASSERT_EQ(broker_.changes_.size(), 2 * changes);
  for (std::size_t i = 0; i < changes; ++i) {
    EXPECT_EQ(broker_.changes_[changes + i].second, broker_.changes_[i].second);
  }
  EXPECT_EQ(broker_.log(Partition(0)).size(), 2u);
  EXPECT_EQ(owner->Profiles().size(), 1u);
}

TEST_P(ChangelogTest, ARestoreRebuildsEverythingTheOwnerHeldAndGoesOnAlike) {
  auto first = MakeOwner("a");
  ASSERT_TRUE(first
                  ->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                             {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")},
                             {2, Purchase("e3", "c3", "2026-05-28T00:00:00Z")}})
                  .ok());
  ASSERT_TRUE(first
                  ->Process({{3, Purchase("e4", "c1", "2026-05-28T01:00:00Z")},
                             {4, Erasure("e5", "c3", "2026-05-28T01:00:00Z")}})
                  .ok());

  auto second = MakeOwner("b");
  auto restored = RestoreFromChangelog(second->store(), broker_, Partition(0));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(restored->restored);
  EXPECT_EQ(restored->profiles, 2u);
  EXPECT_EQ(restored->records, broker_.log(Partition(0)).size());

  EXPECT_EQ(second->Profiles(), first->Profiles());
  for (state::Store* store : {&first->store(), &second->store()}) {
    auto offset = store->ReadOffset(Partition(0));
    ASSERT_TRUE(offset.ok());
    EXPECT_EQ(*offset, Offset(5));
    auto timers = store->DueTimers(Partition(0), now_ + absl::Hours(24 * 40), 10);
    ASSERT_TRUE(timers.ok());
    std::vector<std::string> due;
    for (const auto& timer : *timers) due.push_back(timer.customer_id);
    EXPECT_THAT(due, ElementsAre("c1", "c2"));
  }
  auto first_state = first->store().ReadPartitionState(Partition(0));
  auto second_state = second->store().ReadPartitionState(Partition(0));
  ASSERT_TRUE(first_state.ok() && second_state.ok() && first_state->has_value() &&
              second_state->has_value());
  EXPECT_EQ((*second_state)->changelog_token(), (*first_state)->changelog_token());
  ExpectSameCounts(first->store(), second->store());

  // The new owner resumes where the old one stopped: retried publishes (of either batch) are
  // dropped, new events apply on the same state.
  auto resume = second->processor().ResumeOffset(Partition(0));
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(resume->input, Offset(5));
  const std::size_t changes_before = broker_.changes_.size();
  ASSERT_TRUE(second
                  ->Process({{5, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                             {6, Purchase("e4", "c1", "2026-05-28T01:00:00Z")},
                             {7, Purchase("e6", "c2", "2026-05-28T02:00:00Z")}})
                  .ok());
  auto c1 = second->store().ReadProfile(Partition(0), "c1");
  auto c2 = second->store().ReadProfile(Partition(0), "c2");
  ASSERT_TRUE(c1.ok() && c1->has_value() && c2.ok() && c2->has_value());
  EXPECT_EQ((*c1)->orders_total(), 2);
  EXPECT_EQ((*c2)->orders_total(), 2);
  EXPECT_EQ(broker_.changes_.size(), changes_before);  // nothing enters or leaves
}

TEST_P(ChangelogTest, EachProfilesLastVersionIsRestoredHoweverFewVersionsAreHeldBack) {
  auto first = MakeOwner("a");
  ASSERT_TRUE(first
                  ->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                             {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")}})
                  .ok());
  ASSERT_TRUE(first->Process({{2, Purchase("e3", "c1", "2026-05-28T01:00:00Z")}}).ok());
  ASSERT_TRUE(first->Process({{3, Erasure("e4", "c2", "2026-05-28T01:00:00Z")}}).ok());
  ASSERT_TRUE(first->Process({{4, Purchase("e5", "c2", "2026-05-28T02:00:00Z")}}).ok());

  // One byte: every version is written as it is read, as without holding any back.
  for (const std::size_t window_bytes : {std::size_t{1}, kRestoreWindowBytes}) {
    auto second = MakeOwner(window_bytes == 1 ? "b" : "c");
    auto restored = RestoreFromChangelog(second->store(), broker_, Partition(0), {}, window_bytes);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(restored->profiles, 2u);
    EXPECT_EQ(second->Profiles(), first->Profiles()) << window_bytes;
    // And what follows from them, however many times a customer was written.
    SCOPED_TRACE(window_bytes);
    ExpectSameCounts(first->store(), second->store());
    EXPECT_EQ(Timers(second->store()), Timers(first->store()));
  }
}

TEST_P(ChangelogTest, ACustomerWrittenByTwoWindowsKeepsOneTimerAndIsCountedOnce) {
  auto first = MakeOwner("a");
  ASSERT_TRUE(first->Process({{0, Purchase("e1", "c1", "2026-05-01T00:00:00Z")}}).ok());
  ASSERT_TRUE(first->Process({{1, Purchase("e2", "c1", "2026-05-20T00:00:00Z")}}).ok());
  ASSERT_TRUE(first->Process({{2, Purchase("e3", "c2", "2026-05-27T00:00:00Z")}}).ok());
  ASSERT_TRUE(first->Process({{3, Erasure("e4", "c2", "2026-05-27T01:00:00Z")}}).ok());

  auto second = MakeOwner("b");
  auto restored = RestoreFromChangelog(second->store(), broker_, Partition(0), {}, 1);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->profiles, 1u);
  ASSERT_EQ(Timers(first->store()).size(), 1u);
  EXPECT_EQ(Timers(second->store()), Timers(first->store()));
  ExpectSameCounts(first->store(), second->store());
}

TEST_P(ChangelogTest, LocalStateCarryingTheLastCheckpointIsKept) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  auto kept = RestoreFromChangelog(owner->store(), broker_, Partition(0));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->restored);
  EXPECT_EQ(kept->records, 0u);

  // Once another owner has written after it, the same local state is behind and restored.
  auto other = MakeOwner("b");
  ASSERT_TRUE(RestoreFromChangelog(other->store(), broker_, Partition(0)).ok());
  ASSERT_TRUE(other->processor().ResumeOffset(Partition(0)).ok());
  ASSERT_TRUE(other->Process({{1, Purchase("e2", "c1", "2026-05-28T01:00:00Z")}}).ok());
  auto behind = RestoreFromChangelog(owner->store(), broker_, Partition(0));
  ASSERT_TRUE(behind.ok()) << behind.status();
  EXPECT_TRUE(behind->restored);
  EXPECT_EQ(owner->Profiles(), other->Profiles());
}

TEST_P(ChangelogTest, ARestoreNotYetPersistedIsRestoredAgainUntilItIs) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  auto second = MakeOwner("b");
  auto restored = RestoreFromChangelog(second->store(), broker_, Partition(0));
  ASSERT_TRUE(restored.ok() && restored->restored) << restored.status();
  auto marked = second->store().UnloggedPending(Partition(0));
  ASSERT_TRUE(marked.ok() && *marked) << "a restore commits without the log, and marks it";

  // Its checkpoint is the changelog's last, but a crash may have lost the profiles under it.
  auto again = RestoreFromChangelog(second->store(), broker_, Partition(0));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->restored);

  ASSERT_TRUE(second->store().PersistUnlogged().ok());
  auto kept = RestoreFromChangelog(second->store(), broker_, Partition(0));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->restored);
  EXPECT_EQ(second->Profiles(), owner->Profiles());
}

TEST_P(ChangelogTest, StateKeptWithoutTheChangelogIsWrittenToItOnceTurnedOn) {
  auto before = std::make_unique<Owner>(TestDir("_a"), broker_, TestEngine(), now_, GetParam(),
                                        /*changelog=*/false);
  ASSERT_TRUE(before
                  ->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")},
                             {1, Purchase("e2", "c2", "2026-05-28T00:00:00Z")}})
                  .ok());
  EXPECT_TRUE(broker_.log(Partition(0)).empty());
  before->Keep();
  before.reset();

  Owner after(TestDir("_a"), broker_, TestEngine(), now_, GetParam(), /*changelog=*/true,
              /*fresh=*/false);
  auto restored = RestoreFromChangelog(after.store(), broker_, Partition(0));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_FALSE(restored->restored);
  EXPECT_TRUE(restored->changelog_empty);
  ASSERT_TRUE(after.processor().ResumeOffset(Partition(0)).ok());
  auto seeded = after.processor().SeedChangelog(Partition(0));
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  EXPECT_EQ(*seeded, 2u);
  ASSERT_EQ(broker_.log(Partition(0)).size(), 3u);
  EXPECT_EQ(broker_.log(Partition(0)).back().kind, kChangelogCheckpoint);

  // It is now current with the changelog, and another owner restores the same state.
  auto kept = RestoreFromChangelog(after.store(), broker_, Partition(0));
  ASSERT_TRUE(kept.ok() && !kept->restored);
  auto other = MakeOwner("b");
  ASSERT_TRUE(RestoreFromChangelog(other->store(), broker_, Partition(0)).ok());
  EXPECT_EQ(other->Profiles(), after.Profiles());
  auto offset = other->store().ReadOffset(Partition(0));
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset, Offset(2));
}

TEST_P(ChangelogTest, AnEmptyChangelogLeavesTheLocalStateAlone) {
  auto owner = MakeOwner("a");
  auto restored = RestoreFromChangelog(owner->store(), broker_, Partition(3));
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_FALSE(restored->restored);
}

TEST_P(ChangelogTest, ProfilesAheadOfTheLastCheckpointDoNotApplyTheirEventsTwice) {
  auto first = MakeOwner("a");
  ASSERT_TRUE(first->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  // The next batch's profiles reach the changelog, its checkpoint does not; the owner dies.
  broker_.fail_flush_ = broker_.flushes_ + 2;
  const std::vector<std::pair<std::int64_t, std::string>> batch = {
      {1, Purchase("e2", "c1", "2026-05-28T01:00:00Z")},
      {2, Purchase("e3", "c2", "2026-05-28T01:00:00Z")}};
  ASSERT_FALSE(first->Process(batch).ok());
  ASSERT_EQ(broker_.log(Partition(0)).back().kind, kChangelogProfile);

  auto second = MakeOwner("b");
  ASSERT_TRUE(RestoreFromChangelog(second->store(), broker_, Partition(0)).ok());
  auto resume = second->processor().ResumeOffset(Partition(0));
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(resume->input, Offset(1));  // the last checkpoint's
  ASSERT_TRUE(second->Process(batch).ok());
  auto c1 = second->store().ReadProfile(Partition(0), "c1");
  auto c2 = second->store().ReadProfile(Partition(0), "c2");
  ASSERT_TRUE(c1.ok() && c1->has_value() && c2.ok() && c2->has_value());
  EXPECT_EQ((*c1)->orders_total(), 2);
  EXPECT_EQ((*c1)->events_applied(), 2);
  EXPECT_EQ((*c2)->orders_total(), 1);
  auto state = second->store().ReadPartitionState(Partition(0));
  ASSERT_TRUE(state.ok() && state->has_value());
  EXPECT_EQ((*state)->members().at("buyer"), 2);
}

TEST_P(ChangelogTest, ARecordThatIsNotOursFailsTheRestoreWithAReason) {
  broker_.log(Partition(1)).push_back(LoggedRecord{"someone", "else", ""});
  auto owner = MakeOwner("a");
  auto restored = RestoreFromChangelog(owner->store(), broker_, Partition(1));
  ASSERT_FALSE(restored.ok());
  EXPECT_THAT(std::string(restored.status().message()),
              ::testing::HasSubstr("neither a profile, an erasure nor a checkpoint"));
}

TEST_P(ChangelogTest, AProfileRecordThatDoesNotParseFailsTheRestoreAsDataLoss) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  // A length-delimited field longer than what follows it.
  broker_.log(Partition(0))
      .push_back(LoggedRecord{"c2",
                              std::string("\x0a\x05"
                                          "ab"),
                              std::string(kChangelogProfile)});
  ExpectRestoreOfPartition0Refused("not a valid cdp.v1.CustomerProfile");
}

// A source may take a record for a profile by its key alone (KafkaChangelog does): what makes
// it one of ours is the profile it holds.
TEST_P(ChangelogTest, AProfileRecordKeyedByAnotherCustomerFailsTheRestoreAsDataLoss) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  v1::CustomerProfile stray;
  stray.set_customer_id("c1");
  stray.set_orders_total(5);
  broker_.log(Partition(0))
      .push_back(LoggedRecord{"c2", stray.SerializeAsString(), std::string(kChangelogProfile)});
  ExpectRestoreOfPartition0Refused("the profile of another customer than its key");
}

TEST_P(ChangelogTest, AChangelogMissingItsOldestRecordsIsNotRestoredFrom) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner->Process({{0, Purchase("e1", "c1", "2026-05-28T00:00:00Z")}}).ok());
  ASSERT_TRUE(owner->Process({{1, Purchase("e2", "c2", "2026-05-28T01:00:00Z")}}).ok());
  broker_.DeleteBefore(Partition(0), 2);  // c1's only record and its checkpoint

  // The owner's own copy is the changelog's last word: still good.
  auto kept = RestoreFromChangelog(owner->store(), broker_, Partition(0));
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_FALSE(kept->restored);

  // A new owner would get c2 alone: it gets an error and keeps what it had.
  auto other = MakeOwner("b");
  auto refused = RestoreFromChangelog(other->store(), broker_, Partition(0));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("changelog partition 0 starts at offset 2, not 0"));
  EXPECT_TRUE(other->Profiles().empty());
}

INSTANTIATE_TEST_SUITE_P(Lanes, ChangelogTest, ::testing::Values(1, 2));

// Erasure: the customer's state goes, and what arrives of it later stays out.
class ErasureTest : public ChangelogTest {
 protected:
  // The dead letters so far: (reason, key, value) each.
  std::vector<std::tuple<std::string, std::string, std::string>> DeadLetters() const {
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const OutputRecord& record : broker_.other_outputs_) {
      if (record.kind != OutputRecord::Kind::kDeadLetter) continue;
      std::string reason;
      for (const Header& header : record.headers) {
        if (header.key == kDlqReasonHeader) reason = header.value;
      }
      out.emplace_back(reason, record.key, record.value);
    }
    return out;
  }

  bool Seen(Owner& owner, std::string_view event_id) {
    auto seen = owner.store().SeenEvents(Partition(0), std::vector<std::string_view>{event_id},
                                         absl::InfinitePast());
    EXPECT_TRUE(seen.ok()) << seen.status();
    return seen.ok() && seen->front();
  }
};

TEST_P(ErasureTest, RefusesTheCustomersOlderEventsWithoutTheirContentAndAppliesNewerOnes) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner
                  ->Process({{0, Purchase("e1", "c1", "2026-05-27T00:00:00Z")},
                             {1, Purchase("e2", "c2", "2026-05-27T00:00:00Z")}})
                  .ok());
  ASSERT_TRUE(owner->Process({{2, Erasure("x1", "c1", "2026-05-27T12:00:00Z")}}).ok());
  // The store keeps no id of the customer's events (its profile listed them, and went); the
  // erasure's own stays there, as its profile is gone.
  EXPECT_FALSE(Seen(*owner, "e1"));
  EXPECT_TRUE(Seen(*owner, "x1"));
  EXPECT_TRUE(owner->store().ScrubPending());

  ASSERT_TRUE(owner
                  ->Process({{3, Purchase("e1", "c1", "2026-05-27T00:00:00Z")},   // a retry
                             {4, Purchase("e3", "c1", "2026-05-27T11:59:59Z")},   // older
                             {5, Erasure("x1", "c1", "2026-05-27T12:00:00Z")},    // a retry
                             {6, Purchase("e4", "c1", "2026-05-27T13:00:00Z")},   // newer
                             {7, Purchase("e2", "c2", "2026-05-27T00:00:00Z")}})  // a retry
                  .ok());
  using Letter = std::tuple<std::string, std::string, std::string>;
  EXPECT_THAT(DeadLetters(), ElementsAre(Letter{"erased", "", ""}, Letter{"erased", "", ""}));

  auto profile = owner->store().ReadProfile(Partition(0), "c1");
  ASSERT_TRUE(profile.ok() && profile->has_value());
  EXPECT_EQ((*profile)->orders_total(), 1);
  EXPECT_EQ((*owner->store().ReadProfile(Partition(0), "c2"))->orders_total(), 1);
  EXPECT_EQ((*profile)->erased_at().seconds(),
            absl::ToUnixSeconds(
                absl::FromCivil(absl::CivilSecond(2026, 5, 27, 12, 0, 0), absl::UTCTimeZone())));
  // The new profile carries the erasure: older events stay out once the marker is not read.
  ASSERT_TRUE(owner->Process({{8, Purchase("e5", "c1", "2026-05-27T11:00:00Z")}}).ok());
  EXPECT_EQ(DeadLetters().size(), 3u);
  // The erasure's own instant is not before it.
  ASSERT_TRUE(owner->Process({{9, Interaction("e6", "c1", "2026-05-27T12:00:00Z")}}).ok());
  EXPECT_EQ(DeadLetters().size(), 3u);
  EXPECT_EQ((*owner->store().ReadProfile(Partition(0), "c1"))->events_applied(), 2);
}

TEST_P(ErasureTest, ARetryAfterTheErasureInTheSameBatchIsRefusedAsInTheNext) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner
                  ->Process({{0, Purchase("e1", "c1", "2026-05-27T00:00:00Z")},
                             {1, Erasure("x1", "c1", "2026-05-27T12:00:00Z")},
                             {2, Purchase("e1", "c1", "2026-05-27T00:00:00Z")}})
                  .ok());
  using Letter = std::tuple<std::string, std::string, std::string>;
  EXPECT_THAT(DeadLetters(), ElementsAre(Letter{"erased", "", ""}));
  EXPECT_FALSE(Seen(*owner, "e1"));
  EXPECT_TRUE(owner->Profiles().empty());
}

TEST_P(ErasureTest, AProfileBegunAfterTheErasureInTheSameBatchListsNoneOfTheErasedEvents) {
  auto owner = MakeOwner("a");
  ASSERT_TRUE(owner->Process({{0, Purchase("e1", "c1", "2026-05-27T00:00:00Z")}}).ok());
  // e1's profile is cached, with its applied events kept apart from it.
  ASSERT_TRUE(owner
                  ->Process({{1, Purchase("e2", "c1", "2026-05-27T01:00:00Z")},
                             {2, Erasure("x1", "c1", "2026-05-27T12:00:00Z")},
                             {3, Purchase("e3", "c1", "2026-05-27T13:00:00Z")}})
                  .ok());
  auto profile = owner->store().ReadProfile(Partition(0), "c1");
  ASSERT_TRUE(profile.ok() && profile->has_value());
  ASSERT_EQ((*profile)->applied_events_size(), 1);
  EXPECT_EQ((*profile)->applied_events(0).event_id(), "e3");
  EXPECT_EQ((*profile)->events_applied(), 1);
}

TEST_P(ErasureTest, ARestoredPartitionKeepsRefusingTheErasedCustomersOlderEvents) {
  auto first = MakeOwner("a");
  ASSERT_TRUE(first
                  ->Process({{0, Purchase("e1", "c1", "2026-05-27T00:00:00Z")},
                             {1, Erasure("x1", "c1", "2026-05-27T12:00:00Z")}})
                  .ok());
  // The changelog names the erasure by a hash only.
  int erasures = 0;
  for (const LoggedRecord& record : broker_.log(Partition(0))) {
    if (record.kind != kChangelogErasure) continue;
    ++erasures;
    EXPECT_EQ(record.key, state::Store::ErasureId("c1"));
  }
  EXPECT_EQ(erasures, 1);

  auto second = MakeOwner("b");
  ASSERT_TRUE(RestoreFromChangelog(second->store(), broker_, Partition(0)).ok());
  auto erased = second->store().ReadErasures(Partition(0), std::vector<std::string_view>{"c1"});
  ASSERT_TRUE(erased.ok());
  ASSERT_TRUE(erased->front().has_value());
  ASSERT_TRUE(second->Process({{2, Purchase("e1", "c1", "2026-05-27T00:00:00Z")}}).ok());
  using Letter = std::tuple<std::string, std::string, std::string>;
  EXPECT_THAT(DeadLetters(), ElementsAre(Letter{"erased", "", ""}));
  EXPECT_THAT(second->Profiles(), ::testing::IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Lanes, ErasureTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace cdp::pipeline
