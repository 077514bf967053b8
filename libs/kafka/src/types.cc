#include "cdp/kafka/types.h"

#include "absl/strings/str_cat.h"

namespace cdp::kafka {

std::string ToString(const TopicPartition& tp) {
  return absl::StrCat(tp.topic, "[", tp.partition.value(), "]");
}

}  // namespace cdp::kafka
