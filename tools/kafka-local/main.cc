// kafka-local: librdkafka's mock Kafka cluster as a standalone process, so that several service
// instances, scripts and tests can share one cluster without a real broker.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdp/kafka/mock_cluster.h"
#include "control.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kMaxReplicas = 3;

constexpr std::string_view kUsage =
    R"(usage: kafka-local [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]
                   [--control-stdin] [--help]

Runs librdkafka's mock Kafka cluster on loopback ports until SIGTERM or SIGINT.
Prints "bootstrap.servers=HOST:PORT,..." as the first line of standard output.

  --brokers N                 number of brokers (default 1)
  --topic NAME:PARTITIONS     create a topic; repeatable (default: customer-events:8,
                              segment-changes:8, customer-events-dlq:1,
                              cdp-profile-service-changelog:8,
                              cdp-profile-service-repartition:8)
  --bootstrap-file PATH       also write the bootstrap address alone to PATH, atomically
  --control-stdin             read fault injection commands from standard input, one per line,
                              and answer each on standard output with "ok: ..." or "error: ...":
                                request-errors API ERROR [ERROR...]  fail the next API requests
                                  (e.g. request-errors Produce NOT_LEADER_FOR_PARTITION)
                                broker-down ID, broker-up ID
                                broker-rtt ID MS                     delay the broker's answers
                                group-coordinator GROUP BROKER-ID    move a group's coordinator
                                leader TOPIC PARTITION BROKER-ID     move a partition's leader
  --help                      show this help
)";

struct TopicArg {
  std::string name;
  int partitions = 0;
};

struct Options {
  int brokers = 1;
  std::vector<TopicArg> topics;
  std::string bootstrap_file;
  bool control_stdin = false;
  bool help = false;
};

absl::StatusOr<int> ParsePositive(const char* option, const std::string& text) {
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, " needs a whole number >= 1, got '", text, "'"));
  }
  return value;
}

absl::StatusOr<TopicArg> ParseTopic(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--topic needs NAME:PARTITIONS, e.g. customer-events:8, got '", text, "'"));
  }
  absl::StatusOr<int> partitions = ParsePositive("--topic partitions", text.substr(colon + 1));
  if (!partitions.ok()) return partitions.status();
  return TopicArg{text.substr(0, colon), *partitions};
}

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_value = false;
    if (const std::size_t equals = flag.find('='); flag.starts_with("--") && equals != flag.npos) {
      value = flag.substr(equals + 1);
      flag.resize(equals);
      has_value = true;
    }
    if (flag == "--help" || flag == "--control-stdin") {
      if (has_value) return absl::InvalidArgumentError(absl::StrCat(flag, " takes no value"));
      (flag == "--help" ? options.help : options.control_stdin) = true;
      continue;
    }
    if (flag != "--brokers" && flag != "--topic" && flag != "--bootstrap-file") {
      return absl::InvalidArgumentError(absl::StrCat("unknown option '", args[i], "'"));
    }
    if (!has_value) {
      if (i + 1 == args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
      }
      value = args[++i];
    }
    if (flag == "--brokers") {
      absl::StatusOr<int> brokers = ParsePositive("--brokers", value);
      if (!brokers.ok()) return brokers.status();
      options.brokers = *brokers;
    } else if (flag == "--topic") {
      absl::StatusOr<TopicArg> topic = ParseTopic(value);
      if (!topic.ok()) return topic.status();
      options.topics.push_back(*std::move(topic));
    } else {
      if (value.empty()) return absl::InvalidArgumentError("--bootstrap-file needs a path");
      options.bootstrap_file = value;
    }
  }
  if (options.topics.empty()) {
    options.topics = {{"customer-events", 8},
                      {"segment-changes", 8},
                      {"customer-events-dlq", 1},
                      {"cdp-profile-service-changelog", 8},
                      {"cdp-profile-service-repartition", 8}};
  }
  return options;
}

// Readers polling for the file never see it half-written: rename is atomic.
absl::Status WriteAtomically(const std::string& path, const std::string& content) {
  const std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << content << '\n';
    out.close();
    if (!out) {
      return absl::UnavailableError(absl::StrCat("cannot write '", temporary, "'"));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot rename '", temporary, "' to '", path, "': ", std::strerror(error)));
  }
  return absl::OkStatus();
}

int Run(const Options& options) {
  // Blocked before any librdkafka thread starts, so that every thread inherits the mask and the
  // signals wait for sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<cdp::kafka::MockCluster>> cluster =
      cdp::kafka::MockCluster::Start(options.brokers);
  if (!cluster.ok()) {
    std::cerr << "kafka-local: " << cluster.status().message() << '\n';
    return kExitFailure;
  }
  const int replicas = std::min(options.brokers, kMaxReplicas);
  for (const TopicArg& topic : options.topics) {
    if (absl::Status status = (*cluster)->CreateTopic(topic.name, topic.partitions, replicas);
        !status.ok()) {
      std::cerr << "kafka-local: " << status.message() << '\n';
      return kExitFailure;
    }
  }
  const std::string& bootstrap = (*cluster)->bootstrap_servers();
  // The file first: whoever reads the stdout line can rely on the file being there too.
  if (!options.bootstrap_file.empty()) {
    if (absl::Status status = WriteAtomically(options.bootstrap_file, bootstrap); !status.ok()) {
      std::cerr << "kafka-local: " << status.message() << '\n';
      return kExitFailure;
    }
  }
  std::cout << "bootstrap.servers=" << bootstrap << std::endl;
  std::cerr << "kafka-local: " << options.brokers << " broker(s), topics "
            << absl::StrJoin(options.topics, ", ",
                             [](std::string* out, const TopicArg& topic) {
                               absl::StrAppend(out, topic.name, ":", topic.partitions);
                             })
            << "; stop with SIGTERM or SIGINT\n";

  if (options.control_stdin) {
    // Detached: it may be blocked reading when a signal stops the process.
    std::thread([&cluster = **cluster] {
      for (std::string line; std::getline(std::cin, line);) {
        absl::StatusOr<std::string> done = cdp::kafka_local::ApplyControl(cluster, line);
        std::cerr << "kafka-local: " << line << ": "
                  << (done.ok() ? *done : std::string(done.status().message())) << '\n';
        std::cout << (done.ok() ? "ok: " + *done : "error: " + std::string(done.status().message()))
                  << std::endl;
      }
    }).detach();
  }

  int received = 0;
  sigwait(&stop_signals, &received);
  std::cerr << "kafka-local: " << strsignal(received) << ", stopping\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<Options> options = ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::cerr << "kafka-local: " << options.status().message() << "\n\n" << kUsage;
    return kExitUsage;
  }
  if (options->help) {
    std::cout << kUsage;
    return 0;
  }
  return Run(*options);
}
