#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/fields.h"
#include "cdp/v1/customer_event.pb.h"

namespace cdp::core::internal {

// What a rule can read of a profile besides membership history: one bit per field (at its FieldId),
// then the tags, the attributes and the consent.
inline constexpr std::size_t kTagsInput = rules::kFieldCount;
inline constexpr std::size_t kAttributesInput = rules::kFieldCount + 1;
inline constexpr std::size_t kConsentInput = rules::kFieldCount + 2;
inline constexpr std::size_t kInputCount = rules::kFieldCount + 3;
using Inputs = std::bitset<kInputCount>;

// Events grouped by what folding them can change: one kind per payload, and interactions apart
// for the types that count into fields of their own.
enum class EventKind : std::uint8_t {
  kNone,  // no payload, or an erasure: folding changes nothing a rule reads
  kPurchase,
  kRefund,
  kInteraction,  // any type not listed below
  kCouponClaim,
  kReferral,
  kCommunityPost,
  kSurveyResponse,
  kReview,
  kProfileUpdate,
  kConsent,
  kCount  // not a kind: the number of kinds
};

[[nodiscard]] EventKind KindOf(const v1::CustomerEvent& event);

// What FoldEvent can change, for any event of the kind: a superset, never missing an input.
[[nodiscard]] Inputs InputsChangedBy(EventKind kind);

// What the rule reads; its membership history reads are in Expression::membership_refs().
[[nodiscard]] Inputs InputsReadBy(const rules::Expression& rule);

// Which rules of a catalogue each kind of update can change the result of, worked out once per
// catalogue so that an update costs a lookup. A dimension counts as one rule: it is evaluated
// whole (first matching tier) when any of its tiers reads a changed input.
class RuleInputs {
 public:
  explicit RuleInputs(const rules::SegmentCatalogue& catalogue);

  // The rules that read something an event of `kind` can change.
  [[nodiscard]] const RuleSelection& after_event(EventKind kind) const {
    return after_event_[static_cast<std::size_t>(kind)];
  }
  // The time-dependent rules, those time alone can change: with a time-dependent rule or a
  // min_dwell.
  [[nodiscard]] const RuleSelection& after_time() const { return after_time_; }
  [[nodiscard]] const RuleSelection& all() const { return all_; }
  // Adds to `selection` the rules that read the history (ever_in, days_in) of segment or tier `id`.
  void AddHistoryReaders(std::string_view id, RuleSelection& selection) const;

 private:
  std::array<RuleSelection, static_cast<std::size_t>(EventKind::kCount)> after_event_;
  RuleSelection after_time_;
  RuleSelection all_ = RuleSelection::All();
  std::vector<std::pair<std::string, RuleSelection>> history_readers_;
};

}  // namespace cdp::core::internal
