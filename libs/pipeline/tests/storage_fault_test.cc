#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cdp/pipeline/processor.h"
#include "cdp/state/store.h"
#include "cdp/state/testing/faulty_file_system.h"
#include "test_support.h"

namespace cdp::pipeline {
namespace {

using state::testing::Fault;
using state::testing::FaultyFileSystem;
using test_support::Canonical;
using test_support::MemoryBroker;
using test_support::Purchase;
using test_support::TestDir;
using test_support::TestEngine;

using Batch = std::vector<std::pair<std::int64_t, std::string>>;

const Batch kFirst = {{0, Purchase("e1", "c1", "2026-05-27T00:00:00Z")},
                      {1, Purchase("e2", "c2", "2026-05-27T01:00:00Z")}};
const Batch kSecond = {{2, Purchase("e3", "c1", "2026-05-27T02:00:00Z")},
                       {3, Purchase("e4", "c3", "2026-05-27T03:00:00Z")}};

// A store on storage that fails on demand, and a processor writing to it.
class Instance {
 public:
  Instance(const std::filesystem::path& dir, MemoryBroker& broker)
      : fs_(std::make_shared<FaultyFileSystem>()), env_(rocksdb::NewCompositeEnv(fs_)) {
    std::filesystem::remove_all(dir);
    auto store = state::Store::Open(state::StoreOptions{.path = dir.string(), .env = env_.get()});
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ProcessorOptions options;
    options.changelog = true;
    processor_ = std::make_unique<Processor>(
        TestEngine(), *store_, broker, [this] { return now_; }, options, nullptr);
  }
  ~Instance() {
    processor_.reset();
    store_.reset();
  }

  absl::Status Process(const Batch& values) {
    std::vector<InputRecord> records;
    for (const auto& [offset, value] : values) {
      records.push_back(InputRecord{Partition(0), Offset(offset), std::string_view("k"),
                                    std::string_view(value), "", absl::InfinitePast()});
    }
    return processor_->Process(records);
  }

  std::map<std::string, std::string> Profiles() const {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store_
                    ->ForEachProfile(Partition(0),
                                     [&](Partition, const v1::CustomerProfile& profile) {
                                       out[profile.customer_id()] = Canonical(profile);
                                       return true;
                                     })
                    .ok());
    return out;
  }

  std::optional<Offset> NextOffset() const {
    auto offset = store_->ReadOffset(Partition(0));
    EXPECT_TRUE(offset.ok()) << offset.status();
    return offset.value_or(std::nullopt);
  }

  FaultyFileSystem& fs() { return *fs_; }
  state::Store& store() { return *store_; }

 private:
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<Processor> processor_;
  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);  // 2026-05-28
};

std::set<std::string> Distinct(const MemoryBroker& broker) {
  std::set<std::string> changes;
  for (const auto& [flush, value] : broker.changes_) changes.insert(value);
  return changes;
}

TEST(StorageFaultTest, ABatchTheStoreCannotCommitIsRetriedOnceTheDiskHasRoomAndNothingIsLost) {
  MemoryBroker reference_broker;
  Instance reference(TestDir("_reference"), reference_broker);
  ASSERT_TRUE(reference.Process(kFirst).ok());
  ASSERT_TRUE(reference.Process(kSecond).ok());

  MemoryBroker broker;
  Instance instance(TestDir("_faulty"), broker);
  ASSERT_TRUE(instance.Process(kFirst).ok());
  instance.fs().Inject(Fault::kNoSpace);
  const absl::Status full = instance.Process(kSecond);
  ASSERT_FALSE(full.ok());
  EXPECT_TRUE(IsStorageFault(full)) << full;
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  // Nothing of the batch counts: its offset did not move, and while the disk is full the store
  // stays unwritable.
  EXPECT_EQ(instance.NextOffset(), Offset(2));
  EXPECT_FALSE(instance.store().Recover().ok());
  const absl::Status again = instance.Process(kSecond);
  EXPECT_TRUE(IsStorageFault(again)) << again;
  EXPECT_EQ(instance.NextOffset(), Offset(2));

  instance.fs().Inject(std::nullopt);
  ASSERT_TRUE(state::testing::RecoversWithin(instance.store(), std::chrono::seconds(30)));
  ASSERT_TRUE(instance.Process(kSecond).ok());
  EXPECT_EQ(instance.NextOffset(), Offset(4));
  EXPECT_EQ(instance.Profiles(), reference.Profiles());
  // Changes of the failed attempts went out again with the same ids and bytes: repeats, no
  // other change.
  EXPECT_EQ(Distinct(broker), Distinct(reference_broker));
  EXPECT_GT(broker.changes_.size(), reference_broker.changes_.size());
}

TEST(StorageFaultTest, ADeliveryFailureIsNotAStorageFault) {
  MemoryBroker broker;
  Instance instance(TestDir(), broker);
  broker.fail_flush_ = 1;
  const absl::Status failed = instance.Process(kFirst);
  EXPECT_TRUE(absl::IsUnavailable(failed)) << failed;
  EXPECT_FALSE(IsStorageFault(failed));
}

}  // namespace
}  // namespace cdp::pipeline
