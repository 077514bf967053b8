#include "cdp/http/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

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
    server_.Post(R"(/echo/([^/]+))", [](const Request& request) {
      return Response{201, "text/plain",
                      request.method + " " + request.captures.at(0) + " " + request.body};
    });
    server_.Get("/both", [](const Request&) { return Response{200, "text/plain", "got"}; });
    server_.Post("/both", [](const Request&) { return Response{200, "text/plain", "posted"}; });
    server_.Get("/throws",
                [](const Request&) -> Response { throw std::runtime_error("private detail"); });
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

TEST_F(ServerTest, PostRouteReceivesMethodAndBody) {
  httplib::Client client("127.0.0.1", port_);
  auto echo = client.Post("/echo/x1", R"({"a":1})", "application/json");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 201);
  EXPECT_EQ(echo->body, R"(POST x1 {"a":1})");
  auto both = client.Post("/both", "", "text/plain");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, 200);
  EXPECT_EQ(both->body, "posted");
}

TEST_F(ServerTest, AnswersOnlyWhatItServes) {
  httplib::Client client("127.0.0.1", port_);
  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto missing_post = client.Post("/nope", "x", "text/plain");
  ASSERT_TRUE(missing_post);
  EXPECT_EQ(missing_post->status, 404);

  auto post_to_get_only = client.Post("/hello", "x", "text/plain");
  ASSERT_TRUE(post_to_get_only);
  EXPECT_EQ(post_to_get_only->status, 405);
  EXPECT_EQ(post_to_get_only->get_header_value("Allow"), "GET");

  auto get_of_post_only = client.Get("/echo/x1");
  ASSERT_TRUE(get_of_post_only);
  EXPECT_EQ(get_of_post_only->status, 405);
  EXPECT_EQ(get_of_post_only->get_header_value("Allow"), "POST");

  auto delete_both = client.Delete("/both");
  ASSERT_TRUE(delete_both);
  EXPECT_EQ(delete_both->status, 405);
  EXPECT_EQ(delete_both->get_header_value("Allow"), "GET, POST");
}

TEST_F(ServerTest, RefusesOversizedPostBody) {
  httplib::Client client("127.0.0.1", port_);
  auto huge = client.Post("/echo/x1", std::string(4096, 'x'), "text/plain");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  auto fits = client.Post("/echo/x1", std::string(1000, 'x'), "text/plain");
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 201);
}

TEST_F(ServerTest, HandlerExceptionBecomesAPrivate500) {
  httplib::Client client("127.0.0.1", port_);
  auto res = client.Get("/throws");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body.find("private detail"), std::string::npos);
  EXPECT_FALSE(res->has_header("EXCEPTION_WHAT"));
}

httplib::Headers Authorization(const std::string& value) { return {{"Authorization", value}}; }

Response Ok(const Request&) { return Response{200, "text/plain", "ok"}; }

TEST(ServerAuth, RequiresTheConfiguredBearerToken) {
  const std::string token = "s3cret-t0ken";
  Server server(ServerOptions{.token = token});
  server.Get("/admin", Ok, RouteOptions{.requires_token = true});
  server.Post("/admin", Ok, RouteOptions{.requires_token = true});
  server.Get("/open", Ok);
  auto port = server.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);

  auto none = client.Get("/admin");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(none->body.find(token), std::string::npos);
  const std::vector<std::string> wrong_headers = {"Bearer s3cret-t0keN",   "Bearer s3cret",
                                                  "Bearer " + token + "x", "Bearer ",
                                                  "Basic " + token,        token};
  for (const std::string& wrong : wrong_headers) {
    auto res = client.Get("/admin", Authorization(wrong));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << wrong;
    EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
    EXPECT_EQ(res->body.find(token), std::string::npos);
  }

  auto right = client.Get("/admin", Authorization("Bearer " + token));
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
  auto any_case = client.Post("/admin", Authorization("bearer " + token), "", "text/plain");
  ASSERT_TRUE(any_case);
  EXPECT_EQ(any_case->status, 200);
  auto open = client.Get("/open");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200);
}

