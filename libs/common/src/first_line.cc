#include "cdp/common/first_line.h"

#include <fstream>

namespace cdp {

std::optional<std::string> ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  constexpr const char* kBlanks = " \t\r\n\v\f";
  const std::size_t begin = line.find_first_not_of(kBlanks);
  if (begin == std::string::npos) return std::nullopt;
  return line.substr(begin, line.find_last_not_of(kBlanks) - begin + 1);
}

}  // namespace cdp
