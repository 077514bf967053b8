#include "load.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cdp/common/absl_string.h"
#include "cdp/common/rfc3339.h"
#include "cdp/common/suggest.h"
#include "cdp/core/codec.h"
#include "csv.h"
#include "google/protobuf/util/time_util.h"

namespace cdp::tools::replay {
namespace {

using google::protobuf::util::TimeUtil;

// CSV columns: the purchase's, which its rows must agree on, then the item's.
enum Column {
  kEventId,
  kCustomerId,
  kOccurredAt,
  kOrderId,
  kTotalAmount,
  kCurrency,
  kDiscountAmount,
  kCouponCode,
  kStoreId,
  kChannel,
  kSku,
  kCategory,
  kQuantity,
  kUnitPrice,
  kColumnCount
};
constexpr int kFirstItemColumn = kSku;
constexpr int kLastRequiredColumn = kTotalAmount;

constexpr std::array<std::string_view, kColumnCount> kColumnNames = {
    "event_id", "customer_id",     "occurred_at", "order_id",  "total_amount",
    "currency", "discount_amount", "coupon_code", "store_id",  "channel",
    "sku",      "category",        "quantity",    "unit_price"};

absl::string_view ColumnName(int column) { return ToAbsl(kColumnNames[column]); }

std::string JoinNames(std::span<const std::string_view> names) {
  return absl::StrJoin(names, ", ",
                       [](std::string* out, std::string_view name) { out->append(name); });
}

// Where a column is in a file's rows; kAbsent when the header does not name it.
constexpr int kAbsent = -1;
using ColumnIndex = std::vector<int>;

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

// The cell of `column`, empty when the file has no such column.
std::string_view Cell(const ColumnIndex& columns, const std::vector<std::string>& fields,
                      Column column) {
  const int index = columns[column];
  return index == kAbsent ? std::string_view() : std::string_view(fields[index]);
}

// Where each column is in the rows under `header`. An unknown column (with a suggestion), a
// repeated one or a missing required one is an error.
absl::StatusOr<ColumnIndex> MapHeader(std::string_view name, const CsvRecord& header) {
  ColumnIndex columns(kColumnCount, kAbsent);
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    const std::string& title = header.fields[i];
    const auto known = std::find(kColumnNames.begin(), kColumnNames.end(), title);
    if (known == kColumnNames.end()) {
      const std::optional<std::string> suggestion = Suggest(title, kColumnNames);
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(name), ":", header.line, ": unknown column '", title, "'",
                       suggestion ? absl::StrCat("; did you mean '", *suggestion, "'?")
                                  : absl::StrCat("; the columns are ", JoinNames(kColumnNames))));
    }
    int& index = columns[known - kColumnNames.begin()];
    if (index != kAbsent) {
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(name), ":", header.line, ": column '", title, "' appears twice"));
    }
    index = static_cast<int>(i);
  }
  std::vector<std::string_view> missing;
  for (int column = 0; column <= kLastRequiredColumn; ++column) {
    if (columns[column] == kAbsent) missing.push_back(kColumnNames[column]);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(name), ":", header.line, ": the header lacks required column",
                     missing.size() > 1 ? "s " : " ", JoinNames(missing),
                     " (a header line naming the columns must come first)"));
  }
  return columns;
}

absl::Status RowError(std::string_view problem) {
  return absl::InvalidArgumentError(ToAbsl(problem));
}

absl::Status ParseAmount(std::string_view cell, Column column, std::int64_t& out) {
  if (!absl::SimpleAtoi(ToAbsl(cell), &out)) {
    return RowError(absl::StrCat(ColumnName(column), " '", ToAbsl(cell),
                                 "' is not a whole number of minor currency units (e.g. 1250 for "
                                 "12.50)"));
  }
  return absl::OkStatus();
}

absl::Status RequireCell(std::string_view cell, Column column) {
  if (cell.empty()) return RowError(absl::StrCat(ColumnName(column), " is empty"));
  return absl::OkStatus();
}

