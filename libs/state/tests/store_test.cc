#include "cdp/state/store.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::state {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::kT0;
using testing::MakeProfile;
using ::testing::Not;
using testing::OpenStore;
using testing::RawDb;
using testing::TempDir;

MATCHER_P(EqualsProto, expected, "") {
  return google::protobuf::util::MessageDifferencer::Equals(arg, expected);
}

std::optional<std::int64_t> OrdersOf(const Store& store, Partition partition,
                                     std::string_view customer_id) {
  absl::StatusOr<std::optional<v1::CustomerProfile>> profile =
      store.ReadProfile(partition, customer_id);
  EXPECT_TRUE(profile.ok()) << profile.status();
  if (!profile.ok() || !profile->has_value()) return std::nullopt;
  return (*profile)->orders_total();
}

std::optional<Offset> OffsetOf(const Store& store, Partition partition) {
  absl::StatusOr<std::optional<Offset>> offset = store.ReadOffset(partition);
  EXPECT_TRUE(offset.ok()) << offset.status();
  return offset.ok() ? *offset : std::nullopt;
}

bool Seen(const Store& store, Partition partition, std::string_view event_id, absl::Time now) {
  absl::StatusOr<std::vector<bool>> seen =
      store.SeenEvents(partition, std::vector<std::string_view>{event_id}, now);
  EXPECT_TRUE(seen.ok()) << seen.status();
  return seen.ok() && seen->front();
}

// Present at all, expired or not: no expiry is later than the infinite past.
bool Stored(const Store& store, Partition partition, std::string_view event_id) {
  return Seen(store, partition, event_id, absl::InfinitePast());
}

using Timers = std::vector<std::pair<absl::Time, std::string>>;

Timers DueOf(const Store& store, Partition partition, absl::Time now, std::size_t limit = 100) {
  absl::StatusOr<std::vector<Store::DueTimer>> due = store.DueTimers(partition, now, limit);
  EXPECT_TRUE(due.ok()) << due.status();
  Timers timers;
  if (!due.ok()) return timers;
  for (const Store::DueTimer& timer : *due) timers.emplace_back(timer.due, timer.customer_id);
  return timers;
}

Timers AllTimersOf(const Store& store, Partition partition) {
  return DueOf(store, partition, absl::InfiniteFuture());
}

std::optional<absl::Time> NextOf(const Store& store, Partition partition) {
  absl::StatusOr<std::optional<absl::Time>> next = store.NextTimer(partition);
  EXPECT_TRUE(next.ok()) << next.status();
  return next.ok() ? *next : std::nullopt;
}

std::vector<Partition> PartitionsOf(const Store& store) {
  absl::StatusOr<std::vector<Partition>> partitions = store.StoredPartitions();
  EXPECT_TRUE(partitions.ok()) << partitions.status();
  return partitions.ok() ? *partitions : std::vector<Partition>{};
}

// Fills a partition with one of each kind of state.
void Populate(Store& store, Partition partition, std::string_view customer_id) {
  Store::Batch batch;
  batch.PutProfile(partition, MakeProfile(customer_id, 1));
  batch.MarkSeen(partition, std::string(customer_id) + "-event", kT0 + absl::Hours(1));
  batch.SetTimer(partition, customer_id, std::nullopt, kT0 + absl::Hours(2));
  batch.SetOffset(partition, Offset(100 + partition.value()));
  ASSERT_TRUE(store.Commit(batch).ok());
}

TEST(StoreTest, NewStoreIsEmpty) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OffsetOf(*store, Partition(0)), std::nullopt);
  EXPECT_EQ(OrdersOf(*store, Partition(0), "c1"), std::nullopt);
  EXPECT_FALSE(Stored(*store, Partition(0), "e1"));
  EXPECT_EQ(NextOf(*store, Partition(0)), std::nullopt);
  EXPECT_THAT(PartitionsOf(*store), ::testing::IsEmpty());
}

TEST(StoreTest, CommitMakesProfilesOffsetsAndDedupEntriesReadable) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  const v1::CustomerProfile alice = MakeProfile("alice", 3);
  const v1::CustomerProfile bob = MakeProfile("bob", 5);

  Store::Batch batch;
  batch.PutProfile(Partition(4), alice);
  batch.PutProfile(Partition(4), bob);
  batch.MarkSeen(Partition(4), "e1", kT0 + absl::Hours(1));
  batch.SetOffset(Partition(4), Offset(42));
  EXPECT_EQ(batch.operations(), 4u);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(batch.operations(), 0u);

  absl::StatusOr<std::optional<v1::CustomerProfile>> read = store->ReadProfile(Partition(4), "bob");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->has_value());
  EXPECT_THAT(**read, EqualsProto(bob));
  EXPECT_EQ(OffsetOf(*store, Partition(4)), Offset(42));
  EXPECT_TRUE(Seen(*store, Partition(4), "e1", kT0));

  const std::vector<std::string_view> ids = {"bob", "nobody", "alice"};
  absl::StatusOr<std::vector<std::optional<v1::CustomerProfile>>> many =
      store->ReadProfiles(Partition(4), ids);
  ASSERT_TRUE(many.ok()) << many.status();
  ASSERT_EQ(many->size(), 3u);
  EXPECT_THAT((*many)[0], ::testing::Optional(EqualsProto(bob)));
  EXPECT_EQ((*many)[1], std::nullopt);
  EXPECT_THAT((*many)[2], ::testing::Optional(EqualsProto(alice)));

  // Keys are per partition: the same customer elsewhere is someone the store has not seen.
  EXPECT_EQ(OrdersOf(*store, Partition(5), "alice"), std::nullopt);
  EXPECT_FALSE(Seen(*store, Partition(5), "e1", kT0));
}

