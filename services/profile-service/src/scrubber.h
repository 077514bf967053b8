#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/time/time.h"
#include "cdp/state/store.h"
#include "prometheus/registry.h"

namespace prometheus {
class Counter;
class Gauge;
}  // namespace prometheus

namespace cdp::service {

// Wipes erased customers from the state store's files every `interval` (state::Store::Scrub), on
// a thread of its own: a scrub flushes and compacts, which the processing loop must not wait for.
// A last scrub runs when it stops, so a clean shutdown leaves nothing erased on disk.
class Scrubber {
 public:
  Scrubber(state::Store& store, absl::Duration interval, prometheus::Registry& registry);
  ~Scrubber();
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

 private:
  void ScrubOnce();

  state::Store& store_;
  absl::Duration interval_;
  prometheus::Counter* done_;
  prometheus::Counter* failed_;
  prometheus::Gauge* pending_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cdp::service
