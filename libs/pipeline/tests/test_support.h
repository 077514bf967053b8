#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "cdp/core/engine.h"
#include "cdp/proto/deterministic.h"
#include "cdp/rules/catalogue.h"
#include "google/protobuf/message.h"

// What the pipeline's tests share: a small catalogue, events as JSON, per-test directories.
namespace cdp::pipeline::test_support {

// lifecycle/at_risk depends on time, so profiles carry timers.
inline constexpr std::string_view kCatalogue = R"(
timezone: UTC
segments:
  - id: buyer
    when: orders_total >= 1
dimensions:
  - id: lifecycle
    tiers:
      - {id: at_risk, when: "orders_total >= 1 and days_since_last_purchase > 30"}
      - {id: active, when: "orders_total >= 1"}
)";

inline std::shared_ptr<const core::Engine> TestEngine(std::string_view yaml = kCatalogue) {
  auto catalogue = rules::ParseSegmentCatalogue(yaml, "test.yaml");
  EXPECT_TRUE(catalogue.ok()) << catalogue.status();
  return std::make_shared<const core::Engine>(
      std::make_shared<const rules::SegmentCatalogue>(std::move(*catalogue)),
      core::EngineOptions{});
}

// A directory for the running test: tests run in parallel processes.
inline std::filesystem::path TestDir(std::string_view suffix = "") {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  return std::filesystem::path(::testing::TempDir()) / (name + std::string(suffix));
}

inline std::string Event(const std::string& event_id, const std::string& customer,
                         const std::string& occurred_at, const std::string& payload) {
  return absl::StrCat(R"({"event_id":")", event_id, R"(","customer_id":")", customer,
                      R"(","occurred_at":")", occurred_at, R"(",)", payload, "}");
}

inline std::string Purchase(const std::string& event_id, const std::string& customer,
                            const std::string& occurred_at) {
  return Event(event_id, customer, occurred_at,
               absl::StrCat(R"("purchase":{"order_id":"o-)", event_id,
                            R"(","total_amount":1000,"currency":"CNY"})"));
}

inline std::string Interaction(const std::string& event_id, const std::string& customer,
                               const std::string& occurred_at) {
  return Event(event_id, customer, occurred_at, R"("interaction":{"type":"page_view"})");
}

inline std::string Erasure(const std::string& event_id, const std::string& customer,
                           const std::string& occurred_at) {
  return Event(event_id, customer, occurred_at, R"("erasure":{})");
}

// Maps serialize in an order that depends on their insertion history; this order is canonical.
inline std::string Canonical(const google::protobuf::Message& message) {
  std::string bytes;
  EXPECT_TRUE(proto::AppendDeterministic(message, bytes));
  return bytes;
}

}  // namespace cdp::pipeline::test_support
