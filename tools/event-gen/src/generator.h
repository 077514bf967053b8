#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/v1/customer_event.pb.h"
#include "random.h"

namespace cdp::tools {

enum class ClockMode {
  // occurred_at advances from `start` across `span`, spread over `events` events.
  kSimulated,
  // occurred_at is the wall clock when the event is made.
  kLive,
};

struct GeneratorOptions {
  std::uint64_t seed = 1;
  std::int64_t customers = 10'000;
  // Events to make; 0 = no end (live clock only: simulated time needs a count to spread over).
  std::int64_t events = 0;
  // Share of records made deliberately invalid (for dead-letter demos and tests), in [0, 1].
  double invalid_fraction = 0.0;
  ClockMode clock = ClockMode::kSimulated;
  // Customers join, drift away and come back at points laid out over [start, start + span), in
  // both clock modes; in simulated mode every occurred_at also falls in that range.
  absl::Time start = absl::FromCivil(absl::CivilDay(2024, 1, 1), absl::UTCTimeZone());
  absl::Duration span = absl::Hours(24 * 365);
  // The live clock; replaceable so that tests need not depend on the real time.
  std::function<absl::Time()> wall_clock = [] { return absl::Now(); };
};

// What is deliberately wrong with a record, i.e. which dead-letter reason it should cause.
enum class Defect {
  kNone,
  kNegativeAmount,     // a purchase or refund amount below zero
  kUnknownCurrency,    // a purchase or refund in a currency no deployment reports in
  kMissingCustomerId,  // an otherwise valid event without customer_id
  kGarbage,            // bytes that decode neither as protobuf nor as JSON
};

// One message to publish. Reused across calls to avoid reallocating.
struct Record {
  Defect defect = Defect::kNone;
  // The Kafka key: the customer id, or a random id when the event has none.
  std::string key;
  // Unused when defect == kGarbage.
  v1::CustomerEvent event;
  // The raw value when defect == kGarbage: no '\n', so that it fits in a JSON-lines file.
  std::string garbage;
};

enum class CustomerKind {
  kRegular,
  // Only ever browses: interactions, never a purchase (the "potential" lifecycle stage).
  kBrowser,
  // Stops buying for good at `quiet_from`; other activity fades out after it.
  kDrifter,
  // Stops buying at `quiet_from` and comes back at `quiet_until` (at-risk, churned, won back).
  kReturner,
};

// The fixed character of one customer, derived from the seed and the customer's number.
struct CustomerTraits {
  CustomerKind kind = CustomerKind::kRegular;
  // No event before this instant.
  absl::Time joins_at;
  // No purchase in [quiet_from, quiet_until); both infinite future when never quiet.
  absl::Time quiet_from = absl::InfiniteFuture();
  absl::Time quiet_until = absl::InfiniteFuture();
};

// Deterministic synthetic customer traffic: with the same options (simulated clock), the same
// records in the same order. Customers' activity is Zipf-skewed: a few are very active, most
// rarely seen.
class Generator {
 public:
  [[nodiscard]] static absl::StatusOr<Generator> Create(GeneratorOptions options);

  Generator(Generator&&) noexcept;
  Generator& operator=(Generator&&) noexcept;
  ~Generator();

  // Fills `record` with the next record; false (and `record` untouched) once `events` are made.
  [[nodiscard]] bool Next(Record& record);

  [[nodiscard]] std::int64_t produced() const { return produced_; }

  // Customer ids are "c" and the 1-based number, zero-padded to at least six digits.
  [[nodiscard]] std::string CustomerId(std::int64_t number) const;
  // Inverse of CustomerId; 0 for an id this generator does not make.
  [[nodiscard]] std::int64_t CustomerNumber(std::string_view customer_id) const;
  // `number` in [1, customers].
  [[nodiscard]] CustomerTraits Traits(std::int64_t number) const;

 private:
  struct Persona;
  struct Order;
  struct Model;

  explicit Generator(GeneratorOptions options);

  [[nodiscard]] Persona PersonaOf(std::int64_t number) const;
  // Draws who acts at `at` among the customers able to; clears `may_buy` when the one drawn may
  // not buy now (a browser, or one who has gone quiet).
  [[nodiscard]] Persona PickCustomer(absl::Time at, bool& may_buy);
  void SetEnvelope(std::int64_t number, absl::Time at, v1::CustomerEvent& event);
  void AppendOrderId(std::int64_t event_number, std::string& out) const;

  void MakeValid(absl::Time at, Record& record);
  void MakeInvalid(absl::Time at, Record& record);
  void MakePurchase(const Persona& persona, v1::CustomerEvent& event);
  void BookOrder(std::int64_t customer, const v1::Purchase& purchase);
  [[nodiscard]] bool TakeRefundableOrder(Order& order);
  void MakeRefund(const Order& order, v1::CustomerEvent& event);
  void MakeInteraction(const Persona& persona, v1::CustomerEvent& event);
  void MakeRegistration(const Persona& persona, absl::Time at, v1::CustomerEvent& event);
  void MakeProfileChange(const Persona& persona, absl::Time at, v1::CustomerEvent& event);
  void MakeConsent(v1::CustomerEvent& event);
  [[nodiscard]] bool MakeErasure(absl::Time at, v1::CustomerEvent& event);
  void MakeGarbage(Record& record);
  void SetRandomKey(Record& record);

  GeneratorOptions options_;
  Rng rng_;
  std::int64_t produced_ = 0;
  int id_digits_ = 6;
  std::string event_id_prefix_;
  // Model holds the large tables (rank sampling, per-customer state, recent orders).
  std::unique_ptr<Model> model_;
};

}  // namespace cdp::tools
