#include "cdp/pipeline/stored_profile.h"

namespace cdp::pipeline {

absl::StatusOr<std::optional<StoredProfile>> FindStoredProfile(const state::Store& store,
                                                               std::string_view customer_id) {
  auto partitions = store.StoredPartitions();
  if (!partitions.ok()) return partitions.status();
  // State is per input partition; a customer lives in one.
  for (Partition partition : *partitions) {
    auto profile = store.ReadProfile(partition, customer_id);
    if (!profile.ok()) return profile.status();
    if (!profile->has_value()) continue;
    auto state = store.ReadPartitionState(partition);
    if (!state.ok()) return state.status();
    return StoredProfile{partition, **std::move(profile),
                         state->has_value() ? core::PopulationOf(**state) : core::Population{}};
  }
  return std::nullopt;
}

}  // namespace cdp::pipeline
