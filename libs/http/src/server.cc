#include "cdp/http/server.h"

#include <httplib.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cdp::http {

struct Server::Impl {
  ServerOptions options;
  httplib::Server server;
  std::thread thread;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
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
  auto method_not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET");
    res.set_content("only GET is served\n", "text/plain; charset=utf-8");
  };
  impl_->server.Post(".*", method_not_allowed);
  impl_->server.Put(".*", method_not_allowed);
  impl_->server.Delete(".*", method_not_allowed);
  impl_->server.Patch(".*", method_not_allowed);
}

Server::~Server() { Stop(); }

void Server::Get(const std::string& pattern, Handler handler) {
  impl_->server.Get(
      pattern, [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
        Request request{req.path, {}};
        for (std::size_t i = 1; i < req.matches.size(); ++i) {
          request.captures.push_back(req.matches[i].str());
        }
        Response response = handler(request);
        res.status = response.status;
        res.set_content(std::move(response.body), response.content_type.c_str());
      });
}

absl::StatusOr<int> Server::Start() {
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
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
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
