#pragma once

#include <string>

#include "prometheus/registry.h"

namespace cdp::http {

// The registry in Prometheus text exposition format (version 0.0.4).
[[nodiscard]] std::string RenderMetrics(const prometheus::Registry& registry);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace cdp::http
