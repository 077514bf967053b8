// Fuzzes the service's config file loader with any text as the file: it applies, or is refused
// with errors that each point into it (file:line:column), never with an exception.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cdp::service::Config config;
  const absl::Status status = cdp::service::ApplyConfigText(text, "fuzz.yaml", config);
  for (const absl::string_view line : absl::StrSplit(status.message(), '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "fuzz.yaml:")) {
      std::fprintf(stderr, "config_fuzzer: an error without a location: %s\n",
                   std::string(line).c_str());
      std::abort();
    }
  }
  return 0;
}
