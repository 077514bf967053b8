#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cdp/common/strong_type.h"
#include "cdp/core/population.h"
#include "cdp/state/store.h"
#include "cdp/v1/partition_state.pb.h"

namespace cdp::pipeline::internal {

// The key of PartitionState::members: the segment id, or "dimension/tier".
[[nodiscard]] std::string MemberKey(std::string_view dimension, std::string_view segment);

// What a partition's timers and counts read of a stored profile. A restore reads it for every
// profile it writes, and parsing whole profiles (history, applied events) was most of its time.
struct ProfileDigest {
  std::optional<absl::Time> timer_due;
  std::optional<core::RfmSample> rfm;
  // Views into the serialized profile.
  std::string_view customer_id;
  std::vector<std::string_view> segments;
  std::vector<std::pair<std::string_view, std::string_view>> tiers;  // dimension, tier
};

// Reads a serialized cdp.v1.CustomerProfile's digest, skipping its other fields, into `digest`
// (whose vectors it reuses). false when the bytes are not a well-formed message; the fields it
// skips are checked when the profile is loaded.
[[nodiscard]] bool DigestProfile(std::string_view serialized, ProfileDigest& digest);

// Calls `visit` with the digest of each stored profile of `partition`, in key order, until it
// returns false. A profile that does not scan is DataLoss.
[[nodiscard]] absl::Status ForEachProfileDigest(
    const state::Store& store, Partition partition,
    const std::function<bool(std::string_view customer_id, const ProfileDigest&)>& visit);

// Member counts of many profiles: a string per segment and tier, not per profile.
class MemberTally {
 public:
  void Add(const ProfileDigest& digest);
  void AddTo(google::protobuf::Map<std::string, std::int64_t>& members) const;

 private:
  absl::flat_hash_map<std::string, std::int64_t> counts_;
  std::string tier_key_;  // reused to look up "dimension/tier"
};

}  // namespace cdp::pipeline::internal
