#include "protobuf_log.h"

#include <google/protobuf/stubs/logging.h>

#include <map>
#include <string>

#include "absl/time/clock.h"
#include "log.h"

namespace cdp::service {

namespace {

LogLevel FromProtobuf(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return LogLevel::kInfo;
    case google::protobuf::LOGLEVEL_WARNING:
      return LogLevel::kWarn;
    default:
      return LogLevel::kError;
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
  LogLimited(*limiter, FromProtobuf(level), "protobuf: ", message);
}

}  // namespace

void RouteProtobufLogs() { google::protobuf::SetLogHandler(&LogFromProtobuf); }

}  // namespace cdp::service