TEST(StoreTest, KeepsAnEventTimeWithTheOffset) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.SetOffset(Partition(1), Offset(10), kT0);
  batch.SetOffset(Partition(2), Offset(20));
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(OffsetOf(*store, Partition(1)), Offset(10));
  EXPECT_EQ(OffsetOf(*store, Partition(2)), Offset(20));
  auto with_time = store->ReadEventTime(Partition(1));
  ASSERT_TRUE(with_time.ok()) << with_time.status();
  EXPECT_EQ(*with_time, kT0);
  auto without_time = store->ReadEventTime(Partition(2));
  ASSERT_TRUE(without_time.ok()) << without_time.status();
  EXPECT_EQ(*without_time, std::nullopt);
  auto unknown = store->ReadEventTime(Partition(3));
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(*unknown, std::nullopt);
}

TEST(StoreTest, KeepsTheRepartitionOffsetApartFromTheInputOffset) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.SetOffset(Partition(1), Offset(10), kT0);
  batch.SetRepartitionOffset(Partition(1), Offset(3));
  batch.SetOffset(Partition(2), std::nullopt, kT0 + absl::Hours(1));
  batch.SetRepartitionOffset(Partition(2), Offset(7));
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(OffsetOf(*store, Partition(1)), Offset(10));
  EXPECT_EQ(*store->ReadEventTime(Partition(1)), kT0);
  EXPECT_EQ(*store->ReadRepartitionOffset(Partition(1)), Offset(3));
  // A partition that only had repartitioned input has no input offset.
  EXPECT_EQ(OffsetOf(*store, Partition(2)), std::nullopt);
  EXPECT_EQ(*store->ReadEventTime(Partition(2)), kT0 + absl::Hours(1));
  EXPECT_EQ(*store->ReadRepartitionOffset(Partition(2)), Offset(7));
  EXPECT_EQ(*store->ReadRepartitionOffset(Partition(3)), std::nullopt);

  const auto stored = store->StoredPartitions();
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, (std::vector<Partition>{Partition(1), Partition(2)}));
  ASSERT_TRUE(store->DropPartition(Partition(1)).ok());
  EXPECT_EQ(*store->ReadRepartitionOffset(Partition(1)), std::nullopt);
  EXPECT_EQ(*store->ReadRepartitionOffset(Partition(2)), Offset(7));
}

TEST(StoreTest, LaterOperationsInABatchWin) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.PutProfile(Partition(0), MakeProfile("alice", 1));
  batch.PutProfile(Partition(0), MakeProfile("alice", 2));
  batch.PutProfile(Partition(0), MakeProfile("bob", 1));
  batch.DeleteProfile(Partition(0), "bob");
  batch.SetOffset(Partition(0), Offset(7));
  batch.SetOffset(Partition(0), Offset(9));
  ASSERT_TRUE(store->Commit(batch).ok());

  EXPECT_EQ(OrdersOf(*store, Partition(0), "alice"), 2);
  EXPECT_EQ(OrdersOf(*store, Partition(0), "bob"), std::nullopt);
  EXPECT_EQ(OffsetOf(*store, Partition(0)), Offset(9));
}

// Commit writes a batch in key order; a key's own operations must still apply in batch order,
// whatever comes between them. Many operations per key: an unstable sort reorders them.
TEST(StoreTest, OperationsOnOneKeyKeepTheirOrderAmongManyKeys) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  const auto customer = [](int i) { return absl::StrCat("customer-", 1000 - i); };
  constexpr int kCustomers = 50;
  constexpr int kRounds = 40;
  Store::Batch batch;
  for (int round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < kCustomers; ++i) {
      if (round == kRounds && i % 2 == 0) {
        batch.DeleteProfile(Partition(0), customer(i));
      } else {
        batch.PutProfile(Partition(0), MakeProfile(customer(i), round));
      }
    }
  }
  ASSERT_TRUE(store->Commit(batch).ok());

  for (int i = 0; i < kCustomers; ++i) {
    EXPECT_EQ(OrdersOf(*store, Partition(0), customer(i)),
              i % 2 == 0 ? std::nullopt : std::optional<std::int64_t>(kRounds))
        << customer(i);
  }
}

TEST(StoreTest, DeleteProfileRemovesOnlyThatCustomer) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Populate(*store, Partition(1), "alice");
  Populate(*store, Partition(1), "bob");

  Store::Batch batch;
  batch.DeleteProfile(Partition(1), "alice");
  ASSERT_TRUE(store->Commit(batch).ok());

  EXPECT_EQ(OrdersOf(*store, Partition(1), "alice"), std::nullopt);
  EXPECT_EQ(OrdersOf(*store, Partition(1), "bob"), 1);
}

TEST(StoreTest, EmptyBatchCommitsNothing) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  EXPECT_TRUE(store->Commit(batch).ok());
  EXPECT_THAT(PartitionsOf(*store), ::testing::IsEmpty());
}

TEST(StoreTest, ClearedBatchCommitsNothing) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.SetOffset(Partition(0), Offset(1));
  batch.Clear();
  EXPECT_EQ(batch.operations(), 0u);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(OffsetOf(*store, Partition(0)), std::nullopt);
}

TEST(StoreTest, BatchNamingANegativePartitionCommitsNothing) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.SetOffset(Partition(0), Offset(5));
  batch.PutProfile(Partition(-1), MakeProfile("alice", 1));

  const absl::Status committed = store->Commit(batch);
  EXPECT_EQ(committed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(committed.message()), HasSubstr("partition -1"));
  EXPECT_EQ(OffsetOf(*store, Partition(0)), std::nullopt);
  EXPECT_EQ(store->ReadOffset(Partition(-1)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoreTest, APreparedBatchIsWrittenOnlyByItsCommit) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  const v1::CustomerProfile alice = MakeProfile("alice", 3);
  Store::Batch batch;
  batch.PutProfile(Partition(1), alice);
  batch.SetOffset(Partition(1), Offset(7));
  absl::StatusOr<Store::PreparedBatch> prepared = store->Prepare(batch);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_EQ(OrdersOf(*store, Partition(1), "alice"), std::nullopt);
  EXPECT_EQ(OffsetOf(*store, Partition(1)), std::nullopt);
  EXPECT_EQ(batch.operations(), 2u);

  ASSERT_TRUE(store->Commit(*prepared).ok());
  EXPECT_EQ(OrdersOf(*store, Partition(1), "alice"), 3);
  EXPECT_EQ(OffsetOf(*store, Partition(1)), Offset(7));
  EXPECT_EQ(batch.operations(), 0u);

  // Committed once: a second commit of it writes nothing over what came since.
  Store::Batch later;
  later.SetOffset(Partition(1), Offset(9));
  ASSERT_TRUE(store->Commit(later).ok());
  ASSERT_TRUE(store->Commit(*prepared).ok());
  EXPECT_EQ(OffsetOf(*store, Partition(1)), Offset(9));
}

