#pragma once

#include <cstdint>
#include <string>

namespace cdp {

// Appends an instant as RFC 3339 in UTC ("2026-11-23T10:00:00.5Z" style), with 0, 3, 6 or 9
// fractional digits as the value needs: exactly what protobuf's JSON printer writes for a
// Timestamp. `seconds` must lie in years 0001-9999 and `nanos` in [0, 999999999].
void AppendRfc3339(std::int64_t seconds, std::int32_t nanos, std::string& out);

}  // namespace cdp
