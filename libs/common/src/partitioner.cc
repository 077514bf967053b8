#include "cdp/common/partitioner.h"

#include <array>

namespace cdp {
namespace {

// CRC-32 (IEEE 802.3, reflected), as librdkafka's rd_crc32.
constexpr std::array<std::uint32_t, 256> MakeCrcTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1U) != 0 ? (crc >> 1) ^ 0xEDB88320U : crc >> 1;
    table[i] = crc;
  }
  return table;
}

constexpr std::array<std::uint32_t, 256> kCrcTable = MakeCrcTable();

std::uint32_t Crc32(std::string_view data) {
  std::uint32_t crc = 0xFFFFFFFFU;
  for (const char c : data) {
    crc = kCrcTable[(crc ^ static_cast<unsigned char>(c)) & 0xFFU] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFU;
}

// Kafka's murmur2 (MurmurHash2 with Kafka's seed), on unsigned arithmetic so that overflow wraps
// as Java's int does.
std::uint32_t Murmur2(std::string_view data) {
  constexpr std::uint32_t kSeed = 0x9747b28cU;
  constexpr std::uint32_t kMultiplier = 0x5bd1e995U;
  constexpr int kShift = 24;
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(data[i]));
  };
  const std::size_t length = data.size();
  std::uint32_t hash = kSeed ^ static_cast<std::uint32_t>(length);
  const std::size_t whole_words = length / 4;
  for (std::size_t i = 0; i < whole_words; ++i) {
    const std::size_t at = i * 4;
    std::uint32_t k = byte(at) | (byte(at + 1) << 8) | (byte(at + 2) << 16) | (byte(at + 3) << 24);
    k *= kMultiplier;
    k ^= k >> kShift;
    k *= kMultiplier;
    hash *= kMultiplier;
    hash ^= k;
  }
  const std::size_t tail = length & ~static_cast<std::size_t>(3);
  switch (length % 4) {
    case 3:
      hash ^= byte(tail + 2) << 16;
      [[fallthrough]];
    case 2:
      hash ^= byte(tail + 1) << 8;
      [[fallthrough]];
    case 1:
      hash ^= byte(tail);
      hash *= kMultiplier;
      break;
    default:
      break;
  }
  hash ^= hash >> 13;
  hash *= kMultiplier;
  hash ^= hash >> 15;
  return hash;
}

}  // namespace

Partition PartitionFor(std::string_view key, std::int32_t partition_count,
                       Partitioner partitioner) {
  const auto count = static_cast<std::uint32_t>(partition_count);
  const std::uint32_t hash =
      partitioner == Partitioner::kConsistent ? Crc32(key) : Murmur2(key) & 0x7FFFFFFFU;
  return Partition(static_cast<std::int32_t>(hash % count));
}

std::optional<Partitioner> ParsePartitioner(std::string_view name) {
  if (name == "consistent" || name == "consistent_random") return Partitioner::kConsistent;
  if (name == "murmur2" || name == "murmur2_random") return Partitioner::kMurmur2;
  return std::nullopt;
}

std::string_view PartitionerName(Partitioner partitioner) {
  return partitioner == Partitioner::kConsistent ? "consistent" : "murmur2";
}

}  // namespace cdp
