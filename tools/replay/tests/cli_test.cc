// The replay binary as a user runs it: exit statuses, nothing published on invalid input, and a
// SIGINT part-way.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace cdp::tools::replay {
namespace {

using ::testing::HasSubstr;

// Unique to the running test, since ctest may run tests in parallel.
std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/" + testing::UnitTest::GetInstance()->current_test_info()->name() +
         "_" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// `count` interactions of customers c0..c9, one minute apart.
std::string WriteEvents(const std::string& name, int count, int first = 0) {
  const std::string path = TempPath(name);
  std::ofstream file(path);
  for (int i = first; i < first + count; ++i) {
    file << absl::StrFormat(
        R"({"event_id":"e-%d","customer_id":"c%d","occurred_at":"%s","interaction":{"type":"login"}})"
        "\n",
        i, i % 10,
        absl::FormatTime(absl::RFC3339_full, absl::FromUnixSeconds(1'700'000'000 + 60 * i),
                         absl::UTCTimeZone()));
  }
  return path;
}

struct Outcome {
  int exit_status = -1;
  std::string out;
  std::string err;
};

// Starts replay with `args`, its output going to files, and returns its pid.
pid_t Start(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  std::vector<std::string> argv_strings = {REPLAY_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(spawned, 0);
  return spawned == 0 ? pid : -1;
}

Outcome Finish(pid_t pid, const std::string& out, const std::string& err) {
  Outcome run;
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    run.exit_status = WEXITSTATUS(status);
  }
  run.out = ReadFile(out);
  run.err = ReadFile(err);
  return run;
}

Outcome RunReplay(const std::vector<std::string>& args) {
  const std::string out = TempPath("replay_cli.out");
  const std::string err = TempPath("replay_cli.err");
  return Finish(Start(args, out, err), out, err);
}

// Reads one topic from its start.
class TopicReader {
 public:
  TopicReader(const std::string& brokers, const std::string& topic) {
    absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
        kafka::Consumer::Create({.bootstrap_servers = brokers,
                                 .group_id = "check",
                                 .topics = {topic},
                                 .properties = {{"fetch.wait.max.ms", "50"}}},
                                handler_);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (consumer.ok()) consumer_ = *std::move(consumer);
  }
  ~TopicReader() {
    if (consumer_ != nullptr) {
      EXPECT_TRUE(consumer_->Close().ok());
    }
  }

  // Polls until at least `count` records were read in all or `timeout` passed; the start of each
  // record's value.
  const std::vector<std::string>& ReadAtLeast(std::size_t count, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    do {
      if (consumer_ == nullptr) break;
      absl::StatusOr<std::vector<kafka::Message>> batch =
          consumer_->Poll(500, absl::Milliseconds(100));
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok()) break;
      for (const kafka::Message& message : *batch) {
        values_.emplace_back(message.value().value_or("").substr(0, 30));
      }
    } while (values_.size() < count && absl::Now() < deadline);
    return values_;
  }

 private:
  kafka::StartAtCommitted handler_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::vector<std::string> values_;
};

TEST(ReplayCliTest, BadUsageExitsWith2) {
  EXPECT_EQ(RunReplay({"--brokers", "127.0.0.1:1"}).exit_status, 2);
  const Outcome run = RunReplay({"--brokers", "127.0.0.1:1", "--kafka-property", "no.such=1", "x"});
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("no.such"));
  const Outcome help = RunReplay({"--help"});
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_THAT(help.out, HasSubstr("Usage: replay --brokers HOST:PORT"));
}

TEST(ReplayCliTest, InvalidInputPublishesNothingUnlessSkipped) {
  absl::StatusOr<std::unique_ptr<kafka::MockCluster>> cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("customer-events", 1, 1).ok());
  const std::string brokers = (*cluster)->bootstrap_servers();
  const std::string bad = TempPath("replay_bad.jsonl");
  {
    std::ofstream file(bad);
    file << ReadFile(WriteEvents("replay_good_part.jsonl", 2)) << "{\"event_id\":\"x\"}\n";
  }

  const Outcome refused = RunReplay({"--brokers", brokers, bad});
  EXPECT_EQ(refused.exit_status, 1);
  EXPECT_THAT(refused.err, HasSubstr(bad + ":3: customer_id is missing or empty"));
  EXPECT_THAT(refused.err, HasSubstr("nothing was published"));

  const Outcome skipped = RunReplay({"--brokers", brokers, "--skip-invalid", bad});
  EXPECT_EQ(skipped.exit_status, 0) << skipped.err;
  EXPECT_THAT(skipped.err, HasSubstr("skipping 1 invalid line(s)"));
  EXPECT_THAT(skipped.out, HasSubstr("replay: published 2 events in "));
  // Had the refused run published anything, it would come first on the single partition.
  TopicReader reader(brokers, "customer-events");
  const std::vector<std::string>& read = reader.ReadAtLeast(2, absl::Seconds(30));
  ASSERT_EQ(read.size(), 2U);
  EXPECT_THAT(read[0], HasSubstr("e-0"));
}

TEST(ReplayCliTest, SigintStopsAfterDeliveringWhatWasSentAndSaysHowFar) {
  absl::StatusOr<std::unique_ptr<kafka::MockCluster>> cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("customer-events", 2, 1).ok());
  const std::string brokers = (*cluster)->bootstrap_servers();
  const std::string events = WriteEvents("replay_long.jsonl", 3000);

  const std::string out = TempPath("replay_sigint.out");
  const std::string err = TempPath("replay_sigint.err");
  const pid_t pid =
      Start({"--brokers", brokers, "--format", "json", "--rate", "100", events}, out, err);
  ASSERT_GT(pid, 0);
  TopicReader reader(brokers, "customer-events");
  // Well under way, yet far from the end (60 s at 50 events/s).
  const std::size_t seen = reader.ReadAtLeast(20, absl::Seconds(30)).size();
  ASSERT_GE(seen, 20U);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  const Outcome run = Finish(pid, out, err);
  EXPECT_EQ(run.exit_status, 130) << run.err;

  // "replay: stopped by SIGINT after N of 3000 events were delivered (...); every event up to
  // occurred_at T was delivered"
  const std::string prefix = "replay: stopped by SIGINT after ";
  ASSERT_THAT(run.out, HasSubstr(prefix)) << run.out;
  const std::string rest = run.out.substr(run.out.find(prefix) + prefix.size());
  std::int64_t delivered = 0;
  ASSERT_TRUE(absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &delivered)) << run.out;
  EXPECT_THAT(rest, HasSubstr(" of 3000 events were delivered"));
  EXPECT_GE(delivered, static_cast<std::int64_t>(seen));
  EXPECT_LT(delivered, 3000);
  // Times are one minute apart from 1'700'000'000 s, all distinct.
  EXPECT_THAT(rest,
              HasSubstr(absl::StrCat(
                  "every event up to occurred_at ",
                  absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                                   absl::FromUnixSeconds(1'700'000'000 + 60 * (delivered - 1)),
                                   absl::UTCTimeZone()),
                  " was delivered")));
  // The topic holds exactly what the summary says: once it is all read, a short wait finds no more.
  EXPECT_GE(reader.ReadAtLeast(delivered, absl::Seconds(30)).size(),
            static_cast<std::size_t>(delivered));
  EXPECT_EQ(reader.ReadAtLeast(delivered + 1, absl::Seconds(1)).size(),
            static_cast<std::size_t>(delivered));
}

}  // namespace
}  // namespace cdp::tools::replay
