// profilectl: inspect and check profile-service state. See README.md.

#include <algorithm>
#include <iostream>
#include <string_view>
#include <vector>

#include "arguments.h"
#include "commands.h"

namespace {

void PrintUsage(std::ostream& out) {
  out << "Usage: profilectl COMMAND [OPTION]...\n\nCommands:\n";
  for (const cdp::profilectl::Command& command : cdp::profilectl::kCommands) {
    out << "  " << command.name
        << std::string(8 - std::min<std::size_t>(command.name.size(), 7), ' ') << command.summary
        << "\n";
  }
  out << "\nRun 'profilectl COMMAND --help' for a command's options.\n"
         "Exit status: 0 done, 1 failed, 2 bad usage.\n";
}

}  // namespace

int main(int argc, char** argv) {
  using cdp::profilectl::kExitUsage;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "profilectl: no command given\n\n";
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(std::cout);
    return cdp::profilectl::kExitOk;
  }
  for (const cdp::profilectl::Command& command : cdp::profilectl::kCommands) {
    if (command.name == args[0]) {
      return command.run(std::span(args).subspan(1), std::cout, std::cerr);
    }
  }
  std::cerr << "profilectl: unknown command '" << args[0] << "'\n\n";
  PrintUsage(std::cerr);
  return kExitUsage;
}
