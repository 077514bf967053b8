#include <csignal>
#include <iostream>

#include "application.h"
#include "config.h"

namespace {

std::atomic<bool> stop_requested = false;

extern "C" void RequestStop(int) { stop_requested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  auto parsed = cdp::service::ParseCommandLine(argc, argv);
  if (!parsed.ok()) {
    std::cerr << "profile-service: " << parsed.status().message()
              << "\nRun 'profile-service --help' for the options.\n";
    return cdp::service::kExitBadConfig;
  }
  if (parsed->help) {
    std::cout << cdp::service::HelpText();
    return cdp::service::kExitOk;
  }
  if (parsed->version) {
    std::cout << "profile-service " << CDP_VERSION << "\n";
    return cdp::service::kExitOk;
  }
  std::signal(SIGTERM, RequestStop);
  std::signal(SIGINT, RequestStop);
  return cdp::service::RunApplication(parsed->config, stop_requested);
}
