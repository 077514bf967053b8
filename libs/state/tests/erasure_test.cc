#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "cdp/state/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_support.h"

namespace cdp::state {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::kT0;
using testing::MakeProfile;
using testing::OpenStore;
using testing::TempDir;

constexpr Partition kPartition(3);
// Long and unusual, so that a match in a file cannot be a coincidence.
constexpr std::string_view kErased = "erase-me-customer-4711";
constexpr std::string_view kKept = "keep-me-customer-4712";
constexpr std::string_view kErasedEvent = "evt-of-erase-me-9001";

// Files of the directory that contain `needle`, raw or hex-encoded (as RocksDB logs keys).
std::vector<std::string> FilesHolding(const std::filesystem::path& dir, std::string_view needle) {
  const std::string hex = absl::BytesToHexString(absl::string_view(needle.data(), needle.size()));
  std::string upper_hex = hex;
  for (char& c : upper_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos || bytes.find(hex) != std::string::npos ||
        bytes.find(upper_hex) != std::string::npos) {
      found.push_back(entry.path().filename().string());
    }
  }
  return found;
}

// Two customers with a profile, a timer and an applied event each, flushed to SST files so
// that the erasure has older files to reach into, not only the memtable.
void StoreTwoCustomers(Store& store) {
  Store::Batch batch;
  for (std::string_view id : {kErased, kKept}) {
    batch.PutProfile(kPartition, MakeProfile(id, 2));
    batch.SetTimer(kPartition, id, std::nullopt, kT0 + absl::Hours(24));
    batch.MarkSeen(kPartition, id == kErased ? kErasedEvent : "evt-of-keep-me",
                   kT0 + absl::Hours(1));
  }
  ASSERT_TRUE(store.Commit(batch).ok());
  ASSERT_TRUE(store.Compact().ok());
}

void Erase(Store& store, absl::Time at) {
  Store::Batch batch;
  batch.DeleteProfile(kPartition, kErased);
  batch.SetTimer(kPartition, kErased, kT0 + absl::Hours(24), std::nullopt);
  batch.ForgetSeen(kPartition, kErasedEvent);
  batch.MarkErased(kPartition, kErased, at);
  ASSERT_TRUE(store.Commit(batch).ok());
}

TEST(ErasureTest, MarkerRecordsWhenEachCustomerWasErased) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  StoreTwoCustomers(*store);
  Erase(*store, kT0);

  auto erased = store->ReadErasures(kPartition, std::vector<std::string_view>{kErased, kKept});
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_THAT(*erased, ElementsAre(std::optional<absl::Time>(kT0), std::nullopt));
  // Markers are per partition, like everything else.
  auto elsewhere = store->ReadErasures(Partition(4), std::vector<std::string_view>{kErased});
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_THAT(*elsewhere, ElementsAre(std::nullopt));

  EXPECT_FALSE(store->ReadProfile(kPartition, kErased)->has_value());
  EXPECT_TRUE(store->ReadProfile(kPartition, kKept)->has_value());
  auto seen = store->SeenEvents(kPartition, std::vector<std::string_view>{kErasedEvent},
                                absl::InfinitePast());
  ASSERT_TRUE(seen.ok());
  EXPECT_THAT(*seen, ElementsAre(false));
}

TEST(ErasureTest, ALaterErasureMovesTheMarkerAndAReadBackMarkerMatchesTheId) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  Erase(*store, kT0);
  Store::Batch restored;
  restored.PutErasure(kPartition, Store::ErasureId(kErased), kT0 + absl::Hours(5));
  ASSERT_TRUE(store->Commit(restored).ok());
  auto erased = store->ReadErasures(kPartition, std::vector<std::string_view>{kErased});
  ASSERT_TRUE(erased.ok());
  EXPECT_THAT(*erased, ElementsAre(std::optional<absl::Time>(kT0 + absl::Hours(5))));
  EXPECT_EQ(Store::ErasureId(kErased).find(kErased), std::string::npos);
}

TEST(ErasureTest, ScrubLeavesNoFileHoldingTheErasedCustomer) {
  TempDir dir;
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  StoreTwoCustomers(*store);
  ASSERT_FALSE(FilesHolding(dir.path(), kErased).empty()) << "the test would prove nothing";
  EXPECT_FALSE(store->ScrubPending());

  Erase(*store, kT0);
  EXPECT_TRUE(store->ScrubPending());
  // Committed but not scrubbed: still on disk (the WAL, the older SST files).
  EXPECT_FALSE(FilesHolding(dir.path(), kErased).empty());
  ASSERT_TRUE(store->Scrub().ok());
  EXPECT_FALSE(store->ScrubPending());

  EXPECT_THAT(FilesHolding(dir.path(), kErased), IsEmpty());
  EXPECT_THAT(FilesHolding(dir.path(), kErasedEvent), IsEmpty());
  EXPECT_FALSE(FilesHolding(dir.path(), kKept).empty());
  EXPECT_TRUE(store->ReadProfile(kPartition, kKept)->has_value());
}

TEST(ErasureTest, AnErasureBeforeARestartIsStillScrubbedAfterIt) {
  TempDir dir;
  {
    auto store = OpenStore(dir.db());
    ASSERT_NE(store, nullptr);
    StoreTwoCustomers(*store);
    Erase(*store, kT0);
  }
  auto store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->ScrubPending());
  ASSERT_TRUE(store->Scrub().ok());
  EXPECT_FALSE(store->ScrubPending());
  EXPECT_THAT(FilesHolding(dir.path(), kErased), IsEmpty());
  // Done for good: the next open has nothing left to scrub.
  store.reset();
  store = OpenStore(dir.db());
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->ScrubPending());
}

}  // namespace
}  // namespace cdp::state
