#pragma once

#include <atomic>
#include <cstdint>
#include <ostream>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "generator.h"
#include "options.h"
#include "sink.h"

namespace cdp::tools {

struct RunOptions {
  WireFormat format = WireFormat::kJson;
  // Events per second; 0 = as fast as possible.
  double rate = 0.0;
  // Between progress lines; zero = none.
  absl::Duration progress_interval = absl::ZeroDuration();
};

struct RunSummary {
  std::int64_t written = 0;
  std::int64_t invalid = 0;
  absl::Duration elapsed;
  // Whether `stop` ended the run before the generator did.
  bool stopped = false;
  // The first encoding or write error, which ends the run.
  absl::Status status;
};

// Moves records from `generator` into `sink` (without finishing it) until the generator ends,
// `stop` turns true or a write fails, pacing to `options.rate` and printing progress lines.
[[nodiscard]] RunSummary RunTraffic(Generator& generator, Sink& sink, const RunOptions& options,
                                    const std::atomic<bool>& stop, std::ostream& progress);

}  // namespace cdp::tools
