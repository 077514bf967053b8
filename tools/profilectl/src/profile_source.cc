#include "profile_source.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"
#include "cdp/rules/catalogue.h"

namespace cdp::profilectl {

absl::StatusOr<ProfileSource> ReadProfileSource(const Arguments& parsed) {
  ProfileSource source;
  const std::optional<std::string_view> data_dir = parsed.Flag("data-dir");
  const std::optional<std::string_view> url = parsed.Flag("url");
  if (data_dir.has_value() == url.has_value()) {
    return absl::InvalidArgumentError(
        "give either --data-dir DIR (a stopped service's state) or --url URL (a running service)");
  }
  if (url) {
    for (std::string_view flag : {"segments", "now"}) {
      if (parsed.Flag(flag)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", ToAbsl(flag),
                         " goes with --data-dir: the service at --url "
                         "evaluates with its own segment file and clock"));
      }
    }
    std::string token;
    if (const auto token_file = parsed.Flag("token-file")) {
      auto read = ReadTokenFile(std::string(*token_file));
      if (!read.ok()) return read.status();
      token = *std::move(read);
    }
    auto service = ServiceClient::Create(*url, std::move(token));
    if (!service.ok()) return service.status();
    source.service = *std::move(service);
    return source;
  }
  if (parsed.Flag("token-file")) {
    return absl::InvalidArgumentError("--token-file goes with --url");
  }
  if (data_dir->empty()) return absl::InvalidArgumentError("--data-dir: empty directory name");
  source.data_dir = std::string(*data_dir);
  if (const auto segments = parsed.Flag("segments")) {
    source.segments = std::string(*segments);
    source.segments_given = true;
  }
  source.now = absl::Now();
  if (const auto now = parsed.Flag("now")) {
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, std::string(*now), &source.now, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--now: '", ToAbsl(*now), "' is not an RFC 3339 instant (", error, ")"));
    }
  }
  return source;
}

int SourceError(std::string_view command, std::ostream& err, const absl::Status& error) {
  const std::string_view message(error.message().data(), error.message().size());
  return error.code() == absl::StatusCode::kInvalidArgument
             ? CommandUsageError(command, err, message)
             : CommandFailure(command, err, message);
}

absl::StatusOr<std::unique_ptr<core::Engine>> LoadEngine(const ProfileSource& source) {
  auto catalogue = rules::LoadSegmentCatalogue(source.segments);
  if (!catalogue.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("invalid segment file (--segments):\n", catalogue.status().message()));
  }
  // Only the rules matter here: nothing is validated or applied.
  return std::make_unique<core::Engine>(
      std::make_shared<const rules::SegmentCatalogue>(*std::move(catalogue)),
      core::EngineOptions{});
}

absl::StatusOr<nlohmann::json> GetJson(const ServiceClient& service, const std::string& path) {
  auto reply = service.Get(path);
  if (!reply.ok()) return reply.status();
  // The profile API's errors are {"error": message}.
  const nlohmann::json body =
      nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  const std::string message =
      body.is_object() && body.contains("error") && body["error"].is_string()
          ? body["error"].get<std::string>()
          : std::string(absl::StripTrailingAsciiWhitespace(reply->body));
  switch (reply->status) {
    case 200:
      if (body.is_discarded()) {
        return absl::InternalError(absl::StrCat(service.url(), path, " answered with no JSON"));
      }
      return body;
    case 401:
      return absl::PermissionDeniedError(
          absl::StrCat(service.url(),
                       " requires a token: give --token-file FILE, the file of "
                       "its --admin-token-file"));
    case 404:
      return absl::NotFoundError(message);
    default:
      return absl::UnknownError(
          absl::StrCat(service.url(), path, " answered ", reply->status, ": ", message));
  }
}

}  // namespace cdp::profilectl