TEST(StoreTest, PreparingABatchNamingANegativePartitionFails) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.PutProfile(Partition(-1), MakeProfile("alice", 1));
  const absl::StatusOr<Store::PreparedBatch> prepared = store->Prepare(batch);
  EXPECT_EQ(prepared.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(prepared.status().message()), HasSubstr("partition -1"));
}

TEST(StoreTest, AnEmptyPreparedBatchCommitsNothing) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  absl::StatusOr<Store::PreparedBatch> prepared = store->Prepare(batch);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_TRUE(store->Commit(*prepared).ok());
  EXPECT_THAT(PartitionsOf(*store), ::testing::IsEmpty());
}

TEST(StoreTest, ReopenKeepsEverything) {
  TempDir dir;
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    Populate(*store, Partition(2), "alice");
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OrdersOf(*store, Partition(2), "alice"), 1);
  EXPECT_EQ(OffsetOf(*store, Partition(2)), Offset(102));
  EXPECT_TRUE(Seen(*store, Partition(2), "alice-event", kT0));
  EXPECT_THAT(AllTimersOf(*store, Partition(2)),
              ElementsAre(std::pair(kT0 + absl::Hours(2), "alice")));
}

// Runs commit_then_die on `db` (with `mode`, if any): it commits, then dies by SIGKILL.
::testing::AssertionResult CommitThenDie(const std::string& db, const char* mode = nullptr) {
  char* const argv[] = {const_cast<char*>(CDP_COMMIT_THEN_DIE), const_cast<char*>(db.c_str()),
                        const_cast<char*>(mode), nullptr};
  pid_t child = 0;
  if (posix_spawn(&child, CDP_COMMIT_THEN_DIE, nullptr, nullptr, argv, environ) != 0) {
    return ::testing::AssertionFailure() << "cannot start " << CDP_COMMIT_THEN_DIE;
  }
  int wait_status = 0;
  if (waitpid(child, &wait_status, 0) != child) {
    return ::testing::AssertionFailure() << "cannot wait for the child";
  }
  if (!WIFSIGNALED(wait_status)) {
    return ::testing::AssertionFailure() << "the child exited with " << WEXITSTATUS(wait_status);
  }
  if (WTERMSIG(wait_status) != SIGKILL) {
    return ::testing::AssertionFailure() << "the child died by signal " << WTERMSIG(wait_status);
  }
  return ::testing::AssertionSuccess();
}

TEST(StoreTest, CommitSurvivesAProcessKill) {
  TempDir dir;
  const std::string db = dir.db();
  ASSERT_TRUE(CommitThenDie(db));

  auto store = OpenStore(db);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OrdersOf(*store, Partition(0), "alice"), 7);
  EXPECT_EQ(OffsetOf(*store, Partition(0)), Offset(8));
}

bool UnloggedPendingOf(const Store& store, Partition partition) {
  absl::StatusOr<bool> pending = store.UnloggedPending(partition);
  EXPECT_TRUE(pending.ok()) << pending.status();
  return pending.ok() && *pending;
}

TEST(StoreTest, AKillLosesUnloggedCommitsButNotTheirPartitionsMark) {
  TempDir dir;
  const std::string db = dir.db();
  ASSERT_TRUE(CommitThenDie(db, "unlogged"));

  auto store = OpenStore(db);
  ASSERT_NE(store, nullptr);
  // The unlogged profile is gone, the logged offset after it is not: only the mark tells that
  // the partition's state is incomplete.
  EXPECT_EQ(OrdersOf(*store, Partition(1), "alice"), std::nullopt);
  EXPECT_EQ(OffsetOf(*store, Partition(1)), Offset(5));
  EXPECT_TRUE(UnloggedPendingOf(*store, Partition(1)));
  EXPECT_FALSE(UnloggedPendingOf(*store, Partition(0)));
  EXPECT_EQ(OrdersOf(*store, Partition(0), "alice"), 7);
}

TEST(StoreTest, UnloggedCommitsAreReadableAndMarkedUntilPersisted) {
  TempDir dir;
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    Store::Batch batch;
    batch.PutProfile(Partition(3), MakeProfile("alice", 4));
    batch.SetOffset(Partition(3), Offset(9));
    ASSERT_TRUE(store->CommitUnlogged(Partition(3), batch).ok());
    EXPECT_EQ(batch.operations(), 0U);
    EXPECT_EQ(OrdersOf(*store, Partition(3), "alice"), 4);
    EXPECT_TRUE(UnloggedPendingOf(*store, Partition(3)));
    EXPECT_FALSE(UnloggedPendingOf(*store, Partition(4)));

    ASSERT_TRUE(store->PersistUnlogged().ok());
    EXPECT_FALSE(UnloggedPendingOf(*store, Partition(3)));
    // Nothing left to persist.
    EXPECT_TRUE(store->PersistUnlogged().ok());
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OrdersOf(*store, Partition(3), "alice"), 4);
  EXPECT_EQ(OffsetOf(*store, Partition(3)), Offset(9));
  EXPECT_FALSE(UnloggedPendingOf(*store, Partition(3)));
}

