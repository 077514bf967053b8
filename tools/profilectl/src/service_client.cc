#include "service_client.h"

#include <httplib.h>

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"
#include "cdp/common/first_line.h"

namespace cdp::profilectl {

absl::StatusOr<ServiceClient> ServiceClient::Create(std::string_view url, std::string token) {
  std::string base(url);
  while (base.ends_with('/')) base.pop_back();
  const std::string_view rest =
      std::string_view(base).substr(std::min<std::size_t>(7, base.size()));
  if (!base.starts_with("http://") || rest.empty() ||
      rest.find_first_of("/?#") != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--url: '", ToAbsl(url), "' is not http://HOST:PORT, e.g. http://127.0.0.1:8080"));
  }
  return ServiceClient(std::move(base), std::move(token));
}

absl::StatusOr<HttpReply> ServiceClient::Get(const std::string& path) const {
  httplib::Client client(url_);
  client.set_connection_timeout(5);
  client.set_read_timeout(60);
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace("Authorization", "Bearer " + token_);
  const httplib::Result result = client.Get(path, headers);
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat("no answer from ", url_, ": ", httplib::to_string(result.error())));
  }
  return HttpReply{result->status, result->body};
}

std::string PathSegment(std::string_view text) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : text) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      encoded.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      encoded += {'%', kHex[byte >> 4], kHex[byte & 0xF]};
    }
  }
  return encoded;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::optional<std::string> token = ReadFirstLine(path);
  if (!token) {
    return absl::FailedPreconditionError(
        absl::StrCat("--token-file: cannot read a token from '", path,
                     "' (it must hold the token on its first line)"));
  }
  return *std::move(token);
}

}  // namespace cdp::profilectl
