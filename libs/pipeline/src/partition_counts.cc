#include "cdp/pipeline/internal/partition_counts.h"

#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"

namespace cdp::pipeline::internal {

namespace {

// Field numbers of cdp.v1.CustomerProfile and its messages that a digest reads.
constexpr std::uint64_t kCustomerId = 1;
constexpr std::uint64_t kOrdersTotal = 2;
constexpr std::uint64_t kMonetaryTotal = 3;
constexpr std::uint64_t kLastPurchaseAt = 12;
constexpr std::uint64_t kSegments = 33;
constexpr std::uint64_t kTiers = 34;
constexpr std::uint64_t kTimerDueAt = 37;
constexpr std::uint64_t kTimestampSeconds = 1;
constexpr std::uint64_t kTimestampNanos = 2;
constexpr std::uint64_t kHeldTierDimension = 1;
constexpr std::uint64_t kHeldTierTier = 2;

enum WireType : std::uint64_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
constexpr std::uint64_t kMaxFieldNumber = (std::uint64_t{1} << 29) - 1;

// The protobuf wire format over a flat buffer, as far as a digest needs it. A restore digests
// every profile it writes, most of whose tags and lengths are single-byte varints: those take
// the first branch.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : next_(bytes.data()), end_(bytes.data() + bytes.size()) {}

  [[nodiscard]] bool Done() const { return next_ == end_; }

  // A field's number and wire type; false at a malformed tag.
  [[nodiscard]] bool Tag(std::uint64_t& field, std::uint64_t& wire_type) {
    std::uint64_t tag = 0;
    if (!Varint(tag)) return false;
    field = tag >> 3;
    wire_type = tag & 7;
    return field != 0 && field <= kMaxFieldNumber;
  }

  [[nodiscard]] bool Varint(std::uint64_t& value) {
    if (next_ != end_ && static_cast<std::uint8_t>(*next_) < 0x80U) {
      value = static_cast<std::uint8_t>(*next_++);
      return true;
    }
    return LongVarint(value);
  }

  [[nodiscard]] bool LengthDelimited(std::string_view& value) {
    std::uint64_t length = 0;
    if (!Varint(length) || length > static_cast<std::uint64_t>(end_ - next_)) return false;
    value = std::string_view(next_, length);
    next_ += length;
    return true;
  }

  // Groups are not in our schemas, and a parser of them would reject them too.
  [[nodiscard]] bool Skip(std::uint64_t wire_type) {
    std::uint64_t varint = 0;
    std::string_view bytes;
    switch (wire_type) {
      case kVarint:
        return Varint(varint);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return LengthDelimited(bytes);
      case kFixed32:
        return Advance(4);
      default:
        return false;
    }
  }

 private:
  [[nodiscard]] bool LongVarint(std::uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (next_ == end_) return false;
      const auto byte = static_cast<std::uint8_t>(*next_++);
      value |= std::uint64_t{byte & 0x7fU} << shift;
      if ((byte & 0x80U) == 0) return true;
    }
    return false;
  }

  [[nodiscard]] bool Advance(std::size_t bytes) {
    if (static_cast<std::size_t>(end_ - next_) < bytes) return false;
    next_ += bytes;
    return true;
  }

  const char* next_;
  const char* end_;
};

