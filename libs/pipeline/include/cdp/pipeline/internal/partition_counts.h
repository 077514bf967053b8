#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "cdp/v1/customer_profile.pb.h"
#include "cdp/v1/partition_state.pb.h"

namespace cdp::pipeline::internal {

// The key of PartitionState::members: the segment id, or "dimension/tier".
[[nodiscard]] std::string MemberKey(std::string_view dimension, std::string_view segment);

// Adds a stored profile to its partition's counts: members per segment and tier when `members`
// is given, the rfm population when `population` is.
void CountProfile(const v1::CustomerProfile& profile,
                  google::protobuf::Map<std::string, std::int64_t>* members,
                  v1::RfmPopulation* population);

}  // namespace cdp::pipeline::internal
