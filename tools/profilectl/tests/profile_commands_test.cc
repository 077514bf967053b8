// get, explain and stats: on a state directory written by the state library, and against an
// HTTP server answering as the service's profile API does.
#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.h"
#include "cdp/core/engine.h"
#include "cdp/core/explain.h"
#include "cdp/core/profile_json.h"
#include "cdp/http/server.h"
#include "cdp/rules/catalogue.h"
#include "cdp/state/store.h"
#include "commands.h"
#include "nlohmann/json.hpp"

namespace cdp::profilectl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr std::string_view kSegments = R"(timezone: Asia/Shanghai
segments:
  - id: big_spender
    when: monetary_total >= 10000
  - id: vip
    when: 'has_tag("vip")'
dimensions:
  - id: lifecycle
    tiers:
      - {id: churned, when: "orders_total >= 1 and days_since_last_purchase > 180"}
      - {id: new, when: "orders_total >= 1 and days_since_first_purchase <= 30"}
      - {id: active, when: "orders_total >= 1"}
      - {id: potential, when: "interactions_total >= 1"}
)";

constexpr std::string_view kNow = "2024-03-05T10:00:00Z";
constexpr std::string_view kToken = "a-token-of-sixteen-chars";

using CommandFn = int (*)(std::span<const std::string_view>, std::ostream&, std::ostream&);

class ProfileCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("profile_commands_test_") + test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    data_dir_ = (dir_ / "data").string();
    segments_ = (dir_ / "segments.yaml").string();
    token_file_ = (dir_ / "token").string();
    std::ofstream(segments_) << kSegments;
    std::ofstream(token_file_) << kToken << "\n";
    auto catalogue = rules::LoadSegmentCatalogue(segments_);
    ASSERT_TRUE(catalogue.ok()) << catalogue.status();
    engine_ = std::make_unique<core::Engine>(
        std::make_shared<const rules::SegmentCatalogue>(*std::move(catalogue)),
        core::EngineOptions{});
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, std::string(kNow), &now_, nullptr));

    // The profiles the pipeline would store, folded by the engine from events.
    Apply(1, R"({"event_id": "a1", "customer_id": "alice", "occurred_at": "2024-03-01T10:00:00Z",
                 "purchase": {"order_id": "o1", "total_amount": 8000, "currency": "CNY"}})");
    Apply(1, R"({"event_id": "a2", "customer_id": "alice", "occurred_at": "2024-03-03T10:00:00Z",
                 "purchase": {"order_id": "o2", "total_amount": 8000, "currency": "CNY"}})");
    Apply(3, R"({"event_id": "b1", "customer_id": "bob", "occurred_at": "2024-03-02T10:00:00Z",
                 "interaction": {"type": "page_view"}})");
    Apply(3, R"({"event_id": "b2", "customer_id": "bob", "occurred_at": "2024-03-02T11:00:00Z",
                 "profile_update": {"add_tags": ["vip"], "city": "上海"}})");
    auto store = state::Store::Open(state::StoreOptions{.path = data_dir_});
    ASSERT_TRUE(store.ok()) << store.status();
    state::Store::Batch batch;
    for (const auto& [customer, stored] : profiles_) batch.PutProfile(stored.first, stored.second);
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }

  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  void Apply(int partition, std::string_view json) {
    v1::CustomerEvent event;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(json), &event).ok());
    auto& [stored_partition, profile] = profiles_[event.customer_id()];
    stored_partition = Partition(partition);
    std::vector<v1::SegmentChange> changes;
    const absl::Time at = absl::FromUnixSeconds(event.occurred_at().seconds());
    ASSERT_FALSE(engine_->Validate(event, at));
    static_cast<void>(engine_->Apply(event, at, profile, changes));
  }

  // Serves what the service's profile API and /metrics would for these profiles, at kNow.
  std::string StartService() {
    server_ = std::make_unique<http::Server>(
        http::ServerOptions{.port = 0, .token = std::string(kToken)});
    const http::RouteOptions personal{.requires_token = true};
    const auto error = [](int status, const std::string& message) {
      return http::Response{status, "application/json",
                            nlohmann::json{{"error", message}}.dump() + "\n"};
    };
    server_->Get(R"(/v1/profiles/([^/]+))",
                 [this, error](const http::Request& request) {
                   const auto it = profiles_.find(request.captures[0]);
                   if (it == profiles_.end()) return error(404, "no profile for this customer");
                   return http::Response{
                       200, "application/json",
                       core::ProfileJson(it->second.second, *engine_, now_, {}).dump() + "\n"};
                 },
                 personal);
    server_->Get(
        R"(/v1/profiles/([^/]+)/explain/([^/]+(?:/[^/]+)?))",
        [this, error](const http::Request& request) {
          if (auto targets = core::ResolveRuleTargets(engine_->catalogue(), request.captures[1]);
              !targets.ok()) {
            return error(404, std::string(targets.status().message()));
          }
          const auto it = profiles_.find(request.captures[0]);
          if (it == profiles_.end()) return error(404, "no profile for this customer");
          auto explanations =
              core::ExplainMembership(*engine_, it->second.second, request.captures[1], now_);
          return http::Response{
              200, "application/json",
              core::ExplanationJson(request.captures[0], request.captures[1], now_, *explanations)
                      .dump() +
                  "\n"};
        },
        personal);
    server_->Get("/metrics", [](const http::Request&) {
      return http::Response{200, "text/plain; version=0.0.4",
                            "# HELP cdp_segment_members customers in each segment\n"
                            "# TYPE cdp_segment_members gauge\n"
                            "cdp_segment_members{dimension=\"\",segment=\"big_spender\"} 1\n"
                            "cdp_segment_members{dimension=\"\",segment=\"vip\"} 1\n"
                            "cdp_segment_members{segment=\"churned\",dimension=\"lifecycle\"} 0\n"
                            "cdp_segment_members{dimension=\"lifecycle\",segment=\"new\"} 1\n"
                            "cdp_segment_members{dimension=\"lifecycle\",segment=\"active\"} 0\n"
                            "cdp_segment_members{dimension=\"lifecycle\",segment=\"potential\"} 1\n"
                            "cdp_segment_changes_total{dimension=\"\",segment=\"vip\","
                            "direction=\"entered\"} 5\n"};
    });
    auto port = server_->Start();
    EXPECT_TRUE(port.ok()) << port.status();
    return "http://127.0.0.1:" + std::to_string(port.ok() ? *port : 0);
  }

  int Run(CommandFn command, std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    const std::vector<std::string_view> views(args.begin(), args.end());
    return command(views, out_, err_);
  }

  // The command's output from the state directory, and from the service, evaluated at kNow.
  std::vector<std::string> Offline(std::vector<std::string> args) {
    std::vector<std::string> full = {"--data-dir", data_dir_, "--segments",
                                     segments_,    "--now",   std::string(kNow)};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }
  std::vector<std::string> Online(const std::string& url, std::vector<std::string> args) {
    std::vector<std::string> full = {"--url", url, "--token-file", token_file_};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }

  std::filesystem::path dir_;
  std::string data_dir_;
  std::string segments_;
  std::string token_file_;
  std::unique_ptr<core::Engine> engine_;
  absl::Time now_;
  std::map<std::string, std::pair<Partition, v1::CustomerProfile>> profiles_;
  std::unique_ptr<http::Server> server_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(ProfileCommandsTest, GetShowsWhatTheProfileApiShows) {
  ASSERT_EQ(Run(RunGet, Offline({"--json", "alice"})), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            core::ProfileJson(profiles_["alice"].second, *engine_, now_, {}).dump() + "\n");
  const nlohmann::json alice = nlohmann::json::parse(out_.str());
  EXPECT_EQ(alice["fields"]["orders_total"], 2);
  EXPECT_EQ(alice["segments"], nlohmann::json({"big_spender"}));

  ASSERT_EQ(Run(RunGet, Offline({"bob"})), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("customer        bob\n"
                                     "as of           2024-03-05T10:00:00+00:00\n"
                                     "segments        vip\n"
                                     "tiers           lifecycle=potential\n"
                                     "tags            vip\n"));
  EXPECT_THAT(out_.str(), HasSubstr("\nFIELD                      VALUE\n"
                                    "orders_total               0\n"));
  EXPECT_THAT(out_.str(), HasSubstr("\ncity                       \"上海\"\n"));
  EXPECT_THAT(out_.str(), HasSubstr("\ndays_since_last_purchase   null\n"));
  EXPECT_THAT(err_.str(), IsEmpty());
}

TEST_F(ProfileCommandsTest, AnUnknownCustomerFails) {
  EXPECT_EQ(Run(RunGet, Offline({"carol"})), kExitFailure);
  EXPECT_EQ(err_.str(), "profilectl get: no profile for customer 'carol'\n");
  EXPECT_THAT(out_.str(), IsEmpty());
  EXPECT_EQ(Run(RunExplain, Offline({"carol", "vip"})), kExitFailure);
  EXPECT_EQ(err_.str(), "profilectl explain: no profile for customer 'carol'\n");
}

