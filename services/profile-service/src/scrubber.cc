#include "scrubber.h"

#include <chrono>

#include "log.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace cdp::service {

Scrubber::Scrubber(state::Store& store, absl::Duration interval, prometheus::Registry& registry)
    : store_(store), interval_(interval) {
  auto& scrubs = prometheus::BuildCounter()
                     .Name("cdp_erasure_scrubs_total")
                     .Help(
                         "Passes that wiped erased customers from the state store's files "
                         "(flush and compaction of their keys), by result.")
                     .Register(registry);
  done_ = &scrubs.Add({{"result", "done"}});
  failed_ = &scrubs.Add({{"result", "failed"}});
  pending_ = &prometheus::BuildGauge()
                  .Name("cdp_erasure_scrub_pending")
                  .Help(
                      "1 while erased customers may still be in the state store's files, until "
                      "the next scrub (--erasure-scrub-interval).")
                  .Register(registry)
                  .Add({});
  pending_->Set(store_.ScrubPending() ? 1 : 0);
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, absl::ToChronoMilliseconds(interval_),
                           [this] { return stopping_; })) {
      lock.unlock();
      ScrubOnce();
      lock.lock();
    }
  });
}

Scrubber::~Scrubber() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  ScrubOnce();
}

void Scrubber::ScrubOnce() {
  if (!store_.ScrubPending()) {
    pending_->Set(0);
    return;
  }
  pending_->Set(1);
  if (absl::Status scrubbed = store_.Scrub(); !scrubbed.ok()) {
    failed_->Increment();
    Log(LogLevel::kError, scrubbed.message(), "; trying again in ",
        absl::FormatDuration(interval_));
    return;
  }
  done_->Increment();
  pending_->Set(store_.ScrubPending() ? 1 : 0);
}

}  // namespace cdp::service
