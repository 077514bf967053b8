// How fast a restore reads what it needs of each profile it writes (DigestProfile), printed per
// profile as items_per_second and per byte as bytes_per_second.
#include <cstdint>
#include <string>
#include <utility>

#include "benchmark/benchmark.h"
#include "cdp/pipeline/internal/partition_counts.h"
#include "cdp/v1/customer_profile.pb.h"

namespace cdp::pipeline::internal {
namespace {

// The shape of a profile the pipeline keeps for an active customer: a week of daily activity,
// its recent orders, the segments and tiers it holds with their history, and the events of the
// dedup window.
std::string TypicalSerializedProfile() {
  v1::CustomerProfile profile;
  profile.set_customer_id("c-0012345");
  profile.set_orders_total(14);
  profile.set_monetary_total(152'300);
  profile.set_paid_total(149'800);
  profile.set_item_quantity_total(31);
  (*profile.mutable_category_quantity())["shoes"] = 4;
  (*profile.mutable_category_quantity())["outdoor"] = 9;
  profile.mutable_first_purchase_at()->set_seconds(1'690'000'000);
  profile.mutable_last_purchase_at()->set_seconds(1'700'000'123);
  profile.set_interactions_total(57);
  profile.mutable_last_activity_at()->set_seconds(1'700'000'200);
  for (int day = 0; day < 7; ++day) {
    auto* daily = profile.add_daily();
    daily->set_day(19'670 + day);
    daily->set_orders(day % 2);
    daily->set_monetary(std::int64_t{day} * 2'500);
    daily->set_interactions(day % 4);
  }
  for (int order = 0; order < 3; ++order) {
    auto* recent = profile.add_recent_orders();
    recent->set_order_id("o-00" + std::to_string(order));
    recent->mutable_placed()->set_day(19'670 + order);
  }
  profile.set_region("EU");
  profile.set_city("Lyon");
  (*profile.mutable_attributes())["channel"] = "app";
  profile.add_tags("newsletter");
  (*profile.mutable_consent())["email"] = true;
  for (const char* segment : {"buyer", "repeat_buyer", "engaged", "high_value", "app_user"}) {
    profile.add_segments(segment);
    auto* history = profile.add_membership_history();
    history->set_id(segment);
    history->mutable_history()->mutable_last_entered_at()->set_seconds(1'699'000'000);
  }
  for (const auto& [dimension, tier] :
       {std::pair{"value", "gold"}, std::pair{"lifecycle", "active"},
        std::pair{"purchase_frequency", "frequent"},
        std::pair{"interaction_frequency", "weekly"}}) {
    auto* held = profile.add_tiers();
    held->set_dimension(dimension);
    held->set_tier(tier);
  }
  profile.mutable_last_event_at()->set_seconds(1'700'000'200);
  profile.set_events_applied(71);
  profile.mutable_timer_due_at()->set_seconds(1'702'592'123);
  for (int event = 0; event < 6; ++event) {
    auto* applied = profile.add_applied_events();
    applied->set_event_id("0b7f3c1e-5d2a-4c59-9f0e-" + std::to_string(100'000'000'000 + event));
    applied->set_expires_at_us(1'700'604'800'000'000 + event);
  }
  return profile.SerializeAsString();
}

void BM_DigestProfile(benchmark::State& state) {
  const std::string serialized = TypicalSerializedProfile();
  ProfileDigest digest;
  for (auto _ : state) {
    if (!DigestProfile(serialized, digest)) {
      state.SkipWithError("the profile does not digest");
      break;
    }
    benchmark::DoNotOptimize(digest);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(serialized.size()));
}
BENCHMARK(BM_DigestProfile);

}  // namespace
}  // namespace cdp::pipeline::internal

BENCHMARK_MAIN();
