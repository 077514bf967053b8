#pragma once

#include <iosfwd>
#include <memory>
#include <string_view>

#include "cdp/state/store.h"

namespace cdp::profilectl {

// Opens a profile-service state directory (its --data-dir) for `command`. The store admits one
// process at a time and has no read-only mode, so the service must be stopped. A missing
// directory is an error: opening would create an empty store. On failure says why on `err` and
// returns nullptr.
[[nodiscard]] std::unique_ptr<state::Store> OpenStateDir(std::string_view command,
                                                         std::string_view dir, std::ostream& err);

}  // namespace cdp::profilectl
