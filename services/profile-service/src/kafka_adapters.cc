#include "kafka_adapters.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "log.h"

namespace cdp::service {
namespace {

std::string Describe(const std::vector<kafka::TopicPartition>& partitions) {
  return absl::StrJoin(partitions, ",", [](std::string* out, const kafka::TopicPartition& tp) {
    out->append(kafka::ToString(tp));
  });
}

}  // namespace

absl::Status KafkaSink::Send(pipeline::OutputRecord record) {
  std::vector<kafka::Header> headers;
  headers.reserve(record.headers.size());
  for (const auto& header : record.headers) headers.push_back({header.key, header.value});
  const std::string& topic =
      record.kind == pipeline::OutputRecord::Kind::kSegmentChange ? change_topic_ : dlq_topic_;
  return producer_.Produce(topic, record.key, record.value, headers);
}

absl::Status KafkaSink::Flush() { return producer_.Flush(absl::Seconds(30)); }

absl::StatusOr<std::map<kafka::TopicPartition, Offset>> Ownership::OnAssigned(
    const std::vector<kafka::TopicPartition>& partitions) {
  std::map<kafka::TopicPartition, Offset> start;
  for (const auto& tp : partitions) {
    auto offset = processor_.ResumeOffset(tp.partition);
    if (!offset.ok()) return offset.status();
    if (offset->has_value()) start[tp] = **offset;
    if (lag_family_ != nullptr) {
      std::lock_guard lock(mutex_);
      lag_[tp] = &lag_family_->Add(
          {{"topic", tp.topic}, {"partition", absl::StrCat(tp.partition.value())}});
    }
  }
  Log("INFO", "assigned ", Describe(partitions), "; resuming from the offsets in local state");
  return start;
}

void Ownership::OnRevoked(const std::vector<kafka::TopicPartition>& partitions) {
  // Batches are processed and committed between polls, so no work is in hand here.
  Release(partitions);
  Log("INFO", "revoked ", Describe(partitions));
}

void Ownership::OnLost(const std::vector<kafka::TopicPartition>& partitions) {
  Release(partitions);
  Log("WARN", "lost ", Describe(partitions), " (session timed out); another member owns them");
}

void Ownership::UpdateLag(const std::map<kafka::TopicPartition, std::int64_t>& lag) {
  std::lock_guard lock(mutex_);
  for (const auto& [tp, records] : lag) {
    if (auto it = lag_.find(tp); it != lag_.end()) it->second->Set(static_cast<double>(records));
  }
}

void Ownership::Release(const std::vector<kafka::TopicPartition>& partitions) {
  std::lock_guard lock(mutex_);
  for (const auto& tp : partitions) {
    processor_.Release(tp.partition);
    if (auto it = lag_.find(tp); it != lag_.end()) {
      lag_family_->Remove(it->second);
      lag_.erase(it);
    }
  }
}

absl::StatusOr<std::vector<kafka::Message>> PollBatch(kafka::Consumer& consumer,
                                                      std::size_t max_records,
                                                      absl::Duration max_wait,
                                                      absl::Duration idle_timeout) {
  auto batch = consumer.Poll(max_records, idle_timeout);
  if (!batch.ok() || batch->empty()) return batch;
  const absl::Time deadline = absl::Now() + max_wait;
  while (batch->size() < max_records) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    auto more = consumer.Poll(max_records - batch->size(), left);
    if (!more.ok()) return more.status();
    if (more->empty()) break;
    std::move(more->begin(), more->end(), std::back_inserter(*batch));
  }
  return batch;
}

std::vector<pipeline::InputRecord> ToInputRecords(const std::vector<kafka::Message>& messages) {
  std::vector<pipeline::InputRecord> records;
  records.reserve(messages.size());
  for (const kafka::Message& message : messages) {
    records.push_back(pipeline::InputRecord{message.partition(), Offset(message.offset()),
                                            message.key(), message.value(),
                                            message.header("content-type").value_or(""),
                                            message.timestamp().value_or(absl::InfinitePast())});
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
