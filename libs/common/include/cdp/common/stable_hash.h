#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cdp {

// Hashes that never change between runs, builds or machines, for ids that are published (change
// ids) and for values persisted on disk. Not for security.
[[nodiscard]] std::uint64_t StableHash64(std::string_view data, std::uint64_t seed = 0);

// 128 bits as 32 lowercase hex characters.
[[nodiscard]] std::string StableHashHex128(std::string_view data);

}  // namespace cdp
