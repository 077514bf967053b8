#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cdp::http {

struct Request {
  std::string path;
  // Regex groups captured from the route pattern, in order.
  std::vector<std::string> captures;
  std::string method{};  // "GET", "HEAD" (served by GET routes) or "POST"
  std::string body{};
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Every member has an initializer so callers can name only what they set (GCC's
// -Wmissing-field-initializers skips such members); keep that for new ones.
struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0: the system picks a free port
  std::size_t max_request_bytes = 64 * 1024;
  int threads = 4;
  // Bearer token for routes with RouteOptions::requires_token, compared exactly (strip a token
  // file's trailing newline first). Empty: none configured, so those routes answer 403.
  std::string token{};
  // One token bucket shared by all rate-limited routes. 0: unlimited.
  double max_requests_per_second = 0;
  // Bucket size. 0: same as the rate; at least 1.
  double burst = 0;
  // Time source for the rate limit, so tests can advance it. Empty: steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> clock{};
};

struct RouteOptions {
  // Requires `Authorization: Bearer <ServerOptions::token>`: 401 otherwise, 403 if no token is
  // configured.
  bool requires_token = false;
  // Counts against ServerOptions::max_requests_per_second; 429 when the bucket is empty.
  bool rate_limited = true;
};

// A small embedded HTTP server for GET and POST routes. A method without a route for a known path
// gets 405 with `Allow`; unknown paths get 404. Handlers' exceptions become 500.
class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // `pattern` is a full-match regex over the path; groups become Request::captures.
  // Register routes before Start; an invalid pattern makes Start fail.
  void Get(const std::string& pattern, Handler handler, RouteOptions options = {});
  void Post(const std::string& pattern, Handler handler, RouteOptions options = {});

  // Binds and serves on a background thread; returns the bound port.
  [[nodiscard]] absl::StatusOr<int> Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdp::http
