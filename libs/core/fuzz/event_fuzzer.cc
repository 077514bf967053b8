// Fuzzes what the pipeline does with one input record: decoding in one wire format (chosen by
// CDP_FUZZ_WIRE_FORMAT when compiled), validation and, for a valid event, applying it to a
// customer with some history under the shipped catalogue. Beyond not crashing, a valid event must
// read back unchanged from its JSON form (what the DLQ, profilectl and replay print), and the
// incremental engine must reach the same profile and changes as the one evaluating every rule.

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "cdp/core/codec.h"
#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"

namespace {

namespace core = cdp::core;
using google::protobuf::util::MessageDifferencer;

enum class Framing { kJson, kProtobuf, kSchemaRegistry };
constexpr auto kFraming = static_cast<Framing>(CDP_FUZZ_WIRE_FORMAT);

// The seeds' events happen in early 2024; validation bounds are relative to this.
const absl::Time kNow = absl::FromUnixSeconds(1'717'200'000);  // 2024-06-01T00:00:00Z

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "event_fuzzer: %s\n", what);
  std::abort();
}

struct Engines {
  core::Engine incremental;
  core::Engine every_rule;
};

const Engines& SharedEngines() {
  static const Engines* const engines = [] {
    // Protobuf logs each string field that is not UTF-8, which the fuzzer makes by the million.
    google::protobuf::SetLogHandler(nullptr);
    auto catalogue = cdp::rules::LoadSegmentCatalogue(CDP_DEFAULT_CATALOGUE);
    if (!catalogue.ok()) Fail(std::string(catalogue.status().message()).c_str());
    auto shared = std::make_shared<const cdp::rules::SegmentCatalogue>(*std::move(catalogue));
    core::EngineOptions every_rule;
    every_rule.incremental = false;
    return new Engines{core::Engine(shared, {}), core::Engine(shared, every_rule)};
  }();
  return *engines;
}

// A purchase and an interaction of `customer` some weeks before kNow, so that the fuzzed event
// meets memberships the incremental engine may choose not to re-evaluate.
cdp::v1::CustomerProfile History(const core::Engine& engine, const std::string& customer) {
  cdp::v1::CustomerProfile profile;
  std::vector<cdp::v1::SegmentChange> changes;
  cdp::v1::CustomerEvent purchase;
  purchase.set_event_id("history-1");
  purchase.set_customer_id(customer);
  purchase.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow - absl::Hours(24 * 40)));
  purchase.mutable_purchase()->set_total_amount(12'000);
  cdp::v1::CustomerEvent interaction;
  interaction.set_event_id("history-2");
  interaction.set_customer_id(customer);
  interaction.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow - absl::Hours(24 * 9)));
  interaction.mutable_interaction()->set_type(cdp::v1::Interaction::page_view);
  for (const auto* event : {&purchase, &interaction}) {
    const absl::Time at = absl::FromUnixSeconds(event->occurred_at().seconds());
    static_cast<void>(engine.Apply(*event, at, profile, changes));
  }
  return profile;
}

bool SameChanges(const std::vector<cdp::v1::SegmentChange>& a,
                 const std::vector<cdp::v1::SegmentChange>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!MessageDifferencer::Equals(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Engines& engines = SharedEngines();
  std::string bytes;
  // Every input of the schema-registry target starts with the framing's magic byte, so that the
  // fuzzer spends its time on the framing rather than on finding that byte.
  if (kFraming == Framing::kSchemaRegistry) bytes.push_back('\0');
  bytes.append(reinterpret_cast<const char*>(data), size);
  const auto format =
      kFraming == Framing::kJson ? core::WireFormat::kJson : core::WireFormat::kProtobuf;

  cdp::v1::CustomerEvent event;
  if (core::DecodeEvent(bytes, format, {}, event)) return 0;
  if (engines.incremental.Validate(event, kNow)) return 0;

  // JSON carries no unknown fields: compare what it can carry.
  cdp::v1::CustomerEvent known = event;
  known.DiscardUnknownFields();
  cdp::v1::CustomerEvent reread;
  if (core::DecodeEvent(core::EventToJson(known), core::WireFormat::kJson, {}, reread) ||
      !MessageDifferencer::Equals(known, reread)) {
    Fail("a valid event does not read back unchanged from its JSON form");
  }

  cdp::v1::CustomerProfile incremental = History(engines.incremental, event.customer_id());
  cdp::v1::CustomerProfile every_rule = History(engines.every_rule, event.customer_id());
  std::vector<cdp::v1::SegmentChange> incremental_changes;
  std::vector<cdp::v1::SegmentChange> every_rule_changes;
  const bool erased_incrementally =
      engines.incremental.Apply(event, kNow, incremental, incremental_changes);
  const bool erased = engines.every_rule.Apply(event, kNow, every_rule, every_rule_changes);
  if (erased_incrementally != erased || !MessageDifferencer::Equals(incremental, every_rule) ||
      !SameChanges(incremental_changes, every_rule_changes)) {
    Fail("the incremental engine and the one evaluating every rule disagree");
  }
  return 0;
}
