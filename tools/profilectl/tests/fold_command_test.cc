#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.h"
#include "cdp/common/partitioner.h"
#include "commands.h"

namespace cdp::profilectl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

class FoldCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           (std::string("fold_command_test_") + test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Write("segments.yaml", "segments:\n  - id: buyer\n    when: orders_total >= 1\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  void Write(const std::string& name, const std::string& content) const {
    std::ofstream(Path(name), std::ios::binary) << content;
  }

  static std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::string Read(const std::string& name) const {
    std::ifstream in(Path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    const std::vector<std::string_view> views(args.begin(), args.end());
    return RunFold(views, out_, err_);
  }

  std::filesystem::path dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(FoldCommandTest, PrintsProfilesAndWritesChangesAndRejects) {
  Write(
      "events.jsonl",
      R"({"partition": 1, "offset": 0, "value": "{\"event_id\": \"e1\", \"customer_id\": \"c2\", \"occurred_at\": \"2024-03-01T10:00:00Z\", \"purchase\": {\"total_amount\": 100}}"})"
      "\n"
      R"({"partition": 0, "offset": 0, "value": "{\"event_id\": \"e2\", \"customer_id\": \"c1\", \"occurred_at\": \"2024-03-01T10:00:00Z\", \"purchase\": {\"total_amount\": 100}}"})"
      "\n\n"
      R"({"partition": 0, "offset": 1, "value": "{\"event_id\": \"e2\", \"customer_id\": \"c1\", \"occurred_at\": \"2024-03-01T10:00:00Z\", \"purchase\": {\"total_amount\": 100}}"})"
      "\n"
      R"({"partition": 0, "offset": 2, "value_b64": "AAEC"})"
      "\n");
  ASSERT_EQ(Run({"--segments", Path("segments.yaml"), "--clock", "event-time", "--now",
                 "2024-03-02T00:00:00Z", "--changes", Path("changes.jsonl"), "--rejects",
                 Path("rejects.jsonl"), Path("events.jsonl")}),
            kExitOk)
      << err_.str();
  const auto profiles = Lines(out_.str());
  ASSERT_THAT(profiles, SizeIs(2));
  EXPECT_THAT(profiles[0], StartsWith(R"({"partition":0,"customer_id":"c1",)"));
  EXPECT_THAT(profiles[1], StartsWith(R"({"partition":1,"customer_id":"c2",)"));
  EXPECT_THAT(profiles[0], HasSubstr(R"("events_applied":"1")"));
  const auto changes = Lines(Read("changes.jsonl"));
  ASSERT_THAT(changes, SizeIs(2));
  EXPECT_THAT(changes[0], HasSubstr(R"("customer_id":"c2")"));
  EXPECT_THAT(changes[0], HasSubstr(R"("direction":"entered")"));
  EXPECT_THAT(changes[1], HasSubstr(R"("cause_event_id":"e2")"));
  EXPECT_THAT(
      Lines(Read("rejects.jsonl")),
      ElementsAre(StartsWith(R"({"partition":0,"offset":2,"reason":"undecodable","detail":)")));
  EXPECT_THAT(err_.str(), HasSubstr("2 applied, 1 duplicates, 1 rejected; 2 profiles, 2 changes"));
}