// Everything a row says, as an event whose purchase holds the row's item (if it has one).
absl::StatusOr<v1::CustomerEvent> ParseRow(const ColumnIndex& columns,
                                           const std::vector<std::string>& fields,
                                           const std::string& default_currency) {
  auto cell = [&](Column column) { return Cell(columns, fields, column); };
  for (Column column : {kEventId, kCustomerId, kOccurredAt, kOrderId, kTotalAmount}) {
    if (absl::Status status = RequireCell(cell(column), column); !status.ok()) return status;
  }
  v1::CustomerEvent event;
  event.set_event_id(std::string(cell(kEventId)));
  event.set_customer_id(std::string(cell(kCustomerId)));

  absl::Time occurred_at;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, ToAbsl(cell(kOccurredAt)), &occurred_at, &error)) {
    return RowError(absl::StrCat("occurred_at '", ToAbsl(cell(kOccurredAt)),
                                 "' is not an RFC 3339 time such as 2024-03-01T09:30:00Z or "
                                 "2024-03-01T17:30:00+08:00"));
  }
  // ToUnixSeconds rounds down, so the nanos are never negative, as a Timestamp needs.
  const std::int64_t seconds = absl::ToUnixSeconds(occurred_at);
  event.mutable_occurred_at()->set_seconds(seconds);
  event.mutable_occurred_at()->set_nanos(static_cast<std::int32_t>(
      absl::ToInt64Nanoseconds(occurred_at - absl::FromUnixSeconds(seconds))));

  if (std::string_view channel = cell(kChannel); !channel.empty()) {
    v1::CustomerEvent::Channel parsed;
    if (!v1::CustomerEvent::Channel_Parse(std::string(channel), &parsed) ||
        parsed == v1::CustomerEvent::channel_unspecified) {
      std::vector<std::string> known;
      for (int value = v1::CustomerEvent::Channel_MIN + 1; value <= v1::CustomerEvent::Channel_MAX;
           ++value) {
        known.push_back(v1::CustomerEvent::Channel_Name(value));
      }
      return RowError(absl::StrCat("channel '", ToAbsl(channel),
                                   "' is not one of: ", absl::StrJoin(known, ", ")));
    }
    event.set_channel(parsed);
  }

  v1::Purchase& purchase = *event.mutable_purchase();
  purchase.set_order_id(std::string(cell(kOrderId)));
  std::int64_t amount = 0;
  if (absl::Status status = ParseAmount(cell(kTotalAmount), kTotalAmount, amount); !status.ok()) {
    return status;
  }
  purchase.set_total_amount(amount);
  const std::string_view currency = cell(kCurrency);
  purchase.set_currency(currency.empty() ? default_currency : std::string(currency));
  if (std::string_view discount = cell(kDiscountAmount); !discount.empty()) {
    if (absl::Status status = ParseAmount(discount, kDiscountAmount, amount); !status.ok()) {
      return status;
    }
    purchase.set_discount_amount(amount);
  }
  purchase.set_coupon_code(std::string(cell(kCouponCode)));
  purchase.set_store_id(std::string(cell(kStoreId)));

  const bool has_item =
      std::any_of(columns.begin() + kFirstItemColumn, columns.end(),
                  [&](int index) { return index != kAbsent && !fields[index].empty(); });
  if (has_item) {
    v1::Purchase::Item& item = *purchase.add_items();
    item.set_sku(std::string(cell(kSku)));
    item.set_category(std::string(cell(kCategory)));
    for (Column column : {kQuantity, kUnitPrice}) {
      const std::string_view value = cell(column);
      if (value.empty()) {
        return RowError(absl::StrCat("the row has an item but no ", ColumnName(column),
                                     " (leave sku, category, quantity and unit_price all empty "
                                     "for a purchase without items)"));
      }
      std::int64_t number = 0;
      if (!absl::SimpleAtoi(ToAbsl(value), &number)) {
        return RowError(absl::StrCat(ColumnName(column), " '", ToAbsl(value),
                                     "' is not a whole number",
                                     column == kUnitPrice ? " of minor currency units" : ""));
      }
      if (column == kQuantity) {
        item.set_quantity(number);
      } else {
        item.set_unit_price(number);
      }
    }
  }
  if (std::optional<std::string> problem = CheckShape(event)) return RowError(*problem);
  return event;
}

// The first non-item column on which two rows of one purchase disagree, with both values as
// text (`first`'s, then `row`'s); nullopt when they agree.
std::optional<std::array<std::string, 3>> FindDisagreement(const v1::CustomerEvent& first,
                                                           const v1::CustomerEvent& row) {
  const v1::Purchase& a = first.purchase();
  const v1::Purchase& b = row.purchase();
  // Every non-item column but event_id, which brought the rows together.
  const std::array<std::array<std::string, 3>, kFirstItemColumn - kCustomerId> compared = {{
      {"customer_id", first.customer_id(), row.customer_id()},
      {"occurred_at", Rfc3339(ToTime(first.occurred_at())), Rfc3339(ToTime(row.occurred_at()))},
      {"order_id", a.order_id(), b.order_id()},
      {"total_amount", absl::StrCat(a.total_amount()), absl::StrCat(b.total_amount())},
      {"currency", a.currency(), b.currency()},
      {"discount_amount", absl::StrCat(a.discount_amount()), absl::StrCat(b.discount_amount())},
      {"coupon_code", a.coupon_code(), b.coupon_code()},
      {"store_id", a.store_id(), b.store_id()},
      {"channel", v1::CustomerEvent::Channel_Name(first.channel()),
       v1::CustomerEvent::Channel_Name(row.channel())},
  }};
  for (const auto& column : compared) {
    if (column[1] != column[2]) return column;
  }
  return std::nullopt;
}

}  // namespace

