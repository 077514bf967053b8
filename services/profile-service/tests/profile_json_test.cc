#include "profile_json.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"
#include "stored_state_fixture.h"

namespace cdp::service {
namespace {

class ProfileResponseTest : public StoredStateTest {
 protected:
  void SetUp() override {
    OpenState("rfm: {scoring: quintiles}\nsegments:\n  - {id: top, when: 'rfm_m == 5'}\n");
  }
};

TEST_F(ProfileResponseTest, ScoresRfmAgainstTheCustomersPartition) {
  PutWithQuintiles(Partition(3), Alice());
  ASSERT_FALSE(HasFatalFailure());

  const http::Response found = ProfileResponse(*store_, *engine_, "alice", now_);
  ASSERT_EQ(found.status, 200) << found.body;
  const nlohmann::json body = nlohmann::json::parse(found.body);
  EXPECT_EQ(body["fields"]["rfm_r"], 5);
  EXPECT_EQ(body["fields"]["rfm_f"], 3) << "3 orders reach the breakpoints 2 and 3";
  EXPECT_EQ(body["fields"]["rfm_m"], 5);

  EXPECT_EQ(ProfileResponse(*store_, *engine_, "bob", now_).status, 404);
}

TEST_F(ProfileResponseTest, ScoresAreNullBeforeThePartitionHasQuintiles) {
  v1::CustomerProfile profile = Alice();
  profile.set_orders_total(1);
  profile.clear_monetary_total();
  state::Store::Batch batch;
  batch.PutProfile(Partition(0), profile);
  ASSERT_TRUE(store_->Commit(batch).ok());
  const http::Response found = ProfileResponse(*store_, *engine_, "alice", now_);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_TRUE(nlohmann::json::parse(found.body)["fields"]["rfm_m"].is_null());
}

}  // namespace
}  // namespace cdp::service
