// Cost of the pure core per event: Apply (fold + evaluate every rule + diff) of a purchase on a
// customer with a realistic history, and a re-evaluation with no event. One iteration is one
// event, so the reported time is ns/event.
//
// Usage: core_bench [segments.yaml] [--benchmark_... flags]; the default is the shipped catalogue.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"

namespace cdp::core {
namespace {

std::shared_ptr<const rules::SegmentCatalogue> g_catalogue;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 6, 1, 12, 0, 0), absl::UTCTimeZone());

google::protobuf::Timestamp At(absl::Time time) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(time));
  return ts;
}

v1::CustomerEvent Envelope(const std::string& id, absl::Time at) {
  v1::CustomerEvent event;
  event.set_event_id(id);
  event.set_customer_id("customer-42");
  *event.mutable_occurred_at() = At(at);
  event.set_channel(v1::CustomerEvent::app);
  return event;
}

v1::CustomerEvent Purchase(const std::string& id, absl::Time at, const std::string& order_id) {
  v1::CustomerEvent event = Envelope(id, at);
  v1::Purchase& purchase = *event.mutable_purchase();
  purchase.set_order_id(order_id);
  purchase.set_total_amount(25900);
  purchase.set_discount_amount(2000);
  purchase.set_coupon_code("SUMMER");
  for (const char* category : {"toys", "books"}) {
    v1::Purchase::Item& item = *purchase.add_items();
    item.set_sku(std::string(category) + "-1");
    item.set_category(category);
    item.set_quantity(2);
    item.set_unit_price(6950);
  }
  return event;
}

// A customer with half a year of purchases, interactions and profile data.
v1::CustomerProfile History(const Engine& engine) {
  std::vector<v1::CustomerEvent> events;
  v1::CustomerEvent update = Envelope("u1", kNow - absl::Hours(24 * 200));
  v1::ProfileUpdate& profile_update = *update.mutable_profile_update();
  profile_update.set_birth_date("1991-06-15");
  profile_update.set_gender("f");
  profile_update.set_city("Hangzhou");
  profile_update.set_membership_level("gold");
  (*profile_update.mutable_attributes())["baby_birth_date"] = "2024-02-10";
  profile_update.add_add_tags("vip");
  events.push_back(update);
  v1::CustomerEvent consent = Envelope("c1", kNow - absl::Hours(24 * 200));
  consent.mutable_consent()->set_channel(v1::CustomerEvent::sms);
  consent.mutable_consent()->set_granted(true);
  events.push_back(consent);
  for (int day = 180; day > 0; day -= 12) {
    events.push_back(Purchase("p" + std::to_string(day), kNow - absl::Hours(24 * day),
                              "o" + std::to_string(day)));
    for (auto type :
         {v1::Interaction::page_view, v1::Interaction::coupon_claim, v1::Interaction::review}) {
      v1::CustomerEvent interaction = Envelope(
          "i" + std::to_string(day) + "-" + std::to_string(type), kNow - absl::Hours(24 * day - 1));
      interaction.mutable_interaction()->set_type(type);
      if (type == v1::Interaction::review) interaction.mutable_interaction()->set_rating(4);
      events.push_back(interaction);
    }
  }
  v1::CustomerProfile profile;
  std::vector<v1::SegmentChange> changes;
  for (const auto& event : events) (void)engine.Apply(event, kNow, profile, changes);
  return profile;
}

void BM_ApplyPurchase(benchmark::State& state) {
  const Engine engine(g_catalogue, EngineOptions{});
  v1::CustomerProfile profile = History(engine);
  // The same order each time keeps the profile's size steady across iterations.
  const v1::CustomerEvent purchase = Purchase("bench", kNow - absl::Minutes(5), "o-bench");
  std::vector<v1::SegmentChange> changes;
  for (auto _ : state) {
    changes.clear();
    benchmark::DoNotOptimize(engine.Apply(purchase, kNow, profile, changes));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplyPurchase)->Unit(benchmark::kNanosecond);

void BM_Reevaluate(benchmark::State& state) {
  const Engine engine(g_catalogue, EngineOptions{});
  v1::CustomerProfile profile = History(engine);
  std::vector<v1::SegmentChange> changes;
  for (auto _ : state) {
    changes.clear();
    engine.Reevaluate(kNow, v1::SegmentChange::time, profile, changes);
    benchmark::DoNotOptimize(changes.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reevaluate)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace cdp::core

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const std::string path = argc > 1 ? argv[1] : CDP_DEFAULT_CATALOGUE;
  auto catalogue = cdp::rules::LoadSegmentCatalogue(path);
  if (!catalogue.ok()) {
    std::fprintf(stderr, "core_bench: %s\n", std::string(catalogue.status().message()).c_str());
    return 1;
  }
  std::size_t rules = catalogue->segments.size();
  for (const auto& dimension : catalogue->dimensions) rules += dimension.tiers.size();
  std::fprintf(stderr, "core_bench: %s: %zu rules\n", path.c_str(), rules);
  cdp::core::g_catalogue =
      std::make_shared<const cdp::rules::SegmentCatalogue>(*std::move(catalogue));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