TEST_F(ProfileCommandsTest, ExplainGivesTheRuleTheValuesAndTheReason) {
  ASSERT_EQ(Run(RunExplain, Offline({"alice", "lifecycle/active"})), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "customer alice, as of 2024-03-05T10:00:00+00:00\n"
            "\n"
            "lifecycle/active: not a member\n"
            "  rule     orders_total >= 1\n"
            "  why      not in: the earlier tier 'new' matches first (first match wins); this "
            "tier's rule is true: orders_total >= 1 is true (orders_total = 2)\n"
            "  fields   orders_total = 2\n"
            "  trace\n"
            "    true   orders_total >= 1   <- decides\n"
            "    2        orders_total\n");

  // A dimension: each tier, with its own trace.
  ASSERT_EQ(Run(RunExplain, Offline({"--json", "alice", "lifecycle"})), kExitOk) << err_.str();
  const nlohmann::json answer = nlohmann::json::parse(out_.str());
  ASSERT_EQ(answer["explanations"].size(), 4u);
  EXPECT_EQ(answer["explanations"][0]["name"], "lifecycle/churned");
  EXPECT_EQ(answer["explanations"][0]["member"], false);
  EXPECT_EQ(answer["explanations"][0]["fields"],
            nlohmann::json({{"orders_total", 2}, {"days_since_last_purchase", 2}}));
  EXPECT_EQ(answer["explanations"][1]["name"], "lifecycle/new");
  EXPECT_EQ(answer["explanations"][1]["member"], true);

  ASSERT_EQ(Run(RunExplain, Offline({"alice", "lifecycle"})), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\nlifecycle/churned: not a member\n"
                                    "  rule     orders_total >= 1 and days_since_last_purchase > "
                                    "180\n"
                                    "  why      not in: its rule is false: "
                                    "days_since_last_purchase > 180 is false "
                                    "(days_since_last_purchase = 2)\n"));
  EXPECT_THAT(out_.str(), HasSubstr("\nlifecycle/new: member\n"));
}

TEST_F(ProfileCommandsTest, ExplainSuggestsASegmentForATypo) {
  EXPECT_EQ(Run(RunExplain, Offline({"alice", "lifecycle/activ"})), kExitFailure);
  EXPECT_EQ(err_.str(),
            "profilectl explain: dimension 'lifecycle' has no tier 'activ'; did you mean "
            "'active'?\n");
  EXPECT_EQ(Run(RunExplain, Offline({"alice", "big_spendr"})), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("did you mean 'big_spender'?"));
}

TEST_F(ProfileCommandsTest, StatsCountsProfilesAndMembers) {
  ASSERT_EQ(Run(RunStats, {"--data-dir", data_dir_, "--json"}), kExitOk) << err_.str();
  EXPECT_EQ(nlohmann::json::parse(out_.str()), nlohmann::json::parse(R"({
    "profiles": 2,
    "partitions": [{"partition": 1, "profiles": 1}, {"partition": 3, "profiles": 1}],
    "members": {"big_spender": 1, "vip": 1, "lifecycle/new": 1, "lifecycle/potential": 1}})"));

  // With the segment file, what nobody holds is listed too.
  ASSERT_EQ(Run(RunStats, {"--data-dir", data_dir_, "--segments", segments_}), kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(),
            "profiles  2 in 2 partition(s)\n"
            "\n"
            "PARTITION  PROFILES\n"
            "1          1\n"
            "3          1\n"
            "\n"
            "SEGMENT              MEMBERS\n"
            "big_spender          1\n"
            "lifecycle/active     0\n"
            "lifecycle/churned    0\n"
            "lifecycle/new        1\n"
            "lifecycle/potential  1\n"
            "vip                  1\n");
}

