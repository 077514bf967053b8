#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "cdp/common/strong_type.h"

namespace cdp {

// How a Kafka producer maps a record's key to a partition. State is partitioned like the input
// topic, so the service must hash customer ids as the upstream producers hash their keys.
enum class Partitioner {
  // CRC-32 of the key modulo the partition count: librdkafka's default (`consistent_random`,
  // for keyed records), and so the default of kcat and the Confluent clients built on it
  // (Python, Go, .NET, C/C++).
  kConsistent,
  // The Java client's default (murmur2, sign bit cleared, modulo the partition count); librdkafka
  // calls it `murmur2_random`.
  kMurmur2,
};

// The partition `key` goes to out of `partition_count` (> 0).
[[nodiscard]] Partition PartitionFor(std::string_view key, std::int32_t partition_count,
                                     Partitioner partitioner);

// "consistent" or "murmur2" (librdkafka's names `consistent_random` and `murmur2_random` are
// accepted too); nullopt for anything else.
[[nodiscard]] std::optional<Partitioner> ParsePartitioner(std::string_view name);
[[nodiscard]] std::string_view PartitionerName(Partitioner partitioner);

}  // namespace cdp
