#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cdp/common/strong_type.h"
#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"
#include "cdp/state/store.h"
#include "cdp/v1/customer_profile.pb.h"
#include "cdp/v1/partition_state.pb.h"

namespace cdp::service {

// A state store of its own in a temporary directory and an engine over a catalogue given as
// YAML: for the tests of what the service answers from its state.
class StoredStateTest : public ::testing::Test {
 protected:
  // Call from SetUp: a failure here skips the test.
  void OpenState(std::string_view catalogue_yaml) {
    // ctest runs each test in a process of its own, in parallel.
    const ::testing::TestInfo& test = *::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat(test.test_suite_name(), "-", test.name());
    std::filesystem::remove_all(dir_);
    auto store = state::Store::Open(state::StoreOptions{.path = dir_.string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto catalogue = rules::ParseSegmentCatalogue(catalogue_yaml, "t.yaml");
    ASSERT_TRUE(catalogue.ok()) << catalogue.status();
    engine_ = std::make_unique<core::Engine>(
        std::make_shared<const rules::SegmentCatalogue>(std::move(*catalogue)),
        core::EngineOptions{});
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // alice: 3 orders, 9000 spent, her last purchase now.
  v1::CustomerProfile Alice() const {
    v1::CustomerProfile profile;
    profile.set_customer_id("alice");
    profile.set_orders_total(3);
    profile.set_monetary_total(9000);
    profile.mutable_last_purchase_at()->set_seconds(absl::ToUnixSeconds(now_));
    return profile;
  }

  // Stores `profile` in `partition` with quintiles that put Alice's spend in the top fifth.
  void PutWithQuintiles(Partition partition, const v1::CustomerProfile& profile) {
    v1::PartitionState state;
    v1::RfmQuintiles& quintiles = *state.mutable_rfm_quintiles();
    for (double value : {1, 2, 3, 4}) {
      quintiles.add_recency_days(value);
      quintiles.add_frequency(value + 1);
      quintiles.add_monetary(value * 1000);
    }
    state::Store::Batch batch;
    batch.PutProfile(partition, profile);
    batch.PutPartitionState(partition, state);
    ASSERT_TRUE(store_->Commit(batch).ok());
  }

  std::filesystem::path dir_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<core::Engine> engine_;
  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);
};

}  // namespace cdp::service