TEST(StoreTest, AMarkFromBeforeARestartStaysUntilThePartitionIsDropped) {
  TempDir dir;
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    Store::Batch batch;
    batch.PutProfile(Partition(3), MakeProfile("alice", 4));
    ASSERT_TRUE(store->CommitUnlogged(Partition(3), batch).ok());
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(UnloggedPendingOf(*store, Partition(3)));
  // This run wrote nothing unlogged: the mark stands for what the last run may have lost.
  ASSERT_TRUE(store->PersistUnlogged().ok());
  EXPECT_TRUE(UnloggedPendingOf(*store, Partition(3)));
  ASSERT_TRUE(store->DropPartition(Partition(3)).ok());
  EXPECT_FALSE(UnloggedPendingOf(*store, Partition(3)));
}

TEST(StoreTest, AnUnloggedCommitHoldsOneMarkedPartitionOnly) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.PutProfile(Partition(3), MakeProfile("alice", 4));
  batch.PutProfile(Partition(4), MakeProfile("bob", 1));
  const absl::Status refused = store->CommitUnlogged(Partition(3), batch);
  EXPECT_TRUE(absl::IsInvalidArgument(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("another partition"));
  EXPECT_EQ(batch.operations(), 2U);
  EXPECT_EQ(OrdersOf(*store, Partition(3), "alice"), std::nullopt);
  EXPECT_FALSE(UnloggedPendingOf(*store, Partition(3)));

  Store::Batch erasing;
  erasing.MarkErased(Partition(3), "alice", kT0);
  EXPECT_TRUE(absl::IsInvalidArgument(store->CommitUnlogged(Partition(3), erasing)));
}

TEST(StoreTest, ExpiredDedupEntriesCountAsUnseen) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.MarkSeen(Partition(0), "e1", kT0 + absl::Hours(1));
  batch.MarkSeen(Partition(0), "e2", kT0 + absl::Hours(24));
  ASSERT_TRUE(store->Commit(batch).ok());

  const std::vector<std::string_view> ids = {"e1", "unknown", "e2"};
  absl::StatusOr<std::vector<bool>> before = store->SeenEvents(Partition(0), ids, kT0);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_THAT(*before, ElementsAre(true, false, true));
  // Expiry is exclusive: at the expiry instant the entry no longer counts.
  absl::StatusOr<std::vector<bool>> later =
      store->SeenEvents(Partition(0), ids, kT0 + absl::Hours(1));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_THAT(*later, ElementsAre(false, false, true));
}

TEST(StoreTest, CompactionDropsDedupEntriesExpiredBeforeTheHorizon) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.MarkSeen(Partition(0), "soon", kT0 + absl::Hours(1));
  batch.MarkSeen(Partition(0), "late", kT0 + absl::Hours(48));
  ASSERT_TRUE(store->Commit(batch).ok());

  // Without a horizon nothing may go, however old.
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_TRUE(Stored(*store, Partition(0), "soon"));

  store->AdvanceDedupHorizon(kT0 + absl::Hours(2));
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_FALSE(Stored(*store, Partition(0), "soon"));
  EXPECT_TRUE(Stored(*store, Partition(0), "late"));
}

TEST(StoreTest, DedupHorizonNeverMovesBack) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.MarkSeen(Partition(0), "e1", kT0 + absl::Hours(1));
  ASSERT_TRUE(store->Commit(batch).ok());

  store->AdvanceDedupHorizon(kT0 + absl::Hours(2));
  store->AdvanceDedupHorizon(kT0);
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_FALSE(Stored(*store, Partition(0), "e1"));
}

TEST(StoreTest, DropPartitionRemovesOnlyThatPartition) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  // 255 and 256 differ in the prefix's last two bytes: the range of 255 must end exactly there.
  for (int p : {0, 254, 255, 256}) Populate(*store, Partition(p), "alice");

  ASSERT_TRUE(store->DropPartition(Partition(255)).ok());

  EXPECT_EQ(OrdersOf(*store, Partition(255), "alice"), std::nullopt);
  EXPECT_EQ(OffsetOf(*store, Partition(255)), std::nullopt);
  EXPECT_FALSE(Stored(*store, Partition(255), "alice-event"));
  EXPECT_EQ(NextOf(*store, Partition(255)), std::nullopt);
  for (int p : {0, 254, 256}) {
    EXPECT_EQ(OrdersOf(*store, Partition(p), "alice"), 1) << p;
    EXPECT_EQ(OffsetOf(*store, Partition(p)), Offset(100 + p)) << p;
    EXPECT_TRUE(Stored(*store, Partition(p), "alice-event")) << p;
    EXPECT_THAT(AllTimersOf(*store, Partition(p)),
                ElementsAre(std::pair(kT0 + absl::Hours(2), "alice")))
        << p;
  }
  EXPECT_THAT(PartitionsOf(*store), ElementsAre(Partition(0), Partition(254), Partition(256)));
}

