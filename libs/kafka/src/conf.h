#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cdp/common/absl_string.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class Conf;
}

namespace cdp::kafka::internal {

// A global configuration holding `defaults`, then bootstrap.servers, then `overrides`: a property
// in `overrides` always wins. `client` names the client in error messages ("consumer").
[[nodiscard]] absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(
    std::string_view client, const Properties& defaults, std::string_view bootstrap_servers,
    const Properties& overrides);

// "<context>: <librdkafka's description> (<ERROR_NAME>)".
[[nodiscard]] std::string DescribeError(std::string_view context, int error_code);
// librdkafka's symbolic name for an error code, e.g. "UNKNOWN_TOPIC_OR_PART".
[[nodiscard]] const char* ErrorName(int error_code);

using ::cdp::ToAbsl;

// Timeouts as librdkafka takes them: whole milliseconds, clamped to [0, INT_MAX].
[[nodiscard]] int ToTimeoutMs(absl::Duration timeout);

}  // namespace cdp::kafka::internal
