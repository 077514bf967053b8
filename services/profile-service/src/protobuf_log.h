#pragma once

#include "log.h"

namespace cdp::service {

// Sends what the protobuf library logs (e.g. a string field of an input record that is not
// UTF-8, once per such record) to the service's log, each source line of it rate-limited to one
// message a minute.
void RouteProtobufLogs();

}  // namespace cdp::service
