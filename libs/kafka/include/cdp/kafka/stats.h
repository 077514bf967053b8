#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cdp::kafka {

// What a client's librdkafka statistics (librdkafka's STATISTICS.md) say about its brokers and
// queue, for monitoring.
struct BrokerStats {
  std::string address;  // "host:port"
  std::int32_t node_id = -1;
  // Mean request round trip over the last statistics interval; zero when no request completed.
  absl::Duration average_rtt = absl::ZeroDuration();
};

struct ClientStats {
  // Brokers the client knows by node id; bootstrap-only entries are left out.
  std::vector<BrokerStats> brokers;
  // Messages waiting in the client's queues (a producer's: not yet delivered).
  std::int64_t queued_messages = 0;
};

// Parses one statistics JSON document as librdkafka emits it.
[[nodiscard]] absl::StatusOr<ClientStats> ParseClientStats(std::string_view json);

// Statistics delivery for a client: `callback` gets each document, parsed, every `interval`,
// on the thread that polls the client (Consumer::Poll, Producer::Produce and Flush).
struct StatsOptions {
  std::function<void(const absl::StatusOr<ClientStats>&)> callback = {};
  absl::Duration interval = absl::Seconds(5);
};

}  // namespace cdp::kafka