// A drop looks for the partition's state before it writes anything (a partition that holds
// nothing is left as it is): each kind alone must be found and dropped.
TEST(StoreTest, DropPartitionRemovesAPartitionThatHoldsOneKindOfStateOnly) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  const std::vector<std::pair<std::string, std::function<void(Store::Batch&, Partition)>>> kinds = {
      {"profile",
       [](Store::Batch& batch, Partition partition) {
         batch.PutProfile(partition, MakeProfile("alice", 1));
       }},
      {"dedup entry",
       [](Store::Batch& batch, Partition partition) { batch.MarkSeen(partition, "e1", kT0); }},
      {"offset",
       [](Store::Batch& batch, Partition partition) { batch.SetOffset(partition, Offset(1)); }},
      {"timer", [](Store::Batch& batch,
                   Partition partition) { batch.SetTimer(partition, "alice", std::nullopt, kT0); }},
      {"state record",
       [](Store::Batch& batch, Partition partition) {
         batch.PutPartitionState(partition, v1::PartitionState());
       }},
      {"erasure marker", [](Store::Batch& batch, Partition partition) {
         batch.PutErasure(partition, Store::ErasureId("alice"), kT0);
       }}};
  for (const auto& [kind, add] : kinds) {
    SCOPED_TRACE(kind);
    Store::Batch batch;
    add(batch, Partition(4));
    ASSERT_TRUE(store->Commit(batch).ok());
    ASSERT_THAT(PartitionsOf(*store), ElementsAre(Partition(4)));
    ASSERT_TRUE(store->DropPartition(Partition(4)).ok());
    EXPECT_THAT(PartitionsOf(*store), ElementsAre());
  }

  // A marker alone: an unlogged commit of nothing.
  Store::Batch nothing;
  ASSERT_TRUE(store->CommitUnlogged(Partition(4), nothing).ok());
  absl::StatusOr<bool> marked = store->UnloggedPending(Partition(4));
  ASSERT_TRUE(marked.ok() && *marked) << marked.status();
  ASSERT_TRUE(store->DropPartition(Partition(4)).ok());
  marked = store->UnloggedPending(Partition(4));
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_FALSE(*marked);
}

TEST(StoreTest, DroppedPartitionStaysGoneAfterCompactionAndReopen) {
  TempDir dir;
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    Populate(*store, Partition(1), "alice");
    Populate(*store, Partition(2), "bob");
    ASSERT_TRUE(store->DropPartition(Partition(1)).ok());
    ASSERT_TRUE(store->Compact().ok());
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(PartitionsOf(*store), ElementsAre(Partition(2)));
  EXPECT_EQ(OrdersOf(*store, Partition(2), "bob"), 1);
}

TEST(StoreTest, StoredPartitionsListsPartitionsWithAnyKindOfState) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.PutProfile(Partition(9), MakeProfile("alice", 1));
  batch.PutProfile(Partition(9), MakeProfile("bob", 1));
  batch.MarkSeen(Partition(5), "e1", kT0);
  batch.SetOffset(Partition(0), Offset(1));
  batch.SetOffset(Partition(7), Offset(1));
  batch.SetTimer(Partition(3), "carol", std::nullopt, kT0);
  ASSERT_TRUE(store->Commit(batch).ok());

  EXPECT_THAT(PartitionsOf(*store),
              ElementsAre(Partition(0), Partition(3), Partition(5), Partition(7), Partition(9)));
}

TEST(StoreTest, ForEachProfileVisitsOnePartitionOrAll) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.PutProfile(Partition(1), MakeProfile("a", 1));
  batch.PutProfile(Partition(1), MakeProfile("b", 2));
  batch.PutProfile(Partition(2), MakeProfile("c", 3));
  batch.PutProfile(Partition(3), MakeProfile("d", 4));
  batch.SetOffset(Partition(2), Offset(1));
  ASSERT_TRUE(store->Commit(batch).ok());

  std::vector<std::pair<int, std::string>> visited;
  auto record = [&](Partition partition, const v1::CustomerProfile& profile) {
    visited.emplace_back(partition.value(), profile.customer_id());
    return true;
  };
  ASSERT_TRUE(store->ForEachProfile(Partition(1), record).ok());
  EXPECT_THAT(visited, ElementsAre(std::pair(1, "a"), std::pair(1, "b")));

  visited.clear();
  ASSERT_TRUE(store->ForEachProfile(std::nullopt, record).ok());
  EXPECT_THAT(visited, ElementsAre(std::pair(1, "a"), std::pair(1, "b"), std::pair(2, "c"),
                                   std::pair(3, "d")));

  visited.clear();
  ASSERT_TRUE(store
                  ->ForEachProfile(std::nullopt,
                                   [&](Partition partition, const v1::CustomerProfile& profile) {
                                     record(partition, profile);
                                     return visited.size() < 2;
                                   })
                  .ok());
  EXPECT_EQ(visited.size(), 2u);

  visited.clear();
  ASSERT_TRUE(store->ForEachProfile(Partition(4), record).ok());
  EXPECT_THAT(visited, ::testing::IsEmpty());
}

TEST(StoreTest, SetTimerPutsMovesAndClearsATimer) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  const absl::Time first = kT0 + absl::Hours(1);
  const absl::Time second = kT0 + absl::Hours(2);

  Store::Batch batch;
  batch.SetTimer(Partition(0), "alice", std::nullopt, first);
  EXPECT_EQ(batch.operations(), 1u);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_THAT(AllTimersOf(*store, Partition(0)), ElementsAre(std::pair(first, "alice")));

  batch.SetTimer(Partition(0), "alice", first, second);
  EXPECT_EQ(batch.operations(), 2u);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_THAT(AllTimersOf(*store, Partition(0)), ElementsAre(std::pair(second, "alice")));

  batch.SetTimer(Partition(0), "alice", second, std::nullopt);
  EXPECT_EQ(batch.operations(), 1u);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_THAT(AllTimersOf(*store, Partition(0)), ::testing::IsEmpty());
  EXPECT_EQ(NextOf(*store, Partition(0)), std::nullopt);
}

TEST(StoreTest, SetTimerWithPreviousEqualToNextDoesNothing) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.SetTimer(Partition(0), "alice", std::nullopt, kT0);
  ASSERT_TRUE(store->Commit(batch).ok());

  batch.SetTimer(Partition(0), "alice", kT0, kT0);
  batch.SetTimer(Partition(0), "bob", std::nullopt, std::nullopt);
  EXPECT_EQ(batch.operations(), 0u);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_THAT(AllTimersOf(*store, Partition(0)), ElementsAre(std::pair(kT0, "alice")));
}

