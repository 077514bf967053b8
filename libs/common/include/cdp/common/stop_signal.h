#pragma once

#include <atomic>

namespace cdp {

// SIGINT and SIGTERM ask the process to stop: the first sets StopRequested() and the process
// finishes what it has in hand; a second kills it at once, should that hang (an unreachable
// broker, say).
void InstallStopHandlers();

// Set by the first SIGINT or SIGTERM once InstallStopHandlers ran.
[[nodiscard]] const std::atomic<bool>& StopRequested();

// The signal that asked to stop; 0 before one did.
[[nodiscard]] int StopSignal();

}  // namespace cdp
