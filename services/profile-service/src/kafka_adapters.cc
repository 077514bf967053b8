#include "kafka_adapters.h"

#include <algorithm>
#include <iterator>
#include <thread>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cdp/common/absl_string.h"
#include "cdp/kafka/admin.h"
#include "cdp/state/store.h"
#include "log.h"

namespace cdp::service {
namespace {

// The kind of a changelog record. Only a profile can have a key that is neither empty (a
// checkpoint's) nor an erasure id, so the header is read only for those: librdkafka parses a
// record's headers into a list of their own, which was a third of a restore's reading. The
// restore checks that a profile record holds the profile of the customer its key names.
std::optional<std::string_view> KindOf(const kafka::Message& message,
                                       std::optional<std::string_view> key) {
  if (key.has_value() && !key->empty() && !key->starts_with(state::Store::kErasureIdPrefix)) {
    return pipeline::kChangelogProfile;
  }
  return message.header(pipeline::kChangelogKindHeader);
}

std::string Describe(const std::vector<kafka::TopicPartition>& partitions) {
  return absl::StrJoin(partitions, ",", [](std::string* out, const kafka::TopicPartition& tp) {
    out->append(kafka::ToString(tp));
  });
}

// Long enough for a broker failover; a restore that hears nothing for this long fails the
// assignment rather than hanging it.
constexpr absl::Duration kChangelogTimeout = absl::Seconds(30);

}  // namespace

absl::Status KafkaSink::Send(pipeline::OutputRecord record) {
  // Inline: every output record takes this path, with a header or two.
  absl::InlinedVector<kafka::Header, 2> headers;
  for (const auto& header : record.headers) headers.push_back({header.key, header.value});
  switch (record.kind) {
    case pipeline::OutputRecord::Kind::kSegmentChange:
      return producer_.Produce(change_topic_, record.key, record.value, headers);
    case pipeline::OutputRecord::Kind::kDeadLetter:
      return producer_.Produce(dlq_topic_, record.key, record.value, headers);
    case pipeline::OutputRecord::Kind::kChangelog:
      return producer_.Produce(
          changelog_topic_, record.key,
          record.tombstone ? std::nullopt : std::optional<std::string_view>(record.value), headers,
          record.partition);
    case pipeline::OutputRecord::Kind::kRepartition:
      return producer_.Produce(repartition_topic_, record.key, record.value, headers,
                               record.partition);
  }
  return absl::InternalError("an output record of an unknown kind");
}

absl::Status KafkaSink::Flush() {
  absl::Status flushed = producer_.Flush(absl::Seconds(30));
  if (flushed.ok() && crash_points_ != nullptr) crash_points_->Reached(CrashPoint::kAfterProduce);
  return flushed;
}

absl::Status KafkaChangelog::QueryExtents(const std::vector<Partition>& partitions) {
  // Extents left from an assignment that failed part way are stale by now.
  extents_.clear();
  std::vector<kafka::TopicPartition> query;
  query.reserve(partitions.size());
  for (Partition partition : partitions) query.push_back({topic_, partition});
  auto watermarks = reader_.QueryWatermarks(query, kChangelogTimeout);
  if (!watermarks.ok()) return watermarks.status();
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    extents_[partitions[i]] = {(*watermarks)[i].low, (*watermarks)[i].high};
  }
  return absl::OkStatus();
}

absl::StatusOr<pipeline::ChangelogExtent> KafkaChangelog::Extent(Partition partition) {
  if (auto cached = extents_.find(partition); cached != extents_.end()) {
    const pipeline::ChangelogExtent extent = cached->second;
    extents_.erase(cached);
    return extent;
  }
  auto watermarks = reader_.QueryWatermarks({topic_, partition}, kChangelogTimeout);
  if (!watermarks.ok()) return watermarks.status();
  return pipeline::ChangelogExtent{watermarks->low, watermarks->high};
}

absl::Status KafkaChangelog::Prefetch(Partition partition) {
  return reader_.Prefetch({topic_, partition}, 0, kChangelogTimeout);
}

absl::Status KafkaChangelog::DropPrefetched() { return reader_.DropPrefetched(); }

absl::Status KafkaChangelog::Read(Partition partition, std::int64_t from, std::int64_t until,
                                  const Visitor& visit) {
  return reader_.Read(
      {topic_, partition}, from, until,
      [&](const kafka::Message& message) {
        const std::optional<std::string_view> key = message.key();
        return visit(pipeline::ChangelogRecord{.offset = message.offset(),
                                               .key = key,
                                               .value = message.value(),
                                               .kind = KindOf(message, key)});
      },
      kChangelogTimeout);
}

