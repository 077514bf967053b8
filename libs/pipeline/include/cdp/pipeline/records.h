#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cdp/common/strong_type.h"

namespace cdp::pipeline {

// Where an input record was consumed from.
enum class InputSource {
  kInput,
  // The repartition topic: an input event the owner of another partition passed on to the
  // partition its customer belongs to.
  kRepartition,
};

// An input record's coordinates.
struct SourceRecord {
  std::string_view topic;
  Partition partition;
  Offset offset;
};

// One consumed input record, as the Kafka adapter hands it over. Views stay valid for the
// duration of one Processor::Process call.
struct InputRecord {
  Partition partition;
  Offset offset;
  std::optional<std::string_view> key;    // nullopt: null key
  std::optional<std::string_view> value;  // nullopt: null value (a tombstone)
  std::string_view content_type;          // the `content-type` header, if any
  absl::Time broker_time = absl::InfinitePast();
  InputSource source = InputSource::kInput;
  // kRepartition: the clock of the partition that passed the event on, when it did (the
  // kSourceClockHeader); nullopt if the record does not say.
  std::optional<absl::Time> source_clock = std::nullopt;
  // kRepartition: the input record it was passed on from (its kDlq{Topic,Partition,Offset}Header
  // headers), when the record says. A dead letter names that record, the one upstream published.
  std::optional<SourceRecord> origin = std::nullopt;
  // kRepartition: the offset of the input record its source passed on to this partition before
  // it, -1 when none (kSourcePreviousHeader); nullopt if the record does not say.
  std::optional<std::int64_t> passed_on_after = std::nullopt;
};

struct Header {
  std::string key;
  std::string value;
};
// Inline: most records carry a header or two, and a heap block per output record showed.
using Headers = absl::InlinedVector<Header, 2>;

struct OutputRecord {
  // kChangelog: a profile (keyed by customer id; a tombstone when it was deleted) or a
  // partition's checkpoint (empty key), for the changelog partition of the same number as the
  // input partition it belongs to. kRepartition: an input record, as it was, keyed by its
  // customer id, for the repartition topic's partition of the customer.
  enum class Kind { kSegmentChange, kDeadLetter, kChangelog, kRepartition };
  Kind kind;
  std::string key;
  std::string value;
  Headers headers;
  // Set for kChangelog and kRepartition: the partition it goes to.
  std::optional<Partition> partition = std::nullopt;
  // A null value rather than `value`.
  bool tombstone = false;
};

// Where the processor's outputs go: the Kafka producer in the service, a fake in tests.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Queues a record for delivery; the topic follows from its kind.
  [[nodiscard]] virtual absl::Status Send(OutputRecord record) = 0;
  // Returns once every record sent so far is delivered; non-OK if any of them was not, in which
  // case the caller must not commit the state those records describe.
  [[nodiscard]] virtual absl::Status Flush() = 0;
};

// Changelog records carry their kind in this header: kChangelogProfile, kChangelogCheckpoint or
// kChangelogErasure (a v1::ChangelogErasure keyed by state::Store::ErasureId).
inline constexpr std::string_view kChangelogKindHeader = "cdp-changelog";
inline constexpr std::string_view kChangelogProfile = "profile";
inline constexpr std::string_view kChangelogCheckpoint = "checkpoint";
inline constexpr std::string_view kChangelogErasure = "erasure";

// A record passed on to the repartition topic carries the clock ("now": the wall clock, or in
// event-time mode the partition's event time) of the partition it came from, in Unix
// microseconds, so that its destination judges a replay of it as its source would have.
inline constexpr std::string_view kSourceClockHeader = "cdp-source-clock";
// And the offset of the record its source partition passed on to the same repartition partition
// before it, -1 for the first: its destination judges it only after that one (see
// PartitionState.passed_on_last).
inline constexpr std::string_view kSourcePreviousHeader = "cdp-source-previous";

// DLQ header names: a stable contract for whoever drains the dead-letter topic. Records passed on
// to the repartition topic carry the source headers too.
inline constexpr std::string_view kDlqReasonHeader = "cdp-reject-reason";
inline constexpr std::string_view kDlqDetailHeader = "cdp-reject-detail";
inline constexpr std::string_view kDlqTopicHeader = "cdp-source-topic";
inline constexpr std::string_view kDlqPartitionHeader = "cdp-source-partition";
inline constexpr std::string_view kDlqOffsetHeader = "cdp-source-offset";

}  // namespace cdp::pipeline
