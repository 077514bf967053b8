#pragma once

#include <iostream>
#include <mutex>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cdp::service {

// One line per message on stderr, timestamped; stdout is kept for what the user asked to see
// (addresses, segment changes).
template <typename... Parts>
void Log(const char* level, const Parts&... parts) {
  static std::mutex mutex;
  const std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()), " ",
                   level, " ", parts..., "\n");
  std::lock_guard lock(mutex);
  std::cerr << line << std::flush;
}

}  // namespace cdp::service