TEST_F(FoldCommandTest, BadUsageExitsWithTwo) {
  Write("events.jsonl", "");
  const std::string segments = Path("segments.yaml");
  const std::string events = Path("events.jsonl");
  EXPECT_EQ(Run({"--segments", segments, events}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("--clock wall|event-time is required"));
  EXPECT_EQ(Run({"--segments", segments, "--clock", "wall"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("EVENTS is missing"));
  EXPECT_EQ(Run({"--segments", segments, "--clock", "sometimes", events}), kExitUsage);
  EXPECT_EQ(Run({"--segments", segments, "--clock", "wall", "--now", "yesterday", events}),
            kExitUsage);
  EXPECT_EQ(Run({"--segments", segments, "--clock", "wall", "--currency", "yuan", events}),
            kExitUsage);
  EXPECT_EQ(Run({"--segments", segments, "--clock", "wall", "--dedup-retention", "-1h", events}),
            kExitUsage);
  EXPECT_EQ(Run({"--segmnets", segments, "--clock", "wall", events}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("did you mean '--segments'?"));
}

TEST_F(FoldCommandTest, InputErrorsExitWithOneAndNameTheLine) {
  Write("events.jsonl", R"({"partition": 0, "offset": 4, "value": null})"
                        "\n"
                        R"({"partition": 0, "offset": 3, "value": null})"
                        "\n");
  EXPECT_EQ(Run({"--segments", Path("segments.yaml"), "--clock", "wall", Path("events.jsonl")}),
            kExitFailure);
  EXPECT_THAT(err_.str(),
              HasSubstr("events.jsonl:2: offset 3 of partition 0 comes after offset 4"));

  Write("bad.jsonl", "{\"partition\": 0}\n");
  EXPECT_EQ(Run({"--segments", Path("segments.yaml"), "--clock", "wall", Path("bad.jsonl")}),
            kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("bad.jsonl:1: \"offset\" is missing"));

  EXPECT_EQ(Run({"--segments", Path("segments.yaml"), "--clock", "wall", Path("none.jsonl")}),
            kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("cannot read EVENTS file"));

  Write("broken.yaml", "segments:\n  - id: x\n    when: orders_totl >= 1\n");
  EXPECT_EQ(Run({"--segments", Path("broken.yaml"), "--clock", "wall", Path("events.jsonl")}),
            kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("broken.yaml:3:"));
}

TEST_F(FoldCommandTest, LoadsTheDefaultCatalogue) {
  Write("events.jsonl", "");
  EXPECT_EQ(Run({"--segments", CDP_DEFAULT_CATALOGUE, "--clock", "wall", Path("events.jsonl")}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(), "");
}

TEST_F(FoldCommandTest, PartitionsRouteCustomersToTheirPartition) {
  const std::string event =
      R"("{\"event_id\": \"e1\", \"customer_id\": \"c1\", \"occurred_at\": \"2024-03-01T10:00:00Z\", \"purchase\": {\"total_amount\": 100}}")";
  const int home = PartitionFor("c1", 4, Partitioner::kConsistent).value();
  const int away = (home + 1) % 4;
  Write("events.jsonl",
        R"({"partition": )" + std::to_string(away) + R"(, "offset": 0, "value": )" + event + "}\n");
  ASSERT_EQ(Run({"--segments", Path("segments.yaml"), "--clock", "wall", "--partitions", "4",
                 "--partitioner", "consistent", Path("events.jsonl")}),
            kExitOk)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr(R"("partition":)" + std::to_string(home)));
  // Without --partitions it stays where it arrived.
  ASSERT_EQ(Run({"--segments", Path("segments.yaml"), "--clock", "wall", Path("events.jsonl")}),
            kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr(R"("partition":)" + std::to_string(away)));

  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--partitions", "0"},
                                              {"--partitions", "four"},
                                              {"--partitioner", "consistent"},
                                              {"--partitions", "4", "--partitioner", "random"}}) {
    std::vector<std::string> args = {"--segments", Path("segments.yaml"), "--clock", "wall"};
    args.insert(args.end(), bad.begin(), bad.end());
    args.push_back(Path("events.jsonl"));
    EXPECT_EQ(Run(args), kExitUsage) << bad[0];
  }
  EXPECT_THAT(err_.str(), HasSubstr("murmur2, consistent"));
}

TEST_F(FoldCommandTest, HelpExitsWithZero) {
  EXPECT_EQ(Run({"--help"}), kExitOk);
  EXPECT_THAT(out_.str(), StartsWith("Usage: profilectl fold"));
}

}  // namespace
}  // namespace cdp::profilectl
