#include "csv.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cdp/common/absl_string.h"

namespace cdp::tools::replay {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
constexpr std::string_view kQuotingHint =
    "put the whole field in double quotes and double each quote inside it (\"\")";

}  // namespace

bool CsvReader::ReadLine() {
  if (!std::getline(in_, line_)) return false;
  ++line_number_;
  if (line_number_ == 1 && line_.starts_with(kByteOrderMark)) line_.erase(0, kByteOrderMark.size());
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

absl::Status CsvReader::Malformed(std::int64_t line, std::string_view problem) const {
  return absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": ", ToAbsl(problem)));
}

absl::StatusOr<bool> CsvReader::Next(CsvRecord& record) {
  record.fields.clear();
  do {
    if (!ReadLine()) {
      if (in_.bad()) return absl::DataLossError(absl::StrCat("cannot read ", name_));
      return false;
    }
  } while (line_.empty());
  record.line = line_number_;

  std::size_t pos = 0;
  while (true) {
    std::string& field = record.fields.emplace_back();
    const std::size_t number = record.fields.size();
    if (pos < line_.size() && line_[pos] == '"') {
      ++pos;
      while (true) {
        const std::size_t quote = line_.find('"', pos);
        if (quote == std::string::npos) {
          // The line break belongs to the field.
          field.append(line_, pos);
          field.push_back('\n');
          if (!ReadLine()) {
            if (in_.bad()) return absl::DataLossError(absl::StrCat("cannot read ", name_));
            return Malformed(record.line, absl::StrCat("the quoted field ", number,
                                                       " is not closed by the end of the input"));
          }
          pos = 0;
          continue;
        }
        field.append(line_, pos, quote - pos);
        pos = quote + 1;
        if (pos < line_.size() && line_[pos] == '"') {
          field.push_back('"');
          ++pos;
          continue;
        }
        break;
      }
      if (pos < line_.size() && line_[pos] != ',') {
        return Malformed(line_number_,
                         absl::StrCat("field ", number,
                                      " has text after its closing quote: ", ToAbsl(kQuotingHint)));
      }
    } else {
      const std::size_t end = std::min(line_.find(',', pos), line_.size());
      field.assign(line_, pos, end - pos);
      if (field.find('"') != std::string::npos) {
        return Malformed(line_number_, absl::StrCat("field ", number,
                                                    " has a quote but does not start with one: ",
                                                    ToAbsl(kQuotingHint)));
      }
      pos = end;
    }
    if (pos >= line_.size()) return true;
    ++pos;  // the comma
  }
}

}  // namespace cdp::tools::replay