TEST(StoreTest, DueTimersComeInDueOrderThenByCustomerIdUpToTheLimit) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  const absl::Time h1 = kT0 + absl::Hours(1);
  const absl::Time h2 = kT0 + absl::Hours(2);
  const absl::Time h3 = kT0 + absl::Hours(3);
  Store::Batch batch;
  batch.SetTimer(Partition(0), "carol", std::nullopt, h1);
  batch.SetTimer(Partition(0), "alice", std::nullopt, h2);
  batch.SetTimer(Partition(0), "dave", std::nullopt, h3);
  batch.SetTimer(Partition(0), "bob", std::nullopt, h1);
  // A prefix of another id sorts first: the due instant has a fixed width before the id.
  batch.SetTimer(Partition(0), "al", std::nullopt, h2);
  ASSERT_TRUE(store->Commit(batch).ok());

  EXPECT_THAT(DueOf(*store, Partition(0), h3),
              ElementsAre(std::pair(h1, "bob"), std::pair(h1, "carol"), std::pair(h2, "al"),
                          std::pair(h2, "alice"), std::pair(h3, "dave")));
  EXPECT_THAT(DueOf(*store, Partition(0), h3, 3),
              ElementsAre(std::pair(h1, "bob"), std::pair(h1, "carol"), std::pair(h2, "al")));
  EXPECT_THAT(DueOf(*store, Partition(0), h3, 0), ::testing::IsEmpty());
  EXPECT_THAT(DueOf(*store, Partition(0), h2 + absl::Minutes(59)),
              ElementsAre(std::pair(h1, "bob"), std::pair(h1, "carol"), std::pair(h2, "al"),
                          std::pair(h2, "alice")));
  EXPECT_EQ(NextOf(*store, Partition(0)), h1);
}

TEST(StoreTest, ATimerIsDueFromItsInstantOnNeverBefore) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  const absl::Time between_micros = kT0 + absl::Nanoseconds(1);
  const absl::Time before_1970 = absl::UnixEpoch() - absl::Hours(1);
  Store::Batch batch;
  batch.SetTimer(Partition(0), "exact", std::nullopt, kT0);
  batch.SetTimer(Partition(0), "between", std::nullopt, between_micros);
  batch.SetTimer(Partition(0), "old", std::nullopt, before_1970);
  ASSERT_TRUE(store->Commit(batch).ok());

  EXPECT_THAT(DueOf(*store, Partition(0), absl::UnixEpoch() - absl::Minutes(30)),
              ::testing::IsEmpty());
  EXPECT_THAT(DueOf(*store, Partition(0), absl::UnixEpoch()),
              ElementsAre(std::pair(absl::UnixEpoch(), "old")));
  EXPECT_THAT(DueOf(*store, Partition(0), kT0 - absl::Microseconds(1)),
              ElementsAre(std::pair(absl::UnixEpoch(), "old")));
  // `now` is inclusive; an instant between two microseconds is due from the next one.
  EXPECT_THAT(DueOf(*store, Partition(0), kT0),
              ElementsAre(std::pair(absl::UnixEpoch(), "old"), std::pair(kT0, "exact")));
  EXPECT_THAT(DueOf(*store, Partition(0), kT0 + absl::Microseconds(1)),
              ElementsAre(std::pair(absl::UnixEpoch(), "old"), std::pair(kT0, "exact"),
                          std::pair(kT0 + absl::Microseconds(1), "between")));

  // The same instant given back as `previous` finds the entry it made.
  batch.SetTimer(Partition(0), "between", between_micros, std::nullopt);
  batch.SetTimer(Partition(0), "old", before_1970, std::nullopt);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_THAT(AllTimersOf(*store, Partition(0)), ElementsAre(std::pair(kT0, "exact")));
}

TEST(StoreTest, TimersArePerPartition) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.SetTimer(Partition(0), "alice", std::nullopt, kT0 + absl::Hours(5));
  batch.SetTimer(Partition(1), "bob", std::nullopt, kT0);
  batch.SetTimer(Partition(1), "carol", std::nullopt, absl::InfiniteFuture());
  batch.SetTimer(Partition(2), "dave", std::nullopt, kT0 + absl::Hours(1));
  ASSERT_TRUE(store->Commit(batch).ok());

  EXPECT_THAT(AllTimersOf(*store, Partition(0)),
              ElementsAre(std::pair(kT0 + absl::Hours(5), "alice")));
  EXPECT_THAT(AllTimersOf(*store, Partition(1)),
              ElementsAre(std::pair(kT0, "bob"), std::pair(absl::InfiniteFuture(), "carol")));
  EXPECT_THAT(AllTimersOf(*store, Partition(2)),
              ElementsAre(std::pair(kT0 + absl::Hours(1), "dave")));
  EXPECT_THAT(AllTimersOf(*store, Partition(3)), ::testing::IsEmpty());
  EXPECT_EQ(NextOf(*store, Partition(0)), kT0 + absl::Hours(5));
  EXPECT_EQ(NextOf(*store, Partition(1)), kT0);
  EXPECT_EQ(NextOf(*store, Partition(3)), std::nullopt);

  // Moving a customer's timer in one partition leaves the same customer's elsewhere alone.
  batch.SetTimer(Partition(2), "alice", std::nullopt, kT0);
  batch.SetTimer(Partition(0), "alice", kT0 + absl::Hours(5), std::nullopt);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(NextOf(*store, Partition(0)), std::nullopt);
  EXPECT_THAT(AllTimersOf(*store, Partition(2)),
              ElementsAre(std::pair(kT0, "alice"), std::pair(kT0 + absl::Hours(1), "dave")));
}

