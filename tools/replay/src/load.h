#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cdp/v1/customer_event.pb.h"

namespace cdp::tools::replay {

enum class InputFormat {
  // One protobuf-JSON CustomerEvent per line.
  kJsonLines,
  // One purchase item per row; rows sharing an event_id are one purchase.
  kCsvPurchases,
};

struct LoadOptions {
  InputFormat format = InputFormat::kJsonLines;
  // Currency of CSV purchases whose row names none.
  std::string currency = "CNY";
};

// An event checked and ready to publish.
struct ReplayEvent {
  absl::Time occurred_at;
  std::string customer_id;
  // Binary protobuf cdp.v1.CustomerEvent: the most compact form to hold a year of history in.
  std::string protobuf;
};

// How many problems a LoadResult describes; the rest are only counted.
inline constexpr std::size_t kMaxProblemDetails = 20;

struct LoadResult {
  // Sorted by occurred_at; ties keep input order (inputs in the order added, then lines).
  std::vector<ReplayEvent> events;
  // Invalid lines (JSON) or rows (CSV), each left out.
  std::int64_t invalid = 0;
  // "name:line: reason" for the first kMaxProblemDetails of them.
  std::vector<std::string> problems;
  // Valid CSV rows left out because another row of their purchase was invalid.
  std::int64_t rows_left_out = 0;
};

// The shape every published event must have: event_id, customer_id, occurred_at within RFC 3339's
// years 0001-9999, a payload. nullopt when it has it, else what is missing.
[[nodiscard]] std::optional<std::string> CheckShape(const v1::CustomerEvent& event);

// RFC 3339 in UTC ("...Z"), as protobuf-JSON writes occurred_at; `time` must lie in years
// 0001-9999, as every loaded event's does.
[[nodiscard]] std::string Rfc3339(absl::Time time);

// Reads inputs one after the other, checking every event, and orders them. Not thread-safe.
class Loader {
 public:
  // With `progress`, a line about once a second says how far reading got: parsing protobuf-JSON
  // takes tens of microseconds an event, minutes for a big history.
  explicit Loader(LoadOptions options, std::ostream* progress = nullptr)
      : options_(std::move(options)), progress_(progress) {}

  // Reads all of `in`; `name` starts its problems' descriptions. Problems of single lines or rows
  // are collected for Finish. A problem with the input as a whole (unreadable, a CSV header
  // without a required column or with an unknown one) is returned: the run cannot go on.
  [[nodiscard]] absl::Status Add(std::string_view name, std::istream& in);

  // Every valid event added, in occurred_at order.
  [[nodiscard]] LoadResult Finish() &&;

 private:
  // A CSV purchase being assembled from its rows.
  struct Purchase {
    // Into events_; kNoEvent when its first row was invalid.
    std::size_t event = 0;
    std::size_t rows = 0;
    std::size_t first_source = 0;
    std::int64_t first_line = 0;
  };
  static constexpr std::size_t kNoEvent = static_cast<std::size_t>(-1);

  [[nodiscard]] absl::Status AddJsonLines(std::string_view name, std::istream& in);
  [[nodiscard]] absl::Status AddCsvPurchases(std::string_view name, std::istream& in);
  void AddCsvRow(std::string_view name, std::int64_t line, const std::vector<int>& columns,
                 const std::vector<std::string>& fields);
  void AddProblem(std::string description);
  void ReportProgress(std::string_view name, std::int64_t line);
  void AddEvent(const v1::CustomerEvent& event);
  // Leaves out the purchase with this event_id, now and for its later rows.
  void LeaveOut(const std::string& event_id);

  LoadOptions options_;
  std::ostream* progress_;
  absl::Time last_progress_ = absl::Now();
  std::vector<ReplayEvent> events_;
  // Parallel to events_: left out because of an invalid row of the same purchase.
  std::vector<bool> left_out_;
  std::vector<std::string> sources_;
  absl::flat_hash_map<std::string, Purchase> purchases_;
  LoadResult result_;
};

// Adds each path in turn ("-": standard input) to a Loader and finishes it.
[[nodiscard]] absl::StatusOr<LoadResult> LoadFiles(std::span<const std::string> paths,
                                                   const LoadOptions& options,
                                                   std::ostream* progress = nullptr);

}  // namespace cdp::tools::replay
