#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "cdp/common/partitioner.h"
#include "cdp/core/engine.h"
#include "cdp/http/server.h"
#include "cdp/kafka/producer.h"

namespace cdp::service {

// Where an erasure requested over HTTP is published: the input topic, in the customer's
// partition, so that it is ordered with the customer's other events like any erasure event.
struct ErasureTarget {
  std::string topic;
  std::int32_t partitions = 1;
  Partitioner partitioner = Partitioner::kMurmur2;
};

// POST /v1/admin/erasures/{customer_id}: publishes an `erasure` event for the customer and
// waits for the broker to acknowledge it. 202 with the event id once it is in the topic (the
// erasure then happens as the partition's owner reaches it), 400 for an id the pipeline would
// refuse, 503 when the broker did not take it (nothing was published, or it may be once: an
// erasure applied twice is harmless).
class ErasureEndpoint {
 public:
  ErasureEndpoint(std::unique_ptr<kafka::Producer> producer, ErasureTarget target);

  [[nodiscard]] http::Response Handle(const core::Engine& engine, std::string_view customer_id,
                                      absl::Time now);

 private:
  std::unique_ptr<kafka::Producer> producer_;
  ErasureTarget target_;
  // A Flush reports the failures since the previous one: one request at a time owns them.
  std::mutex mutex_;
};

// POST /v1/admin/reload: reads and checks the segment file; 422 with the errors (file, line,
// column) if it is invalid, else 202 and the processing loop loads it as on SIGHUP.
[[nodiscard]] http::Response ReloadResponse(const std::string& segments_path);

}  // namespace cdp::service
