#include "explain_endpoint.h"

#include <gtest/gtest.h>

#include "cdp/core/memberships.h"
#include "nlohmann/json.hpp"
#include "stored_state_fixture.h"

namespace cdp::service {
namespace {

class ExplainResponseTest : public StoredStateTest {
 protected:
  void SetUp() override {
    OpenState(R"(
rfm: {scoring: quintiles}
segments:
  - {id: top, when: 'rfm_m == 5 and orders_total >= 2'}
dimensions:
  - id: value
    tiers:
      - {id: high, when: "monetary_total >= 5000"}
      - {id: low, when: "orders_total >= 1"}
  - id: care
    tiers:
      - {id: low, when: 'has_tag("care")'}
)");
    if (HasFatalFailure()) return;
    v1::CustomerProfile profile = Alice();
    core::SetHeldTier(profile, "value", "high");
    profile.add_segments("top");
    PutWithQuintiles(Partition(5), profile);
  }

  http::Response Explain(std::string_view customer, std::string_view segment) {
    return ExplainResponse(*store_, *engine_, customer, segment, now_);
  }
};

TEST_F(ExplainResponseTest, ExplainsASegmentWithThePartitionsPopulation) {
  const http::Response response = Explain("alice", "top");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.content_type, "application/json");
  const nlohmann::json body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["customer_id"], "alice");
  EXPECT_EQ(body["segment"], "top");
  ASSERT_EQ(body["explanations"].size(), 1u);
  const nlohmann::json& top = body["explanations"][0];
  EXPECT_EQ(top["rule"], "rfm_m == 5 and orders_total >= 2");
  EXPECT_EQ(top["member"], true);
  EXPECT_EQ(top["holds_now"], true);
  EXPECT_EQ(top["fields"], nlohmann::json({{"orders_total", 3}, {"rfm_m", 5}}))
      << "rfm_m is scored against partition 5's quintiles";
  EXPECT_EQ(top["trace"][0]["text"], "rfm_m == 5 and orders_total >= 2");
}

TEST_F(ExplainResponseTest, ADimensionExplainsEachTier) {
  const http::Response response = Explain("alice", "value");
  ASSERT_EQ(response.status, 200) << response.body;
  const nlohmann::json body = nlohmann::json::parse(response.body);
  ASSERT_EQ(body["explanations"].size(), 2u);
  EXPECT_EQ(body["explanations"][0]["name"], "value/high");
  EXPECT_EQ(body["explanations"][0]["member"], true);
  EXPECT_EQ(body["explanations"][1]["name"], "value/low");
  EXPECT_EQ(body["explanations"][1]["member"], false);
  EXPECT_EQ(body["explanations"][1]["rule_matches"], true);
  EXPECT_EQ(body["explanations"][1]["matched_first"], "high");

  EXPECT_EQ(nlohmann::json::parse(Explain("alice", "value/low").body)["explanations"].size(), 1u);
}

TEST_F(ExplainResponseTest, Errors) {
  const http::Response typo = Explain("alice", "valeu/high");
  EXPECT_EQ(typo.status, 404);
  EXPECT_EQ(nlohmann::json::parse(typo.body)["error"],
            "no dimension 'valeu'; did you mean 'value'?");
  EXPECT_EQ(Explain("bob", "top").status, 404);
  EXPECT_EQ(nlohmann::json::parse(Explain("bob", "top").body)["error"],
            "no profile for this customer");
  // `low` is a tier of two dimensions.
  const http::Response ambiguous = Explain("alice", "low");
  EXPECT_EQ(ambiguous.status, 400);
  EXPECT_EQ(nlohmann::json::parse(ambiguous.body)["error"],
            "tier 'low' is in several dimensions: write value/low or care/low");
}

}  // namespace
}  // namespace cdp::service
