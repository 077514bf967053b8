#include "options.h"

#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::tools::replay {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

absl::StatusOr<CliOptions> Parse(std::vector<std::string_view> args) {
  return ParseCommandLine(args);
}

std::string Error(std::vector<std::string_view> args) {
  absl::StatusOr<CliOptions> options = Parse(std::move(args));
  EXPECT_FALSE(options.ok());
  return std::string(options.status().message());
}

TEST(OptionsTest, Defaults) {
  absl::StatusOr<CliOptions> options = Parse({"--brokers", "k:9092", "history.jsonl"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->brokers, "k:9092");
  EXPECT_THAT(options->files, ElementsAre("history.jsonl"));
  EXPECT_EQ(options->publish.topic, "customer-events");
  EXPECT_EQ(options->publish.format, OutputFormat::kProtobuf);
  EXPECT_EQ(options->publish.rate, 0.0);
  EXPECT_EQ(options->load.format, InputFormat::kJsonLines);
  EXPECT_EQ(options->load.currency, "CNY");
  EXPECT_FALSE(options->skip_invalid);
  EXPECT_TRUE(options->kafka_properties.empty());
}

TEST(OptionsTest, EveryOption) {
  absl::StatusOr<CliOptions> options =
      Parse({"--brokers=a:1,b:2", "--topic", "t", "--format", "json", "--rate", "250.5",
             "--csv-purchases", "--currency", "HKD", "--skip-invalid", "--kafka-property",
             "client.id=replay", "--kafka-property=acks=all", "one.csv", "-", "--", "--odd.csv"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->brokers, "a:1,b:2");
  EXPECT_EQ(options->publish.topic, "t");
  EXPECT_EQ(options->publish.format, OutputFormat::kJson);
  EXPECT_EQ(options->publish.rate, 250.5);
  EXPECT_EQ(options->load.format, InputFormat::kCsvPurchases);
  EXPECT_EQ(options->load.currency, "HKD");
  EXPECT_TRUE(options->skip_invalid);
  EXPECT_THAT(options->kafka_properties,
              ElementsAre(Pair("client.id", "replay"), Pair("acks", "all")));
  EXPECT_THAT(options->files, ElementsAre("one.csv", "-", "--odd.csv"));
}

TEST(OptionsTest, HelpNeedsNothingElse) {
  absl::StatusOr<CliOptions> options = Parse({"--help"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->help);
  for (std::string_view option :
       {"--brokers", "--topic", "--format", "--rate", "--csv-purchases", "--currency",
        "--skip-invalid", "--kafka-property", "--help", "FILE..."}) {
    EXPECT_THAT(Usage(), HasSubstr(option));
  }
}

TEST(OptionsTest, MistakesAreNamed) {
  EXPECT_THAT(Error({"x.jsonl"}), HasSubstr("--brokers is required"));
  EXPECT_THAT(Error({"--brokers", "k:1"}), HasSubstr("no input"));
  EXPECT_EQ(Error({"--brokers", "k:1", "--skip-invalids", "x"}),
            "unknown option '--skip-invalids'; did you mean '--skip-invalid'?");
  EXPECT_THAT(Error({"--brokers", "k:1", "--format", "avro", "x"}),
              HasSubstr("--format: expected protobuf or json, got 'avro'"));
  EXPECT_THAT(Error({"--brokers", "k:1", "--rate", "-1", "x"}), HasSubstr("--rate: expected"));
  EXPECT_THAT(Error({"--brokers", "k:1", "--rate", "fast", "x"}), HasSubstr("--rate: expected"));
  EXPECT_THAT(Error({"--brokers", "k:1", "--csv-purchases", "--currency", "rmb", "x"}),
              HasSubstr("ISO 4217"));
  EXPECT_THAT(Error({"--brokers", "k:1", "--currency", "USD", "x"}),
              HasSubstr("needs --csv-purchases"));
  EXPECT_THAT(Error({"--brokers", "k:1", "--kafka-property", "acks", "x"}),
              HasSubstr("expected KEY=VALUE"));
  EXPECT_THAT(Error({"--brokers", "k:1", "-", "-"}), HasSubstr("only once"));
  EXPECT_THAT(Error({"--brokers", "k:1", "--skip-invalid=yes", "x"}), HasSubstr("takes no value"));
  EXPECT_THAT(Error({"x", "--brokers"}), HasSubstr("--brokers: needs a value"));
}

}  // namespace
}  // namespace cdp::tools::replay
