#include "publish.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "cdp/core/codec.h"

namespace cdp::tools::replay {
namespace {

using Clock = std::chrono::steady_clock;

// Longest single wait while pacing, so that a stop request is seen promptly.
constexpr auto kMaxPause = std::chrono::milliseconds(50);

}  // namespace

PublishSummary Publish(std::span<const ReplayEvent> events, kafka::Producer& producer,
                       const PublishOptions& options, const std::atomic<bool>& stop,
                       std::ostream& progress) {
  PublishSummary summary;
  const auto total = static_cast<std::int64_t>(events.size());
  const Clock::time_point start = Clock::now();
  const auto checkpoint_every = absl::ToChronoNanoseconds(options.checkpoint_interval);
  Clock::time_point last_checkpoint = start;
  std::int64_t produced_at_last_checkpoint = 0;
  std::vector<kafka::Header> headers;
  if (options.format == OutputFormat::kJson) {
    headers.push_back({.name = "content-type", .value = "application/json"});
  }
  // A failed delivery leaves unknown which records after the last good checkpoint arrived.
  bool delivery_failed = false;
  v1::CustomerEvent decoded;
  std::string json;

  while (summary.produced < total) {
    if (stop.load(std::memory_order_relaxed)) {
      summary.stopped = true;
      break;
    }
    Clock::time_point now = Clock::now();
    if (checkpoint_every > std::chrono::nanoseconds::zero() &&
        now - last_checkpoint >= checkpoint_every) {
      summary.status = producer.Flush(options.flush_timeout);
      if (!summary.status.ok()) {
        delivery_failed = true;
        break;
      }
      summary.delivered = summary.produced;
      now = Clock::now();
      const double seconds = std::chrono::duration<double>(now - last_checkpoint).count();
      progress << absl::StrFormat(
                      "replay: %d/%d events delivered (%.1f%%), %.0f events/s, occurred_at "
                      "reached %s\n",
                      summary.delivered, total,
                      100.0 * static_cast<double>(summary.delivered) / static_cast<double>(total),
                      static_cast<double>(summary.produced - produced_at_last_checkpoint) / seconds,
                      summary.delivered > 0 ? Rfc3339(events[summary.delivered - 1].occurred_at)
                                            : "-")
               << std::flush;
      last_checkpoint = now;
      produced_at_last_checkpoint = summary.produced;
    }
    if (options.rate > 0.0) {
      // Each event has its due time from the start, so that pauses and bursts even out.
      const auto due =
          start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                      static_cast<double>(summary.produced) / options.rate));
      if (now < due) {
        std::this_thread::sleep_for(std::min<Clock::duration>(due - now, kMaxPause));
        continue;
      }
    }

    const ReplayEvent& event = events[summary.produced];
    std::string_view value = event.protobuf;
    if (options.format == OutputFormat::kJson) {
      // Held as protobuf to save memory; the loader wrote it, so it parses.
      decoded.ParseFromString(event.protobuf);
      json = core::EventToJson(decoded);
      value = json;
    }
    summary.status = producer.Produce(options.topic, event.customer_id, value, headers);
    if (!summary.status.ok()) break;
    ++summary.produced;
  }

  // Also after a failure or a stop: what was handed to the producer is delivered, not dropped.
  const absl::Status flushed = producer.Flush(options.flush_timeout);
  if (flushed.ok() && !delivery_failed) {
    summary.delivered = summary.produced;
  } else if (summary.status.ok()) {
    summary.status = flushed;
  }
  summary.elapsed = absl::FromChrono(Clock::now() - start);
  return summary;
}

std::optional<absl::Time> LastCompleteOccurredAt(std::span<const ReplayEvent> events,
                                                 std::int64_t delivered) {
  auto end = events.begin() + delivered;
  // Delivered events that share their instant with an undelivered one do not complete it.
  if (end != events.end()) {
    const absl::Time incomplete = end->occurred_at;
    while (end != events.begin() && std::prev(end)->occurred_at == incomplete) --end;
  }
  if (end == events.begin()) return std::nullopt;
  return std::prev(end)->occurred_at;
}

}  // namespace cdp::tools::replay
