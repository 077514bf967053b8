#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "cdp/common/strong_type.h"
#include "cdp/kafka/types.h"

namespace RdKafka {
class Message;
}
struct rd_kafka_message_s;

namespace cdp::kafka {

// One consumed record. Owns librdkafka's message, so every view it returns (topic, key, value,
// headers) stays valid exactly as long as the Message: nothing is copied.
class Message {
 public:
  // Releases a message of librdkafka's C API.
  struct RawMessageDeleter {
    void operator()(rd_kafka_message_s* message) const;
  };

  explicit Message(std::unique_ptr<RdKafka::Message> message);
  // Takes a message of librdkafka's C API, as its batch consume returns them.
  explicit Message(rd_kafka_message_s* message);
  Message(Message&&) noexcept;
  Message& operator=(Message&&) noexcept;
  ~Message();

  [[nodiscard]] std::string_view topic() const;
  [[nodiscard]] Partition partition() const;
  // The record's own position in its partition.
  [[nodiscard]] std::int64_t offset() const;
  // Where consumption resumes once this record is processed: what to store and commit.
  [[nodiscard]] Offset next_offset() const { return Offset(offset() + 1); }

  // nullopt for a null key/value; an empty view for an empty one.
  [[nodiscard]] std::optional<std::string_view> key() const;
  [[nodiscard]] std::optional<std::string_view> value() const;

  // The last header called `name`; a header with a null value reads as empty.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  // Every header in record order.
  [[nodiscard]] std::vector<Header> headers() const;

  // The broker's record timestamp (create or log-append time), if it has one.
  [[nodiscard]] std::optional<absl::Time> timestamp() const;

 private:
  // One of the two owns the message.
  std::unique_ptr<RdKafka::Message> message_;
  std::unique_ptr<rd_kafka_message_s, RawMessageDeleter> owned_raw_;
  const rd_kafka_message_s* raw_;
};

}  // namespace cdp::kafka
