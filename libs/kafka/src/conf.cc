#include "conf.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <climits>
#include <string>

#include "absl/strings/str_cat.h"

namespace cdp::kafka::internal {
namespace {

absl::Status Set(RdKafka::Conf& conf, std::string_view client, const std::string& name,
                 const std::string& value) {
  std::string error;
  if (conf.set(name, value, error) == RdKafka::Conf::CONF_OK) return absl::OkStatus();
  // The value is left out on purpose: it may be a password.
  return absl::InvalidArgumentError(
      absl::StrCat("invalid Kafka ", ToAbsl(client), " property '", name, "': ", error));
}

absl::Status SetAll(RdKafka::Conf& conf, std::string_view client, const Properties& properties) {
  for (const auto& [name, value] : properties) {
    if (absl::Status status = Set(conf, client, name, value); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(std::string_view client,
                                                        const Properties& defaults,
                                                        std::string_view bootstrap_servers,
                                                        const Properties& overrides) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (absl::Status status = SetAll(*conf, client, defaults); !status.ok()) return status;
  if (absl::Status status = Set(*conf, client, "bootstrap.servers", std::string(bootstrap_servers));
      !status.ok()) {
    return status;
  }
  if (absl::Status status = SetAll(*conf, client, overrides); !status.ok()) return status;
  return conf;
}

std::string DescribeError(std::string_view context, int error_code) {
  const auto code = static_cast<rd_kafka_resp_err_t>(error_code);
  return absl::StrCat(ToAbsl(context), ": ", rd_kafka_err2str(code), " (", rd_kafka_err2name(code),
                      ")");
}

const char* ErrorName(int error_code) {
  return rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(error_code));
}

int ToTimeoutMs(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return 0;
  if (timeout >= absl::Milliseconds(INT_MAX)) return INT_MAX;
  return static_cast<int>(absl::ToInt64Milliseconds(timeout));
}

}  // namespace cdp::kafka::internal
