#include "segment_watcher.h"

#include <signal.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cdp/common/stable_hash.h"

namespace cdp::service {
namespace {

std::atomic<bool> reload_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void OnSighup(int) { reload_requested.store(true); }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read segment file '", path, "'"));
  return std::move(text).str();
}

}  // namespace

SegmentWatcher::SegmentWatcher(std::string path, absl::Duration interval)
    : path_(std::move(path)), interval_(interval) {
  if (absl::StatusOr<std::string> text = ReadFile(path_); text.ok()) {
    seen_digest_ = StableHash64(*text);
  }
}

void SegmentWatcher::InstallSignalHandler() {
  struct sigaction action {};
  action.sa_handler = OnSighup;
  // A reload request must not make a system call of some thread fail with EINTR.
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGHUP, &action, nullptr);
}

void SegmentWatcher::RequestReload() { reload_requested.store(true); }

std::optional<absl::StatusOr<rules::SegmentCatalogue>> SegmentWatcher::Check(absl::Time now) {
  const bool signalled = reload_requested.exchange(false);
  const bool due = interval_ > absl::ZeroDuration() && now - checked_ >= interval_;
  if (!signalled && !due) return std::nullopt;
  checked_ = now;
  absl::StatusOr<std::string> text = ReadFile(path_);
  if (!text.ok()) {
    // Reported on SIGHUP; while watching, a file being replaced may be missing for a moment.
    if (!signalled) return std::nullopt;
    return text.status();
  }
  const std::uint64_t digest = StableHash64(*text);
  if (!signalled && digest == seen_digest_) return std::nullopt;
  seen_digest_ = digest;
  return rules::ParseSegmentCatalogue(*text, path_);
}

}  // namespace cdp::service