std::string Rfc3339(absl::Time time) {
  const std::int64_t seconds = absl::ToUnixSeconds(time);
  std::string text;
  AppendRfc3339(
      seconds,
      static_cast<std::int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))),
      text);
  return text;
}

std::optional<std::string> CheckShape(const v1::CustomerEvent& event) {
  if (event.event_id().empty()) return "event_id is missing or empty";
  if (event.customer_id().empty()) return "customer_id is missing or empty";
  if (!event.has_occurred_at()) return "occurred_at is missing";
  const google::protobuf::Timestamp& occurred_at = event.occurred_at();
  if (occurred_at.seconds() < TimeUtil::kTimestampMinSeconds ||
      occurred_at.seconds() > TimeUtil::kTimestampMaxSeconds || occurred_at.nanos() < 0 ||
      occurred_at.nanos() > 999'999'999) {
    return "occurred_at is outside the years 0001-9999 that RFC 3339 can write";
  }
  if (event.payload_case() == v1::CustomerEvent::PAYLOAD_NOT_SET) {
    return "no payload: one of purchase, refund, interaction, profile_update, consent or erasure "
           "is needed";
  }
  return std::nullopt;
}

absl::Status Loader::Add(std::string_view name, std::istream& in) {
  sources_.emplace_back(name);
  return options_.format == InputFormat::kJsonLines ? AddJsonLines(name, in)
                                                    : AddCsvPurchases(name, in);
}

void Loader::AddProblem(std::string description) {
  if (result_.problems.size() < kMaxProblemDetails) {
    result_.problems.push_back(std::move(description));
  }
  ++result_.invalid;
}

void Loader::ReportProgress(std::string_view name, std::int64_t line) {
  // The clock is read only every so many lines: it costs more than a short line.
  constexpr std::int64_t kLinesBetweenClockReads = 4096;
  if (progress_ == nullptr || line % kLinesBetweenClockReads != 0) return;
  const absl::Time now = absl::Now();
  if (now - last_progress_ < absl::Seconds(1)) return;
  last_progress_ = now;
  *progress_ << "replay: reading " << name << ": line " << line << ", " << events_.size()
             << " events so far" << std::endl;
}

void Loader::AddEvent(const v1::CustomerEvent& event) {
  ReplayEvent& added = events_.emplace_back();
  added.occurred_at = ToTime(event.occurred_at());
  added.customer_id = event.customer_id();
  event.SerializeToString(&added.protobuf);
  left_out_.push_back(false);
}

absl::Status Loader::AddJsonLines(std::string_view name, std::istream& in) {
  std::string line;
  v1::CustomerEvent event;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    ReportProgress(name, number);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::all_of(line.begin(), line.end(),
                    [](char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); })) {
      continue;
    }
    std::optional<std::string> problem;
    if (std::optional<core::Rejection> rejection =
            core::DecodeEvent(line, core::WireFormat::kJson, {}, event)) {
      problem = std::move(rejection->detail);
    } else {
      problem = CheckShape(event);
    }
    if (problem) {
      AddProblem(absl::StrCat(ToAbsl(name), ":", number, ": ", *problem));
      continue;
    }
    AddEvent(event);
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", ToAbsl(name)));
  return absl::OkStatus();
}

absl::Status Loader::AddCsvPurchases(std::string_view name, std::istream& in) {
  CsvReader reader(name, in);
  CsvRecord record;
  std::optional<ColumnIndex> columns;
  while (true) {
    absl::StatusOr<bool> read = reader.Next(record);
    if (!read.ok()) {
      if (!absl::IsInvalidArgument(read.status()) || !columns) return read.status();
      AddProblem(std::string(read.status().message()));
      // The rest of its purchase goes too, when the fields read before the problem name it.
      if (const int index = (*columns)[kEventId];
          static_cast<std::size_t>(index) < record.fields.size() && !record.fields[index].empty()) {
        LeaveOut(record.fields[index]);
      }
      continue;
    }
    if (!*read) break;
    if (!columns) {
      absl::StatusOr<ColumnIndex> mapped = MapHeader(name, record);
      if (!mapped.ok()) return mapped.status();
      columns = *std::move(mapped);
      continue;
    }
    ReportProgress(name, record.line);
    AddCsvRow(name, record.line, *columns, record.fields);
  }
  if (!columns) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(name),
                     " is empty: a CSV file of purchases starts with a header naming its columns"));
  }
  return absl::OkStatus();
}

