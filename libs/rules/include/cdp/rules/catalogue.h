#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cdp/rules/expression.h"

namespace cdp::rules {

struct Segment {
  std::string id;
  std::string description;
  Expression when;
  // `min_dwell` in days, 0 for none: once entered, the segment is held until the start of the day
  // this many days after the day of entry, whatever the rule says meanwhile.
  int min_dwell_days = 0;
};

struct Tier {
  std::string id;
  std::string description;
  Expression when;
  // As Segment::min_dwell_days: while it runs, the customer keeps this tier of the dimension.
  int min_dwell_days = 0;
};

// Tiers are exclusive: a customer holds the first tier whose rule matches, or none.
struct Dimension {
  std::string id;
  std::string description;
  std::vector<Tier> tiers;
};

// Breakpoints for the rfm_r/f/m scores (1-5). A score is 1 + the number of breakpoints the value
// reaches (`>=`); recency is inverted, fewer days since the last purchase scoring higher.
struct RfmBreakpoints {
  std::array<double, 4> recency_days = {30, 90, 180, 365};
  std::array<double, 4> frequency_orders_365d = {2, 3, 5, 8};
  std::array<double, 4> monetary_365d = {20000, 50000, 100000, 300000};
};

// Where the rfm scores' breakpoints come from.
enum class RfmScoring {
  // `rfm` in the segment file: fixed values over orders_365d, monetary_365d and the days since the
  // last purchase.
  kBreakpoints,
  // Quintiles of the customers with a purchase in the same partition, refreshed daily, over
  // orders_total, monetary_total and the days since the last purchase (core/population.h).
  kQuintiles,
};

// A parsed, validated segment file.
struct SegmentCatalogue {
  std::string timezone_name = "UTC";
  absl::TimeZone timezone = absl::UTCTimeZone();
  RfmScoring rfm_scoring = RfmScoring::kBreakpoints;
  // With RfmScoring::kBreakpoints.
  RfmBreakpoints rfm;
  std::vector<Segment> segments;
  std::vector<Dimension> dimensions;
};

// Parses the YAML text of a segment file; `file_name` only labels errors. All errors found are
// reported, one per line, each as "file:line:column: message".
[[nodiscard]] absl::StatusOr<SegmentCatalogue> ParseSegmentCatalogue(std::string_view yaml_text,
                                                                     std::string_view file_name);

// Reads and parses a segment file.
[[nodiscard]] absl::StatusOr<SegmentCatalogue> LoadSegmentCatalogue(const std::string& path);

}  // namespace cdp::rules
