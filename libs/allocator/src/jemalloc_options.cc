#include "cdp/allocator/jemalloc_options.h"

#include <jemalloc/jemalloc.h>

// jemalloc reads this variable before its first allocation; the executable's definition takes
// the place of the library's own, empty one.
const char* malloc_conf = cdp::allocator::kJemallocOptions;
