#include "cdp/http/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include "cdp/http/metrics_text.h"
#include "prometheus/counter.h"

namespace cdp::http {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Get("/hello", [](const Request&) { return Response{200, "text/plain", "hi"}; });
    server_.Get(R"(/v1/things/([^/]+))", [](const Request& request) {
      return Response{200, "text/plain", "thing=" + request.captures.at(0)};
    });
    auto port = server_.Start();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
  }

  Server server_{ServerOptions{"127.0.0.1", 0, 1024, 2}};
  int port_ = 0;
};

TEST_F(ServerTest, ServesRoutesWithCaptures) {
  httplib::Client client("127.0.0.1", port_);
  auto hello = client.Get("/hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "hi");
  auto thing = client.Get("/v1/things/abc-1");
  ASSERT_TRUE(thing);
  EXPECT_EQ(thing->body, "thing=abc-1");
}

TEST_F(ServerTest, AnswersOnlyWhatItServes) {
  httplib::Client client("127.0.0.1", port_);
  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto post = client.Post("/hello", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto huge = client.Post("/hello", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
}

TEST(ServerPort, ReportsABusyPort) {
  Server first(ServerOptions{"127.0.0.1", 0, 1024, 1});
  auto port = first.Start();
  ASSERT_TRUE(port.ok());
  Server second(ServerOptions{"127.0.0.1", *port, 1024, 1});
  auto again = second.Start();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("--http-port"), std::string::npos);
}

TEST(MetricsText, RendersRegistry) {
  prometheus::Registry registry;
  prometheus::BuildCounter()
      .Name("cdp_test_total")
      .Help("A test.")
      .Register(registry)
      .Add({})
      .Increment(3);
  const std::string text = RenderMetrics(registry);
  EXPECT_NE(text.find("# TYPE cdp_test_total counter"), std::string::npos);
  EXPECT_NE(text.find("cdp_test_total 3"), std::string::npos);
}

}  // namespace
}  // namespace cdp::http