TEST(StoreTest, ATimerCommitsWithItsProfileOrNotAtAll) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  batch.PutProfile(Partition(0), MakeProfile("alice", 1));
  batch.SetTimer(Partition(0), "alice", std::nullopt, kT0);
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(OrdersOf(*store, Partition(0), "alice"), 1);
  EXPECT_THAT(AllTimersOf(*store, Partition(0)), ElementsAre(std::pair(kT0, "alice")));

  // A refused batch (here: a timer in a negative partition) leaves both as they were.
  batch.PutProfile(Partition(0), MakeProfile("alice", 2));
  batch.SetTimer(Partition(0), "alice", kT0, kT0 + absl::Hours(1));
  batch.SetTimer(Partition(-1), "bob", std::nullopt, kT0);
  const absl::Status committed = store->Commit(batch);
  EXPECT_EQ(committed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(committed.message()), HasSubstr("partition -1"));
  EXPECT_EQ(OrdersOf(*store, Partition(0), "alice"), 1);
  EXPECT_THAT(AllTimersOf(*store, Partition(0)), ElementsAre(std::pair(kT0, "alice")));
  EXPECT_EQ(store->DueTimers(Partition(-1), kT0, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->NextTimer(Partition(-1)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoreTest, CorruptTimerKeyIsReportedByPartitionWithoutTheCustomerId) {
  TempDir dir;
  OpenStore(dir.db());
  {
    RawDb raw(dir.db());
    // Too short to hold a due instant.
    raw.Put("timers", std::string("\0\0\0\x07", 4) + "al@x", "");
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  for (const absl::Status& read :
       {store->DueTimers(Partition(7), absl::InfiniteFuture(), 10).status(),
        store->NextTimer(Partition(7)).status()}) {
    EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(read.message()), HasSubstr("partition 7"));
    EXPECT_THAT(std::string(read.message()), Not(HasSubstr("al@x")));
  }
}

TEST(StoreTest, CorruptProfileIsReportedByPartitionWithoutTheCustomerId) {
  TempDir dir;
  OpenStore(dir.db());
  {
    RawDb raw(dir.db());
    raw.Put("profiles", std::string("\0\0\0\x07", 4) + "alice@example.com", "\xff\xff\xff");
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);

  absl::StatusOr<std::optional<v1::CustomerProfile>> read =
      store->ReadProfile(Partition(7), "alice@example.com");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("partition 7"));
  EXPECT_THAT(std::string(read.status().message()), Not(HasSubstr("alice")));

  const absl::Status scanned = store->ForEachProfile(
      std::nullopt, [](Partition, const v1::CustomerProfile&) { return true; });
  EXPECT_EQ(scanned.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(scanned.message()), Not(HasSubstr("alice")));
}

TEST(StoreTest, RefusesAnotherFormatVersion) {
  TempDir dir;
  OpenStore(dir.db());
  {
    RawDb raw(dir.db());
    raw.Put(rocksdb::kDefaultColumnFamilyName, "format_version", "4");
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(StoreOptions{.path = dir.db()});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("format version 4"));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("reads version 3"));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(dir.db()));
}

std::vector<std::string> FamiliesOf(const std::string& path) {
  std::vector<std::string> names;
  const rocksdb::Status listed =
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  EXPECT_TRUE(listed.ok()) << listed.ToString();
  return names;
}

TEST(StoreTest, RefusesAVersion1DatabaseThatHasNoTimerIndex) {
  TempDir dir;
  // What the previous release left: its three families, version 1, profiles without timers.
  {
    RawDb raw(dir.db());
    for (const char* family : {"profiles", "dedup", "offsets"}) raw.CreateFamily(family);
    raw.Put("profiles", std::string("\0\0\0\0", 4) + "alice",
            MakeProfile("alice", 1).SerializeAsString());
    raw.Put("offsets", std::string("\0\0\0\0", 4), std::string("\0\0\0\0\0\0\0\x05", 8));
    raw.Put(rocksdb::kDefaultColumnFamilyName, "format_version", "1");
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(StoreOptions{.path = dir.db()});
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
    const std::string message(store.status().message());
    EXPECT_THAT(message, HasSubstr(dir.db()));
    EXPECT_THAT(message, HasSubstr("older version without the timer index"));
    EXPECT_THAT(message, HasSubstr("remove the directory"));
    EXPECT_THAT(message, HasSubstr("reset the consumer group's offsets"));
    EXPECT_THAT(message, HasSubstr("reprocessing the input topic"));
  }
  // Refused as it was: not half-upgraded to a database that looks current.
  EXPECT_THAT(FamiliesOf(dir.db()), Not(::testing::Contains("timers")));
}

TEST(StoreTest, RefusesADatabaseThatIsNotProfileState) {
  TempDir dir;
  {
    RawDb raw(dir.db());
    raw.Put(rocksdb::kDefaultColumnFamilyName, "something", "else");
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(StoreOptions{.path = dir.db()});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("not profile state"));
}

TEST(StoreTest, FinishesACreationThatWasInterrupted) {
  TempDir dir;
  // What a crash right after RocksDB created the directory leaves: no families, no version.
  { RawDb raw(dir.db()); }
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    Populate(*store, Partition(0), "alice");
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(OrdersOf(*store, Partition(0), "alice"), 1);
}

TEST(StoreTest, RefusesAVersionedStoreThatLacksItsData) {
  TempDir dir;
  {
    RawDb raw(dir.db());
    raw.Put(rocksdb::kDefaultColumnFamilyName, "format_version", "3");
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(StoreOptions{.path = dir.db()});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("lacks column family"));
}

TEST(StoreTest, UpgradesAVersion2DatabaseByAddingThePartitionStateFamily) {
  TempDir dir;
  // What the previous release left: four families, version 2, no partition state records.
  {
    RawDb raw(dir.db());
    for (const char* family : {"profiles", "dedup", "offsets", "timers"}) raw.CreateFamily(family);
    raw.Put("profiles", std::string("\0\0\0\0", 4) + "alice",
            MakeProfile("alice", 1).SerializeAsString());
    raw.Put("offsets", std::string("\0\0\0\0", 4), std::string("\0\0\0\0\0\0\0\x05", 8));
    raw.Put(rocksdb::kDefaultColumnFamilyName, "format_version", "2");
  }
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(OrdersOf(*store, Partition(0), "alice"), 1);
    EXPECT_EQ(OffsetOf(*store, Partition(0)), Offset(5));
    absl::StatusOr<std::optional<v1::PartitionState>> state =
        store->ReadPartitionState(Partition(0));
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(*state, std::nullopt);
  }
  EXPECT_THAT(FamiliesOf(dir.db()), ::testing::Contains("partition_state"));
  RawDb raw(dir.db());
  EXPECT_EQ(raw.Get(rocksdb::kDefaultColumnFamilyName, "format_version"), "3");
}

