#include "time_util.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace cdp::core::internal {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

// A time zone's UTC offsets over the years instants fall in, as spans between its transitions:
// a day number is then a bisection and a division.
class ZoneOffsets {
 public:
  explicit ZoneOffsets(absl::TimeZone zone) : zone_(zone) {
    // Instants outside [1900, 2200) fall back to absl's lookup.
    const absl::Time first = absl::FromCivil(absl::CivilSecond(1900, 1, 1, 0, 0, 0), zone);
    end_ = absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(2200, 1, 1, 0, 0, 0), zone));
    starts_.push_back(absl::ToUnixSeconds(first));
    offsets_.push_back(zone.At(first).offset);
    absl::TimeZone::CivilTransition transition;
    for (absl::Time at = first; zone.NextTransition(at, &transition);) {
      at = zone.At(transition.to).trans;
      const std::int64_t start = absl::ToUnixSeconds(at);
      if (start >= end_) break;
      starts_.push_back(start);
      offsets_.push_back(zone.At(at).offset);
    }
  }

  [[nodiscard]] absl::TimeZone zone() const { return zone_; }

  // The offset in seconds east of UTC at `unix_seconds`; nullopt outside the spans.
  [[nodiscard]] std::optional<int> At(std::int64_t unix_seconds) const {
    if (unix_seconds < starts_.front() || unix_seconds >= end_) return std::nullopt;
    const auto after = std::upper_bound(starts_.begin(), starts_.end(), unix_seconds);
    return offsets_[static_cast<std::size_t>(after - starts_.begin() - 1)];
  }

 private:
  absl::TimeZone zone_;
  // Where each span starts (Unix seconds, ascending) and its offset.
  std::vector<std::int64_t> starts_;
  std::vector<int> offsets_;
  std::int64_t end_ = 0;
};

// The offsets of `zone`, built on first use. A process uses a zone or two, for its whole life (as
// absl keeps them): the tables are never freed, and the last one used is found without a lock.
const ZoneOffsets& OffsetsOf(absl::TimeZone zone) {
  static std::atomic<const ZoneOffsets*> last_used{nullptr};
  const ZoneOffsets* offsets = last_used.load(std::memory_order_acquire);
  if (offsets != nullptr && offsets->zone() == zone) return *offsets;
  static std::mutex mutex;
  static auto* const built = new std::vector<std::unique_ptr<const ZoneOffsets>>();
  const std::lock_guard<std::mutex> lock(mutex);
  const auto it = std::find_if(built->begin(), built->end(),
                               [&](const auto& table) { return table->zone() == zone; });
  offsets = it != built->end() ? it->get()
                               : built->emplace_back(std::make_unique<ZoneOffsets>(zone)).get();
  last_used.store(offsets, std::memory_order_release);
  return *offsets;
}

}  // namespace

std::int64_t DayOf(absl::Time time, absl::TimeZone zone) {
  // Whole seconds rounded towards the infinite past, as civil time truncates.
  const std::int64_t seconds = absl::ToUnixSeconds(time);
  if (const std::optional<int> offset = OffsetsOf(zone).At(seconds)) {
    const std::int64_t local = seconds + *offset;
    return local / kSecondsPerDay - (local % kSecondsPerDay < 0 ? 1 : 0);
  }
  return DayNumber(absl::ToCivilDay(time, zone));
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp ts;
  // ToUnixSeconds rounds towards the infinite past, so the remainder is never negative.
  const std::int64_t seconds = absl::ToUnixSeconds(time);
  ts.set_seconds(seconds);
  ts.set_nanos(
      static_cast<std::int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return ts;
}

std::optional<CivilDate> ParseIsoDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  const auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    int value = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  const auto year = number(0, 4);
  const auto month = number(5, 2);
  const auto day = number(8, 2);
  if (!year || !month || !day) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > DaysInMonth(*year, *month)) {
    return std::nullopt;
  }
  return CivilDate{*year, *month, *day};
}

}  // namespace cdp::core::internal
