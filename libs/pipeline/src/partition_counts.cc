#include "cdp/pipeline/internal/partition_counts.h"

#include <optional>

#include "cdp/core/population.h"

namespace cdp::pipeline::internal {

std::string MemberKey(std::string_view dimension, std::string_view segment) {
  std::string key(dimension);
  if (!key.empty()) key.push_back('/');
  key.append(segment);
  return key;
}

void CountProfile(const v1::CustomerProfile& profile,
                  google::protobuf::Map<std::string, std::int64_t>* members,
                  v1::RfmPopulation* population) {
  if (population != nullptr) {
    core::UpdatePopulation(std::nullopt, core::SampleOf(profile), *population);
  }
  if (members == nullptr) return;
  for (const std::string& segment : profile.segments()) ++(*members)[segment];
  for (const v1::CustomerProfile::HeldTier& held : profile.tiers()) {
    ++(*members)[MemberKey(held.dimension(), held.tier())];
  }
}

}  // namespace cdp::pipeline::internal
