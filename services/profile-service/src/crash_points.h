#pragma once

#include <atomic>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"

namespace cdp::service {

// The steps between which the delivery and state guarantees are decided.
enum class CrashPoint {
  kAfterPoll,         // records consumed, nothing processed
  kAfterProduce,      // outputs delivered, RocksDB batch not committed
  kAfterStateCommit,  // RocksDB committed, the group's offsets not
  kDuringRestore,     // part of a partition restored from the changelog
};

// A fault-testing hook: CDP_CRASH_AT=POINT:N in the environment makes the process SIGKILL itself
// the Nth time it reaches POINT (after-poll, after-produce, after-state-commit, during-restore),
// so a test can stop it exactly where a random kill rarely lands. Unset, it does nothing.
class CrashPoints {
 public:
  // InvalidArgument names the accepted form when the variable is set but malformed.
  [[nodiscard]] static absl::StatusOr<CrashPoints> FromEnvironment();
  [[nodiscard]] static absl::StatusOr<CrashPoints> Parse(std::string_view spec);

  CrashPoints() = default;
  CrashPoints(const CrashPoints& other)
      : point_(other.point_), count_(other.count_), reached_(other.reached_.load()) {}

  // Called from any thread.
  void Reached(CrashPoint point);

 private:
  std::optional<CrashPoint> point_;
  long count_ = 0;
  std::atomic<long> reached_ = 0;
};

}  // namespace cdp::service
