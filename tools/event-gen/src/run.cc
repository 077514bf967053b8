#include "run.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_format.h"
#include "encoding.h"

namespace cdp::tools {
namespace {

using Clock = std::chrono::steady_clock;

// Longest single wait while pacing, so that a stop request is seen promptly.
constexpr auto kMaxPause = std::chrono::milliseconds(50);

absl::Duration Since(Clock::time_point start, Clock::time_point now) {
  return absl::FromChrono(now - start);
}

}  // namespace

RunSummary RunTraffic(Generator& generator, Sink& sink, const RunOptions& options,
                      const std::atomic<bool>& stop, std::ostream& progress) {
  RunSummary summary;
  const Clock::time_point start = Clock::now();
  const auto progress_every = absl::ToChronoNanoseconds(options.progress_interval);
  Clock::time_point last_progress = start;
  std::int64_t written_at_last_progress = 0;

  Record record;
  std::string value;
  while (true) {
    if (stop.load(std::memory_order_relaxed)) {
      summary.stopped = true;
      break;
    }
    Clock::time_point now = Clock::now();
    if (options.rate > 0.0) {
      // Each event has its due time from the start, so that pauses and bursts even out.
      const auto due =
          start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                      static_cast<double>(summary.written) / options.rate));
      if (now < due) {
        std::this_thread::sleep_for(std::min<Clock::duration>(due - now, kMaxPause));
        continue;
      }
    }
    if (progress_every > std::chrono::nanoseconds::zero() &&
        now - last_progress >= progress_every) {
      const double seconds = std::chrono::duration<double>(now - last_progress).count();
      progress << absl::StrFormat(
                      "event-gen: %d events, %d invalid, %.0f events/s\n", summary.written,
                      summary.invalid,
                      static_cast<double>(summary.written - written_at_last_progress) / seconds)
               << std::flush;
      last_progress = now;
      written_at_last_progress = summary.written;
    }

    if (!generator.Next(record)) break;
    std::string_view encoded;
    if (record.defect == Defect::kGarbage) {
      encoded = record.garbage;
    } else {
      value.clear();
      if (options.format == WireFormat::kJson) {
        summary.status = AppendEventJson(record.event, value);
        if (!summary.status.ok()) break;
      } else {
        AppendEventProtobuf(record.event, value);
      }
      encoded = value;
    }
    summary.status = sink.Write(record.key, encoded);
    if (!summary.status.ok()) break;
    ++summary.written;
    if (record.defect != Defect::kNone) ++summary.invalid;
  }
  summary.elapsed = Since(start, Clock::now());
  return summary;
}

}  // namespace cdp::tools
