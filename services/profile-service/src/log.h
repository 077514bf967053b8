#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cdp::service {

// The service's log: one line per message on stderr; stdout is kept for what the user asked to
// see (addresses, segment changes).
enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat {
  kText,  // "2026-11-29T21:57:59.123Z INFO message"
  kJson,  // {"time":"2026-11-29T21:57:59.123Z","level":"info","message":"message"}
};

[[nodiscard]] absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name);
[[nodiscard]] absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name);
// "debug", "info", "warn", "error".
[[nodiscard]] std::string_view LogLevelName(LogLevel level);

// Set at start-up, before other threads log. Lines below `minimum` are dropped.
void ConfigureLog(LogLevel minimum, LogFormat format);
[[nodiscard]] bool LogEnabled(LogLevel level);

// Writes one line. `held_back`: how many repeats of it were held back (see RepeatLimiter); text
// says so after the message, JSON in a "held_back" field.
void WriteLog(LogLevel level, std::string_view message, std::uint64_t held_back = 0);

// The parts are only formatted when the level is enabled.
template <typename... Parts>
void Log(LogLevel level, const Parts&... parts) {
  if (LogEnabled(level)) WriteLog(level, absl::StrCat(parts...));
}

// Lets a repeated message through the first time, then at most once per `interval`: one kind of
// fault recurring a million times makes a few log lines, not a million.
class RepeatLimiter {
 public:
  explicit RepeatLimiter(absl::Duration interval) : interval_(interval) {}

  // When this occurrence is to be logged, how many were held back since the last one logged;
  // nullopt when it is held back.
  [[nodiscard]] std::optional<std::uint64_t> Admit(absl::Time now);

 private:
  std::mutex mutex_;
  const absl::Duration interval_;
  absl::Time next_ = absl::InfinitePast();
  std::uint64_t held_back_ = 0;
};

template <typename... Parts>
void LogLimited(RepeatLimiter& limiter, LogLevel level, const Parts&... parts) {
  if (!LogEnabled(level)) return;
  if (const auto held_back = limiter.Admit(absl::Now())) {
    WriteLog(level, absl::StrCat(parts...), *held_back);
  }
}

}  // namespace cdp::service
