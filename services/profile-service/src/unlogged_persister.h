#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "cdp/state/store.h"

namespace cdp::service {

// Makes a restore's commits durable (state::Store::PersistUnlogged: a flush) on a thread of its
// own, once asked: an assignment then waits for the restore's writes, not for their flush, and
// neither do the batches after it. Until the flush is done a crash only costs restoring those
// partitions again. Persists once more as it stops, so a clean shutdown leaves nothing marked.
class UnloggedPersister {
 public:
  explicit UnloggedPersister(state::Store& store);
  ~UnloggedPersister();
  UnloggedPersister(const UnloggedPersister&) = delete;
  UnloggedPersister& operator=(const UnloggedPersister&) = delete;

  // Persists what is unlogged now, at once or right after the persist in progress.
  void Request();

 private:
  void PersistOnce();

  state::Store& store_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cdp::service
