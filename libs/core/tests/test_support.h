#pragma once

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"
#include "cdp/v1/customer_event.pb.h"
#include "cdp/v1/segment_change.pb.h"

namespace cdp::core::testing {

// Every tier the profile holds, by dimension: what gmock's container matchers read best.
inline std::map<std::string, std::string> Tiers(const v1::CustomerProfile& profile) {
  std::map<std::string, std::string> tiers;
  for (const v1::CustomerProfile::HeldTier& held : profile.tiers()) {
    tiers[held.dimension()] = held.tier();
  }
  return tiers;
}

// An RFC 3339 instant; a typo fails the calling test.
inline absl::Time At(std::string_view rfc3339) {
  absl::Time time;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, std::string(rfc3339), &time, &error))
      << rfc3339 << ": " << error;
  return time;
}

inline google::protobuf::Timestamp Ts(std::string_view rfc3339) {
  const absl::Time time = At(rfc3339);
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(time));
  ts.set_nanos(
      static_cast<int>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(ts.seconds()))));
  return ts;
}

// An event written as protobuf-JSON, parsed straight by protobuf so that tests of the engine do
// not depend on the codec under test elsewhere.
inline v1::CustomerEvent Event(std::string_view json) {
  v1::CustomerEvent event;
  const auto status = google::protobuf::util::JsonStringToMessage(std::string(json), &event);
  EXPECT_TRUE(status.ok()) << status.message() << " in " << json;
  return event;
}

// An envelope for customer "c1" at `at`, with the payload given as a JSON member, e.g.
// Envelope("e1", "2024-03-01T10:00:00Z", R"("purchase": {"total_amount": 100})").
inline v1::CustomerEvent Envelope(std::string_view event_id, std::string_view at,
                                  std::string_view payload_member) {
  return Event(std::string(R"({"event_id": ")") + std::string(event_id) +
               R"(", "customer_id": "c1", "occurred_at": ")" + std::string(at) + R"(", )" +
               std::string(payload_member) + "}");
}

inline std::shared_ptr<const rules::SegmentCatalogue> ParseCatalogue(std::string_view yaml) {
  auto catalogue = rules::ParseSegmentCatalogue(yaml, "test.yaml");
  EXPECT_TRUE(catalogue.ok()) << catalogue.status();
  return std::make_shared<const rules::SegmentCatalogue>(
      catalogue.ok() ? *std::move(catalogue) : rules::SegmentCatalogue{});
}

// A catalogue without rules, for tests of folding and fields.
inline std::shared_ptr<rules::SegmentCatalogue> EmptyCatalogue(std::string_view timezone = "UTC") {
  auto catalogue = std::make_shared<rules::SegmentCatalogue>();
  catalogue->timezone_name = std::string(timezone);
  EXPECT_TRUE(absl::LoadTimeZone(std::string(timezone), &catalogue->timezone)) << timezone;
  return catalogue;
}

// A change as one compact line: "entered lifecycle/new cause=event e1",
// "exited lifecycle/new to=active cause=time", "entered vip cause=event e2".
inline std::string Describe(const v1::SegmentChange& change) {
  std::string line = v1::SegmentChange::Direction_Name(change.direction()) + " ";
  if (!change.dimension().empty()) line += change.dimension() + "/";
  line += change.segment();
  if (!change.previous_tier().empty()) line += " from=" + change.previous_tier();
  if (!change.next_tier().empty()) line += " to=" + change.next_tier();
  line += " cause=" + v1::SegmentChange::Cause_Name(change.cause());
  if (!change.cause_event_id().empty()) line += " " + change.cause_event_id();
  return line;
}

inline std::vector<std::string> Describe(const std::vector<v1::SegmentChange>& changes) {
  std::vector<std::string> lines;
  for (const auto& change : changes) lines.push_back(Describe(change));
  return lines;
}

}  // namespace cdp::core::testing
