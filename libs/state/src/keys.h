#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "cdp/common/strong_type.h"

// Key and value encodings; README.md documents the layout they implement.
namespace cdp::state::internal {

inline constexpr std::size_t kPartitionPrefixBytes = 4;
inline constexpr char kFormatVersionKey[] = "format_version";
inline constexpr char kFormatVersion[] = "3";
// Version 3 added the partition_state family; a version-2 store is upgraded by adding it.
inline constexpr char kFormatVersionWithoutPartitionState[] = "2";
// The last version without the timers family: refused with its own advice.
inline constexpr char kFormatVersionWithoutTimers[] = "1";

inline void AppendBigEndian(std::string& out, std::uint64_t value, std::size_t bytes) {
  for (std::size_t i = bytes; i > 0; --i) {
    out.push_back(static_cast<char>((value >> (8 * (i - 1))) & 0xff));
  }
}

inline std::uint64_t ReadBigEndian(std::string_view in) {
  std::uint64_t value = 0;
  for (char c : in) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

// Big-endian, so that bytewise key order is partition order and a partition's keys are one
// contiguous range. Partitions are never negative (checked at the API), so the successor of any
// prefix fits in the same four bytes.
inline std::string PartitionPrefix(std::uint32_t partition) {
  std::string prefix;
  AppendBigEndian(prefix, partition, kPartitionPrefixBytes);
  return prefix;
}

inline std::string PartitionBegin(Partition partition) {
  return PartitionPrefix(static_cast<std::uint32_t>(partition.value()));
}

// Exclusive end of the partition's range.
inline std::string PartitionEnd(Partition partition) {
  return PartitionPrefix(static_cast<std::uint32_t>(partition.value()) + 1);
}

inline std::string PartitionKey(Partition partition, std::string_view id) {
  std::string key = PartitionBegin(partition);
  key.append(id);
  return key;
}

// In the offsets family, after the partition's own key (the input offset): inside the
// partition's range, so DropPartition removes it too.
inline std::string RepartitionOffsetKey(Partition partition) {
  return PartitionKey(partition, "repartition");
}

// In the partition_state family, after the partition's own state record.
inline std::string ErasureKey(Partition partition, std::string_view erasure_id) {
  return PartitionKey(partition, erasure_id);
}

// In the default family: set by a commit that erased customers, removed by the Scrub that wiped
// them, so that a restart in between still scrubs.
inline constexpr char kScrubPendingKey[] = "scrub_pending";

// In the default family, per partition: set before its first commit without the write-ahead log
// (Store::CommitUnlogged), removed once a flush has put such commits in SST files. A crash in
// between may have lost them: the partition's state is then incomplete, whatever it says.
inline std::string UnloggedKey(Partition partition) {
  return "unlogged/" + PartitionBegin(partition);
}

inline std::optional<Partition> KeyPartition(std::string_view key) {
  if (key.size() < kPartitionPrefixBytes) return std::nullopt;
  const std::uint64_t partition = ReadBigEndian(key.substr(0, kPartitionPrefixBytes));
  if (partition > static_cast<std::uint64_t>(INT32_MAX)) return std::nullopt;
  return Partition(static_cast<std::int32_t>(partition));
}

inline std::string_view KeyId(std::string_view key) { return key.substr(kPartitionPrefixBytes); }

// Offsets and dedup expiries (Unix microseconds): 8 bytes, big-endian two's complement.
inline std::string EncodeInt64(std::int64_t value) {
  std::string out;
  AppendBigEndian(out, static_cast<std::uint64_t>(value), 8);
  return out;
}

inline std::optional<std::int64_t> DecodeInt64(std::string_view in) {
  if (in.size() != 8) return std::nullopt;
  return static_cast<std::int64_t>(ReadBigEndian(in));
}

// Timer due instants: unsigned, so that bytewise order is time order. Rounded up to the
// microsecond so that a timer is never due before its instant; instants before 1970 count as
// 1970 and the infinite future sorts last.
inline constexpr std::size_t kTimerDueBytes = 8;

inline std::uint64_t EncodeTimerDue(absl::Time due) {
  if (due == absl::InfiniteFuture()) return std::numeric_limits<std::uint64_t>::max();
  if (due <= absl::UnixEpoch()) return 0;
  // ToUnixMicros rounds down (and saturates far beyond any real instant).
  const auto micros = static_cast<std::uint64_t>(absl::ToUnixMicros(due));
  return absl::FromUnixMicros(static_cast<std::int64_t>(micros)) < due ? micros + 1 : micros;
}

inline absl::Time DecodeTimerDue(std::uint64_t micros) {
  if (micros > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return absl::InfiniteFuture();
  }
  return absl::FromUnixMicros(static_cast<std::int64_t>(micros));
}

// Partition, then due instant, then customer id: a partition's timers in due order, ties by id.
inline std::string TimerKey(Partition partition, std::uint64_t due_micros,
                            std::string_view customer_id) {
  std::string key = PartitionBegin(partition);
  AppendBigEndian(key, due_micros, kTimerDueBytes);
  key.append(customer_id);
  return key;
}

// The customer's PartitionKey within a TimerKey.
inline std::string TimerCustomerKey(std::string_view timer_key) {
  if (timer_key.size() < kPartitionPrefixBytes + kTimerDueBytes) return std::string(timer_key);
  std::string key(timer_key.substr(0, kPartitionPrefixBytes));
  key.append(timer_key.substr(kPartitionPrefixBytes + kTimerDueBytes));
  return key;
}

struct TimerKeyParts {
  std::uint64_t due_micros;
  std::string_view customer_id;
};

// nullopt for a key too short to be a timer's.
inline std::optional<TimerKeyParts> ParseTimerKey(std::string_view key) {
  if (key.size() < kPartitionPrefixBytes + kTimerDueBytes) return std::nullopt;
  return TimerKeyParts{ReadBigEndian(key.substr(kPartitionPrefixBytes, kTimerDueBytes)),
                       key.substr(kPartitionPrefixBytes + kTimerDueBytes)};
}

}  // namespace cdp::state::internal