absl::StatusOr<RestoreReaders> RestoreReaders::Open(const kafka::PartitionReaderOptions& options,
                                                    const std::string& topic, int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  RestoreReaders readers;
  for (int i = 0; i < threads; ++i) {
    auto reader = kafka::PartitionReader::Create(options);
    if (!reader.ok()) return reader.status();
    readers.readers_.push_back(std::move(*reader));
    readers.changelogs_.push_back(
        std::make_unique<KafkaChangelog>(*readers.readers_.back(), topic));
  }
  return readers;
}

std::vector<KafkaChangelog*> RestoreReaders::changelogs() const {
  std::vector<KafkaChangelog*> changelogs;
  for (const auto& changelog : changelogs_) changelogs.push_back(changelog.get());
  return changelogs;
}

OwnershipMetrics OwnershipMetrics::Register(prometheus::Registry& registry) {
  auto& restores = prometheus::BuildCounter()
                       .Name("cdp_changelog_restores_total")
                       .Help(
                           "Partitions assigned with a changelog: restored from it, or whose "
                           "local state was up to date.")
                       .Register(registry);
  auto& rebalances = prometheus::BuildCounter()
                         .Name("cdp_rebalances_total")
                         .Help(
                             "Consumer group rebalances that moved partitions here: assigned, "
                             "revoked (orderly), or lost (the session timed out).")
                         .Register(registry);
  return OwnershipMetrics{
      .assigned = rebalances.Add({{"kind", "assigned"}}),
      .revoked = rebalances.Add({{"kind", "revoked"}}),
      .lost = rebalances.Add({{"kind", "lost"}}),
      .records = prometheus::BuildCounter()
                     .Name("cdp_changelog_restored_records_total")
                     .Help("Changelog records read by restores.")
                     .Register(registry)
                     .Add({}),
      .restored = restores.Add({{"result", "restored"}}),
      .up_to_date = restores.Add({{"result", "up_to_date"}}),
      .restoring = prometheus::BuildGauge()
                       .Name("cdp_changelog_restoring_partitions")
                       .Help("Partitions being restored from the changelog right now.")
                       .Register(registry)
                       .Add({}),
      .seconds_last = prometheus::BuildGauge()
                          .Name("cdp_changelog_last_restore_seconds")
                          .Help("How long the last restore of a partition took.")
                          .Register(registry)
                          .Add({})};
}

absl::StatusOr<std::map<kafka::TopicPartition, Offset>> Ownership::OnAssigned(
    const std::vector<kafka::TopicPartition>& partitions) {
  // A cooperative rebalance that moves nothing here still calls back, with no partitions.
  if (metrics_ != nullptr && !partitions.empty()) metrics_->assigned.Increment();
  std::map<kafka::TopicPartition, Offset> start;
  auto changelog_empty = RestoreAll(partitions);
  if (!changelog_empty.ok()) return changelog_empty.status();
  for (std::size_t i = 0; i < partitions.size(); ++i) {
    const kafka::TopicPartition& tp = partitions[i];
    auto resume = processor_.ResumeOffset(tp.partition);
    if (!resume.ok()) return resume.status();
    if ((*changelog_empty)[i]) {
      auto seeded = processor_.SeedChangelog(tp.partition);
      if (!seeded.ok()) return seeded.status();
      if (*seeded > 0) {
        Log(LogLevel::kInfo, "wrote the ", *seeded, " profiles of ", kafka::ToString(tp),
            " to its empty changelog");
      }
    }
    if (repartition_ != nullptr) {
      const kafka::TopicPartition follower{repartition_->topic, tp.partition};
      if (absl::Status assigned = repartition_->consumer.Assign(follower, resume->repartition);
          !assigned.ok()) {
        return assigned;
      }
      std::lock_guard lock(mutex_);
      Own(follower, resume->repartition);
    }
    std::lock_guard lock(mutex_);
    Own(tp, resume->input);
    if (resume->input.has_value()) start[tp] = *resume->input;
  }
  Log(LogLevel::kInfo, "assigned ", Describe(partitions),
      "; resuming from the offsets in local state");
  return start;
}

