#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdp/kafka/consumer.h"
#include "cdp/kafka/producer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;

constexpr std::string_view kBootstrapPrefix = "bootstrap.servers=";

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "kafka-local-XXXXXX";
  const char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr) << std::strerror(errno);
  return pattern;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

int RemainingMs(absl::Time deadline) {
  return static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
}

// kafka-local run as a child process: stdin and stdout through pipes, stderr to a file.
class KafkaLocal {
 public:
  explicit KafkaLocal(const std::vector<std::string>& args) : stderr_path_(MakeTempDir() + "/err") {
    std::array<int, 2> in{};
    std::array<int, 2> out{};
    EXPECT_EQ(pipe2(in.data(), O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(out.data(), O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> argv_storage = {KAFKA_LOCAL_BINARY};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int spawned =
        posix_spawn(&pid_, KAFKA_LOCAL_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    EXPECT_EQ(spawned, 0) << std::strerror(spawned);
    // Through syscall(): this glibc's <sys/pidfd.h> lacks C linkage for C++.
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    EXPECT_GE(pidfd_, 0) << std::strerror(errno);
  }

  ~KafkaLocal() {
    if (!exit_status_.has_value()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(stdin_);
    close(stdout_);
    close(pidfd_);
  }

  void WriteLine(const std::string& line) {
    const std::string with_newline = line + "\n";
    ASSERT_EQ(write(stdin_, with_newline.data(), with_newline.size()),
              static_cast<ssize_t>(with_newline.size()));
  }

  // The next stdout line, without its newline; nullopt if none came before the deadline.
  std::optional<std::string> ReadLine(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string line;
    for (;;) {
      pollfd readable{.fd = stdout_, .events = POLLIN, .revents = 0};
      if (poll(&readable, 1, RemainingMs(deadline)) != 1) return std::nullopt;
      char c = 0;
      if (read(stdout_, &c, 1) != 1) return std::nullopt;
      if (c == '\n') return line;
      line.push_back(c);
    }
  }

  // Everything left on stdout once the process exited.
  std::string ReadRest() {
    std::string rest;
    std::array<char, 4096> buffer{};
    ssize_t n = 0;
    while ((n = read(stdout_, buffer.data(), buffer.size())) > 0) rest.append(buffer.data(), n);
    return rest;
  }

  void Signal(int signal) { ASSERT_EQ(kill(pid_, signal), 0); }

  // The exit code, or nullopt if the process did not exit normally before the deadline.
  std::optional<int> Wait(absl::Duration timeout) {
    pollfd exited{.fd = pidfd_, .events = POLLIN, .revents = 0};
    if (poll(&exited, 1, RemainingMs(absl::Now() + timeout)) != 1) return std::nullopt;
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return std::nullopt;
    exit_status_ = status;
    if (!WIFEXITED(status)) return std::nullopt;
    return WEXITSTATUS(status);
  }

  std::string Stderr() const { return ReadFile(stderr_path_); }

 private:
  std::string stderr_path_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int pidfd_ = -1;
  std::optional<int> exit_status_;
};

// Partition counts per topic, from the cluster's metadata.
std::map<std::string, int> TopicPartitions(const std::string& bootstrap) {
  std::map<std::string, int> topics;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::array<char, 512> error{};
  EXPECT_EQ(
      rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error.data(), error.size()),
      RD_KAFKA_CONF_OK);
  rd_kafka_t* client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size());
  EXPECT_NE(client, nullptr) << error.data();
  if (client == nullptr) return topics;
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(client, /*all_topics=*/1, nullptr, &metadata, 10000);
  EXPECT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      topics[metadata->topics[i].topic] = metadata->topics[i].partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_destroy(client);
  return topics;
}

TEST(KafkaLocalTest, ServesProduceAndConsumeAndStopsCleanlyOnSigterm) {
  const std::string bootstrap_file = MakeTempDir() + "/bootstrap";
  KafkaLocal kafka({"--brokers", "2", "--topic", "demo:2", "--bootstrap-file", bootstrap_file});
  const std::optional<std::string> line = kafka.ReadLine(absl::Seconds(20));
  ASSERT_TRUE(line.has_value()) << kafka.Stderr();
  ASSERT_THAT(*line, StartsWith(kBootstrapPrefix));
  const std::string bootstrap = line->substr(kBootstrapPrefix.size());
  EXPECT_EQ(ReadFile(bootstrap_file), bootstrap + "\n");
  EXPECT_EQ(TopicPartitions(bootstrap), (std::map<std::string, int>{{"demo", 2}}));

  {
    absl::StatusOr<std::unique_ptr<cdp::kafka::Producer>> producer =
        cdp::kafka::Producer::Create({.bootstrap_servers = bootstrap});
    ASSERT_TRUE(producer.ok()) << producer.status();
    ASSERT_TRUE((*producer)->Produce("demo", "customer-1", "hello").ok());
    const absl::Status flushed = (*producer)->Flush(absl::Seconds(10));
    ASSERT_TRUE(flushed.ok()) << flushed;
  }
  {
    cdp::kafka::StartAtCommitted handler;
    absl::StatusOr<std::unique_ptr<cdp::kafka::Consumer>> consumer = cdp::kafka::Consumer::Create(
        {.bootstrap_servers = bootstrap, .group_id = "g", .topics = {"demo"}}, handler);
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    std::vector<cdp::kafka::Message> messages;
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (messages.empty() && absl::Now() < deadline) {
      absl::StatusOr<std::vector<cdp::kafka::Message>> batch =
          (*consumer)->Poll(10, absl::Milliseconds(100));
      ASSERT_TRUE(batch.ok()) << batch.status();
      messages = *std::move(batch);
    }
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_THAT(messages[0].key(), Optional(std::string_view("customer-1")));
    EXPECT_THAT(messages[0].value(), Optional(std::string_view("hello")));
    ASSERT_TRUE((*consumer)->Close().ok());
  }

  kafka.Signal(SIGTERM);
  EXPECT_THAT(kafka.Wait(absl::Seconds(20)), Optional(0)) << kafka.Stderr();
  EXPECT_EQ(kafka.ReadRest(), "");
}

TEST(KafkaLocalTest, CreatesTheProjectTopicsByDefaultAndStopsOnSigint) {
  KafkaLocal kafka({});
  const std::optional<std::string> line = kafka.ReadLine(absl::Seconds(20));
  ASSERT_TRUE(line.has_value()) << kafka.Stderr();
  ASSERT_THAT(*line, StartsWith(kBootstrapPrefix));
  EXPECT_EQ(TopicPartitions(line->substr(kBootstrapPrefix.size())),
            (std::map<std::string, int>{{"customer-events", 8},
                                        {"segment-changes", 8},
                                        {"customer-events-dlq", 1},
                                        {"cdp-profile-service-changelog", 8},
                                        {"cdp-profile-service-repartition", 8}}));
  kafka.Signal(SIGINT);
  EXPECT_THAT(kafka.Wait(absl::Seconds(20)), Optional(0)) << kafka.Stderr();
}

TEST(KafkaLocalTest, ControlCommandsInjectFaultsAndMistakesAreAnswered) {
  KafkaLocal kafka({"--topic", "demo:1", "--control-stdin"});
  const std::optional<std::string> line = kafka.ReadLine(absl::Seconds(20));
  ASSERT_TRUE(line.has_value()) << kafka.Stderr();
  ASSERT_THAT(*line, StartsWith(kBootstrapPrefix));
  const std::string bootstrap = line->substr(kBootstrapPrefix.size());

  for (const std::string bad : {"request-errors Produce NO_SUCH_ERROR",
                                "request-errors Nope "
                                "NOT_COORDINATOR",
                                "broker-down x", "leader demo", "dance"}) {
    kafka.WriteLine(bad);
    EXPECT_THAT(kafka.ReadLine(absl::Seconds(10)), Optional(StartsWith("error: "))) << bad;
  }
  // A request error the producer does not retry shows that the next Produce got it.
  kafka.WriteLine("request-errors Produce INVALID_RECORD");
  EXPECT_THAT(kafka.ReadLine(absl::Seconds(10)), Optional(StartsWith("ok: ")));
  absl::StatusOr<std::unique_ptr<cdp::kafka::Producer>> producer =
      cdp::kafka::Producer::Create({.bootstrap_servers = bootstrap});
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->Produce("demo", "customer-1", "refused").ok());
  const absl::Status refused = (*producer)->Flush(absl::Seconds(10));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("INVALID_RECORD"));
  ASSERT_TRUE((*producer)->Produce("demo", "customer-1", "accepted").ok());
  const absl::Status accepted = (*producer)->Flush(absl::Seconds(10));
  EXPECT_TRUE(accepted.ok()) << accepted;

  kafka.WriteLine("broker-rtt 1 5");
  EXPECT_THAT(kafka.ReadLine(absl::Seconds(10)), Optional(StartsWith("ok: ")));
  kafka.Signal(SIGTERM);
  EXPECT_THAT(kafka.Wait(absl::Seconds(20)), Optional(0)) << kafka.Stderr();
}

TEST(KafkaLocalTest, RejectsBadOptionsWithUsage) {
  const std::vector<std::vector<std::string>> bad = {
      {"--brokers", "zero"}, {"--topic", "no-partitions"}, {"--topic", "t:0"},
      {"--verbose"},         {"--control-stdin=yes"},      {"--bootstrap-file"}};
  for (const std::vector<std::string>& args : bad) {
    KafkaLocal kafka(args);
    EXPECT_THAT(kafka.Wait(absl::Seconds(10)), Optional(2)) << args[0];
    EXPECT_THAT(kafka.Stderr(), HasSubstr("usage: kafka-local")) << args[0];
    EXPECT_EQ(kafka.ReadRest(), "") << args[0];
  }
}

TEST(KafkaLocalTest, HelpPrintsUsage) {
  KafkaLocal kafka({"--help"});
  EXPECT_THAT(kafka.Wait(absl::Seconds(10)), Optional(0));
  EXPECT_THAT(kafka.ReadRest(), StartsWith("usage: kafka-local"));
}

}  // namespace
