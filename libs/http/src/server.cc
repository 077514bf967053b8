#include "cdp/http/server.h"

#include <httplib.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <optional>
#include <regex>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cdp::http {
namespace {

using Clock = std::function<std::chrono::steady_clock::time_point()>;

constexpr char kTextPlain[] = "text/plain; charset=utf-8";

// Compares without an early exit, so the response time does not reveal how much of a guess was
// right. The loop runs over the expected token only, so a guess's length cannot shorten it.
bool TokensEqual(absl::string_view expected, absl::string_view given) {
  // volatile keeps the optimizer from turning the accumulation back into an early exit.
  volatile std::size_t diff = expected.size() ^ given.size();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const unsigned char guess = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (static_cast<unsigned char>(expected[i]) ^ guess);
  }
  return diff == 0;
}

bool BearerMatches(absl::string_view authorization, absl::string_view token) {
  // The scheme name is case-insensitive (RFC 7235); the token itself is not.
  constexpr absl::string_view kScheme = "Bearer ";
  if (!absl::StartsWithIgnoreCase(authorization, kScheme)) return false;
  authorization.remove_prefix(kScheme.size());
  return TokensEqual(token, absl::StripAsciiWhitespace(authorization));
}

}  // namespace

namespace internal {

// A member of Server::Impl, so not in the anonymous namespace (-Wsubobject-linkage).
class TokenBucket {
 public:
  TokenBucket(double rate, double burst, Clock clock)
      : rate_(rate),
        capacity_(std::max(1.0, burst > 0 ? burst : rate)),
        tokens_(capacity_),
        clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }) {}

  bool TryTake() {
    if (!(rate_ > 0)) return true;  // also treats NaN as unlimited
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = clock_();
    // The first request starts the clock; a clock stepping backwards refills nothing.
    if (!last_) {
      last_ = now;
    } else if (now > *last_) {
      const double elapsed = std::chrono::duration<double>(now - *last_).count();
      tokens_ = std::min(capacity_, tokens_ + elapsed * rate_);
      last_ = now;
    }
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  const double rate_;
  const double capacity_;
  double tokens_;
  Clock clock_;
  std::optional<std::chrono::steady_clock::time_point> last_;
  std::mutex mutex_;
};

}  // namespace internal

namespace {

void SetText(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), kTextPlain);
}

}  // namespace

struct Server::Impl {
  struct Route {
    std::regex regex;
    std::string method;
  };

  explicit Impl(ServerOptions opts)
      : options(std::move(opts)),
        bucket(options.max_requests_per_second, options.burst, options.clock) {}

  void Add(const std::string& method, const std::string& pattern, Handler handler,
           RouteOptions route) {
    // httplib would throw std::regex_error from a void function; report it from Start instead.
    try {
      routes.push_back(Route{std::regex(pattern), method});
      auto wrapped = Wrap(std::move(handler), route);
      if (method == "GET") {
        server.Get(pattern, std::move(wrapped));
      } else {
        server.Post(pattern, std::move(wrapped));
      }
    } catch (const std::exception& e) {
      if (setup_error.ok()) {
        setup_error = absl::InvalidArgumentError(
            absl::StrCat("invalid HTTP route pattern \"", pattern, "\": ", e.what()));
      }
    }
  }

  httplib::Server::Handler Wrap(Handler handler, RouteOptions route) {
    return [this, handler = std::move(handler), route](const httplib::Request& req,
                                                       httplib::Response& res) {
      // httplib would answer a thrown exception with its message in a header; keep that private.
      try {
        Serve(handler, route, req, res);
      } catch (...) {
        res.headers.clear();
        SetText(res, 500, "internal error\n");
      }
    };
  }

