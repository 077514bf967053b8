#include "admin_endpoints.h"

#include <array>
#include <random>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cdp/rules/catalogue.h"
#include "cdp/v1/customer_event.pb.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "segment_watcher.h"

namespace cdp::service {
namespace {

constexpr const char* kJson = "application/json";

http::Response JsonResponse(int status, const nlohmann::json& body) {
  return {status, kJson, body.dump() + "\n"};
}

std::string NewEventId() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::array<std::uint64_t, 2> bits = {random(), random()};
  return absl::StrCat("admin-erasure-",
                      absl::BytesToHexString(absl::string_view(
                          reinterpret_cast<const char*>(bits.data()), sizeof(bits))));
}

}  // namespace

ErasureEndpoint::ErasureEndpoint(std::unique_ptr<kafka::Producer> producer, ErasureTarget target)
    : producer_(std::move(producer)), target_(std::move(target)) {}

http::Response ErasureEndpoint::Handle(const core::Engine& engine, std::string_view customer_id,
                                       absl::Time now) {
  v1::CustomerEvent event;
  event.set_event_id(NewEventId());
  event.set_customer_id(std::string(customer_id));
  *event.mutable_occurred_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  event.set_channel(v1::CustomerEvent::other);
  event.mutable_erasure();
  if (const std::optional<core::Rejection> rejection = engine.Validate(event, now)) {
    return JsonResponse(
        400, {{"error", absl::StrCat("the customer id cannot be erased: ", rejection->detail)}});
  }
  const Partition partition = PartitionFor(customer_id, target_.partitions, target_.partitioner);
  const std::string value = event.SerializeAsString();
  std::lock_guard lock(mutex_);
  absl::Status published = producer_->Produce(target_.topic, customer_id, value, {}, partition);
  if (published.ok()) published = producer_->Flush(absl::Seconds(10));
  if (!published.ok()) {
    return JsonResponse(503, {{"error", absl::StrCat("the erasure was not published: ",
                                                     published.message(), "; try again")}});
  }
  return JsonResponse(
      202,
      {{"event_id", event.event_id()}, {"topic", target_.topic}, {"partition", partition.value()}});
}

http::Response ReloadResponse(const std::string& segments_path) {
  auto catalogue = rules::LoadSegmentCatalogue(segments_path);
  if (!catalogue.ok()) {
    return JsonResponse(422, {{"error", std::string(catalogue.status().message())}});
  }
  SegmentWatcher::RequestReload();
  return JsonResponse(202, {{"status", "reload requested"},
                            {"segments", segments_path},
                            {"segment_count", catalogue->segments.size()},
                            {"dimension_count", catalogue->dimensions.size()}});
}

}  // namespace cdp::service
