#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cdp/core/engine.h"
#include "cdp/pipeline/changelog.h"
#include "cdp/pipeline/records.h"
#include "cdp/proto/deterministic.h"
#include "cdp/rules/catalogue.h"
#include "google/protobuf/message.h"

// What the pipeline's tests share: a small catalogue, events as JSON, per-test directories.
namespace cdp::pipeline::test_support {

// lifecycle/at_risk depends on time, so profiles carry timers.
inline constexpr std::string_view kCatalogue = R"(
timezone: UTC
segments:
  - id: buyer
    when: orders_total >= 1
dimensions:
  - id: lifecycle
    tiers:
      - {id: at_risk, when: "orders_total >= 1 and days_since_last_purchase > 30"}
      - {id: active, when: "orders_total >= 1"}
)";

inline std::shared_ptr<const core::Engine> TestEngine(std::string_view yaml = kCatalogue) {
  auto catalogue = rules::ParseSegmentCatalogue(yaml, "test.yaml");
  EXPECT_TRUE(catalogue.ok()) << catalogue.status();
  return std::make_shared<const core::Engine>(
      std::make_shared<const rules::SegmentCatalogue>(std::move(*catalogue)),
      core::EngineOptions{});
}

// A directory for the running test: tests run in parallel processes.
inline std::filesystem::path TestDir(std::string_view suffix = "") {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '_');
  return std::filesystem::path(::testing::TempDir()) / (name + std::string(suffix));
}

inline std::string Event(const std::string& event_id, const std::string& customer,
                         const std::string& occurred_at, const std::string& payload) {
  return absl::StrCat(R"({"event_id":")", event_id, R"(","customer_id":")", customer,
                      R"(","occurred_at":")", occurred_at, R"(",)", payload, "}");
}

inline std::string Purchase(const std::string& event_id, const std::string& customer,
                            const std::string& occurred_at) {
  return Event(event_id, customer, occurred_at,
               absl::StrCat(R"("purchase":{"order_id":"o-)", event_id,
                            R"(","total_amount":1000,"currency":"CNY"})"));
}

inline std::string Interaction(const std::string& event_id, const std::string& customer,
                               const std::string& occurred_at) {
  return Event(event_id, customer, occurred_at, R"("interaction":{"type":"page_view"})");
}

inline std::string Erasure(const std::string& event_id, const std::string& customer,
                           const std::string& occurred_at) {
  return Event(event_id, customer, occurred_at, R"("erasure":{})");
}

// Maps serialize in an order that depends on their insertion history; this order is canonical.
inline std::string Canonical(const google::protobuf::Message& message) {
  std::string bytes;
  EXPECT_TRUE(proto::AppendDeterministic(message, bytes));
  return bytes;
}

struct LoggedRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::string kind;
};

// A sink whose changelog records land in memory, partition by partition, and that can read them
// back as a restore does. Flush delivers in send order, as Kafka does within a partition.
class MemoryBroker : public OutputSink, public ChangelogSource {
 public:
  absl::Status Send(OutputRecord record) override {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(record));
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    std::lock_guard lock(mutex_);
    ++flushes_;
    std::vector<OutputRecord> pending = std::move(pending_);
    pending_.clear();
    if (fail_flush_ == flushes_) {
      // The profiles got through; the checkpoints did not.
      for (auto& record : pending) {
        if (record.kind == OutputRecord::Kind::kChangelog && !record.key.empty()) Log(record);
      }
      return absl::UnavailableError("broker unreachable");
    }
    for (auto& record : pending) {
      if (record.kind == OutputRecord::Kind::kChangelog) {
        Log(record);
      } else if (record.kind == OutputRecord::Kind::kSegmentChange) {
        changes_.push_back({flushes_, record.value});
      } else {
        other_outputs_.push_back(std::move(record));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ChangelogExtent> Extent(Partition partition) override {
    ++reads_;
    return ChangelogExtent{start_[partition], static_cast<std::int64_t>(log_[partition].size())};
  }

  absl::Status Read(Partition partition, std::int64_t from, std::int64_t until,
                    const Visitor& visit) override {
    const std::vector<LoggedRecord>& records = log_[partition];
    for (std::int64_t offset = std::max(from, start_[partition]);
         offset < until && offset < static_cast<std::int64_t>(records.size()); ++offset) {
      const LoggedRecord& record = records[static_cast<std::size_t>(offset)];
      ChangelogRecord view{offset, record.key, record.value, record.kind};
      if (absl::Status visited = visit(view); !visited.ok()) return visited;
    }
    return absl::OkStatus();
  }

  std::vector<LoggedRecord>& log(Partition partition) { return log_[partition]; }
  // As retention does: the records before `offset` are gone.
  void DeleteBefore(Partition partition, std::int64_t offset) { start_[partition] = offset; }
  // Changes delivered, with the number of the flush that delivered them.
  std::vector<std::pair<int, std::string>> changes_;
  // Dead letters and records for the repartition topic, as delivered.
  std::vector<OutputRecord> other_outputs_;
  int flushes_ = 0;
  // The flush (counted from 1) that fails after delivering only the changelog's profiles.
  int fail_flush_ = 0;
  int reads_ = 0;

 private:
  void Log(const OutputRecord& record) {
    EXPECT_TRUE(record.partition.has_value());
    LoggedRecord logged;
    logged.key = record.key;
    if (!record.tombstone) logged.value = record.value;
    for (const Header& header : record.headers) {
      if (header.key == kChangelogKindHeader) logged.kind = header.value;
    }
    log_[record.partition.value_or(Partition(-1))].push_back(std::move(logged));
  }

  std::mutex mutex_;
  std::vector<OutputRecord> pending_;
  std::map<Partition, std::vector<LoggedRecord>> log_;
  std::map<Partition, std::int64_t> start_;
};

}  // namespace cdp::pipeline::test_support
