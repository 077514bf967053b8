#include "options.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::tools {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<CliOptions> Parse(std::vector<std::string_view> args) {
  return ParseCommandLine(args);
}

std::string Error(std::vector<std::string_view> args) {
  const absl::StatusOr<CliOptions> options = Parse(std::move(args));
  EXPECT_FALSE(options.ok());
  return std::string(options.status().message());
}

TEST(OptionsTest, DefaultsPublishLiveJsonTrafficForever) {
  const absl::StatusOr<CliOptions> options = Parse({"--brokers", "localhost:9092"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->brokers, "localhost:9092");
  EXPECT_EQ(options->topic, "customer-events");
  EXPECT_EQ(options->format, WireFormat::kJson);
  EXPECT_EQ(options->rate, 0.0);
  EXPECT_EQ(options->generator.customers, 10'000);
  EXPECT_EQ(options->generator.events, 0);
  EXPECT_EQ(options->generator.clock, ClockMode::kLive);
  EXPECT_EQ(options->generator.invalid_fraction, 0.0);
  EXPECT_EQ(options->generator.span, absl::Hours(24 * 365));
  EXPECT_FALSE(options->help);
}

TEST(OptionsTest, ReadsEveryOptionInBothSpellings) {
  const absl::StatusOr<CliOptions> options =
      Parse({"--out=-", "--topic", "t", "--customers=50", "--events", "1000", "--rate", "250.5",
             "--seed=18446744073709551615", "--invalid-fraction", "0.25", "--clock=simulated",
             "--start", "2023-06-01T08:00:00+08:00", "--days=30", "--progress-interval", "0.5"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->out, "-");
  EXPECT_EQ(options->topic, "t");
  EXPECT_EQ(options->generator.customers, 50);
  EXPECT_EQ(options->generator.events, 1000);
  EXPECT_EQ(options->rate, 250.5);
  EXPECT_EQ(options->generator.seed, 18446744073709551615ULL);
  EXPECT_EQ(options->generator.invalid_fraction, 0.25);
  EXPECT_EQ(options->generator.clock, ClockMode::kSimulated);
  EXPECT_EQ(options->generator.start,
            absl::FromCivil(absl::CivilSecond(2023, 6, 1, 0, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(options->generator.span, absl::Hours(24 * 30));
  EXPECT_EQ(options->progress_interval, absl::Milliseconds(500));
}

TEST(OptionsTest, CollectsKafkaPropertiesAndTheBootstrapFile) {
  const absl::StatusOr<CliOptions> options =
      Parse({"--bootstrap-file", "/run/kafka", "--format", "protobuf", "--kafka-property",
             "linger.ms=20", "--kafka-property=client.id=gen=1"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->bootstrap_file, "/run/kafka");
  EXPECT_EQ(options->format, WireFormat::kProtobuf);
  EXPECT_THAT(options->kafka_properties, testing::ElementsAre(testing::Pair("linger.ms", "20"),
                                                              testing::Pair("client.id", "gen=1")));
}

TEST(OptionsTest, HelpNeedsNothingElse) {
  const absl::StatusOr<CliOptions> options = Parse({"--help"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->help);
  EXPECT_THAT(Usage(), HasSubstr("--invalid-fraction"));
}

TEST(OptionsTest, NamesWhatIsWrong) {
  EXPECT_THAT(Error({}), HasSubstr("nowhere to send"));
  EXPECT_THAT(Error({"--out", "-", "--verbose"}), HasSubstr("unknown option '--verbose'"));
  EXPECT_THAT(Error({"--out", "-", "stray"}), HasSubstr("unexpected argument 'stray'"));
  EXPECT_THAT(Error({"--out"}), HasSubstr("--out: needs a value"));
  EXPECT_THAT(Error({"--out", "-", "--customers", "0"}), HasSubstr("--customers"));
  EXPECT_THAT(Error({"--out", "-", "--events", "-5"}), HasSubstr("--events"));
  EXPECT_THAT(Error({"--out", "-", "--rate", "fast"}), HasSubstr("--rate"));
  EXPECT_THAT(Error({"--out", "-", "--invalid-fraction", "2"}), HasSubstr("--invalid-fraction"));
  EXPECT_THAT(Error({"--out", "-", "--format", "avro"}), HasSubstr("json or protobuf"));
  EXPECT_THAT(Error({"--out", "-", "--clock", "fast"}), HasSubstr("live or simulated"));
  EXPECT_THAT(
      Error({"--out", "-", "--clock", "simulated", "--events", "9", "--start", "yesterday"}),
      HasSubstr("RFC 3339"));
  EXPECT_THAT(Error({"--out", "-", "--days", "0"}), HasSubstr("--days"));
  EXPECT_THAT(Error({"--out", "-", "--help=yes"}), HasSubstr("takes no value"));
  EXPECT_THAT(Error({"--brokers", "a:1", "--kafka-property", "=x"}), HasSubstr("KEY=VALUE"));
}

TEST(OptionsTest, RejectsCombinationsThatCannotWork) {
  EXPECT_THAT(Error({"--brokers", "a:1", "--bootstrap-file", "f"}), HasSubstr("not both"));
  EXPECT_THAT(Error({"--brokers", "a:1", "--out", "f"}), HasSubstr("instead of publishing"));
  EXPECT_THAT(Error({"--out", "f", "--format", "protobuf"}), HasSubstr("JSON lines"));
  EXPECT_THAT(Error({"--out", "f", "--kafka-property", "a=b"}), HasSubstr("needs a broker"));
  EXPECT_THAT(Error({"--out", "f", "--clock", "simulated"}), HasSubstr("--events"));
  EXPECT_THAT(Error({"--out", "f", "--start", "2024-01-01T00:00:00Z"}),
              HasSubstr("--clock simulated"));
}

}  // namespace
}  // namespace cdp::tools
