#include "cdp/core/memberships.h"

#include <algorithm>

namespace cdp::core {
namespace {

// Where an entry for `key` is or belongs in a list sorted by key; `key_of` reads an entry's key.
template <typename List, typename KeyOf>
int Position(const List& list, std::string_view key, KeyOf key_of) {
  const auto found = std::find_if(list.begin(), list.end(),
                                  [&](const auto& entry) { return key_of(entry) == key; });
  if (found != list.end()) return static_cast<int>(found - list.begin());
  return static_cast<int>(std::find_if(list.begin(), list.end(),
                                       [&](const auto& entry) { return key_of(entry) > key; }) -
                          list.begin());
}

// Moves the last element of `list` to `index`.
template <typename List>
void MoveLastTo(List& list, int index) {
  for (int i = list.size() - 1; i > index; --i) list.SwapElements(i, i - 1);
}

}  // namespace

std::string_view HeldTier(const v1::CustomerProfile& profile, std::string_view dimension) {
  for (const v1::CustomerProfile::HeldTier& held : profile.tiers()) {
    if (held.dimension() == dimension) return held.tier();
  }
  return {};
}

const v1::CustomerProfile::MembershipHistory* HistoryOf(const v1::CustomerProfile& profile,
                                                        std::string_view id) {
  for (const v1::CustomerProfile::HistoryEntry& entry : profile.membership_history()) {
    if (entry.id() == id) return &entry.history();
  }
  return nullptr;
}

void SetHeldTier(v1::CustomerProfile& profile, std::string_view dimension, std::string_view tier) {
  auto& tiers = *profile.mutable_tiers();
  const int index = Position(tiers, dimension,
                             [](const auto& held) -> std::string_view { return held.dimension(); });
  if (index < tiers.size() && tiers[index].dimension() == dimension) {
    tiers[index].set_tier(std::string(tier));
    return;
  }
  v1::CustomerProfile::HeldTier& added = *tiers.Add();
  added.set_dimension(std::string(dimension));
  added.set_tier(std::string(tier));
  MoveLastTo(tiers, index);
}

void ClearHeldTier(v1::CustomerProfile& profile, std::string_view dimension) {
  auto& tiers = *profile.mutable_tiers();
  for (int i = 0; i < tiers.size(); ++i) {
    if (tiers[i].dimension() == dimension) {
      tiers.DeleteSubrange(i, 1);
      return;
    }
  }
}

v1::CustomerProfile::MembershipHistory& MutableHistoryOf(v1::CustomerProfile& profile,
                                                         std::string_view id) {
  auto& entries = *profile.mutable_membership_history();
  const int index =
      Position(entries, id, [](const auto& entry) -> std::string_view { return entry.id(); });
  if (index < entries.size() && entries[index].id() == id) {
    return *entries[index].mutable_history();
  }
  entries.Add()->set_id(std::string(id));
  MoveLastTo(entries, index);
  return *entries[index].mutable_history();
}

}  // namespace cdp::core
