#pragma once

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
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0: the system picks a free port
  std::size_t max_request_bytes = 64 * 1024;
  int threads = 4;
};

// A small embedded HTTP server answering GET routes only; anything else gets 404/405.
class Server {
 public:
  using Handler = std::function<Response(const Request&)>;

  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // `pattern` is a full-match regex over the path; groups become Request::captures.
  // Register routes before Start.
  void Get(const std::string& pattern, Handler handler);

  // Binds and serves on a background thread; returns the bound port.
  [[nodiscard]] absl::StatusOr<int> Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cdp::http
