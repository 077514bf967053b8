// Runs every tests/data/core/*.case file: a segment catalogue, then steps (events, re-evaluations)
// each with the changes, fields and memberships expected after it. The format is described in
// tests/data/core/README.md.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "test_support.h"

namespace cdp::core {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> CaseFiles() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(CDP_CORE_CASE_DIR)) {
    if (entry.path().extension() == ".case") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Strings(const YAML::Node& node) {
  std::vector<std::string> out;
  if (node) {
    for (const auto& item : node) out.push_back(item.as<std::string>());
  }
  return out;
}

// An expected field value: YAML null is null, a plain scalar that reads as a number is a number,
// anything else (including any quoted scalar) is a string.
void ExpectField(std::string_view name, const YAML::Node& expected, const rules::Value& actual) {
  SCOPED_TRACE(std::string(name));
  if (expected.IsNull()) {
    EXPECT_TRUE(actual.is_null()) << "expected null";
    return;
  }
  const std::string text = expected.Scalar();
  if (expected.Tag() != "!") {
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) {
      ASSERT_TRUE(actual.is_number()) << "expected the number " << text;
      EXPECT_NEAR(actual.number(), number, 1e-9 * std::max(1.0, std::abs(number)));
      return;
    }
  }
  ASSERT_TRUE(actual.is_string()) << "expected the string " << text;
  EXPECT_EQ(actual.string(), text);
}

// A misspelt key would silently skip an expectation, so every key must be a known one.
void ExpectOnlyKeys(const YAML::Node& map, std::initializer_list<std::string_view> known) {
  ASSERT_TRUE(map.IsMap()) << "expected a mapping at line " << map.Mark().line + 1;
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    EXPECT_TRUE(std::find(known.begin(), known.end(), key) != known.end())
        << "unknown key '" << key << "' at line " << entry.first.Mark().line + 1;
  }
}

v1::SegmentChange::Cause CauseNamed(const std::string& name) {
  v1::SegmentChange::Cause cause = v1::SegmentChange::cause_unspecified;
  EXPECT_TRUE(v1::SegmentChange::Cause_Parse(name, &cause)) << "unknown cause " << name;
  return cause;
}

class CaseFile : public ::testing::TestWithParam<fs::path> {
 protected:
  void Run(const YAML::Node& root);
  void RunStep(const YAML::Node& step);
  void CheckAfter(const YAML::Node& step, absl::Time now);

  std::unique_ptr<Engine> engine_;
  v1::CustomerProfile profile_;
  std::vector<v1::SegmentChange> changes_;
};

void CaseFile::Run(const YAML::Node& root) {
  ExpectOnlyKeys(root, {"description", "catalogue", "options", "steps"});
  EngineOptions options;
  if (const YAML::Node overrides = root["options"]) {
    ExpectOnlyKeys(overrides, {"reporting_currency"});
    if (overrides["reporting_currency"]) {
      options.reporting_currency = overrides["reporting_currency"].as<std::string>();
    }
  }
  engine_ = std::make_unique<Engine>(testing::ParseCatalogue(root["catalogue"].as<std::string>()),
                                     options);
  ASSERT_TRUE(root["steps"].IsSequence()) << "a case needs a list of steps";
  int index = 0;
  for (const YAML::Node& step : root["steps"]) {
    SCOPED_TRACE("step " + std::to_string(++index) + " (line " +
                 std::to_string(step.Mark().line + 1) + ")");
    RunStep(step);
  }
}

void CaseFile::RunStep(const YAML::Node& step) {
  ExpectOnlyKeys(step, {"note", "event", "now", "rejected", "erased", "reevaluate", "cause",
                        "changes", "fields", "segments", "tiers"});
  changes_.clear();
  if (const YAML::Node at = step["reevaluate"]) {
    const absl::Time now = testing::At(at.as<std::string>());
    const auto cause = CauseNamed(step["cause"] ? step["cause"].as<std::string>() : "time");
    engine_->Reevaluate(now, cause, profile_, changes_);
    CheckAfter(step, now);
    return;
  }
  ASSERT_TRUE(step["event"]) << "a step is an `event` or a `reevaluate`";
  v1::CustomerEvent event;
  std::optional<Rejection> rejection =
      DecodeEvent(step["event"].as<std::string>(), WireFormat::kAuto, DecodeOptions{}, event);
  // Event-time mode unless the step says otherwise.
  const absl::Time now = step["now"] ? testing::At(step["now"].as<std::string>())
                                     : absl::FromUnixSeconds(event.occurred_at().seconds());
  if (!rejection) rejection = engine_->Validate(event, now);
  const std::string expected_rejection = step["rejected"] ? step["rejected"].as<std::string>() : "";
  EXPECT_EQ(rejection ? std::string(ReasonName(rejection->reason)) : "", expected_rejection)
      << (rejection ? rejection->detail : "");
  // A rejected event is not applied; the step's expectations still hold for the profile as is.
  const bool erased = !rejection && engine_->Apply(event, now, profile_, changes_);
  EXPECT_EQ(erased, step["erased"] && step["erased"].as<bool>());
  CheckAfter(step, now);
}

void CaseFile::CheckAfter(const YAML::Node& step, absl::Time now) {
  EXPECT_THAT(testing::Describe(changes_), ::testing::ElementsAreArray(Strings(step["changes"])));
  const Evaluation evaluation = engine_->Evaluate(profile_, now);
  if (const YAML::Node fields = step["fields"]) {
    for (const auto& entry : fields) {
      const std::string name = entry.first.as<std::string>();
      const auto field = std::find_if(evaluation.fields.begin(), evaluation.fields.end(),
                                      [&](const NamedValue& f) { return f.name == name; });
      if (field == evaluation.fields.end()) {
        ADD_FAILURE() << "no field " << name;
        continue;
      }
      ExpectField(name, entry.second, field->value);
    }
  }
  if (const YAML::Node segments = step["segments"]) {
    EXPECT_THAT(evaluation.segments, ::testing::ElementsAreArray(Strings(segments)));
  }
  if (const YAML::Node tiers = step["tiers"]) {
    std::vector<std::pair<std::string, std::string>> expected;
    for (const auto& entry : tiers) {
      expected.emplace_back(entry.first.as<std::string>(), entry.second.as<std::string>());
    }
    EXPECT_THAT(evaluation.tiers, ::testing::UnorderedElementsAreArray(expected));
  }
}

TEST_P(CaseFile, MatchesItsExpectations) {
  YAML::Node root;
  try {
    root = YAML::Load(ReadFile(GetParam()));
  } catch (const YAML::Exception& e) {
    FAIL() << GetParam() << ": " << e.what();
  }
  try {
    Run(root);
  } catch (const YAML::Exception& e) {
    FAIL() << GetParam() << ": malformed case: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Core, CaseFile, ::testing::ValuesIn(CaseFiles()),
                         [](const ::testing::TestParamInfo<fs::path>& info) {
                           std::string name = info.param.stem().string();
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
                               '_');
                           return name;
                         });

TEST(CaseFiles, CoverTheRequiredScenarios) {
  std::vector<std::string> names;
  for (const auto& path : CaseFiles()) names.push_back(path.stem().string());
  EXPECT_GE(names.size(), 5u);
  for (std::string_view required :
       {"lifecycle_journey", "refunds", "timezone_windows", "profile_updates", "erasure"}) {
    EXPECT_THAT(names, ::testing::Contains(std::string(required)));
  }
}

}  // namespace
}  // namespace cdp::core
