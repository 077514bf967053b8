// Turns protobuf-JSON CustomerEvent lines (standard input) into binary protobuf, one hex line
// each (standard output), so the integration tests can publish binary events without a Python
// protobuf runtime. Uses protobuf's own JSON parser, not the pipeline's codec under test.

#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <string>

#include "cdp/v1/customer_event.pb.h"

int main() {
  constexpr char kHex[] = "0123456789abcdef";
  std::string line;
  for (int number = 1; std::getline(std::cin, line); ++number) {
    cdp::v1::CustomerEvent event;
    const auto status = google::protobuf::util::JsonStringToMessage(line, &event);
    if (!status.ok()) {
      std::cerr << "encode_events: line " << number << ": " << status.message() << "\n";
      return 1;
    }
    std::string hex;
    for (const unsigned char byte : event.SerializeAsString()) {
      hex.push_back(kHex[byte >> 4]);
      hex.push_back(kHex[byte & 0xF]);
    }
    std::cout << hex << "\n";
  }
  return std::cout.flush() ? 0 : 1;
}
