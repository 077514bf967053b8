#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "cdp/kafka/mock_cluster.h"

namespace cdp::kafka_local {

// Fault injection commands, one per line (see README.md for the list). Returns what the command
// did, for the reply line, or InvalidArgument naming the accepted forms.
[[nodiscard]] absl::StatusOr<std::string> ApplyControl(kafka::MockCluster& cluster,
                                                       std::string_view line);

}  // namespace cdp::kafka_local