TEST_F(ProfileCommandsTest, ARunningServiceGivesTheSameAnswers) {
  const std::string url = StartService();
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"alice"}, {"--json", "bob"}}) {
    ASSERT_EQ(Run(RunGet, Offline(args)), kExitOk) << err_.str();
    const std::string offline = out_.str();
    ASSERT_EQ(Run(RunGet, Online(url, args)), kExitOk) << err_.str();
    EXPECT_EQ(out_.str(), offline);
  }
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"alice", "lifecycle"}, {"--json", "bob", "lifecycle/potential"}, {"bob", "vip"}}) {
    ASSERT_EQ(Run(RunExplain, Offline(args)), kExitOk) << err_.str();
    const std::string offline = out_.str();
    ASSERT_EQ(Run(RunExplain, Online(url, args)), kExitOk) << err_.str();
    EXPECT_EQ(out_.str(), offline);
  }
  ASSERT_EQ(Run(RunStats, {"--data-dir", data_dir_, "--segments", segments_, "--json"}), kExitOk);
  const nlohmann::json offline = nlohmann::json::parse(out_.str());
  ASSERT_EQ(Run(RunStats, {"--url", url, "--json"}), kExitOk) << err_.str();
  const nlohmann::json online = nlohmann::json::parse(out_.str());
  EXPECT_EQ(online["members"], offline["members"]);
  EXPECT_EQ(online["profiles"], nullptr);
  ASSERT_EQ(Run(RunStats, {"--url", url}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), StartsWith("profiles  not counted by a running service"));

  // The service's own errors.
  EXPECT_EQ(Run(RunGet, Online(url, {"carol"})), kExitFailure);
  EXPECT_EQ(err_.str(), "profilectl get: no profile for customer 'carol'\n");
  EXPECT_EQ(Run(RunExplain, Online(url, {"alice", "lifecycle/activ"})), kExitFailure);
  EXPECT_EQ(err_.str(),
            "profilectl explain: dimension 'lifecycle' has no tier 'activ'; did you mean "
            "'active'?\n");
  EXPECT_EQ(Run(RunGet, {"--url", url, "alice"}), kExitFailure);
  EXPECT_EQ(err_.str(), "profilectl get: " + url +
                            " requires a token: give --token-file FILE, the file of its "
                            "--admin-token-file\n");
}

TEST_F(ProfileCommandsTest, NothingListening) {
  EXPECT_EQ(Run(RunGet, {"--url", "http://127.0.0.1:1", "alice"}), kExitFailure);
  EXPECT_THAT(err_.str(), StartsWith("profilectl get: no answer from http://127.0.0.1:1: "));
}

TEST_F(ProfileCommandsTest, ARunningServicesLockedStateIsReported) {
  auto store = state::Store::Open(state::StoreOptions{.path = data_dir_});
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Run(RunGet, Offline({"alice"})), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("stop the service, then get"));
  EXPECT_EQ(Run(RunStats, {"--data-dir", data_dir_}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("stop the service, then stats"));
}

TEST_F(ProfileCommandsTest, UsageErrors) {
  const std::string dir = (dir_ / "missing").string();
  for (const auto& [command, args, message] :
       std::vector<std::tuple<CommandFn, std::vector<std::string>, std::string>>{
           {RunGet, {"alice"}, "give either --data-dir DIR"},
           {RunGet, {"--data-dir", data_dir_, "--url", "http://h:1", "alice"}, "give either"},
           {RunGet, {"--data-dir", data_dir_}, "expected one CUSTOMER id"},
           {RunGet,
            {"--url", "http://h:1", "--now", "2024-01-01T00:00:00Z", "a"},
            "--now goes with --data-dir"},
           {RunGet,
            {"--data-dir", data_dir_, "--token-file", token_file_, "a"},
            "--token-file goes with --url"},
           {RunGet, {"--url", "https://h:1", "a"}, "is not http://HOST:PORT"},
           {RunGet,
            {"--data-dir", data_dir_, "--now", "yesterday", "a"},
            "--now: 'yesterday' is not an RFC 3339 instant"},
           {RunExplain, {"--data-dir", data_dir_, "alice"}, "expected CUSTOMER and SEGMENT"},
           {RunStats, {"--data-dir", data_dir_, "extra"}, "unexpected argument 'extra'"},
           {RunStats, {"--data-dri", data_dir_}, "did you mean '--data-dir'?"},
       }) {
    EXPECT_EQ(Run(command, args), kExitUsage) << message;
    EXPECT_THAT(err_.str(), HasSubstr(message));
    EXPECT_THAT(err_.str(), HasSubstr("--help' for the options."));
  }
  EXPECT_EQ(Run(RunGet, {"--data-dir", dir, "a"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("no state directory at"));
  EXPECT_FALSE(std::filesystem::exists(dir)) << "a missing directory is not created";
  EXPECT_EQ(Run(RunGet, {"--url", "http://h:1", "--token-file", dir, "a"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("--token-file: cannot read a token from"));
}

TEST_F(ProfileCommandsTest, Help) {
  for (const auto& [command, usage] :
       std::vector<std::pair<CommandFn, std::string>>{{RunGet, "Usage: profilectl get "},
                                                      {RunExplain, "Usage: profilectl explain "},
                                                      {RunStats, "Usage: profilectl stats "}}) {
    EXPECT_EQ(Run(command, {"--help"}), kExitOk);
    EXPECT_THAT(out_.str(), StartsWith(usage));
    EXPECT_THAT(out_.str(), HasSubstr("--url URL"));
  }
}

}  // namespace
}  // namespace cdp::profilectl