TEST(StoreTest, KeepsAPartitionStateRecordPerPartition) {
  TempDir dir;
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    Store::Batch batch;
    for (int p : {0, 1}) {
      v1::PartitionState state;
      (*state.mutable_members())["vip"] = 10 + p;
      state.add_reevaluate_segments("vip");
      state.set_reevaluated_through("carol");
      batch.PutPartitionState(Partition(p), state);
    }
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  for (int p : {0, 1}) {
    absl::StatusOr<std::optional<v1::PartitionState>> state =
        store->ReadPartitionState(Partition(p));
    ASSERT_TRUE(state.ok()) << state.status();
    ASSERT_TRUE(state->has_value());
    EXPECT_EQ((*state)->members().at("vip"), 10 + p);
    EXPECT_EQ((*state)->reevaluated_through(), "carol");
  }
  EXPECT_THAT(PartitionsOf(*store), ElementsAre(Partition(0), Partition(1)));
  ASSERT_TRUE(store->DropPartition(Partition(0)).ok());
  EXPECT_EQ(*store->ReadPartitionState(Partition(0)), std::nullopt);
  EXPECT_TRUE(store->ReadPartitionState(Partition(1))->has_value());
  EXPECT_THAT(PartitionsOf(*store), ElementsAre(Partition(1)));
}

TEST(StoreTest, AProfileScanWalksAPartitionInSlices) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  for (const char* id : {"dave", "alice", "carol", "bob", "eve"}) {
    batch.PutProfile(Partition(3), MakeProfile(id, 1));
  }
  // Neighbouring partitions must not leak into the walk.
  batch.PutProfile(Partition(2), MakeProfile("zed", 1));
  batch.PutProfile(Partition(4), MakeProfile("aaron", 1));
  ASSERT_TRUE(store->Commit(batch).ok());

  auto walk = [&](std::string_view after, std::size_t slice) {
    std::vector<std::vector<std::string>> slices;
    auto scan = store->ScanProfiles(Partition(3), after);
    EXPECT_TRUE(scan.ok()) << scan.status();
    if (!scan.ok()) return slices;
    for (int round = 0; round < 10; ++round) {
      google::protobuf::Arena arena;
      absl::StatusOr<std::vector<v1::CustomerProfile*>> profiles = scan->Next(slice, arena);
      EXPECT_TRUE(profiles.ok()) << profiles.status();
      if (!profiles.ok()) break;
      std::vector<std::string>& ids = slices.emplace_back();
      for (const v1::CustomerProfile* profile : *profiles) {
        EXPECT_EQ(profile->GetArena(), &arena);
        ids.push_back(profile->customer_id());
      }
      if (profiles->size() < slice) break;
    }
    return slices;
  };
  using Slices = std::vector<std::vector<std::string>>;
  EXPECT_EQ(walk("", 2), (Slices{{"alice", "bob"}, {"carol", "dave"}, {"eve"}}));
  EXPECT_EQ(walk("", 5), (Slices{{"alice", "bob", "carol", "dave", "eve"}, {}}));
  // After a customer: from the next one on, whether or not the customer is stored.
  EXPECT_EQ(walk("bob", 2), (Slices{{"carol", "dave"}, {"eve"}}));
  EXPECT_EQ(walk("bz", 10), (Slices{{"carol", "dave", "eve"}}));
  EXPECT_EQ(walk("eve", 2), (Slices{{}}));
  EXPECT_EQ(walk("", 0), (Slices(10)));
  EXPECT_FALSE(store->ScanProfiles(Partition(-1), "").ok());
}

TEST(StoreTest, RefusesADirectoryAlreadyInUse) {
  TempDir dir;
  auto first = OpenStore(dir.db());
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<Store>> second = Store::Open(StoreOptions{.path = dir.db()});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("is another profile-service using it?"));
}

TEST(StoreTest, RefusesAnEmptyPath) {
  EXPECT_EQ(Store::Open(StoreOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(StoreTest, StatsReflectStoredDataAndCacheUse) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Store::Batch batch;
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    ids.push_back("customer-" + std::to_string(i));
    batch.PutProfile(Partition(0), MakeProfile(ids.back(), i));
    batch.MarkSeen(Partition(0), "event-" + std::to_string(i), kT0);
    batch.SetTimer(Partition(0), ids.back(), std::nullopt, kT0 + absl::Minutes(i));
  }
  ASSERT_TRUE(store->Commit(batch).ok());
  ASSERT_TRUE(store->Compact().ok());
  const std::vector<std::string_view> views(ids.begin(), ids.end());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(store->ReadProfiles(Partition(0), views).ok());
  }

  absl::StatusOr<Store::Stats> stats = store->GetStats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->estimated_profiles, 100u);
  EXPECT_EQ(stats->estimated_dedup_entries, 100u);
  EXPECT_EQ(stats->estimated_timers, 100u);
  EXPECT_GT(stats->sst_files_bytes, 0u);
  EXPECT_GT(stats->live_data_bytes, 0u);
  EXPECT_GT(stats->block_cache_usage_bytes, 0u);
  EXPECT_GT(stats->block_cache_hits, 0u);
  EXPECT_GT(stats->block_cache_misses, 0u);
  EXPECT_FALSE(stats->write_stopped);
  EXPECT_EQ(stats->write_stall_time, absl::ZeroDuration());
}

}  // namespace
}  // namespace cdp::state
