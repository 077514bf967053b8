#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "arguments.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/fields.h"
#include "commands.h"
#include "nlohmann/json.hpp"

namespace cdp::profilectl {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class CatalogueCommandsTest : public ::testing::Test {
 protected:
  int Run(int (*command)(std::span<const std::string_view>, std::ostream&, std::ostream&),
          std::vector<std::string_view> args) {
    out_.str("");
    err_.str("");
    return command(args, out_, err_);
  }

  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CatalogueCommandsTest, ACheckedValidFileListsEveryRule) {
  ASSERT_EQ(Run(RunCheckConfig, {CDP_DEFAULT_CATALOGUE}), kExitOk) << err_.str();
  const auto catalogue = rules::LoadSegmentCatalogue(CDP_DEFAULT_CATALOGUE);
  ASSERT_TRUE(catalogue.ok()) << catalogue.status();
  EXPECT_THAT(out_.str(), StartsWith(std::string(CDP_DEFAULT_CATALOGUE) + ": valid: " +
                                     std::to_string(catalogue->segments.size()) + " segments"));
  for (const auto& segment : catalogue->segments) {
    EXPECT_THAT(out_.str(), HasSubstr(std::string(segment.when.source()))) << segment.id;
  }
  EXPECT_THAT(err_.str(), IsEmpty());

  ASSERT_EQ(Run(RunCheckConfig, {"--json", CDP_DEFAULT_CATALOGUE}), kExitOk);
  const auto json = nlohmann::json::parse(out_.str());
  EXPECT_TRUE(json["valid"]);
  EXPECT_EQ(json["timezone"], catalogue->timezone_name);
  ASSERT_EQ(json["segments"].size(), catalogue->segments.size());
  EXPECT_EQ(json["segments"][0]["id"], catalogue->segments[0].id);
  ASSERT_EQ(json["dimensions"].size(), catalogue->dimensions.size());
  EXPECT_EQ(json["dimensions"][0]["tiers"].size(), catalogue->dimensions[0].tiers.size());
}

TEST_F(CatalogueCommandsTest, AnInvalidFileGetsTheServicesErrors) {
  const auto loaded = rules::LoadSegmentCatalogue(CDP_BAD_CATALOGUE);
  ASSERT_FALSE(loaded.ok());
  const std::string service_errors(loaded.status().message());

  EXPECT_EQ(Run(RunCheckConfig, {CDP_BAD_CATALOGUE}), kExitFailure);
  EXPECT_EQ(err_.str(), service_errors + "\n");
  EXPECT_THAT(out_.str(), IsEmpty());

  EXPECT_EQ(Run(RunCheckConfig, {CDP_BAD_CATALOGUE, "--json"}), kExitFailure);
  const auto json = nlohmann::json::parse(out_.str());
  EXPECT_FALSE(json["valid"]);
  const std::vector<std::string> lines = absl::StrSplit(service_errors, '\n');
  ASSERT_EQ(json["errors"].size(), lines.size());
  const auto& first = json["errors"][0];
  EXPECT_EQ(lines[0], std::string(CDP_BAD_CATALOGUE) + ":" + first["line"].dump() + ":" +
                          first["column"].dump() + ": " + first["message"].get<std::string>());
}

TEST_F(CatalogueCommandsTest, CheckConfigUsageErrors) {
  EXPECT_EQ(Run(RunCheckConfig, {}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("expected one FILE"));
  EXPECT_EQ(Run(RunCheckConfig, {"--jsn", "x.yaml"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("did you mean '--json'?"));
  EXPECT_EQ(Run(RunCheckConfig, {"/nonexistent/segments.yaml"}), kExitFailure);
  EXPECT_THAT(err_.str(), HasSubstr("/nonexistent/segments.yaml"));
}

TEST_F(CatalogueCommandsTest, FieldsListsTheCatalogueForPeopleAndScripts) {
  ASSERT_EQ(Run(RunFields, {}), kExitOk);
  const std::vector<std::string> table = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(table.size(), rules::Fields().size() + 1);
  EXPECT_THAT(table[0], StartsWith("FIELD "));
  for (std::size_t i = 0; i < rules::Fields().size(); ++i) {
    const rules::FieldInfo& field = rules::Fields()[i];
    EXPECT_THAT(table[i + 1], StartsWith(std::string(field.name) + " "));
    EXPECT_THAT(table[i + 1], HasSubstr(std::string(field.description)));
  }

  ASSERT_EQ(Run(RunFields, {"--json"}), kExitOk);
  const std::vector<std::string> lines = absl::StrSplit(out_.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), rules::Fields().size());
  const auto days_since = nlohmann::json::parse(
      lines[static_cast<std::size_t>(*rules::FindField("days_since_last_purchase"))]);
  EXPECT_EQ(days_since["name"], "days_since_last_purchase");
  EXPECT_EQ(days_since["type"], "number");
  EXPECT_TRUE(days_since["time_dependent"]);

  EXPECT_EQ(Run(RunFields, {"extra"}), kExitUsage);
}

}  // namespace
}  // namespace cdp::profilectl