absl::StatusOr<std::vector<bool>> Ownership::RestoreAll(
    const std::vector<kafka::TopicPartition>& partitions) {
  // No changelog, or a rebalance that moved nothing here.
  if (changelogs_.empty() || partitions.empty()) {
    return std::vector<bool>(partitions.size(), false);
  }
  const std::size_t threads = std::min(changelogs_.size(), partitions.size());
  std::vector<absl::StatusOr<bool>> results(partitions.size(), false);
  std::atomic<bool> failed = false;
  // Dealt round-robin: the partitions of a topic hold about as much each.
  const auto restore_share = [&](std::size_t thread) {
    KafkaChangelog& changelog = *changelogs_[thread];
    std::vector<Partition> share;
    for (std::size_t i = thread; i < partitions.size(); i += threads) {
      share.push_back(partitions[i].partition);
    }
    // A failure here is retried by each partition's own query.
    static_cast<void>(changelog.QueryExtents(share));
    for (std::size_t i = thread; i < partitions.size() && !failed; i += threads) {
      // A failure here is the next restore's to report: its read starts afresh.
      if (i + threads < partitions.size()) {
        static_cast<void>(changelog.Prefetch(partitions[i + threads].partition));
      }
      results[i] = Restore(partitions[i], changelog);
      if (!results[i].ok()) failed = true;
    }
    // What is still prefetched was never read (an empty changelog, a failed restore): the reader
    // would go on fetching it. Should releasing it fail, the next restore's prefetch retries.
    static_cast<void>(changelog.DropPrefetched());
  };
  std::vector<std::thread> others;
  others.reserve(threads - 1);
  for (std::size_t thread = 1; thread < threads; ++thread) {
    others.emplace_back(restore_share, thread);
  }
  restore_share(0);
  for (std::thread& other : others) other.join();
  // Restores commit without the log; what they wrote, even a failed one's, becomes durable
  // meanwhile.
  persister_->Request();
  // After a failure the threads stop; what they skipped is never looked at, as a failure is
  // returned.
  std::vector<bool> changelog_empty;
  changelog_empty.reserve(results.size());
  for (const absl::StatusOr<bool>& result : results) {
    if (!result.ok()) return result.status();
    changelog_empty.push_back(*result);
  }
  return changelog_empty;
}

absl::StatusOr<bool> Ownership::Restore(const kafka::TopicPartition& tp,
                                        KafkaChangelog& changelog) {
  ++restoring_;
  if (metrics_ != nullptr) metrics_->restoring.Increment();
  const absl::Time started = absl::Now();
  std::uint64_t counted = 0;
  auto result =
      pipeline::RestoreFromChangelog(store_, changelog, tp.partition, [&](std::uint64_t records) {
        if (metrics_ != nullptr) {
          metrics_->records.Increment(static_cast<double>(records - counted));
        }
        counted = records;
        if (crash_points_ != nullptr) crash_points_->Reached(CrashPoint::kDuringRestore);
      });
  --restoring_;
  if (metrics_ != nullptr) metrics_->restoring.Decrement();
  if (!result.ok()) {
    if (absl::IsNotFound(result.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat(result.status().message(),
                       " (the changelog topic needs as many partitions as the input topic)"));
    }
    return result.status();
  }
  const absl::Duration took = absl::Now() - started;
  if (metrics_ != nullptr) {
    (result->restored ? metrics_->restored : metrics_->up_to_date).Increment();
    if (result->restored) metrics_->seconds_last.Set(absl::ToDoubleSeconds(took));
  }
  if (result->restored) {
    const double seconds = std::max(absl::ToDoubleSeconds(took), 1e-3);
    Log(LogLevel::kInfo, "restored ", kafka::ToString(tp),
        " from the changelog: ", result->profiles, " profiles from ", result->records,
        " records in ", absl::FormatDuration(took), " (",
        static_cast<std::uint64_t>(static_cast<double>(result->records) / seconds), " records/s)");
  }
  return result->changelog_empty;
}

void Ownership::OnRevoked(const std::vector<kafka::TopicPartition>& partitions) {
  if (metrics_ != nullptr && !partitions.empty()) metrics_->revoked.Increment();
  // Batches are processed and committed between polls, so no work is in hand here.
  Release(partitions);
  Log(LogLevel::kInfo, "revoked ", Describe(partitions));
}

void Ownership::OnLost(const std::vector<kafka::TopicPartition>& partitions) {
  if (metrics_ != nullptr && !partitions.empty()) metrics_->lost.Increment();
  Release(partitions);
  Log(LogLevel::kWarn, "lost ", Describe(partitions),
      " (session timed out); another member owns them");
}

void Ownership::UpdateLag(const std::map<kafka::TopicPartition, std::int64_t>& lag) {
  std::lock_guard lock(mutex_);
  for (const auto& [tp, records] : lag) {
    if (auto it = lag_.find(tp); it != lag_.end()) it->second->Set(static_cast<double>(records));
  }
}

void Ownership::AddOffsetsToCommit(const std::map<kafka::TopicPartition, Offset>& offsets) {
  std::lock_guard lock(mutex_);
  for (const auto& [tp, offset] : offsets) to_commit_[tp] = offset;
}

void Ownership::RetryOffsetsToCommit(const std::map<kafka::TopicPartition, Offset>& offsets) {
  std::lock_guard lock(mutex_);
  for (const auto& [tp, offset] : offsets) {
    if (owned_.contains(tp)) to_commit_.try_emplace(tp, offset);
  }
}

