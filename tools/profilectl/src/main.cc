// profilectl: inspect and check profile-service state. See README.md.

#include <iomanip>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "arguments.h"
#include "cdp/common/suggest.h"
#include "commands.h"

namespace {

void PrintUsage(std::ostream& out) {
  out << "Usage: profilectl COMMAND [OPTION]...\n\nCommands:\n";
  for (const cdp::profilectl::Command& command : cdp::profilectl::kCommands) {
    out << "  " << std::left << std::setw(14) << command.name << command.summary << "\n";
  }
  out << "\nRun 'profilectl COMMAND --help' for a command's options.\n"
         "Exit status: 0 done, 1 failed, 2 bad usage.\n";
}

}  // namespace

int main(int argc, char** argv) {
  using cdp::profilectl::kCommands;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "profilectl: no command given\n\n";
    PrintUsage(std::cerr);
    return cdp::profilectl::kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(std::cout);
    return cdp::profilectl::kExitOk;
  }
  std::vector<std::string_view> names;
  for (const cdp::profilectl::Command& command : kCommands) {
    if (command.name == args[0]) {
      return command.run(std::span(args).subspan(1), std::cout, std::cerr);
    }
    names.push_back(command.name);
  }
  std::cerr << "profilectl: unknown command '" << args[0] << "'";
  if (auto suggestion = cdp::Suggest(args[0], names)) {
    std::cerr << "; did you mean '" << *suggestion << "'?";
  }
  std::cerr << "\n\n";
  PrintUsage(std::cerr);
  return cdp::profilectl::kExitUsage;
}
