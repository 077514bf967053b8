#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace cdp {

// A value that cannot be mixed up with another of the same representation: a Partition is not an
// Offset, although both are integers.
template <typename Tag, typename T>
class StrongType {
 public:
  using value_type = T;

  constexpr StrongType() = default;
  constexpr explicit StrongType(T value) : value_(std::move(value)) {}

  [[nodiscard]] constexpr const T& value() const { return value_; }

  friend constexpr auto operator<=>(const StrongType&, const StrongType&) = default;
  friend constexpr bool operator==(const StrongType&, const StrongType&) = default;

 private:
  T value_{};
};

using Partition = StrongType<struct PartitionTag, std::int32_t>;
// The offset of the next record to consume, as Kafka commits it.
using Offset = StrongType<struct OffsetTag, std::int64_t>;
using CustomerId = StrongType<struct CustomerIdTag, std::string>;

}  // namespace cdp

template <typename Tag, typename T>
struct std::hash<cdp::StrongType<Tag, T>> {
  std::size_t operator()(const cdp::StrongType<Tag, T>& v) const noexcept {
    return std::hash<T>{}(v.value());
  }
};
