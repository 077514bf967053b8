#include "cdp/common/stable_hash.h"

#include <array>

namespace cdp {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

// FNV-1a leaves the high bits weakly mixed; a final avalanche (from MurmurHash3's fmix64) fixes it.
std::uint64_t Avalanche(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::uint64_t StableHash64(std::string_view data, std::uint64_t seed) {
  std::uint64_t h = kFnvOffset ^ Avalanche(seed + 0x9e3779b97f4a7c15ULL);
  for (unsigned char c : data) {
    h ^= c;
    h *= kFnvPrime;
  }
  return Avalanche(h ^ data.size());
}

std::string StableHashHex128(std::string_view data) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
  std::string out(32, '0');
  const std::uint64_t halves[2] = {StableHash64(data, 1), StableHash64(data, 2)};
  for (int half = 0; half < 2; ++half) {
    for (int i = 0; i < 16; ++i) {
      out[half * 16 + i] = kHex[(halves[half] >> (60 - 4 * i)) & 0xF];
    }
  }
  return out;
}

}  // namespace cdp
