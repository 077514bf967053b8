#include "profile_json.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "cdp/core/population.h"
#include "cdp/rules/catalogue.h"
#include "nlohmann/json.hpp"

namespace cdp::service {
namespace {

class ProfileResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each test in a process of its own, in parallel.
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("profile-response-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto store = state::Store::Open(state::StoreOptions{.path = dir_.string()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto catalogue = rules::ParseSegmentCatalogue(
        "rfm: {scoring: quintiles}\nsegments:\n  - {id: top, when: 'rfm_m == 5'}\n", "t.yaml");
    ASSERT_TRUE(catalogue.ok()) << catalogue.status();
    engine_ = std::make_unique<core::Engine>(
        std::make_shared<const rules::SegmentCatalogue>(std::move(*catalogue)),
        core::EngineOptions{});
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<state::Store> store_;
  std::unique_ptr<core::Engine> engine_;
  absl::Time now_ = absl::FromUnixSeconds(1'780'000'000);
};

TEST_F(ProfileResponseTest, ScoresRfmAgainstTheCustomersPartition) {
  v1::CustomerProfile profile;
  profile.set_customer_id("alice");
  profile.set_orders_total(3);
  profile.set_monetary_total(9000);
  profile.mutable_last_purchase_at()->set_seconds(absl::ToUnixSeconds(now_));
  v1::PartitionState state;
  v1::RfmQuintiles& quintiles = *state.mutable_rfm_quintiles();
  for (double value : {1, 2, 3, 4}) {
    quintiles.add_recency_days(value);
    quintiles.add_frequency(value + 1);
    quintiles.add_monetary(value * 1000);
  }
  state::Store::Batch batch;
  batch.PutProfile(Partition(3), profile);
  batch.PutPartitionState(Partition(3), state);
  ASSERT_TRUE(store_->Commit(batch).ok());

  const http::Response found = ProfileResponse(*store_, *engine_, "alice", now_);
  ASSERT_EQ(found.status, 200) << found.body;
  const nlohmann::json body = nlohmann::json::parse(found.body);
  EXPECT_EQ(body["fields"]["rfm_r"], 5);
  EXPECT_EQ(body["fields"]["rfm_f"], 3) << "3 orders reach the breakpoints 2 and 3";
  EXPECT_EQ(body["fields"]["rfm_m"], 5);

  EXPECT_EQ(ProfileResponse(*store_, *engine_, "bob", now_).status, 404);
}

TEST_F(ProfileResponseTest, ScoresAreNullBeforeThePartitionHasQuintiles) {
  v1::CustomerProfile profile;
  profile.set_customer_id("alice");
  profile.set_orders_total(1);
  profile.mutable_last_purchase_at()->set_seconds(absl::ToUnixSeconds(now_));
  state::Store::Batch batch;
  batch.PutProfile(Partition(0), profile);
  ASSERT_TRUE(store_->Commit(batch).ok());
  const http::Response found = ProfileResponse(*store_, *engine_, "alice", now_);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_TRUE(nlohmann::json::parse(found.body)["fields"]["rfm_m"].is_null());
}

}  // namespace
}  // namespace cdp::service
