#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cdp::profilectl {

// An HTTP answer: status and body.
struct HttpReply {
  int status = 0;
  std::string body;
};

// GET requests to a running profile-service's HTTP server.
class ServiceClient {
 public:
  // `url`: http://HOST:PORT (a trailing '/' is fine). `token`: sent as a bearer token when not
  // empty, as the profile API needs with --admin-token-file.
  [[nodiscard]] static absl::StatusOr<ServiceClient> Create(std::string_view url,
                                                            std::string token);

  // GET `path` (already encoded, see PathSegment). Unavailable when nothing answers.
  [[nodiscard]] absl::StatusOr<HttpReply> Get(const std::string& path) const;

  [[nodiscard]] const std::string& url() const { return url_; }

 private:
  ServiceClient(std::string url, std::string token)
      : url_(std::move(url)), token_(std::move(token)) {}

  std::string url_;
  std::string token_;
};

// `text` percent-encoded as one path segment: every byte but A-Z a-z 0-9 - . _ ~.
[[nodiscard]] std::string PathSegment(std::string_view text);

// The token in a token file: its first line without surrounding whitespace, as the service reads
// its --admin-token-file.
[[nodiscard]] absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace cdp::profilectl
