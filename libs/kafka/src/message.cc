#include "cdp/kafka/message.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <utility>

namespace cdp::kafka {
namespace {

std::optional<std::string_view> View(const void* data, std::size_t size) {
  if (data == nullptr) return std::nullopt;
  return std::string_view(static_cast<const char*>(data), size);
}

template <typename Visit>
void ForEachHeader(const rd_kafka_message_t* message, Visit visit) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  const char* name = nullptr;
  const void* value = nullptr;
  std::size_t size = 0;
  for (std::size_t i = 0;
       rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    visit(Header{name, View(value, size).value_or(std::string_view())});
  }
}

}  // namespace

Message::Message(std::unique_ptr<RdKafka::Message> message)
    : message_(std::move(message)), raw_(message_->c_ptr()) {}

Message::Message(rd_kafka_message_s* message) : owned_raw_(message), raw_(message) {}

void Message::RawMessageDeleter::operator()(rd_kafka_message_s* message) const {
  rd_kafka_message_destroy(message);
}

Message::Message(Message&&) noexcept = default;
Message& Message::operator=(Message&&) noexcept = default;
Message::~Message() = default;

std::string_view Message::topic() const { return rd_kafka_topic_name(raw_->rkt); }

Partition Message::partition() const { return Partition(raw_->partition); }

std::int64_t Message::offset() const { return raw_->offset; }

std::optional<std::string_view> Message::key() const { return View(raw_->key, raw_->key_len); }

std::optional<std::string_view> Message::value() const { return View(raw_->payload, raw_->len); }

std::optional<std::string_view> Message::header(std::string_view name) const {
  std::optional<std::string_view> found;
  ForEachHeader(raw_, [&](const Header& header) {
    if (header.name == name) found = header.value;
  });
  return found;
}

std::vector<Header> Message::headers() const {
  std::vector<Header> result;
  ForEachHeader(raw_, [&](const Header& header) { result.push_back(header); });
  return result;
}

std::optional<absl::Time> Message::timestamp() const {
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const std::int64_t millis = rd_kafka_message_timestamp(raw_, &type);
  if (type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || millis < 0) return std::nullopt;
  return absl::FromUnixMillis(millis);
}

}  // namespace cdp::kafka
