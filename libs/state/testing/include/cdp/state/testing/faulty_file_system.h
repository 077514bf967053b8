#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

// For tests of what the state store and its users do when storage fails: a RocksDB file system
// over the local one that fails file writes or syncs on demand.
namespace cdp::state::testing {

enum class Fault {
  kWrite,    // a write fails with an I/O error, as a failing device's would
  kSync,     // an fsync fails
  kNoSpace,  // a write fails because the disk is full
};

class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

  static const char* kClassName() { return "FaultyFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // nullopt: storage works again.
  void Inject(std::optional<Fault> fault) { fault_.store(fault ? static_cast<int>(*fault) : -1); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* debug) override {
    std::unique_ptr<rocksdb::FSWritableFile> real;
    rocksdb::IOStatus created = target()->NewWritableFile(name, options, &real, debug);
    if (created.ok()) *file = std::make_unique<File>(std::move(real), *this);
    return created;
  }

 private:
  class File final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> real, const FaultyFileSystem& fs)
        : FSWritableFileOwnerWrapper(std::move(real)), fs_(fs) {}

    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override {
      if (auto failed = fs_.WriteFailure()) return *failed;
      return FSWritableFileOwnerWrapper::Append(data, options, debug);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                             const rocksdb::DataVerificationInfo& info,
                             rocksdb::IODebugContext* debug) override {
      if (auto failed = fs_.WriteFailure()) return *failed;
      return FSWritableFileOwnerWrapper::Append(data, options, info, debug);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override {
      if (fs_.Failing(Fault::kSync)) return rocksdb::IOStatus::IOError("injected disk fault");
      return FSWritableFileOwnerWrapper::Sync(options, debug);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                            rocksdb::IODebugContext* debug) override {
      if (fs_.Failing(Fault::kSync)) return rocksdb::IOStatus::IOError("injected disk fault");
      return FSWritableFileOwnerWrapper::Fsync(options, debug);
    }

   private:
    const FaultyFileSystem& fs_;
  };

  [[nodiscard]] bool Failing(Fault fault) const { return fault_.load() == static_cast<int>(fault); }

  [[nodiscard]] std::optional<rocksdb::IOStatus> WriteFailure() const {
    if (Failing(Fault::kWrite)) return rocksdb::IOStatus::IOError("injected disk fault");
    if (Failing(Fault::kNoSpace)) return rocksdb::IOStatus::NoSpace("injected: disk full");
    return std::nullopt;
  }

  std::atomic<int> fault_{-1};
};

// RocksDB recovers from a full disk by itself, looking every few seconds whether there is room
// again; meanwhile Store::Recover answers that it is still failing. Polls until it succeeds.
template <typename StoreLike>
[[nodiscard]] bool RecoversWithin(StoreLike& store, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!store.Recover().ok()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace cdp::state::testing
