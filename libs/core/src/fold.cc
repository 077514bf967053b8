#include "fold.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "saturating.h"
#include "time_util.h"

namespace cdp::core::internal {
namespace {

using Profile = v1::CustomerProfile;

// Whether `at` is a new minimum (or maximum) for a timestamp that may not be set yet.
bool NewEarliest(const google::protobuf::Timestamp& at, bool present,
                 const google::protobuf::Timestamp& current) {
  return !present || Earlier(at, current);
}

bool NewLatest(const google::protobuf::Timestamp& at, bool present,
               const google::protobuf::Timestamp& current) {
  return !present || Earlier(current, at);
}

void RecordActivity(const google::protobuf::Timestamp& at, Profile& profile) {
  if (NewLatest(at, profile.has_last_activity_at(), profile.last_activity_at())) {
    *profile.mutable_last_activity_at() = at;
  }
}

bool Retained(std::int64_t day, std::int64_t today) { return day > today - kRetentionDays; }

// The bucket of `day`, inserted in day order if missing; nullptr when the day is too old to keep.
Profile::DailyActivity* Bucket(Profile& profile, std::int64_t day, std::int64_t today) {
  if (!Retained(day, today)) return nullptr;
  auto& daily = *profile.mutable_daily();
  // Events mostly land on the latest days, so search from the end.
  int pos = daily.size();
  while (pos > 0 && daily.Get(pos - 1).day() >= day) --pos;
  if (pos < daily.size() && daily.Get(pos).day() == day) return daily.Mutable(pos);
  daily.Add()->set_day(day);
  for (int i = daily.size() - 1; i > pos; --i) daily.SwapElements(i, i - 1);
  return daily.Mutable(pos);
}

void Prune(Profile& profile, std::int64_t today) {
  auto& daily = *profile.mutable_daily();
  int stale = 0;
  while (stale < daily.size() && !Retained(daily.Get(stale).day(), today)) ++stale;
  // Every kept order's day has a bucket (both are kept by the same rule), so orders can only
  // have aged out when buckets did: the scan of all orders is skipped on most events.
  if (stale == 0) return;
  daily.DeleteSubrange(0, stale);
  auto& orders = *profile.mutable_recent_orders();
  orders.erase(std::remove_if(orders.begin(), orders.end(),
                              [&](const Profile::RecentOrder& order) {
                                return !Retained(order.placed().day(), today);
                              }),
               orders.end());
}

// Where the recent order `order_id` is in the profile's list; -1 if it is not there.
int RecentOrderIndex(const Profile& profile, std::string_view order_id) {
  const auto& orders = profile.recent_orders();
  const auto order = std::find_if(orders.begin(), orders.end(), [&](const auto& recent) {
    return recent.order_id() == order_id;
  });
  return order == orders.end() ? -1 : static_cast<int>(order - orders.begin());
}

void FoldPurchase(const v1::CustomerEvent& event, std::int64_t day, std::int64_t today,
                  Profile& profile) {
  const v1::Purchase& purchase = event.purchase();
  profile.set_orders_total(Sum(profile.orders_total(), 1));
  profile.set_paid_total(Sum(profile.paid_total(), purchase.total_amount()));
  profile.set_monetary_total(Sum(profile.monetary_total(), purchase.total_amount()));
  profile.set_discount_total(Sum(profile.discount_total(), purchase.discount_amount()));
  if (!purchase.coupon_code().empty())
    profile.set_coupon_purchases(Sum(profile.coupon_purchases(), 1));
  for (const v1::Purchase::Item& item : purchase.items()) {
    profile.set_item_value_total(
        Sum(profile.item_value_total(), Product(item.unit_price(), item.quantity())));
    profile.set_item_quantity_total(Sum(profile.item_quantity_total(), item.quantity()));
    // An item without a category cannot name a top category.
    if (!item.category().empty()) {
      std::int64_t& quantity = (*profile.mutable_category_quantity())[item.category()];
      quantity = Sum(quantity, item.quantity());
    }
  }
  const google::protobuf::Timestamp& at = event.occurred_at();
  if (NewEarliest(at, profile.has_first_purchase_at(), profile.first_purchase_at())) {
    *profile.mutable_first_purchase_at() = at;
  }
  if (NewLatest(at, profile.has_last_purchase_at(), profile.last_purchase_at())) {
    *profile.mutable_last_purchase_at() = at;
  }
  RecordActivity(at, profile);
  if (Profile::DailyActivity* bucket = Bucket(profile, day, today)) {
    bucket->set_orders(Sum(bucket->orders(), 1));
    bucket->set_monetary(Sum(bucket->monetary(), purchase.total_amount()));
  }
  if (!purchase.order_id().empty() && Retained(day, today)) {
    const int known = RecentOrderIndex(profile, purchase.order_id());
    Profile::RecentOrder* order;
    if (known >= 0) {
      order = profile.mutable_recent_orders(known);
    } else {
      order = profile.add_recent_orders();
      order->set_order_id(purchase.order_id());
    }
    order->mutable_placed()->set_day(day);
  }
}

void FoldRefund(const v1::Refund& refund, std::int64_t day, std::int64_t today, Profile& profile) {
  profile.set_refunds_total(Sum(profile.refunds_total(), refund.amount()));
  profile.set_monetary_total(Difference(profile.monetary_total(), refund.amount()));
  // Booked on the order's day, so a refund lowers the windows the order raised.
  const int order = RecentOrderIndex(profile, refund.order_id());
  const std::int64_t booking_day = order >= 0 ? profile.recent_orders(order).placed().day() : day;
  if (Profile::DailyActivity* bucket = Bucket(profile, booking_day, today)) {
    bucket->set_monetary(Difference(bucket->monetary(), refund.amount()));
  }
}

void FoldInteraction(const v1::CustomerEvent& event, std::int64_t day, std::int64_t today,
                     Profile& profile) {
  const v1::Interaction& interaction = event.interaction();
  profile.set_interactions_total(Sum(profile.interactions_total(), 1));
  RecordActivity(event.occurred_at(), profile);
  if (Profile::DailyActivity* bucket = Bucket(profile, day, today)) {
    bucket->set_interactions(Sum(bucket->interactions(), 1));
  }
  switch (interaction.type()) {
    case v1::Interaction::coupon_claim:
      profile.set_coupon_claims(Sum(profile.coupon_claims(), 1));
      break;
    case v1::Interaction::referral:
      profile.set_referrals_total(Sum(profile.referrals_total(), 1));
      break;
    case v1::Interaction::community_post:
      profile.set_community_posts_total(Sum(profile.community_posts_total(), 1));
      break;
    case v1::Interaction::survey_response:
      if (interaction.has_score()) {
        profile.set_survey_score_sum(Sum(profile.survey_score_sum(), interaction.score()));
        profile.set_survey_count(Sum(profile.survey_count(), 1));
      }
      break;
    case v1::Interaction::review:
      if (interaction.has_rating()) {
        profile.set_review_rating_sum(Sum(profile.review_rating_sum(), interaction.rating()));
        profile.set_review_count(Sum(profile.review_count(), 1));
      }
      break;
    default:
      break;
  }
}

void FoldTags(const v1::ProfileUpdate& update, Profile& profile) {
  if (update.add_tags().empty() && update.remove_tags().empty()) return;
  std::vector<std::string> tags(profile.tags().begin(), profile.tags().end());
  for (const std::string& tag : update.add_tags()) {
    if (!tag.empty()) tags.push_back(tag);
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  // Removals come after additions: a tag both added and removed ends up absent.
  for (const std::string& tag : update.remove_tags()) {
    const auto it = std::lower_bound(tags.begin(), tags.end(), tag);
    if (it != tags.end() && *it == tag) tags.erase(it);
  }
  profile.mutable_tags()->Assign(tags.begin(), tags.end());
}

void FoldProfileUpdate(const v1::ProfileUpdate& update, Profile& profile) {
  if (update.has_birth_date()) profile.set_birth_date(update.birth_date());
  if (update.has_gender()) profile.set_gender(update.gender());
  if (update.has_region()) profile.set_region(update.region());
  if (update.has_city()) profile.set_city(update.city());
  if (update.has_income_band()) profile.set_income_band(update.income_band());
  if (update.has_membership_level()) profile.set_membership_level(update.membership_level());
  auto& attributes = *profile.mutable_attributes();
  for (const auto& [key, value] : update.attributes()) {
    if (value.empty()) {
      attributes.erase(key);
    } else {
      attributes[key] = value;
    }
  }
  FoldTags(update, profile);
}

}  // namespace

void FoldEvent(const v1::CustomerEvent& event, absl::TimeZone zone, std::int64_t today,
               v1::CustomerProfile& profile) {
  // First, so that a refund never finds an order day that is no longer kept.
  Prune(profile, today);
  const std::int64_t day = DayOf(ToTime(event.occurred_at()), zone);
  switch (event.payload_case()) {
    case v1::CustomerEvent::kPurchase:
      FoldPurchase(event, day, today, profile);
      break;
    case v1::CustomerEvent::kRefund:
      FoldRefund(event.refund(), day, today, profile);
      break;
    case v1::CustomerEvent::kInteraction:
      FoldInteraction(event, day, today, profile);
      break;
    case v1::CustomerEvent::kProfileUpdate:
      FoldProfileUpdate(event.profile_update(), profile);
      break;
    case v1::CustomerEvent::kConsent:
      (*profile.mutable_consent())[v1::CustomerEvent::Channel_Name(event.consent().channel())] =
          event.consent().granted();
      break;
    case v1::CustomerEvent::kErasure:
    case v1::CustomerEvent::PAYLOAD_NOT_SET:
      break;
  }
  profile.set_customer_id(event.customer_id());
  if (NewLatest(event.occurred_at(), profile.has_last_event_at(), profile.last_event_at())) {
    *profile.mutable_last_event_at() = event.occurred_at();
  }
  profile.set_events_applied(Sum(profile.events_applied(), 1));
}

}  // namespace cdp::core::internal
