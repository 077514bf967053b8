#include "protobuf_log.h"

#include <google/protobuf/stubs/logging.h>

#include <map>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "log.h"

namespace cdp::service {

std::optional<std::uint64_t> RepeatLimiter::Admit(absl::Time now) {
  std::lock_guard lock(mutex_);
  if (now < next_) {
    ++held_back_;
    return std::nullopt;
  }
  next_ = now + interval_;
  return std::exchange(held_back_, 0);
}

namespace {

const char* LevelName(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return "INFO";
    case google::protobuf::LOGLEVEL_WARNING:
      return "WARN";
    default:
      return "ERROR";
  }
}

void LogFromProtobuf(google::protobuf::LogLevel level, const char* filename, int line,
                     const std::string& message) {
  static std::mutex mutex;
  // Never freed: protobuf may log from any thread until the process ends.
  static auto* const limiters = new std::map<std::pair<std::string, int>, RepeatLimiter>();
  RepeatLimiter* limiter;
  {
    std::lock_guard lock(mutex);
    limiter = &limiters->try_emplace({filename, line}, absl::Minutes(1)).first->second;
  }
  const auto held_back = limiter->Admit(absl::Now());
  if (!held_back) return;
  if (*held_back == 0) {
    Log(LevelName(level), "protobuf: ", message);
  } else {
    Log(LevelName(level), "protobuf: ", message, " (", *held_back,
        " more like it since the last such line)");
  }
}

}  // namespace

void RouteProtobufLogs() { google::protobuf::SetLogHandler(&LogFromProtobuf); }

}  // namespace cdp::service
