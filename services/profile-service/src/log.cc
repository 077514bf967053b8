#include "log.h"

#include <atomic>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>

namespace cdp::service {
namespace {

std::atomic<LogLevel> minimum_level = LogLevel::kInfo;
std::atomic<LogFormat> log_format = LogFormat::kText;

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

}  // namespace

std::string_view LogLevelName(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (kLevelNames[i] == name) return static_cast<LogLevel>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("'", absl::string_view(name.data(), name.size()),
                                                 "' is not one of: debug, info, warn, error"));
}

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat("'", absl::string_view(name.data(), name.size()),
                                                 "' is not one of: text, json"));
}

void ConfigureLog(LogLevel minimum, LogFormat format) {
  minimum_level = minimum;
  log_format = format;
}

bool LogEnabled(LogLevel level) { return level >= minimum_level.load(std::memory_order_relaxed); }

void WriteLog(LogLevel level, std::string_view message, std::uint64_t held_back) {
  const std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (log_format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    nlohmann::ordered_json object = {
        {"time", time}, {"level", LogLevelName(level)}, {"message", message}};
    if (held_back > 0) object["held_back"] = held_back;
    // Invalid UTF-8 (a quoted input id) is replaced rather than failing the line.
    line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    std::string upper(LogLevelName(level));
    for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
    line = absl::StrCat(time, " ", upper, " ", absl::string_view(message.data(), message.size()));
    if (held_back > 0) {
      absl::StrAppend(&line, " (", held_back, " more like it since the last such line)");
    }
  }
  line += '\n';
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::cerr << line << std::flush;
}

std::optional<std::uint64_t> RepeatLimiter::Admit(absl::Time now) {
  std::lock_guard lock(mutex_);
  if (now < next_) {
    ++held_back_;
    return std::nullopt;
  }
  next_ = now + interval_;
  return std::exchange(held_back_, 0);
}

}  // namespace cdp::service
