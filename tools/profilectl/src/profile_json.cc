#include "profile_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <memory>

#include "cdp/proto/deterministic.h"

namespace cdp::profilectl {
namespace {

namespace pb = google::protobuf;

constexpr const char* kTypeUrlPrefix = "type.googleapis.com";

pb::util::TypeResolver& Resolver() {
  static const std::unique_ptr<pb::util::TypeResolver> resolver(
      pb::util::NewTypeResolverForDescriptorPool(kTypeUrlPrefix,
                                                 pb::DescriptorPool::generated_pool()));
  return *resolver;
}

std::string DeterministicBytes(const pb::Message& message) {
  std::string bytes;
  static_cast<void>(proto::AppendDeterministic(message, bytes));
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> ProfileJsonLine(Partition partition,
                                            const v1::CustomerProfile& profile) {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  // The applied events are the pipeline's dedup bookkeeping, which depends on when events were
  // processed rather than on the events: not part of the customer's profile as exported.
  v1::CustomerProfile printable = profile;
  printable.clear_applied_events();
  std::string json;
  const std::string type_url =
      std::string(kTypeUrlPrefix) + "/" + v1::CustomerProfile::descriptor()->full_name();
  const auto printed = pb::util::BinaryToJsonString(&Resolver(), type_url,
                                                    DeterministicBytes(printable), &json, options);
  if (!printed.ok()) {
    return absl::InternalError(
        "cannot print the profile of partition " + std::to_string(partition.value()) +
        " as JSON: " + std::string(printed.message().data(), printed.message().size()));
  }
  std::string line = "{\"partition\":" + std::to_string(partition.value());
  if (json != "{}") line += ",";
  line.append(json, 1);
  return line;
}

}  // namespace cdp::profilectl
