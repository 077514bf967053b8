#include "crash_points.h"

#include <csignal>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"
#include "log.h"

namespace cdp::service {
namespace {

constexpr std::pair<std::string_view, CrashPoint> kPoints[] = {
    {"after-poll", CrashPoint::kAfterPoll},
    {"after-produce", CrashPoint::kAfterProduce},
    {"after-state-commit", CrashPoint::kAfterStateCommit},
    {"during-restore", CrashPoint::kDuringRestore}};

std::string_view Name(CrashPoint point) {
  for (const auto& [name, value] : kPoints) {
    if (value == point) return name;
  }
  return "unknown";
}

}  // namespace

absl::StatusOr<CrashPoints> CrashPoints::FromEnvironment() {
  const char* spec = std::getenv("CDP_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return CrashPoints();
  return Parse(spec);
}

absl::StatusOr<CrashPoints> CrashPoints::Parse(std::string_view spec) {
  const auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "CDP_CRASH_AT='", ToAbsl(spec),
        "' is not POINT:N with POINT one of after-poll, after-produce, after-state-commit, "
        "during-restore and N a count from 1"));
  };
  const std::size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return invalid();
  long count = 0;
  if (!absl::SimpleAtoi(ToAbsl(spec.substr(colon + 1)), &count) || count < 1) return invalid();
  for (const auto& [name, point] : kPoints) {
    if (name == spec.substr(0, colon)) {
      CrashPoints points;
      points.point_ = point;
      points.count_ = count;
      return points;
    }
  }
  return invalid();
}

void CrashPoints::Reached(CrashPoint point) {
  if (point_ != point || reached_.fetch_add(1) + 1 != count_) return;
  Log(LogLevel::kWarn, "CDP_CRASH_AT: reached ", ToAbsl(Name(point)), " ", count_,
      " times; killing the process");
  std::raise(SIGKILL);
}

}  // namespace cdp::service