std::map<kafka::TopicPartition, Offset> Ownership::TakeOffsetsToCommit() {
  std::lock_guard lock(mutex_);
  return std::exchange(to_commit_, {});
}

void Ownership::Own(const kafka::TopicPartition& tp, std::optional<Offset> offset) {
  owned_.insert(tp);
  if (offset.has_value()) to_commit_[tp] = *offset;
  if (lag_family_ != nullptr) {
    lag_[tp] =
        &lag_family_->Add({{"topic", tp.topic}, {"partition", absl::StrCat(tp.partition.value())}});
  }
}

void Ownership::Disown(const kafka::TopicPartition& tp) {
  owned_.erase(tp);
  to_commit_.erase(tp);
  if (auto it = lag_.find(tp); it != lag_.end()) {
    lag_family_->Remove(it->second);
    lag_.erase(it);
  }
}

void Ownership::Release(const std::vector<kafka::TopicPartition>& partitions) {
  std::vector<kafka::TopicPartition> followers;
  std::lock_guard lock(mutex_);
  for (const auto& tp : partitions) {
    processor_.Release(tp.partition);
    Disown(tp);
    if (repartition_ != nullptr) {
      followers.push_back({repartition_->topic, tp.partition});
      Disown(followers.back());
    }
  }
  if (repartition_ == nullptr) return;
  if (absl::Status unassigned = repartition_->consumer.Unassign(followers); !unassigned.ok()) {
    failure_ =
        absl::InternalError(absl::StrCat("cannot stop reading ", Describe(followers),
                                         " after they were revoked: ", unassigned.message()));
  }
}

absl::StatusOr<int> CheckCoPartitioned(std::string_view bootstrap,
                                       const kafka::Properties& properties,
                                       std::string_view input_topic,
                                       const std::vector<std::string>& followers) {
  auto partitions = kafka::PartitionCount(bootstrap, properties, input_topic);
  if (!partitions.ok()) return partitions.status();
  for (const std::string& topic : followers) {
    if (topic.empty()) continue;
    auto count = kafka::PartitionCount(bootstrap, properties, topic);
    if (!count.ok()) return count.status();
    if (*count != *partitions) {
      return absl::FailedPreconditionError(absl::StrCat(
          "topic '", topic, "' has ", *count, " partitions and the input topic '",
          ToAbsl(input_topic), "' ", *partitions,
          ": the changelog and repartition topics must have as many partitions as the input "
          "topic, since each customer's state lives in the partition its id hashes to; "
          "recreate '",
          topic, "' with ", *partitions, " partitions or name another topic"));
    }
  }
  return *partitions;
}

std::vector<pipeline::InputRecord> ToInputRecords(const std::vector<kafka::Message>& messages,
                                                  std::string_view repartition_topic) {
  std::vector<pipeline::InputRecord> records;
  records.reserve(messages.size());
  for (const kafka::Message& message : messages) {
    pipeline::InputRecord& record = records.emplace_back(
        pipeline::InputRecord{message.partition(), Offset(message.offset()), message.key(),
                              message.value(), message.header("content-type").value_or(""),
                              message.timestamp().value_or(absl::InfinitePast())});
    if (message.topic() != repartition_topic) continue;
    record.source = pipeline::InputSource::kRepartition;
    std::int64_t micros = 0;
    if (const auto clock = message.header(pipeline::kSourceClockHeader);
        clock.has_value() && absl::SimpleAtoi(ToAbsl(*clock), &micros)) {
      record.source_clock = absl::FromUnixMicros(micros);
    }
    const auto topic = message.header(pipeline::kDlqTopicHeader);
    const auto partition = message.header(pipeline::kDlqPartitionHeader);
    const auto offset = message.header(pipeline::kDlqOffsetHeader);
    std::int32_t origin_partition = 0;
    std::int64_t origin_offset = 0;
    if (topic.has_value() && partition.has_value() && offset.has_value() &&
        absl::SimpleAtoi(ToAbsl(*partition), &origin_partition) &&
        absl::SimpleAtoi(ToAbsl(*offset), &origin_offset)) {
      record.origin =
          pipeline::SourceRecord{*topic, Partition(origin_partition), Offset(origin_offset)};
    }
    std::int64_t passed_on_after = 0;
    if (const auto previous = message.header(pipeline::kSourcePreviousHeader);
        previous.has_value() && absl::SimpleAtoi(ToAbsl(*previous), &passed_on_after)) {
      record.passed_on_after = passed_on_after;
    }
  }
  return records;
}

std::map<kafka::TopicPartition, Offset> NextOffsets(const std::vector<kafka::Message>& messages) {
  std::map<kafka::TopicPartition, Offset> next;
  for (const kafka::Message& message : messages) {
    next[{std::string(message.topic()), message.partition()}] = message.next_offset();
  }
  return next;
}

}  // namespace cdp::service