  void Serve(const Handler& handler, RouteOptions route, const httplib::Request& req,
             httplib::Response& res) {
    // Limits before checking the token, so the limit also slows down guessing it.
    if (route.rate_limited && !bucket.TryTake()) {
      res.set_header("Retry-After", "1");
      SetText(res, 429, "too many requests, retry later\n");
      return;
    }
    if (route.requires_token) {
      if (options.token.empty()) {
        SetText(res, 403,
                "this endpoint is disabled until a token is configured (--admin-token-file)\n");
        return;
      }
      if (!BearerMatches(req.get_header_value("Authorization"), options.token)) {
        res.set_header("WWW-Authenticate", "Bearer");
        SetText(res, 401, "missing or wrong bearer token\n");
        return;
      }
    }
    Request request{req.path, {}, req.method, req.body};
    for (std::size_t i = 1; i < req.matches.size(); ++i) {
      request.captures.push_back(req.matches[i].str());
    }
    Response response = handler(request);
    res.status = response.status;
    res.set_content(std::move(response.body), response.content_type.c_str());
  }

  // "GET", "POST", "GET, POST", or empty when no route matches the path.
  std::string AllowedMethods(const std::string& path) const {
    bool get = false;
    bool post = false;
    for (const Route& route : routes) {
      if (!std::regex_match(path, route.regex)) continue;
      if (route.method == "GET") {
        get = true;
      } else {
        post = true;
      }
    }
    if (get && post) return "GET, POST";
    if (get) return "GET";
    if (post) return "POST";
    return "";
  }

  // Registered last because httplib tries handlers in registration order: earlier, these
  // catch-alls would shadow every route added after them.
  void AddFallbacks() {
    auto fallback = [this](const httplib::Request& req, httplib::Response& res) {
      try {
        const std::string allow = AllowedMethods(req.path);
        if (allow.empty()) {
          res.status = 404;
          return;
        }
        res.set_header("Allow", allow);
        SetText(res, 405, absl::StrCat("this path answers only ", allow, "\n"));
      } catch (...) {
        res.headers.clear();
        SetText(res, 500, "internal error\n");
      }
    };
    server.Get(".*", fallback);
    server.Post(".*", fallback);
    server.Put(".*", fallback);
    server.Delete(".*", fallback);
    server.Patch(".*", fallback);
    server.Options(".*", fallback);
  }

  ServerOptions options;
  internal::TokenBucket bucket;
  std::vector<Route> routes;  // read-only once serving, so handlers read it without a lock
  absl::Status setup_error;
  bool fallbacks_added = false;
  httplib::Server server;
  std::thread thread;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->server.set_payload_max_length(impl_->options.max_request_bytes);
  const int threads = impl_->options.threads;
  impl_->server.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<std::size_t>(threads));
  };
  // httplib's default also sets SO_REUSEPORT, which would let a second instance share our port.
  impl_->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  impl_->server.set_read_timeout(5, 0);
  impl_->server.set_write_timeout(5, 0);
}

Server::~Server() { Stop(); }

void Server::Get(const std::string& pattern, Handler handler, RouteOptions options) {
  impl_->Add("GET", pattern, std::move(handler), options);
}

void Server::Post(const std::string& pattern, Handler handler, RouteOptions options) {
  impl_->Add("POST", pattern, std::move(handler), options);
}

absl::StatusOr<int> Server::Start() {
  if (!impl_->setup_error.ok()) return impl_->setup_error;
  if (impl_->thread.joinable()) return absl::FailedPreconditionError("HTTP server already started");
  if (!impl_->fallbacks_added) {
    try {
      impl_->AddFallbacks();
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("cannot set up HTTP routing: ", e.what()));
    }
    impl_->fallbacks_added = true;
  }
  const int port = impl_->options.port == 0
                       ? impl_->server.bind_to_any_port(impl_->options.address)
                       : (impl_->server.bind_to_port(impl_->options.address, impl_->options.port)
                              ? impl_->options.port
                              : -1);
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for HTTP on ", impl_->options.address, ":", impl_->options.port,
        " (is the port in use or the address not local? choose another with --http-port)"));
  }
  try {
    impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start the HTTP server thread: ", e.what()));
  }
  // stop() is a no-op until the accept loop runs, so Stop() right after Start() would hang.
  while (!impl_->server.is_running()) std::this_thread::yield();
  return port;
}

void Server::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace cdp::http
