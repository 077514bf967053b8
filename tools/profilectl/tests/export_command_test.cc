#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.h"
#include "cdp/state/store.h"
#include "commands.h"

namespace cdp::profilectl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ExportCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("export_command_test_") + test->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<state::Store> OpenStore() {
    auto store = state::Store::Open(state::StoreOptions{.path = dir_.string()});
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  void StoreProfiles() {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    state::Store::Batch batch;
    for (const auto& [partition, customer] :
         {std::pair{2, "b"}, std::pair{0, "z"}, std::pair{2, "a"}, std::pair{0, "y"}}) {
      v1::CustomerProfile profile;
      profile.set_customer_id(customer);
      profile.set_events_applied(partition + 1);
      batch.PutProfile(Partition(partition), profile);
    }
    ASSERT_TRUE(store->Commit(batch).ok());
  }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    const std::vector<std::string_view> views(args.begin(), args.end());
    return RunExport(views, out_, err_);
  }

  std::vector<std::string> OutputLines() const {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::filesystem::path dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(ExportCommandTest, PrintsProfilesByPartitionThenCustomer) {
  StoreProfiles();
  ASSERT_EQ(Run({"--data-dir", dir_.string()}), kExitOk) << err_.str();
  EXPECT_THAT(OutputLines(), ElementsAre(StartsWith(R"({"partition":0,"customer_id":"y",)"),
                                         StartsWith(R"({"partition":0,"customer_id":"z",)"),
                                         StartsWith(R"({"partition":2,"customer_id":"a",)"),
                                         StartsWith(R"({"partition":2,"customer_id":"b",)")));
  ASSERT_EQ(Run({"--data-dir", dir_.string(), "--partition", "2"}), kExitOk) << err_.str();
  EXPECT_THAT(OutputLines(),
              ElementsAre(HasSubstr(R"("customer_id":"a")"), HasSubstr(R"("customer_id":"b")")));
}

TEST_F(ExportCommandTest, ARunningServiceHoldsTheStore) {
  StoreProfiles();
  auto held = OpenStore();
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(Run({"--data-dir", dir_.string()}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("stop the service, then export"));
}

TEST_F(ExportCommandTest, AMissingDirectoryIsNotCreated) {
  EXPECT_EQ(Run({"--data-dir", dir_.string()}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("no state directory"));
  EXPECT_FALSE(std::filesystem::exists(dir_));
}

TEST_F(ExportCommandTest, BadUsageExitsWithTwo) {
  EXPECT_EQ(Run({}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--data-dir DIR is required"));
  EXPECT_EQ(Run({"--data-dir", dir_.string(), "--partition", "-1"}), kExitUsage);
  EXPECT_EQ(Run({"--data-dir", dir_.string(), "extra"}), kExitUsage);
  EXPECT_EQ(Run({"--help"}), kExitOk);
  EXPECT_THAT(out_.str(), StartsWith("Usage: profilectl export"));
}

}  // namespace
}  // namespace cdp::profilectl
