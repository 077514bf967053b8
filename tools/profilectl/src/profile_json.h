#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "cdp/common/strong_type.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::profilectl {

// One profile as a line for scripts: protobuf-JSON with snake_case names and every scalar field
// (zeros included), preceded by "partition". Map entries are sorted by key, so equal profiles give
// byte-identical lines. No trailing newline. Fails only for a timestamp protobuf-JSON cannot
// write (outside years 0001-9999).
[[nodiscard]] absl::StatusOr<std::string> ProfileJsonLine(Partition partition,
                                                          const v1::CustomerProfile& profile);

}  // namespace cdp::profilectl
