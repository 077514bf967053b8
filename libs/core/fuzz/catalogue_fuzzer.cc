// Fuzzes the segment file loader with any text as a segment file: it loads, or is refused with
// errors that each point into it (file:line:column). A catalogue that loads drives the engine
// through a customer's events and a year of timers, and the incremental engine must agree with
// the one evaluating every rule: whatever the rules, skipping those an update cannot change
// changes nothing.

#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cdp/core/engine.h"
#include "cdp/rules/catalogue.h"

namespace {

namespace core = cdp::core;
using google::protobuf::util::MessageDifferencer;

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "catalogue_fuzzer: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

cdp::v1::CustomerEvent Event(int day, std::string_view kind) {
  cdp::v1::CustomerEvent event;
  event.set_event_id(std::string("e") + std::to_string(day));
  event.set_customer_id("c1");
  event.mutable_occurred_at()->set_seconds(1'704'067'200 + day * 86'400);  // 2024-01-01 + days
  if (kind == "purchase") {
    event.mutable_purchase()->set_total_amount(25'000);
  } else if (kind == "interaction") {
    event.mutable_interaction()->set_type(cdp::v1::Interaction::review);
    event.mutable_interaction()->set_rating(4);
  } else if (kind == "profile") {
    auto& update = *event.mutable_profile_update();
    update.set_birth_date("1992-02-29");
    update.set_region("east");
    update.add_add_tags("vip");
    (*update.mutable_attributes())["baby_birth_date"] = "2023-11-30";
  } else {
    event.mutable_consent()->set_channel(cdp::v1::CustomerEvent::sms);
    event.mutable_consent()->set_granted(true);
  }
  return event;
}

const std::vector<cdp::v1::CustomerEvent>& Journey() {
  static const auto* const events = new std::vector<cdp::v1::CustomerEvent>{
      Event(0, "profile"),  Event(1, "consent"),   Event(2, "interaction"),
      Event(3, "purchase"), Event(40, "purchase"), Event(41, "interaction")};
  return *events;
}

// The customer's profile and every change, events applied each at its own time, then the timers
// of the following year.
struct Outcome {
  cdp::v1::CustomerProfile profile;
  std::vector<cdp::v1::SegmentChange> changes;
};

Outcome Run(const core::Engine& engine) {
  Outcome outcome;
  for (const auto& event : Journey()) {
    const absl::Time at = absl::FromUnixSeconds(event.occurred_at().seconds());
    if (engine.Validate(event, at)) Fail("a journey event is invalid", event.event_id());
    static_cast<void>(engine.Apply(event, at, outcome.profile, outcome.changes));
  }
  const absl::Time last = absl::FromUnixSeconds(Journey().back().occurred_at().seconds());
  static_cast<void>(
      engine.FireTimers(last + absl::Hours(24 * 400), outcome.profile, outcome.changes));
  static_cast<void>(engine.Evaluate(outcome.profile, last + absl::Hours(24 * 400)));
  return outcome;
}

bool Same(const Outcome& a, const Outcome& b) {
  if (!MessageDifferencer::Equals(a.profile, b.profile)) return false;
  if (a.changes.size() != b.changes.size()) return false;
  for (std::size_t i = 0; i < a.changes.size(); ++i) {
    if (!MessageDifferencer::Equals(a.changes[i], b.changes[i])) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto catalogue = cdp::rules::ParseSegmentCatalogue(text, "fuzz.yaml");
  if (!catalogue.ok()) {
    for (const absl::string_view line : absl::StrSplit(catalogue.status().message(), '\n')) {
      if (!absl::StartsWith(line, "fuzz.yaml:")) {
        Fail("an error without a location", std::string_view(line.data(), line.size()));
      }
    }
    return 0;
  }
  auto shared = std::make_shared<const cdp::rules::SegmentCatalogue>(*std::move(catalogue));
  core::EngineOptions every_rule;
  every_rule.incremental = false;
  if (!Same(Run(core::Engine(shared, {})), Run(core::Engine(shared, every_rule)))) {
    Fail("the incremental engine and the one evaluating every rule disagree", text);
  }
  return 0;
}
