#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "options.h"

namespace cdp::tools {

// Where generated records go.
class Sink {
 public:
  virtual ~Sink() = default;

  // Takes one record; `key` and `value` need only live for the call.
  [[nodiscard]] virtual absl::Status Write(std::string_view key, std::string_view value) = 0;

  // Delivers everything written so far; an error says what may have been lost.
  [[nodiscard]] virtual absl::Status Finish() = 0;
};

// One value per line (keys are dropped: the events carry their customer_id). "-" is standard
// output.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Sink>> OpenFileSink(const std::string& path);

struct KafkaSinkOptions {
  std::string brokers;
  std::string topic;
  WireFormat format = WireFormat::kJson;
  std::vector<std::pair<std::string, std::string>> properties = {};
  // How long Finish waits for outstanding deliveries.
  absl::Duration flush_timeout = absl::Seconds(60);
};

// Publishes keyed records; JSON ones carry the header content-type: application/json.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Sink>> OpenKafkaSink(KafkaSinkOptions options);

// The bootstrap servers in a file written by tools/kafka-local: its first line, trimmed.
[[nodiscard]] absl::StatusOr<std::string> ReadBootstrapFile(const std::string& path);

}  // namespace cdp::tools
