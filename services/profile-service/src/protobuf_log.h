#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "absl/time/time.h"

namespace cdp::service {

// Lets a repeated message through the first time, then at most once per `interval`: one kind of
// bad input arriving a million times makes a few log lines, not a million.
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

// Sends what the protobuf library logs (e.g. a string field of an input record that is not
// UTF-8, once per such record) to the service's log, each source line of it rate-limited to one
// message a minute.
void RouteProtobufLogs();

}  // namespace cdp::service
