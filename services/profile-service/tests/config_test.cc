#include "config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace cdp::service {
namespace {

absl::StatusOr<ParsedCommandLine> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "profile-service");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::path(::testing::TempDir()) / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(Config, DefaultsNeedNoFlags) {
  auto parsed = Parse({});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.brokers, "");
  EXPECT_EQ(parsed->config.http_port, 8080);
  EXPECT_EQ(parsed->config.clock, Clock::kWall);
  EXPECT_EQ(parsed->config.dedup_retention, absl::Hours(168));
  EXPECT_EQ(parsed->config.lanes, 0);
  EXPECT_EQ(parsed->config.threads, 0);
  EXPECT_EQ(parsed->config.restore_threads, 0);
}

TEST(Config, ParallelismDefaultsToLanesPerThreadWithinThePartitions) {
  const Parallelism two_threads = ResolveParallelism({.threads = 2}, 32);
  EXPECT_EQ(two_threads.threads, 2u);
  EXPECT_EQ(two_threads.lanes, 2u * kLanesPerThread);
  // A lane without a partition would idle on its share of the cache.
  EXPECT_EQ(ResolveParallelism({.threads = 2}, 3).lanes, 3u);
  EXPECT_EQ(ResolveParallelism({.threads = 2, .lanes = 5}, 3).lanes, 5u);
  EXPECT_EQ(ResolveParallelism({}, 3).threads,
            std::max<std::size_t>(1, std::thread::hardware_concurrency()));
}

