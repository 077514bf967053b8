#include "cdp/pipeline/internal/applied_log.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "google/protobuf/io/coded_stream.h"

namespace cdp::pipeline::internal {
namespace {

using google::protobuf::io::CodedOutputStream;

constexpr std::uint32_t kLengthDelimitedWire = 2;
constexpr std::uint32_t kVarintWire = 0;

constexpr std::uint32_t FieldTag(int field, std::uint32_t wire_type) {
  return (static_cast<std::uint32_t>(field) << 3) | wire_type;
}

constexpr std::uint32_t kAppliedEventsTag =
    FieldTag(v1::CustomerProfile::kAppliedEventsFieldNumber, kLengthDelimitedWire);
constexpr std::uint32_t kEventIdTag =
    FieldTag(v1::AppliedEvent::kEventIdFieldNumber, kLengthDelimitedWire);
constexpr std::uint32_t kExpiresAtTag =
    FieldTag(v1::AppliedEvent::kExpiresAtUsFieldNumber, kVarintWire);

std::size_t HashOf(std::string_view event_id) { return std::hash<std::string_view>{}(event_id); }

}  // namespace

void AppliedLog::TakeFrom(v1::CustomerProfile& profile) {
  if (profile.applied_events().empty()) return;
  entries_.reserve(entries_.size() + static_cast<std::size_t>(profile.applied_events_size()));
  for (const v1::AppliedEvent& applied : profile.applied_events()) {
    Append(applied.event_id(), applied.expires_at_us());
  }
  profile.clear_applied_events();
}

bool AppliedLog::Contains(std::string_view event_id, std::int64_t now_us) const {
  const std::size_t hash = HashOf(event_id);
  // Most events were not applied before, and most of those are told by the hash alone.
  if (index_ != nullptr && !index_->contains(hash)) return false;
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& entry) {
    return entry.hash == hash && entry.expires_at_us > now_us && IdOf(entry) == event_id;
  });
}

void AppliedLog::Add(std::string_view event_id, std::int64_t expires_at_us, std::int64_t now_us) {
  if (!entries_.empty() && entries_.front().expires_at_us <= now_us) {
    AppliedLog kept;
    for (const Entry& entry : entries_) {
      if (entry.expires_at_us > now_us) kept.Append(IdOf(entry), entry.expires_at_us);
    }
    *this = std::move(kept);
  }
  Append(event_id, expires_at_us);
}

void AppliedLog::Append(std::string_view event_id, std::int64_t expires_at_us) {
  entries_.push_back(Entry{.hash = HashOf(event_id),
                           .expires_at_us = expires_at_us,
                           .id_offset = static_cast<std::uint32_t>(ids_.size()),
                           .id_size = static_cast<std::uint32_t>(event_id.size())});
  ids_.append(event_id);
  if (index_ != nullptr) {
    index_->insert(entries_.back().hash);
  } else if (entries_.size() >= kIndexedFrom) {
    index_ = std::make_unique<absl::flat_hash_set<std::size_t>>();
    for (const Entry& entry : entries_) index_->insert(entry.hash);
  }
}

void AppliedLog::AppendTo(std::string& serialized) const {
  // As the message would write them (proto3: fields at their default are left out), so that the
  // bytes parse to the same profile.
  const auto body_size = [](const Entry& entry) {
    std::size_t size = 0;
    if (entry.id_size > 0) {
      size += CodedOutputStream::VarintSize32(kEventIdTag) +
              CodedOutputStream::VarintSize32(entry.id_size) + entry.id_size;
    }
    if (entry.expires_at_us != 0) {
      size += CodedOutputStream::VarintSize32(kExpiresAtTag) +
              CodedOutputStream::VarintSize64(static_cast<std::uint64_t>(entry.expires_at_us));
    }
    return size;
  };
  std::size_t total = 0;
  for (const Entry& entry : entries_) {
    const std::size_t body = body_size(entry);
    total += CodedOutputStream::VarintSize32(kAppliedEventsTag) +
             CodedOutputStream::VarintSize32(static_cast<std::uint32_t>(body)) + body;
  }
  const std::size_t start = serialized.size();
  serialized.resize(start + total);
  auto* out = reinterpret_cast<std::uint8_t*>(serialized.data() + start);
  for (const Entry& entry : entries_) {
    out = CodedOutputStream::WriteVarint32ToArray(kAppliedEventsTag, out);
    out =
        CodedOutputStream::WriteVarint32ToArray(static_cast<std::uint32_t>(body_size(entry)), out);
    if (entry.id_size > 0) {
      out = CodedOutputStream::WriteVarint32ToArray(kEventIdTag, out);
      out = CodedOutputStream::WriteVarint32ToArray(entry.id_size, out);
      out = CodedOutputStream::WriteRawToArray(ids_.data() + entry.id_offset,
                                               static_cast<int>(entry.id_size), out);
    }
    if (entry.expires_at_us != 0) {
      out = CodedOutputStream::WriteVarint32ToArray(kExpiresAtTag, out);
      out = CodedOutputStream::WriteVarint64ToArray(static_cast<std::uint64_t>(entry.expires_at_us),
                                                    out);
    }
  }
}

std::vector<std::string> AppliedLog::EventIds() const {
  std::vector<std::string> ids;
  ids.reserve(entries_.size());
  for (const Entry& entry : entries_) ids.emplace_back(IdOf(entry));
  return ids;
}

void AppliedLog::Clear() {
  entries_.clear();
  ids_.clear();
  index_.reset();
}

}  // namespace cdp::pipeline::internal
