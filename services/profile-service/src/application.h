#pragma once

#include <atomic>

#include "config.h"

namespace cdp::service {

// Exit codes of profile-service.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeError = 1;
inline constexpr int kExitBadConfig = 2;

// Wires the concrete adapters (RocksDB, Kafka or the embedded broker, HTTP, metrics) around the
// pipeline and runs until `stop` becomes true. Returns the process exit code.
int RunApplication(const Config& config, const std::atomic<bool>& stop);

}  // namespace cdp::service
