#pragma once

namespace cdp::allocator {

// The jemalloc options the service's executables start with, in MALLOC_CONF's syntax. jemalloc
// reads MALLOC_CONF from the environment after them, so an operator can override any of them.
// Why (libs/allocator/README.md): a batch's working memory is freed at its end and taken again
// by the next batch; given back to the kernel as jemalloc does by default, it was faulted in
// again page by page every batch.
// - thp:always, metadata_thp:auto: jemalloc's memory in transparent huge pages, one page fault
//   and one TLB entry per 2 MiB instead of per 4 KiB.
// - dirty_decay_ms, muzzy_decay_ms 30000: freed memory is kept for reuse for 30 s before it goes
//   back to the kernel, longer than a batch's cycle of a second or two.
inline constexpr char kJemallocOptions[] =
    "thp:always,metadata_thp:auto,dirty_decay_ms:30000,muzzy_decay_ms:30000";

}  // namespace cdp::allocator
