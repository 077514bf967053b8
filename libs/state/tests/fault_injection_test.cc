#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cdp/state/store.h"
#include "cdp/state/testing/faulty_file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "test_support.h"

namespace cdp::state {
namespace {

using ::testing::ElementsAre;
using testing::Fault;
using testing::FaultyFileSystem;
using ::testing::HasSubstr;
using testing::MakeProfile;
using testing::TempDir;

class StorageFaultTest : public ::testing::TestWithParam<Fault> {
 protected:
  StorageFaultTest()
      : fs_(std::make_shared<FaultyFileSystem>()), env_(rocksdb::NewCompositeEnv(fs_)) {}

  std::unique_ptr<Store> Open() {
    // With fsync per commit a failing sync fails the commit; without it only writes can.
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(StoreOptions{
        .path = dir_.db(), .sync_writes = GetParam() == Fault::kSync, .env = env_.get()});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  TempDir dir_;
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
};

const absl::Time kBaseTime = absl::FromUnixSeconds(1'700'000'000);

// What a batch that names (alice, bob, their timers, offset) leaves readable.
struct Snapshot {
  std::optional<std::int64_t> alice_orders;
  bool has_bob = false;
  std::vector<std::pair<absl::Time, std::string>> timers;
  std::optional<Offset> offset;
};

Snapshot Read(const Store& store) {
  Snapshot snapshot;
  auto alice = store.ReadProfile(Partition(0), "alice");
  auto bob = store.ReadProfile(Partition(0), "bob");
  auto timers = store.DueTimers(Partition(0), absl::InfiniteFuture(), 10);
  auto offset = store.ReadOffset(Partition(0));
  EXPECT_TRUE(alice.ok() && bob.ok() && timers.ok() && offset.ok());
  if (alice.ok() && alice->has_value()) snapshot.alice_orders = (*alice)->orders_total();
  snapshot.has_bob = bob.ok() && bob->has_value();
  if (timers.ok()) {
    for (const Store::DueTimer& timer : *timers) {
      snapshot.timers.emplace_back(timer.due, timer.customer_id);
    }
  }
  if (offset.ok()) snapshot.offset = *offset;
  return snapshot;
}

TEST_P(StorageFaultTest, FailedCommitLeavesNothingPartial) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Store::Batch first;
  first.PutProfile(Partition(0), MakeProfile("alice", 1));
  first.SetTimer(Partition(0), "alice", std::nullopt, kBaseTime + absl::Hours(1));
  first.SetOffset(Partition(0), Offset(10));
  ASSERT_TRUE(store->Commit(first).ok());

  fs_->Inject(GetParam());
  Store::Batch second;
  second.PutProfile(Partition(0), MakeProfile("alice", 2));
  second.SetTimer(Partition(0), "alice", kBaseTime + absl::Hours(1), kBaseTime + absl::Hours(2));
  second.PutProfile(Partition(0), MakeProfile("bob", 1));
  second.SetTimer(Partition(0), "bob", std::nullopt, kBaseTime);
  second.MarkSeen(Partition(0), "e2", absl::InfiniteFuture());
  second.SetOffset(Partition(0), Offset(20));
  const absl::Status committed = store->Commit(second);
  ASSERT_FALSE(committed.ok());
  EXPECT_THAT(std::string(committed.message()), HasSubstr("injected disk fault"));
  EXPECT_THAT(std::string(committed.message()), HasSubstr(dir_.db()));
  EXPECT_THAT(std::string(committed.message()), HasSubstr("None of them is visible"));
  EXPECT_EQ(second.operations(), 7u);

  Snapshot after = Read(*store);
  EXPECT_EQ(after.alice_orders, 1);
  EXPECT_FALSE(after.has_bob);
  EXPECT_THAT(after.timers, ElementsAre(std::pair(kBaseTime + absl::Hours(1), "alice")));
  EXPECT_EQ(after.offset, Offset(10));

  // The store keeps refusing writes after the fault, as its message says: a failed write of the
  // write-ahead log is fatal to RocksDB, whose recovery then takes a reopen.
  fs_->Inject(std::nullopt);
  const absl::Status resumed = store->Recover();
  EXPECT_TRUE(absl::IsFailedPrecondition(resumed)) << resumed;
  EXPECT_THAT(std::string(resumed.message()), HasSubstr("restart"));
  Store::Batch third;
  third.SetOffset(Partition(0), Offset(30));
  EXPECT_FALSE(store->Commit(third).ok());
  EXPECT_EQ(Read(*store).offset, Offset(10));

  // A restart recovers from the log; the failed batch is there entirely or not at all.
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  Snapshot recovered = Read(*store);
  if (recovered.offset == Offset(20)) {
    EXPECT_EQ(recovered.alice_orders, 2);
    EXPECT_TRUE(recovered.has_bob);
    EXPECT_THAT(recovered.timers, ElementsAre(std::pair(kBaseTime, "bob"),
                                              std::pair(kBaseTime + absl::Hours(2), "alice")));
  } else {
    EXPECT_EQ(recovered.offset, Offset(10));
    EXPECT_EQ(recovered.alice_orders, 1);
    EXPECT_FALSE(recovered.has_bob);
    EXPECT_THAT(recovered.timers, ElementsAre(std::pair(kBaseTime + absl::Hours(1), "alice")));
  }
  Store::Batch fourth;
  fourth.SetOffset(Partition(0), Offset(40));
  EXPECT_TRUE(store->Commit(fourth).ok());
  EXPECT_EQ(Read(*store).offset, Offset(40));
}

// A new owner drops each partition it restores, most of them empty: a drop of nothing must
// neither write nor wait for the writes of others.
TEST(StorageFaultDropTest, DroppingAPartitionThatHoldsNothingWritesNothing) {
  TempDir dir;
  auto fs = std::make_shared<FaultyFileSystem>();
  std::unique_ptr<rocksdb::Env> env(rocksdb::NewCompositeEnv(fs));
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open(StoreOptions{.path = dir.db(), .env = env.get()});
  ASSERT_TRUE(store.ok()) << store.status();
  Store::Batch batch;
  batch.MarkSeen(Partition(1), "e1", kBaseTime);
  ASSERT_TRUE((*store)->Commit(batch).ok());

  fs->Inject(Fault::kWrite);
  EXPECT_TRUE((*store)->DropPartition(Partition(0)).ok());
  EXPECT_TRUE((*store)->DropPartition(Partition(2)).ok());
  // What holds something is written, and fails.
  const absl::Status dropped = (*store)->DropPartition(Partition(1));
  EXPECT_FALSE(dropped.ok());
  EXPECT_THAT(std::string(dropped.message()), HasSubstr("injected disk fault"));
}

TEST(StorageRecoveryTest, AFullDiskFailsCommitsUntilItHasRoomAgainThenTheStoreGoesOn) {
  TempDir dir;
  auto fs = std::make_shared<FaultyFileSystem>();
  std::unique_ptr<rocksdb::Env> env(rocksdb::NewCompositeEnv(fs));
  auto opened = Store::Open(StoreOptions{.path = dir.db(), .env = env.get()});
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;
  Store::Batch first;
  first.PutProfile(Partition(0), MakeProfile("alice", 1));
  first.SetOffset(Partition(0), Offset(10));
  ASSERT_TRUE(store.Commit(first).ok());

  fs->Inject(Fault::kNoSpace);
  Store::Batch second;
  second.PutProfile(Partition(0), MakeProfile("bob", 1));
  second.SetOffset(Partition(0), Offset(20));
  const absl::Status full = store.Commit(second);
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  const absl::Status still_full = store.Recover();
  EXPECT_FALSE(still_full.ok());
  EXPECT_FALSE(absl::IsFailedPrecondition(still_full)) << still_full;
  EXPECT_EQ(Read(store).offset, Offset(10));

  fs->Inject(std::nullopt);
  ASSERT_TRUE(testing::RecoversWithin(store, std::chrono::seconds(30)));
  ASSERT_TRUE(store.Commit(second).ok());
  EXPECT_EQ(Read(store).offset, Offset(20));
  EXPECT_TRUE(Read(store).has_bob);
  EXPECT_TRUE(store.Recover().ok()) << "nothing to recover from";
}

INSTANTIATE_TEST_SUITE_P(Faults, StorageFaultTest, ::testing::Values(Fault::kWrite, Fault::kSync),
                         [](const ::testing::TestParamInfo<Fault>& info) {
                           return info.param == Fault::kWrite ? "Write" : "Sync";
                         });

}  // namespace
}  // namespace cdp::state
