#include "rule_inputs.h"

#include <algorithm>
#include <initializer_list>

namespace cdp::core::internal {
namespace {

using rules::FieldId;

Inputs Of(std::initializer_list<FieldId> fields) {
  Inputs inputs;
  for (FieldId field : fields) inputs.set(static_cast<std::size_t>(field));
  return inputs;
}

// An interaction of any type counts as one and is activity (fold.cc, FoldInteraction).
Inputs AnyInteraction() {
  return Of(
      {FieldId::kInteractionsTotal, FieldId::kInteractions30d, FieldId::kDaysSinceLastActivity});
}

}  // namespace

EventKind KindOf(const v1::CustomerEvent& event) {
  switch (event.payload_case()) {
    case v1::CustomerEvent::kPurchase:
      return EventKind::kPurchase;
    case v1::CustomerEvent::kRefund:
      return EventKind::kRefund;
    case v1::CustomerEvent::kInteraction:
      switch (event.interaction().type()) {
        case v1::Interaction::coupon_claim:
          return EventKind::kCouponClaim;
        case v1::Interaction::referral:
          return EventKind::kReferral;
        case v1::Interaction::community_post:
          return EventKind::kCommunityPost;
        case v1::Interaction::survey_response:
          return EventKind::kSurveyResponse;
        case v1::Interaction::review:
          return EventKind::kReview;
        default:
          return EventKind::kInteraction;
      }
    case v1::CustomerEvent::kProfileUpdate:
      return EventKind::kProfileUpdate;
    case v1::CustomerEvent::kConsent:
      return EventKind::kConsent;
    case v1::CustomerEvent::kErasure:
    case v1::CustomerEvent::PAYLOAD_NOT_SET:
      break;
  }
  return EventKind::kNone;
}

// Read against fold.cc and profile_context.cc: a field is listed when the event writes anything
// the field is computed from. Pruning old buckets and orders, which every event does, changes no
// field: they are outside every window already.
Inputs InputsChangedBy(EventKind kind) {
  switch (kind) {
    case EventKind::kNone:
    case EventKind::kCount:
      break;
    case EventKind::kPurchase:
      // Totals and their ratios, the day buckets behind the windows and rfm_f/rfm_m, first and
      // last purchase and activity behind days_since_* and rfm_r, the category quantities.
      return Of({FieldId::kOrdersTotal, FieldId::kMonetaryTotal, FieldId::kOrders30d,
                 FieldId::kOrders90d, FieldId::kOrders365d, FieldId::kMonetary30d,
                 FieldId::kMonetary90d, FieldId::kMonetary365d, FieldId::kAvgOrderValue,
                 FieldId::kAvgUnitPrice, FieldId::kDiscountRatio, FieldId::kCouponRedeemRate,
                 FieldId::kDaysSinceFirstPurchase, FieldId::kDaysSinceLastPurchase,
                 FieldId::kDaysSinceLastActivity, FieldId::kRfmR, FieldId::kRfmF, FieldId::kRfmM,
                 FieldId::kTopCategory});
    case EventKind::kRefund:
      // Not activity, no order: the amounts only, on the order's day or its own.
      return Of({FieldId::kRefundsTotal, FieldId::kMonetaryTotal, FieldId::kMonetary30d,
                 FieldId::kMonetary90d, FieldId::kMonetary365d, FieldId::kAvgOrderValue,
                 FieldId::kRfmM});
    case EventKind::kInteraction:
      return AnyInteraction();
    case EventKind::kCouponClaim:
      return AnyInteraction() | Of({FieldId::kCouponRedeemRate});
    case EventKind::kReferral:
      return AnyInteraction() | Of({FieldId::kReferralsTotal});
    case EventKind::kCommunityPost:
      return AnyInteraction() | Of({FieldId::kCommunityPostsTotal});
    case EventKind::kSurveyResponse:
      return AnyInteraction() | Of({FieldId::kAvgSurveyScore, FieldId::kSurveysTotal});
    case EventKind::kReview:
      return AnyInteraction() | Of({FieldId::kAvgReviewRating, FieldId::kReviewsTotal});
    case EventKind::kProfileUpdate: {
      Inputs inputs = Of({FieldId::kAge, FieldId::kBirthMonth, FieldId::kGender, FieldId::kRegion,
                          FieldId::kCity, FieldId::kIncomeBand, FieldId::kMembershipLevel});
      inputs.set(kTagsInput);
      inputs.set(kAttributesInput);
      return inputs;
    }
    case EventKind::kConsent:
      return Inputs().set(kConsentInput);
  }
  return Inputs();
}

Inputs InputsReadBy(const rules::Expression& rule) {
  Inputs inputs;
  for (FieldId field : rule.fields()) inputs.set(static_cast<std::size_t>(field));
  inputs.set(kTagsInput, rule.reads_tags());
  inputs.set(kAttributesInput, rule.reads_attributes());
  inputs.set(kConsentInput, rule.reads_consent());
  return inputs;
}

RuleInputs::RuleInputs(const rules::SegmentCatalogue& catalogue) {
  std::array<Inputs, static_cast<std::size_t>(EventKind::kCount)> changed;
  for (std::size_t kind = 0; kind < changed.size(); ++kind) {
    changed[kind] = InputsChangedBy(static_cast<EventKind>(kind));
  }
  const auto history_readers = [&](const std::string& id) -> RuleSelection& {
    const auto it = std::find_if(history_readers_.begin(), history_readers_.end(),
                                 [&](const auto& entry) { return entry.first == id; });
    if (it != history_readers_.end()) return it->second;
    return history_readers_.emplace_back(id, RuleSelection()).second;
  };
  // `add` puts the rule's segment or dimension into a selection.
  const auto classify = [&](const rules::Expression& rule, const auto& add) {
    const Inputs read = InputsReadBy(rule);
    for (std::size_t kind = 0; kind < changed.size(); ++kind) {
      if ((read & changed[kind]).any()) add(after_event_[kind]);
    }
    if (rule.time_dependent()) add(after_time_);
    for (const rules::MembershipRef& ref : rule.membership_refs()) add(history_readers(ref.id));
  };
  // A min_dwell ends with time alone, and the held membership then follows its rule again.
  for (std::size_t i = 0; i < catalogue.segments.size(); ++i) {
    classify(catalogue.segments[i].when, [i](RuleSelection& s) { s.AddSegment(i); });
    if (catalogue.segments[i].min_dwell_days > 0) after_time_.AddSegment(i);
  }
  for (std::size_t i = 0; i < catalogue.dimensions.size(); ++i) {
    for (const rules::Tier& tier : catalogue.dimensions[i].tiers) {
      classify(tier.when, [i](RuleSelection& s) { s.AddDimension(i); });
      if (tier.min_dwell_days > 0) after_time_.AddDimension(i);
    }
  }
}

void RuleInputs::AddHistoryReaders(std::string_view id, RuleSelection& selection) const {
  for (const auto& [read, readers] : history_readers_) {
    if (read == id) selection.Add(readers);
  }
}

}  // namespace cdp::core::internal