void Loader::LeaveOut(const std::string& event_id) {
  auto [it, inserted] = purchases_.try_emplace(event_id);
  Purchase& purchase = it->second;
  if (inserted) {
    purchase.event = kNoEvent;
    return;
  }
  if (purchase.event == kNoEvent) return;
  left_out_[purchase.event] = true;
  result_.rows_left_out += static_cast<std::int64_t>(purchase.rows);
  purchase.event = kNoEvent;
}

void Loader::AddCsvRow(std::string_view name, std::int64_t line, const ColumnIndex& columns,
                       const std::vector<std::string>& fields) {
  const std::string where = absl::StrCat(ToAbsl(name), ":", line, ": ");
  const std::size_t width = static_cast<std::size_t>(
      std::count_if(columns.begin(), columns.end(), [](int index) { return index != kAbsent; }));
  if (fields.size() != width) {
    AddProblem(absl::StrCat(where, fields.size(), " fields where the header has ", width,
                            " (quote fields that hold commas)"));
    // Fields are shifted after the faulty one at worst, so an event_id read may well be right:
    // better to leave out a purchase too many than publish one without an item.
    const int index = columns[kEventId];
    if (static_cast<std::size_t>(index) < fields.size() && !fields[index].empty()) {
      LeaveOut(fields[index]);
    }
    return;
  }
  const std::string event_id(Cell(columns, fields, kEventId));
  absl::StatusOr<v1::CustomerEvent> row = ParseRow(columns, fields, options_.currency);
  if (!row.ok()) {
    AddProblem(absl::StrCat(where, row.status().message()));
    if (!event_id.empty()) LeaveOut(event_id);
    return;
  }

  auto [it, inserted] = purchases_.try_emplace(event_id);
  Purchase& purchase = it->second;
  if (inserted) {
    purchase = {.event = events_.size(),
                .rows = 1,
                .first_source = sources_.size() - 1,
                .first_line = line};
    AddEvent(*row);
    return;
  }
  if (purchase.event == kNoEvent) {
    ++result_.rows_left_out;
    return;
  }
  v1::CustomerEvent first;
  // Parsing what this loader serialised cannot fail.
  first.ParseFromString(events_[purchase.event].protobuf);
  if (const auto disagreement = FindDisagreement(first, *row)) {
    const auto& [column, there, here] = *disagreement;
    AddProblem(absl::StrCat(where, "event_id '", event_id, "' is also on ",
                            sources_[purchase.first_source], ":", purchase.first_line,
                            " with another ", column, " ('", there, "' there, '", here,
                            "' here): the rows of one purchase must agree on every column but "
                            "sku, category, quantity and unit_price"));
    LeaveOut(event_id);
    return;
  }
  ++purchase.rows;
  if (row->purchase().items_size() > 0) {
    *first.mutable_purchase()->add_items() = row->purchase().items(0);
    first.SerializeToString(&events_[purchase.event].protobuf);
  }
}

LoadResult Loader::Finish() && {
  LoadResult result = std::move(result_);
  result.events.reserve(events_.size());
  for (std::size_t i = 0; i < events_.size(); ++i) {
    if (!left_out_[i]) result.events.push_back(std::move(events_[i]));
  }
  std::stable_sort(
      result.events.begin(), result.events.end(),
      [](const ReplayEvent& a, const ReplayEvent& b) { return a.occurred_at < b.occurred_at; });
  return result;
}

absl::StatusOr<LoadResult> LoadFiles(std::span<const std::string> paths, const LoadOptions& options,
                                     std::ostream* progress) {
  Loader loader(options, progress);
  for (const std::string& path : paths) {
    if (path == "-") {
      if (absl::Status status = loader.Add("standard input", std::cin); !status.ok()) {
        return status;
      }
      continue;
    }
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is a directory: name the files in it"));
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    }
    if (absl::Status status = loader.Add(path, file); !status.ok()) return status;
  }
  return std::move(loader).Finish();
}

}  // namespace cdp::tools::replay
