#include "state_dir.h"

#include <filesystem>
#include <ostream>
#include <string>
#include <system_error>

#include "absl/strings/string_view.h"

namespace cdp::profilectl {

std::unique_ptr<state::Store> OpenStateDir(std::string_view command, std::string_view dir,
                                           std::ostream& err) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    err << "profilectl " << command << ": no state directory at '" << dir << "'\n";
    return nullptr;
  }
  auto store = state::Store::Open(state::StoreOptions{.path = std::string(dir)});
  if (!store.ok()) {
    err << "profilectl " << command << ": " << store.status().message() << "\n";
    // RocksDB names its LOCK file when another process holds the directory.
    if (store.status().message().find("LOCK") != absl::string_view::npos) {
      err << "profilectl " << command
          << ": the store cannot be opened read-only alongside a running profile-service; stop "
             "the service, then "
          << command << " (get, stats and explain can also ask a running service: --url)\n";
    }
    return nullptr;
  }
  return *std::move(store);
}

}  // namespace cdp::profilectl
