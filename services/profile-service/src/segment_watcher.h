#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/rules/catalogue.h"

namespace cdp::service {

// Notices when the segment file should be loaded again: on SIGHUP, or when its content differs
// from what was last read (looked at every `interval`; zero: only on SIGHUP). A file that did not
// change since it was last read is not parsed again, so an invalid one is reported once.
class SegmentWatcher {
 public:
  // Takes the file's content now as the one the running catalogue was parsed from (if it changed
  // in between, the first check parses it again and finds the same definitions or new ones).
  SegmentWatcher(std::string path, absl::Duration interval);

  // Makes SIGHUP ask for a reload instead of ending the process.
  static void InstallSignalHandler();
  // Asks for a reload as SIGHUP does (the admin endpoint); safe from any thread.
  static void RequestReload();

  // nullopt when there is nothing new; otherwise the file parsed again, or why it cannot be
  // (unreadable, invalid: the message names file, line and column).
  [[nodiscard]] std::optional<absl::StatusOr<rules::SegmentCatalogue>> Check(absl::Time now);

 private:
  std::string path_;
  absl::Duration interval_;
  absl::Time checked_ = absl::InfinitePast();
  std::uint64_t seen_digest_ = 0;
};

}  // namespace cdp::service
