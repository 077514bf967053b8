#include "cdp/common/partitioner.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace cdp {
namespace {

TEST(Partitioner, Crc32MatchesTheStandardCheckValue) {
  // CRC-32("123456789") = 0xCBF43926, the check value of every CRC-32 (IEEE) implementation.
  constexpr std::uint32_t kCheck = 0xCBF43926U;
  for (const std::int32_t count : {1, 7, 8, 12, 1000, 2147483647}) {
    EXPECT_EQ(PartitionFor("123456789", count, Partitioner::kConsistent).value(),
              static_cast<std::int32_t>(kCheck % static_cast<std::uint32_t>(count)))
        << count;
  }
}

TEST(Partitioner, Murmur2MatchesKafkasJavaClient) {
  // Values of Kafka's Utils.murmur2 (its unit test's vectors), sign bit cleared as the Java
  // partitioner does.
  const std::pair<std::string, std::int32_t> vectors[] = {
      {"21", -973932308},
      {"foobar", -790332482},
      {"a-little-bit-long-string", -985981536},
      {"a-little-bit-longer-string", -1486304829},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
      {"abc", 479470107},
  };
  for (const auto& [key, hash] : vectors) {
    const auto positive = static_cast<std::uint32_t>(hash) & 0x7FFFFFFFU;
    for (const std::int32_t count : {1, 3, 8, 16, 1000, 2147483647}) {
      EXPECT_EQ(PartitionFor(key, count, Partitioner::kMurmur2).value(),
                static_cast<std::int32_t>(positive % static_cast<std::uint32_t>(count)))
          << key << " over " << count;
    }
  }
}

TEST(Partitioner, EveryPartitionIsReachedAndResultsStayInRange) {
  for (const Partitioner partitioner : {Partitioner::kConsistent, Partitioner::kMurmur2}) {
    std::vector<int> hits(8, 0);
    for (int i = 0; i < 1000; ++i) {
      const Partition p = PartitionFor("customer-" + std::to_string(i), 8, partitioner);
      ASSERT_GE(p.value(), 0);
      ASSERT_LT(p.value(), 8);
      ++hits[static_cast<std::size_t>(p.value())];
    }
    for (const int count : hits) EXPECT_GT(count, 60) << PartitionerName(partitioner);
  }
}

TEST(Partitioner, ParsesNamesAndLibrdkafkaAliases) {
  EXPECT_EQ(ParsePartitioner("consistent"), Partitioner::kConsistent);
  EXPECT_EQ(ParsePartitioner("consistent_random"), Partitioner::kConsistent);
  EXPECT_EQ(ParsePartitioner("murmur2"), Partitioner::kMurmur2);
  EXPECT_EQ(ParsePartitioner("murmur2_random"), Partitioner::kMurmur2);
  EXPECT_EQ(ParsePartitioner("random"), std::nullopt);
  EXPECT_EQ(PartitionerName(Partitioner::kMurmur2), "murmur2");
}

}  // namespace
}  // namespace cdp
