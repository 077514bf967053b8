#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cdp::tools::replay {

// One CSV record and the line it starts on (a quoted field may span lines).
struct CsvRecord {
  std::int64_t line = 0;
  std::vector<std::string> fields;
};

// Reads RFC 4180 CSV: fields separated by commas; a field in double quotes may hold commas, line
// breaks and doubled quotes (""). Lines may end in LF or CRLF; blank lines and a UTF-8 byte order
// mark (as spreadsheets write) are skipped.
class CsvReader {
 public:
  // `name` starts every error message ("name:line: ...").
  CsvReader(std::string_view name, std::istream& in) : name_(name), in_(in) {}

  // The next record in `record`; false at the end of the input. A malformed record is an
  // InvalidArgument error naming its line and the fix, with the fields read before the problem in
  // `record`; the next call goes on after it. A failure to read is DataLoss.
  [[nodiscard]] absl::StatusOr<bool> Next(CsvRecord& record);

 private:
  // The next physical line, without its line ending, in line_; false at the end of the input.
  bool ReadLine();
  [[nodiscard]] absl::Status Malformed(std::int64_t line, std::string_view problem) const;

  std::string name_;
  std::istream& in_;
  std::string line_;
  std::int64_t line_number_ = 0;
};

}  // namespace cdp::tools::replay
