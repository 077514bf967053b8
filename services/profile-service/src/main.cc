#include <iostream>

#include "application.h"
#include "cdp/common/stop_signal.h"
#include "config.h"

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
  cdp::InstallStopHandlers();
  return cdp::service::RunApplication(parsed->config, cdp::StopRequested());
}