TEST(Config, FlagsInBothForms) {
  auto parsed = Parse({"--brokers", "k1:9092,k2:9092", "--http-port=0", "--clock", "event-time",
                       "--kafka-property", "security.protocol=SASL_SSL", "--print-changes",
                       "--dedup-retention", "30m", "--lanes=4", "--segments-check-interval=0",
                       "--restore-threads", "3", "--threads=2"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(parsed->config.http_port, 0);
  EXPECT_EQ(parsed->config.clock, Clock::kEventTime);
  ASSERT_EQ(parsed->config.kafka_properties.size(), 1u);
  EXPECT_EQ(parsed->config.kafka_properties[0].first, "security.protocol");
  EXPECT_EQ(parsed->config.kafka_properties[0].second, "SASL_SSL");
  EXPECT_TRUE(parsed->config.print_changes);
  EXPECT_EQ(parsed->config.dedup_retention, absl::Minutes(30));
  EXPECT_EQ(parsed->config.lanes, 4);
  EXPECT_EQ(parsed->config.threads, 2);
  EXPECT_EQ(parsed->config.restore_threads, 3);
  EXPECT_EQ(parsed->config.segments_check_interval, absl::ZeroDuration());
}

TEST(Config, BadOptionsSayWhatToFix) {
  auto unknown = Parse({"--data-dri", "x"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(), "unknown option '--data-dri'; did you mean '--data-dir'?");
  auto port = Parse({"--http-port", "70000"});
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().message(), "--http-port: '70000' is not a whole number from 0 to 65535");
  auto lanes = Parse({"--lanes", "-1"});
  ASSERT_FALSE(lanes.ok());
  EXPECT_EQ(lanes.status().message(), "--lanes: '-1' is not a whole number from 0 to 256");
  auto clock = Parse({"--clock", "event"});
  ASSERT_FALSE(clock.ok());
  EXPECT_NE(clock.status().message().find("wall, event-time"), std::string::npos);
  auto missing = Parse({"--segments"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "--segments needs a value");
  auto interval = Parse({"--segments-check-interval", "-1s"});
  ASSERT_FALSE(interval.ok());
  EXPECT_EQ(interval.status().message(),
            "--segments-check-interval: '-1s' is not a duration such as 1s (0 to look only on "
            "SIGHUP)");
  auto positional = Parse({"run"});
  EXPECT_FALSE(positional.ok());
}

TEST(Config, FileThenFlagsOverride) {
  const std::string file = WriteFile("ok.yaml",
                                     "data_dir: /var/lib/cdp\n"
                                     "http_port: 9000\n"
                                     "kafka_property:\n"
                                     "  linger.ms: \"10\"\n");
  auto parsed = Parse({"--config", file, "--http-port", "9100"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.data_dir, "/var/lib/cdp");
  EXPECT_EQ(parsed->config.http_port, 9100);
  ASSERT_EQ(parsed->config.kafka_properties.size(), 1u);
  EXPECT_EQ(parsed->config.kafka_properties[0].first, "linger.ms");
}

TEST(Config, FileErrorsNameLineAndColumn) {
  const std::string file = WriteFile("bad.yaml",
                                     "data_dir: /x\n"
                                     "http_prot: 1\n"
                                     "clock: sometimes\n");
  auto parsed = Parse({"--config", file});
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            file + ":2:1: unknown key 'http_prot'; did you mean 'http_port'?\n" + file +
                ":3:1: --clock: 'sometimes' is not one of: wall, event-time");
  auto missing = Parse({"--config", "/nonexistent/cdp.yaml"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "--config: cannot read '/nonexistent/cdp.yaml': no such file");
}

TEST(Config, FileShapesYamlAllowsButOptionsDoNotAreLocatedErrors) {
  const std::string file = WriteFile("shapes.yaml",
                                     "[data_dir]: /x\n"
                                     "kafka_property: {acks: [all], ? [a] : b}\n"
                                     "http_port: {nested: 1}\n");
  auto parsed = Parse({"--config", file});
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            file + ":1:1: expected an option name (e.g. data_dir)\n" + file +
                ":2:18: kafka_property: expected property: value, both single values (e.g. "
                "security.protocol: SASL_SSL)\n" +
                file +
                ":2:33: kafka_property: expected property: value, both single values "
                "(e.g. security.protocol: SASL_SSL)\n" +
                file + ":3:1: http_port: expected a single value");
}

TEST(Config, AnErrorQuotingALineBreakStaysOnItsLine) {
  const std::string file = WriteFile("breaks.yaml",
                                     "\"data\\ndir\": /x\n"
                                     "clock: \"wall\\r\\nclock\"\n");
  auto parsed = Parse({"--config", file});
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            file + ":1:1: unknown key 'data\\ndir'; did you mean 'data_dir'?\n" + file +
                ":2:1: --clock: 'wall\\r\\nclock' is not one of: wall, event-time");
}

TEST(Config, AConfigPathThatIsNotAFileIsAnError) {
  auto directory = Parse({"--config", ::testing::TempDir()});
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().message(),
            "--config: cannot read '" + ::testing::TempDir() + "': not a regular file");
}

TEST(Config, LogLevelAndFormatAreCheckedOptions) {
  auto parsed = Parse({"--log-level", "debug", "--log-format=json"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.log_level, LogLevel::kDebug);
  EXPECT_EQ(parsed->config.log_format, LogFormat::kJson);
  auto bad = Parse({"--log-level", "loud"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "--log-level: 'loud' is not one of: debug, info, warn, error");
}

TEST(Config, TheEffectiveConfigurationNamesEveryKeyAndHidesCredentials) {
  auto parsed =
      Parse({"--brokers", "k1:9092", "--kafka-property", "sasl.username=svc", "--kafka-property",
             "sasl.password=hunter2", "--kafka-property", "ssl.key.pem=-----BEGIN",
             "--kafka-property", "sasl.oauthbearer.client.secret=s3cret"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto effective = EffectiveConfig(parsed->config);
  auto value = [&](const std::string& key) -> std::string {
    for (const auto& [name, shown] : effective) {
      if (name == key) return shown;
    }
    return "<absent>";
  };
  EXPECT_EQ(value("brokers"), "k1:9092");
  EXPECT_EQ(value("data_dir"), "data/profile-service");
  EXPECT_EQ(value("log_format"), "text");
  EXPECT_EQ(value("kafka_property.sasl.username"), "svc");
  EXPECT_EQ(value("kafka_property.sasl.password"), "[redacted]");
  EXPECT_EQ(value("kafka_property.ssl.key.pem"), "[redacted]");
  EXPECT_EQ(value("kafka_property.sasl.oauthbearer.client.secret"), "[redacted]");
  for (const auto& [name, shown] : effective) {
    EXPECT_EQ(shown.find("hunter2"), std::string::npos) << name;
  }
}

TEST(Config, HelpDocumentsEveryOption) {
  const std::string help = HelpText();
  for (const char* flag :
       {"--brokers", "--segments", "--data-dir", "--http-port", "--group-id", "--clock", "--config",
        "--kafka-property", "--status-file", "--segments-check-interval"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST(Config, TheChangelogTopicFollowsTheGroupUnlessNamedOrOff) {
  auto derived = Parse({"--group-id", "shop-a"});
  ASSERT_TRUE(derived.ok()) << derived.status();
  EXPECT_EQ(ChangelogTopic(derived->config), "shop-a-changelog");
  auto named = Parse({"--changelog-topic", "profiles-log"});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(ChangelogTopic(named->config), "profiles-log");
  auto off = Parse({"--changelog-topic", "off"});
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(ChangelogTopic(off->config), "");
}

TEST(Config, TheRepartitionTopicFollowsTheGroupAndThePartitionerIsChecked) {
  auto derived = Parse({"--group-id", "shop-a"});
  ASSERT_TRUE(derived.ok()) << derived.status();
  EXPECT_EQ(RepartitionTopic(derived->config), "shop-a-repartition");
  EXPECT_EQ(derived->config.partitioner, Partitioner::kMurmur2);
  auto named = Parse({"--repartition-topic", "rekeyed", "--partitioner", "consistent"});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(RepartitionTopic(named->config), "rekeyed");
  EXPECT_EQ(named->config.partitioner, Partitioner::kConsistent);
  auto wrong = Parse({"--partitioner", "random"});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("consistent, murmur2"), std::string::npos);
}

TEST(Config, ShippedExampleFileNamesEveryOption) {
  std::ifstream in(CDP_SOURCE_DIR "/deploy/config/profile-service.yaml");
  const std::string example((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(example.empty());
  const std::string help = HelpText();
  int options = 0;
  for (std::size_t at = help.find("\n  --"); at != std::string::npos;
       at = help.find("\n  --", at + 1)) {
    const std::size_t start = at + 5;
    std::string flag = help.substr(start, help.find_first_of(" \n", start) - start);
    if (flag == "config" || flag == "help" || flag == "version") continue;
    std::replace(flag.begin(), flag.end(), '-', '_');
    EXPECT_NE(example.find("\n" + flag + ":"), std::string::npos) << flag;
    ++options;
  }
  EXPECT_GT(options, 20);
}

TEST(Config, ShippedExampleFileIsValid) {
  auto parsed = Parse({"--config", CDP_SOURCE_DIR "/deploy/config/profile-service.yaml"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->config.brokers, "");
  EXPECT_EQ(parsed->config.batch_max_wait, absl::Milliseconds(20));
  EXPECT_EQ(parsed->config.segments_check_interval, absl::Seconds(1));
  ASSERT_EQ(parsed->config.kafka_properties.size(), 1u);
  EXPECT_EQ(parsed->config.kafka_properties[0].first, "client.id");
}

}  // namespace
}  // namespace cdp::service
