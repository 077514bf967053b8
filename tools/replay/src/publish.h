#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cdp/kafka/producer.h"
#include "load.h"

namespace cdp::tools::replay {

enum class OutputFormat { kProtobuf, kJson };

struct PublishOptions {
  std::string topic = "customer-events";
  // JSON records carry the header content-type: application/json.
  OutputFormat format = OutputFormat::kProtobuf;
  // Events per second; 0 = as fast as possible.
  double rate = 0.0;
  // How often to wait for every delivery so far and print a progress line; zero = only at the end.
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // Longest wait for deliveries, at a checkpoint or at the end.
  absl::Duration flush_timeout = absl::Seconds(60);
};

struct PublishSummary {
  // Events handed to the producer, and how many of them (the first ones) are known delivered.
  std::int64_t produced = 0;
  std::int64_t delivered = 0;
  absl::Duration elapsed;
  // Whether `stop` ended the run before the last event.
  bool stopped = false;
  // The first produce or delivery failure, which ends the run.
  absl::Status status;
};

// Publishes `events` in order, keyed by customer_id, to `options.topic`, pacing to `options.rate`,
// until all are delivered, `stop` turns true or a delivery fails; then waits for the deliveries
// (also when stopped). At every checkpoint it waits for the deliveries so far, so that a failure
// shows soon and `delivered` says how far the run surely got, then writes a progress line.
[[nodiscard]] PublishSummary Publish(std::span<const ReplayEvent> events, kafka::Producer& producer,
                                     const PublishOptions& options, const std::atomic<bool>& stop,
                                     std::ostream& progress);

// The latest occurred_at at or before which every event was delivered, when the first `delivered`
// of the sorted `events` were: where a later run resumes. nullopt when no instant is complete.
[[nodiscard]] std::optional<absl::Time> LastCompleteOccurredAt(std::span<const ReplayEvent> events,
                                                               std::int64_t delivered);

}  // namespace cdp::tools::replay
