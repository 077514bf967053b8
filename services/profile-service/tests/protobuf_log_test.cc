#include "protobuf_log.h"

#include <google/protobuf/stubs/logging.h>

#include <string>

#include "absl/strings/str_split.h"
#include "cdp/v1/customer_event.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cdp::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(RouteProtobufLogsTest, AFloodOfOneProblemMakesOneLine) {
  v1::CustomerEvent event;
  event.set_customer_id("c\xff");
  std::string bytes;
  {
    // Serialising logs the problem too; that is not what this test counts.
    google::protobuf::LogSilencer silence;
    bytes = event.SerializeAsString();
  }
  google::protobuf::LogHandler* const previous = google::protobuf::SetLogHandler(nullptr);
  RouteProtobufLogs();
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(event.ParseFromString(bytes));
  const std::string logged = ::testing::internal::GetCapturedStderr();
  google::protobuf::SetLogHandler(previous);
  EXPECT_THAT(absl::StrSplit(logged, '\n', absl::SkipEmpty()),
              ElementsAre(HasSubstr("ERROR protobuf: String field 'cdp.v1.CustomerEvent."
                                    "customer_id' contains invalid UTF-8")));
}

}  // namespace
}  // namespace cdp::service
