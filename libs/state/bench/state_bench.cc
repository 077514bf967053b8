// Throughput of the store's hot paths on a real database in a temporary directory. Rates are
// printed per item (profile, dedup entry, id looked up) as items_per_second.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "benchmark/benchmark.h"
#include "cdp/state/store.h"

namespace cdp::state {
namespace {

constexpr int kBatchSize = 1000;
const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

v1::CustomerProfile TypicalProfile(std::string customer_id, std::int64_t seed) {
  v1::CustomerProfile profile;
  profile.set_customer_id(std::move(customer_id));
  profile.set_orders_total(seed % 50);
  profile.set_monetary_total(seed * 1234);
  profile.set_paid_total(seed * 1300);
  profile.set_region("east");
  profile.set_city("Shanghai");
  profile.add_tags("vip");
  (*profile.mutable_category_quantity())["shoes"] = seed % 7;
  (*profile.mutable_consent())["sms"] = true;
  // A month of daily activity, as an active customer carries.
  for (int day = 0; day < 30; ++day) {
    v1::CustomerProfile::DailyActivity* activity = profile.add_daily();
    activity->set_day(19'000 + day);
    activity->set_orders(day % 3);
    activity->set_monetary(day * 100);
    activity->set_interactions(day % 5);
  }
  return profile;
}

// A store in a fresh temporary directory, removed afterwards.
class BenchStore {
 public:
  BenchStore() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "cdp-state-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return;
    dir_ = pattern;
    auto store = Store::Open(StoreOptions{.path = (dir_ / "db").string()});
    if (store.ok()) store_ = std::move(*store);
  }
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;
  ~BenchStore() {
    store_.reset();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  Store* get() const { return store_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

std::vector<std::string> Ids(std::string_view prefix, int first, int count) {
  std::vector<std::string> ids;
  ids.reserve(count);
  for (int i = first; i < first + count; ++i)
    ids.push_back(std::string(prefix) + std::to_string(i));
  return ids;
}

void BM_CommitBatch(benchmark::State& state) {
  BenchStore store;
  if (store.get() == nullptr) return state.SkipWithError("cannot open a store");
  std::int64_t next = 0;
  for (auto _ : state) {
    Store::Batch batch;
    for (int i = 0; i < kBatchSize; ++i, ++next) {
      // Customers repeat across batches, as they do in traffic.
      batch.PutProfile(Partition(0),
                       TypicalProfile("customer-" + std::to_string(next % 100'000), next));
      batch.MarkSeen(Partition(0), "event-" + std::to_string(next), kT0 + absl::Hours(24 * 7));
    }
    batch.SetOffset(Partition(0), Offset(next));
    if (!store.get()->Commit(batch).ok()) return state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
}
BENCHMARK(BM_CommitBatch)->Unit(benchmark::kMillisecond);

// Half the ids were seen, half were not: the dedup check of a typical batch.
void BM_SeenEvents(benchmark::State& state) {
  BenchStore store;
  if (store.get() == nullptr) return state.SkipWithError("cannot open a store");
  const std::vector<std::string> stored = Ids("event-", 0, 100'000);
  for (int first = 0; first < 100'000; first += kBatchSize) {
    Store::Batch batch;
    for (int i = first; i < first + kBatchSize; ++i) {
      batch.MarkSeen(Partition(0), stored[i], kT0 + absl::Hours(24));
    }
    if (!store.get()->Commit(batch).ok()) return state.SkipWithError("commit failed");
  }
  const std::vector<std::string> queried = Ids("event-", 100'000 - kBatchSize / 2, kBatchSize);
  const std::vector<std::string_view> views(queried.begin(), queried.end());
  for (auto _ : state) {
    auto seen = store.get()->SeenEvents(Partition(0), views, kT0);
    if (!seen.ok()) return state.SkipWithError("lookup failed");
    benchmark::DoNotOptimize(seen);
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
}
BENCHMARK(BM_SeenEvents)->Unit(benchmark::kMillisecond);

void BM_ReadProfiles(benchmark::State& state) {
  BenchStore store;
  if (store.get() == nullptr) return state.SkipWithError("cannot open a store");
  constexpr int kCustomers = 100'000;
  const std::vector<std::string> ids = Ids("customer-", 0, kCustomers);
  for (int first = 0; first < kCustomers; first += kBatchSize) {
    Store::Batch batch;
    for (int i = first; i < first + kBatchSize; ++i) {
      batch.PutProfile(Partition(0), TypicalProfile(ids[i], i));
    }
    if (!store.get()->Commit(batch).ok()) return state.SkipWithError("commit failed");
  }
  if (!store.get()->Compact().ok()) return state.SkipWithError("compaction failed");
  // Spread over the key space, as a batch's customers are.
  std::vector<std::string_view> views;
  for (int i = 0; i < kBatchSize; ++i) views.push_back(ids[(i * 97) % kCustomers]);
  for (auto _ : state) {
    auto profiles = store.get()->ReadProfiles(Partition(0), views);
    if (!profiles.ok()) return state.SkipWithError("lookup failed");
    benchmark::DoNotOptimize(profiles);
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
}
BENCHMARK(BM_ReadProfiles)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cdp::state

BENCHMARK_MAIN();
