#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "arguments.h"
#include "cdp/core/engine.h"
#include "nlohmann/json.hpp"
#include "service_client.h"

namespace cdp::profilectl {

// Where get, explain and stats read a customer's profile: a stopped service's state directory,
// evaluated here with the segment file the service runs with, or a running service's HTTP API.
// Both give the same answer: the service's API and these commands share core::ProfileJson and
// core::ExplainMembership.
struct ProfileSource {
  // --data-dir DIR [--segments FILE] [--now TIME]
  std::string data_dir;
  std::string segments = "deploy/config/segments.yaml";  // the service's default
  bool segments_given = false;
  absl::Time now;
  // --url URL [--token-file FILE]
  std::optional<ServiceClient> service;
};

// The flags of a ProfileSource, for a command's flag table.
inline constexpr FlagSpec kDataDirFlag = {"data-dir", "DIR"};
inline constexpr FlagSpec kSegmentsFlag = {"segments", "FILE"};
inline constexpr FlagSpec kNowFlag = {"now", "TIME"};
inline constexpr FlagSpec kUrlFlag = {"url", "URL"};
inline constexpr FlagSpec kTokenFileFlag = {"token-file", "FILE"};
inline constexpr FlagSpec kJsonFlag = {"json", ""};

// Their usage text; kNowUsage for the commands that evaluate rules.
inline constexpr std::string_view kSourceUsage =
    R"(Read from one of:
  --data-dir DIR      a stopped profile-service's --data-dir (the store admits one process)
  --segments FILE     with --data-dir: the service's --segments file (default
                      deploy/config/segments.yaml, as the service's)
  --url URL           a running profile-service's HTTP address, e.g. http://127.0.0.1:8080
  --token-file FILE   with --url: the service's --admin-token-file, when it has one
)";
inline constexpr std::string_view kNowUsage =
    "  --now TIME          with --data-dir: evaluate at this RFC 3339 instant (default: now)\n";

// Reads the source flags: InvalidArgument for a bad command line, FailedPrecondition for an
// unreadable token file.
[[nodiscard]] absl::StatusOr<ProfileSource> ReadProfileSource(const Arguments& parsed);

// Reports a ReadProfileSource error for `command` and returns its exit status: a usage error for
// a bad command line, a failure otherwise.
int SourceError(std::string_view command, std::ostream& err, const absl::Status& error);

// The engine evaluating profiles read from a state directory: the segment file's rules.
[[nodiscard]] absl::StatusOr<std::unique_ptr<core::Engine>> LoadEngine(const ProfileSource& source);

// GET `path` from the service as JSON: the body of a 200 answer. Otherwise NotFound with the
// service's error message for 404, PermissionDenied for 401 (a token is needed), and the status
// and body for anything else.
[[nodiscard]] absl::StatusOr<nlohmann::json> GetJson(const ServiceClient& service,
                                                     const std::string& path);

}  // namespace cdp::profilectl
