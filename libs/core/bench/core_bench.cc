// Cost of the pure core per event: Apply (fold + evaluate the rules the event can change + diff)
// of a purchase on a customer with a realistic history, a re-evaluation with no event (a timer's:
// the time-dependent rules), a reload's re-evaluation of one changed segment, and Apply of events
// that each change memberships. One iteration is one event, so the reported time is ns/event; the
// `per_change` counter is the time per segment change where events produce them, and
// BM_EncodeChangeJson is one iteration per change.
//
// Usage: core_bench [segments.yaml] [--benchmark_... flags]; the default is the shipped catalogue.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"
#include "cdp/rules/digest.h"

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
    // append, not "p" + std::to_string(day): GCC 12 at -O3 flags that with a false -Wrestrict.
    const std::string day_text = std::to_string(day);
    events.push_back(Purchase(std::string("p").append(day_text), kNow - absl::Hours(24 * day),
                              std::string("o").append(day_text)));
    for (auto type :
         {v1::Interaction::page_view, v1::Interaction::coupon_claim, v1::Interaction::review}) {
      v1::CustomerEvent interaction =
          Envelope(std::string("i").append(day_text).append("-").append(std::to_string(type)),
                   kNow - absl::Hours(24 * day - 1));
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

// A segment file reload's sweep, per stored profile: re-evaluating the one segment whose
// definition changed (the first of the catalogue's segments) rather than every rule.
void BM_ReevaluateSelection(benchmark::State& state) {
  const Engine engine(g_catalogue, EngineOptions{});
  v1::CustomerProfile profile = History(engine);
  const std::vector<rules::RuleRef> changed = {
      {rules::RuleKind::kSegment,
       g_catalogue->segments.empty() ? "" : g_catalogue->segments[0].id}};
  const PreparedSelection only = engine.Prepare(RuleSelection(engine.catalogue(), changed));
  std::vector<v1::SegmentChange> changes;
  for (auto _ : state) {
    changes.clear();
    engine.Reevaluate(kNow, v1::SegmentChange::definition_change, only, profile, changes);
    benchmark::DoNotOptimize(changes.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReevaluateSelection)->Unit(benchmark::kNanosecond);

// Profile updates that each move the customer: `moves` picks how many memberships change per
// event (0: none, the baseline; 1: the tier1_city segment; 4: also personalised, and gold_member
// <-> platinum_member, an exit and an enter). Two events alternate, so every event undoes the
// previous one.
std::vector<v1::CustomerEvent> Movers(int moves) {
  std::vector<v1::CustomerEvent> events;
  for (const bool there : {true, false}) {
    v1::CustomerEvent event = Envelope(there ? "move-there" : "move-back", kNow - absl::Minutes(5));
    v1::ProfileUpdate& update = *event.mutable_profile_update();
    if (moves == 0) {
      update.set_city(there ? "Suzhou" : "Hangzhou");
    } else {
      update.set_city(there ? "Shanghai" : "Hangzhou");
    }
    if (moves > 1) {
      update.set_membership_level(there ? "platinum" : "gold");
      if (there) {
        update.add_add_tags("customised_order");
      } else {
        update.add_remove_tags("customised_order");
      }
    }
    events.push_back(std::move(event));
  }
  return events;
}

void BM_ApplyWithChanges(benchmark::State& state) {
  const Engine engine(g_catalogue, EngineOptions{});
  v1::CustomerProfile profile = History(engine);
  const std::vector<v1::CustomerEvent> events = Movers(static_cast<int>(state.range(0)));
  std::vector<v1::SegmentChange> changes;
  std::size_t next = 0;
  std::int64_t total = 0;
  for (auto _ : state) {
    changes.clear();
    benchmark::DoNotOptimize(engine.Apply(events[next], kNow, profile, changes));
    next ^= 1;
    total += static_cast<std::int64_t>(changes.size());
  }
  if (total != state.iterations() * state.range(0)) {
    state.SkipWithError("the events did not change the expected number of memberships");
  }
  state.SetItemsProcessed(state.iterations());
  if (total > 0) {
    state.counters["per_change"] = benchmark::Counter(
        static_cast<double>(total), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  }
}
BENCHMARK(BM_ApplyWithChanges)->Arg(0)->Arg(1)->Arg(4)->Unit(benchmark::kNanosecond);

// One iteration encodes one change as JSON, cycling through the changes of BM_ApplyWithChanges/4.
void BM_EncodeChangeJson(benchmark::State& state) {
  const Engine engine(g_catalogue, EngineOptions{});
  v1::CustomerProfile profile = History(engine);
  std::vector<v1::SegmentChange> changes;
  for (const v1::CustomerEvent& event : Movers(4)) {
    (void)engine.Apply(event, kNow, profile, changes);
  }
  std::size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeChange(changes[next], OutputFormat::kJson));
    next = next + 1 == changes.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeChangeJson)->Unit(benchmark::kNanosecond);

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
