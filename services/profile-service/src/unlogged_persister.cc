#include "unlogged_persister.h"

#include "log.h"

namespace cdp::service {

UnloggedPersister::UnloggedPersister(state::Store& store) : store_(store) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return requested_ || stopping_; });
      if (!requested_) return;
      requested_ = false;
      lock.unlock();
      PersistOnce();
      lock.lock();
    }
  });
}

UnloggedPersister::~UnloggedPersister() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  PersistOnce();
}

void UnloggedPersister::Request() {
  {
    std::lock_guard lock(mutex_);
    requested_ = true;
  }
  wake_.notify_all();
}

void UnloggedPersister::PersistOnce() {
  if (absl::Status persisted = store_.PersistUnlogged(); !persisted.ok()) {
    Log(LogLevel::kWarn, "restored state is not durable yet (a crash now has the partitions ",
        "restored again): ", persisted.message());
  }
}

}  // namespace cdp::service
