#pragma once

#include <cstdint>
#include <span>

namespace cdp::tools {

// Mixes 64 bits into 64 well-spread bits (SplitMix64 finaliser): derives independent streams,
// such as one per customer, from the run's seed.
[[nodiscard]] constexpr std::uint64_t Mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// xoshiro256** with our own helpers rather than <random>'s distributions, whose results differ
// between standard libraries: the same seed must give the same traffic everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (std::uint64_t& word : state_) {
      seed = Mix64(seed);
      word = seed;
    }
  }

  [[nodiscard]] std::uint64_t Bits() {
    const std::uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound); bound > 0. The multiply-shift bias is below 2^-32 for our bounds.
  [[nodiscard]] std::uint64_t Below(std::uint64_t bound) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(Bits()) * bound) >> 64);
  }

  // Uniform in [lo, hi].
  [[nodiscard]] std::int64_t Between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(Below(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  // Uniform in [0, 1).
  [[nodiscard]] double Unit() { return static_cast<double>(Bits() >> 11) * 0x1.0p-53; }

  [[nodiscard]] bool Chance(double probability) { return Unit() < probability; }

  // An index drawn with the given (not necessarily normalised) integer weights.
  [[nodiscard]] std::size_t Weighted(std::span<const std::uint32_t> weights) {
    std::uint64_t total = 0;
    for (std::uint32_t w : weights) total += w;
    std::uint64_t pick = Below(total);
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (pick < weights[i]) return i;
      pick -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  [[nodiscard]] static constexpr std::uint64_t Rotl(std::uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
  }

  std::uint64_t state_[4];
};

}  // namespace cdp::tools