TEST(ServerAuth, DisabledWithoutAConfiguredToken) {
  Server server(ServerOptions{});
  server.Get("/admin", Ok, RouteOptions{.requires_token = true});
  auto port = server.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  for (const char* header : {"Bearer ", "Bearer anything"}) {
    auto res = client.Get("/admin", Authorization(header));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403);
    EXPECT_NE(res->body.find("--admin-token-file"), std::string::npos);
  }
  auto without = client.Get("/admin");
  ASSERT_TRUE(without);
  EXPECT_EQ(without->status, 403);
}

// Time moves only when the test says so, so rate limits are tested without sleeping.
class FakeClock {
 public:
  std::chrono::steady_clock::time_point Now() const { return now_.load(); }
  void Advance(std::chrono::milliseconds by) { now_.store(now_.load() + by); }
  std::function<std::chrono::steady_clock::time_point()> AsFunction() {
    return [this] { return Now(); };
  }

 private:
  // Read by the server's threads.
  std::atomic<std::chrono::steady_clock::time_point> now_{std::chrono::steady_clock::time_point{}};
};

int Status(httplib::Result result) { return result ? result->status : -1; }

TEST(ServerRateLimit, RefusesOverTheBurstUntilTheClockAdvances) {
  FakeClock clock;
  Server server(
      ServerOptions{.max_requests_per_second = 2, .burst = 3, .clock = clock.AsFunction()});
  server.Get("/limited", Ok);
  server.Post("/limited", Ok);
  auto port = server.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);

  EXPECT_EQ(Status(client.Get("/limited")), 200);
  EXPECT_EQ(Status(client.Post("/limited", "", "text/plain")), 200);
  EXPECT_EQ(Status(client.Get("/limited")), 200);
  auto refused = client.Get("/limited");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Status(client.Post("/limited", "", "text/plain")), 429);

  clock.Advance(std::chrono::milliseconds(499));
  EXPECT_EQ(Status(client.Get("/limited")), 429);
  clock.Advance(std::chrono::milliseconds(1));  // half a second at 2/s refills one request
  EXPECT_EQ(Status(client.Get("/limited")), 200);
  EXPECT_EQ(Status(client.Get("/limited")), 429);

  clock.Advance(std::chrono::seconds(60));  // refills up to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Status(client.Get("/limited")), 200) << i;
  EXPECT_EQ(Status(client.Get("/limited")), 429);
}

TEST(ServerRateLimit, BurstDefaultsToTheRate) {
  FakeClock clock;
  Server server(ServerOptions{.max_requests_per_second = 1, .clock = clock.AsFunction()});
  server.Get("/limited", Ok);
  auto port = server.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  EXPECT_EQ(Status(client.Get("/limited")), 200);
  EXPECT_EQ(Status(client.Get("/limited")), 429);
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(Status(client.Get("/limited")), 200);
}

TEST(ServerRateLimit, UnlimitedRoutesAreNeverThrottled) {
  FakeClock clock;
  Server server(
      ServerOptions{.max_requests_per_second = 1, .burst = 1, .clock = clock.AsFunction()});
  server.Get("/limited", Ok);
  server.Get("/healthz", Ok, RouteOptions{.rate_limited = false});
  auto port = server.Start();
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  EXPECT_EQ(Status(client.Get("/limited")), 200);
  EXPECT_EQ(Status(client.Get("/limited")), 429);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Status(client.Get("/healthz")), 200) << i;
}

TEST(ServerRoutes, InvalidPatternFailsStart) {
  Server server(ServerOptions{});
  server.Get("/ok", Ok);
  server.Post("/broken/([", Ok);
  auto port = server.Start();
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(port.status().message().find("/broken/(["), std::string::npos);
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
