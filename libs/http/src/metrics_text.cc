#include "cdp/http/metrics_text.h"

#include "prometheus/text_serializer.h"

namespace cdp::http {

std::string RenderMetrics(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

}  // namespace cdp::http
