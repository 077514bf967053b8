#include "reference_fold.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace cdp::profilectl {
namespace {

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace

ReferenceFold::ReferenceFold(const core::Engine& engine, FoldOptions options)
    : engine_(engine), options_(std::move(options)) {}

absl::StatusOr<Outcome> ReferenceFold::Consume(const EventRecord& record) {
  PartitionState& state = partitions_[record.partition];
  if (record.offset <= state.last_offset) {
    return absl::InvalidArgumentError(
        "offset " + std::to_string(record.offset) + " of partition " +
        std::to_string(record.partition.value()) + " comes after offset " +
        std::to_string(state.last_offset) +
        "; records must be in consumption order (ascending offsets per partition)");
  }
  state.last_offset = record.offset;

  v1::CustomerEvent event;
  std::optional<core::Rejection> rejection;
  if (!record.value.has_value()) {
    rejection = core::Rejection{core::RejectReason::kEmptyValue, "the record value is null"};
  } else {
    rejection = core::DecodeEvent(*record.value, core::FormatFromContentType(record.content_type),
                                  options_.decode, event);
  }
  if (!rejection) rejection = engine_.Validate(event, options_.validation_now);
  if (rejection) {
    rejects_.push_back(RejectedRecord{record.partition, record.offset, *std::move(rejection)});
    return Outcome::kRejected;
  }

  const Partition home = options_.routing.has_value()
                             ? PartitionFor(event.customer_id(), options_.routing->partitions,
                                            options_.routing->partitioner)
                             : record.partition;
  PartitionState& applied_in = partitions_[home];
  const absl::Time before =
      options_.clock == ClockMode::kWall ? options_.validation_now : applied_in.watermark;
  if (auto seen = applied_in.seen_until.find(event.event_id());
      seen != applied_in.seen_until.end() && before < seen->second) {
    return Outcome::kDuplicate;
  }
  const absl::Time occurred_at = ToAbslTime(event.occurred_at());
  const auto erased = applied_in.erased_at.find(event.customer_id());
  if (erased != applied_in.erased_at.end() && occurred_at < erased->second) {
    rejects_.push_back(
        RejectedRecord{record.partition, record.offset,
                       core::Rejection{core::RejectReason::kErased,
                                       absl::StrCat("occurred at ", absl::FormatTime(occurred_at),
                                                    ", before its customer's erasure at ",
                                                    absl::FormatTime(erased->second))}});
    return Outcome::kRejected;
  }

  absl::Time now = options_.validation_now;
  if (options_.clock == ClockMode::kEventTime) {
    applied_in.watermark = std::max(applied_in.watermark, ToAbslTime(event.occurred_at()));
    now = applied_in.watermark;
  }
  const auto key = std::make_pair(home, event.customer_id());
  v1::CustomerProfile& profile = profiles_[key];
  applied_in.seen_until[event.event_id()] = now + options_.dedup_retention;
  if (engine_.Apply(event, now, profile, changes_)) {
    profiles_.erase(key);
    absl::Time& erased_at =
        applied_in.erased_at.try_emplace(event.customer_id(), occurred_at).first->second;
    erased_at = std::max(erased_at, occurred_at);
    for (const std::string& forgotten : applied_in.applied_to[event.customer_id()]) {
      applied_in.seen_until.erase(forgotten);
    }
    applied_in.applied_to.erase(event.customer_id());
    return Outcome::kApplied;
  }
  applied_in.applied_to[event.customer_id()].push_back(event.event_id());
  if (erased != applied_in.erased_at.end()) {
    *profile.mutable_erased_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(erased->second));
  }
  return Outcome::kApplied;
}

void ReferenceFold::FireTimers() {
  for (auto& [key, profile] : profiles_) {
    absl::Time now = options_.validation_now;
    if (options_.clock == ClockMode::kEventTime) now = partitions_.at(key.first).watermark;
    engine_.FireTimers(now, profile, changes_);
  }
}

}  // namespace cdp::profilectl