// Reads into `seconds` and `nanos` rather than resetting them: a message field that occurs twice
// is merged, as protobuf's parser does.
bool ReadTimestamp(std::string_view bytes, std::int64_t& seconds, std::int32_t& nanos) {
  WireReader reader(bytes);
  std::uint64_t field = 0;
  std::uint64_t wire_type = 0;
  while (!reader.Done()) {
    if (!reader.Tag(field, wire_type)) return false;
    std::uint64_t value = 0;
    if (wire_type == kVarint && (field == kTimestampSeconds || field == kTimestampNanos)) {
      if (!reader.Varint(value)) return false;
      if (field == kTimestampSeconds) {
        seconds = static_cast<std::int64_t>(value);
      } else {
        nanos = static_cast<std::int32_t>(value);
      }
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  return true;
}

bool ReadHeldTier(std::string_view bytes, std::pair<std::string_view, std::string_view>& held) {
  WireReader reader(bytes);
  std::uint64_t field = 0;
  std::uint64_t wire_type = 0;
  while (!reader.Done()) {
    if (!reader.Tag(field, wire_type)) return false;
    if (wire_type == kLengthDelimited && field == kHeldTierDimension) {
      if (!reader.LengthDelimited(held.first)) return false;
    } else if (wire_type == kLengthDelimited && field == kHeldTierTier) {
      if (!reader.LengthDelimited(held.second)) return false;
    } else if (!reader.Skip(wire_type)) {
      return false;
    }
  }
  return true;
}

void AssignMemberKey(std::string_view dimension, std::string_view segment, std::string& key) {
  key.assign(dimension);
  if (!key.empty()) key.push_back('/');
  key.append(segment);
}

struct OptionalTimestamp {
  bool present = false;
  std::int64_t seconds = 0;
  std::int32_t nanos = 0;
};

}  // namespace

std::string MemberKey(std::string_view dimension, std::string_view segment) {
  std::string key;
  AssignMemberKey(dimension, segment, key);
  return key;
}

bool DigestProfile(std::string_view serialized, ProfileDigest& digest) {
  digest.customer_id = {};
  digest.segments.clear();
  digest.tiers.clear();
  std::int64_t orders_total = 0;
  std::int64_t monetary_total = 0;
  OptionalTimestamp last_purchase_at;
  OptionalTimestamp timer_due_at;
  WireReader reader(serialized);
  std::uint64_t field = 0;
  std::uint64_t wire_type = 0;
  while (!reader.Done()) {
    if (!reader.Tag(field, wire_type)) return false;
    // A known field with another wire type is an unknown field to protobuf's parser as well.
    std::uint64_t varint = 0;
    std::string_view bytes;
    if (wire_type == kVarint && (field == kOrdersTotal || field == kMonetaryTotal)) {
      if (!reader.Varint(varint)) return false;
      (field == kOrdersTotal ? orders_total : monetary_total) = static_cast<std::int64_t>(varint);
    } else if (wire_type != kLengthDelimited) {
      if (!reader.Skip(wire_type)) return false;
    } else if (!reader.LengthDelimited(bytes)) {
      return false;
    } else if (field == kLastPurchaseAt || field == kTimerDueAt) {
      OptionalTimestamp& timestamp = field == kLastPurchaseAt ? last_purchase_at : timer_due_at;
      timestamp.present = true;
      if (!ReadTimestamp(bytes, timestamp.seconds, timestamp.nanos)) return false;
    } else if (field == kCustomerId) {
      digest.customer_id = bytes;
    } else if (field == kSegments) {
      digest.segments.push_back(bytes);
    } else if (field == kTiers) {
      if (!ReadHeldTier(bytes, digest.tiers.emplace_back())) return false;
    }
  }
  digest.timer_due = timer_due_at.present
                         ? std::optional<absl::Time>(absl::FromUnixSeconds(timer_due_at.seconds) +
                                                     absl::Nanoseconds(timer_due_at.nanos))
                         : std::nullopt;
  digest.rfm = core::SampleOf(orders_total, monetary_total,
                              last_purchase_at.present
                                  ? std::optional<std::int64_t>(last_purchase_at.seconds)
                                  : std::nullopt);
  return true;
}

absl::Status ForEachProfileDigest(
    const state::Store& store, Partition partition,
    const std::function<bool(std::string_view customer_id, const ProfileDigest&)>& visit) {
  ProfileDigest digest;
  bool malformed = false;
  absl::Status scanned = store.ForEachSerializedProfile(
      partition, [&](Partition, std::string_view customer_id, std::string_view serialized) {
        malformed = !DigestProfile(serialized, digest);
        return !malformed && visit(customer_id, digest);
      });
  if (!scanned.ok()) return scanned;
  if (malformed) {
    return absl::DataLossError(absl::StrCat(
        "a stored profile in partition ", partition.value(),
        " is not a valid cdp.v1.CustomerProfile; drop the partition and restore it from the "
        "changelog"));
  }
  return absl::OkStatus();
}

void MemberTally::Add(const ProfileDigest& digest) {
  for (std::string_view segment : digest.segments) ++counts_[ToAbsl(segment)];
  for (const auto& [dimension, tier] : digest.tiers) {
    AssignMemberKey(dimension, tier, tier_key_);
    ++counts_[tier_key_];
  }
}

void MemberTally::AddTo(google::protobuf::Map<std::string, std::int64_t>& members) const {
  for (const auto& [key, count] : counts_) members[key] += count;
}

}  // namespace cdp::pipeline::internal
