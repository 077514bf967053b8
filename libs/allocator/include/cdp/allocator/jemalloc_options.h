#pragma once

namespace cdp::allocator {

// The jemalloc options the service's executables start with, in MALLOC_CONF's syntax. jemalloc
// reads MALLOC_CONF from the environment after them, so an operator can override any of them.
// Each option and why: libs/allocator/README.md.
inline constexpr char kJemallocOptions[] =
    "thp:always,metadata_thp:auto,dirty_decay_ms:30000,muzzy_decay_ms:30000";

}  // namespace cdp::allocator
