#include <jemalloc/jemalloc.h>
#include <sys/types.h>

#include <cstddef>

#include "gtest/gtest.h"

namespace cdp::allocator {
namespace {

template <typename T>
T Option(const char* name) {
  T value{};
  std::size_t size = sizeof(value);
  EXPECT_EQ(mallctl(name, &value, &size, nullptr, 0), 0) << "mallctl " << name;
  return value;
}

// This executable links the options as the service does, so jemalloc must have started with
// them (unless MALLOC_CONF overrides them, which the test environment does not set).
TEST(JemallocOptionsTest, AnExecutableThatLinksThemStartsWithThem) {
  EXPECT_STREQ(Option<const char*>("opt.thp"), "always");
  EXPECT_STREQ(Option<const char*>("opt.metadata_thp"), "auto");
  EXPECT_EQ(Option<ssize_t>("opt.dirty_decay_ms"), 30000);
  EXPECT_EQ(Option<ssize_t>("opt.muzzy_decay_ms"), 30000);
}

}  // namespace
}  // namespace cdp::allocator
