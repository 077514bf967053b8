// Consumed Kafka records as the processor's input, against the mock cluster: what the headers of
// a record passed on through the repartition topic tell its destination.
#include "kafka_adapters.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cdp/kafka/assigned_consumer.h"
#include "cdp/kafka/mock_cluster.h"
#include "cdp/kafka/producer.h"
#include "cdp/pipeline/records.h"
#include "cdp/v1/partition_state.pb.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "stored_state_fixture.h"

namespace cdp::service {
namespace {

constexpr std::string_view kInput = "events";
constexpr std::string_view kRepartition = "events-repartition";

TEST(ToInputRecordsTest, ARecordPassedOnNamesItsSourceAndClockAndOnlyThatOne) {
  auto cluster = kafka::MockCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  for (std::string_view topic : {kInput, kRepartition}) {
    ASSERT_TRUE((*cluster)->CreateTopic(topic, 1, 1).ok());
  }
  auto producer = kafka::Producer::Create(
      kafka::ProducerOptions{.bootstrap_servers = (*cluster)->bootstrap_servers()});
  ASSERT_TRUE(producer.ok()) << producer.status();
  const std::vector<kafka::Header> passed_on = {
      {pipeline::kDlqTopicHeader, kInput},       {pipeline::kDlqPartitionHeader, "5"},
      {pipeline::kDlqOffsetHeader, "1234"},      {pipeline::kSourceClockHeader, "1780000000000000"},
      {pipeline::kSourcePreviousHeader, "1230"}, {"content-type", "application/json"}};
  std::vector<kafka::Header> unreadable_offset = passed_on;
  unreadable_offset[2].value = "12x";
  // Upstream's own headers of those names on an input record are not the service's to read.
  ASSERT_TRUE((**producer).Produce(kInput, "c1", "{}", passed_on, Partition(0)).ok());
  ASSERT_TRUE((**producer).Produce(kRepartition, "c1", "{}", passed_on, Partition(0)).ok());
  ASSERT_TRUE((**producer).Produce(kRepartition, "c1", "{}", unreadable_offset, Partition(0)).ok());
  ASSERT_TRUE((**producer).Flush(absl::Seconds(10)).ok());

  auto consumer = kafka::AssignedConsumer::Create(kafka::AssignedConsumerOptions{
      .bootstrap_servers = (*cluster)->bootstrap_servers(), .group_id = "reader"});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  for (std::string_view topic : {kInput, kRepartition}) {
    ASSERT_TRUE((**consumer).Assign({std::string(topic), Partition(0)}, Offset(0)).ok());
  }
  std::vector<kafka::Message> messages;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (messages.size() < 3 && absl::Now() < deadline) {
    auto polled = (**consumer).Poll(10, absl::Milliseconds(200));
    ASSERT_TRUE(polled.ok()) << polled.status();
    for (kafka::Message& message : *polled) messages.push_back(std::move(message));
  }
  ASSERT_EQ(messages.size(), 3u);

  const std::vector<pipeline::InputRecord> records = ToInputRecords(messages, kRepartition);
  ASSERT_EQ(records.size(), 3u);
  int passed_on_seen = 0;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const pipeline::InputRecord& record = records[i];
    EXPECT_EQ(record.content_type, "application/json");
    if (messages[i].topic() == kInput) {
      EXPECT_EQ(record.source, pipeline::InputSource::kInput);
      EXPECT_FALSE(record.origin.has_value());
      EXPECT_FALSE(record.source_clock.has_value());
      EXPECT_FALSE(record.passed_on_after.has_value());
      continue;
    }
    EXPECT_EQ(record.source, pipeline::InputSource::kRepartition);
    EXPECT_EQ(record.source_clock, absl::FromUnixSeconds(1'780'000'000));
    EXPECT_EQ(record.passed_on_after, 1230);
    if (messages[i].offset() == 0) {
      ++passed_on_seen;
      ASSERT_TRUE(record.origin.has_value());
      EXPECT_EQ(record.origin->topic, kInput);
      EXPECT_EQ(record.origin->partition, Partition(5));
      EXPECT_EQ(record.origin->offset, Offset(1234));
    } else {
      // Without a readable source it is judged by its event id alone.
      EXPECT_FALSE(record.origin.has_value());
    }
  }
  EXPECT_EQ(passed_on_seen, 1);
}

// A new owner with an empty disk, assigned several partitions at once, restores each from the
// changelog, on as many threads as it has changelog readers.
class OwnershipRestoreTest : public StoredStateTest {
 protected:
  static constexpr std::string_view kChangelog = "events-changelog";
  static constexpr int kPartitions = 5;

  void SetUp() override {
    OpenState("segments:\n  - {id: buyer, when: 'orders_total >= 1'}\n");
    engine_for_processor_ = std::move(engine_);
    auto cluster = kafka::MockCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    for (std::string_view topic : {kInput, kChangelog}) {
      ASSERT_TRUE(cluster_->CreateTopic(topic, kPartitions, 1).ok());
    }
    auto producer = kafka::Producer::Create(
        kafka::ProducerOptions{.bootstrap_servers = cluster_->bootstrap_servers()});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
  }

  // Each partition p: customers c<p>-0..2 in two versions each (orders_total 1, then 2), then a
  // checkpoint at input offset 100 + p.
  void WriteChangelog() {
    const std::vector<kafka::Header> profile_kind = {
        {pipeline::kChangelogKindHeader, pipeline::kChangelogProfile}};
    const std::vector<kafka::Header> checkpoint_kind = {
        {pipeline::kChangelogKindHeader, pipeline::kChangelogCheckpoint}};
    for (int p = 0; p < kPartitions; ++p) {
      for (int version = 1; version <= 2; ++version) {
        for (int c = 0; c < 3; ++c) {
          v1::CustomerProfile profile;
          profile.set_customer_id(absl::StrCat("c", p, "-", c));
          profile.set_orders_total(version);
          ASSERT_TRUE(producer_
                          ->Produce(kChangelog, profile.customer_id(), profile.SerializeAsString(),
                                    profile_kind, Partition(p))
                          .ok());
        }
      }
      v1::ChangelogCheckpoint checkpoint;
      checkpoint.set_next_offset(100 + p);
      checkpoint.mutable_state()->set_changelog_token(7);
      ASSERT_TRUE(producer_
                      ->Produce(kChangelog, "", checkpoint.SerializeAsString(), checkpoint_kind,
                                Partition(p))
                      .ok());
    }
    ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());
  }

  // Assigns partitions 0..`partitions`-1 of the input topic to an owner with `threads` changelog
  // readers.
  absl::StatusOr<std::map<kafka::TopicPartition, Offset>> Assign(int partitions, int threads) {
    auto readers = RestoreReaders::Open({.bootstrap_servers = cluster_->bootstrap_servers()},
                                        std::string(kChangelog), threads);
    if (!readers.ok()) return readers.status();
    KafkaSink sink(*producer_, "changes", "dlq", std::string(kChangelog), "");
    pipeline::ProcessorOptions options;
    options.changelog = true;
    pipeline::Processor processor(
        engine_for_processor_, *store_, sink, [this] { return now_; }, options, nullptr);
    prometheus::Registry registry;
    OwnershipMetrics metrics = OwnershipMetrics::Register(registry);
    Ownership ownership(processor, nullptr, *store_, readers->changelogs(), &metrics, nullptr);
    std::vector<kafka::TopicPartition> assigned;
    for (int p = 0; p < partitions; ++p) assigned.push_back({std::string(kInput), Partition(p)});
    auto start = ownership.OnAssigned(assigned);
    restored_ = metrics.restored.Value();
    records_ = metrics.records.Value();
    restoring_after_ = metrics.restoring.Value();
    return start;
  }

  std::shared_ptr<const core::Engine> engine_for_processor_;
  std::unique_ptr<kafka::MockCluster> cluster_;
  std::unique_ptr<kafka::Producer> producer_;
  double restored_ = 0;
  double records_ = 0;
  double restoring_after_ = -1;
};

TEST_F(OwnershipRestoreTest, EveryAssignedPartitionIsRestoredOnEveryThread) {
  WriteChangelog();
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(absl::StrCat(threads, " threads"));
    for (int p = 0; p < kPartitions; ++p) ASSERT_TRUE(store_->DropPartition(Partition(p)).ok());
    auto start = Assign(kPartitions, threads);
    ASSERT_TRUE(start.ok()) << start.status();

    EXPECT_EQ(restored_, kPartitions);
    EXPECT_EQ(records_, kPartitions * 7);
    EXPECT_EQ(restoring_after_, 0);
    for (int p = 0; p < kPartitions; ++p) {
      EXPECT_EQ(start->at({std::string(kInput), Partition(p)}), Offset(100 + p)) << p;
      std::vector<std::string> customers;
      ASSERT_TRUE(store_
                      ->ForEachProfile(Partition(p),
                                       [&](Partition, const v1::CustomerProfile& profile) {
                                         EXPECT_EQ(profile.orders_total(), 2);
                                         customers.push_back(profile.customer_id());
                                         return true;
                                       })
                      .ok());
      EXPECT_EQ(customers,
                (std::vector<std::string>{absl::StrCat("c", p, "-0"), absl::StrCat("c", p, "-1"),
                                          absl::StrCat("c", p, "-2")}));
      // Restores commit without the log; the owner made them durable by the time it was gone.
      absl::StatusOr<bool> unpersisted = store_->UnloggedPending(Partition(p));
      ASSERT_TRUE(unpersisted.ok()) << unpersisted.status();
      EXPECT_FALSE(*unpersisted) << p;
    }
  }
}

// A cooperative rebalance that moves nothing here still calls back, with no partitions.
TEST_F(OwnershipRestoreTest, AnEmptyAssignmentRestoresNothing) {
  WriteChangelog();
  auto start = Assign(0, 2);
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_TRUE(start->empty());
  EXPECT_EQ(restored_, 0);
}

TEST_F(OwnershipRestoreTest, APartitionThatCannotBeRestoredFailsTheAssignment) {
  WriteChangelog();
  // Partition 5 of the input has none in the changelog, which has 5.
  auto start = Assign(kPartitions + 1, 2);
  ASSERT_FALSE(start.ok());
  EXPECT_EQ(start.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(start.status().message().find("as many partitions as the input topic"),
            std::string::npos)
      << start.status();
}

// The reader takes a keyed record for a profile without reading its headers, unless the key is
// an erasure's; the restore checks the profile against the key.
TEST_F(OwnershipRestoreTest, ErasuresAreToldByTheirKeyAndARecordNotOursIsDataLoss) {
  WriteChangelog();
  v1::ChangelogErasure erasure;
  erasure.mutable_erased_at()->set_seconds(1'780'000'000);
  const std::vector<kafka::Header> erasure_kind = {
      {pipeline::kChangelogKindHeader, pipeline::kChangelogErasure}};
  ASSERT_TRUE(producer_
                  ->Produce(kChangelog, state::Store::ErasureId("gone"),
                            erasure.SerializeAsString(), erasure_kind, Partition(0))
                  .ok());
  ASSERT_TRUE(producer_->Produce(kChangelog, "someone", "else", {}, Partition(1)).ok());
  ASSERT_TRUE(producer_->Flush(absl::Seconds(10)).ok());

  auto start = Assign(1, 1);
  ASSERT_TRUE(start.ok()) << start.status();
  const std::vector<std::string_view> gone = {"gone"};
  auto erased = store_->ReadErasures(Partition(0), gone);
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(erased->at(0), absl::FromUnixSeconds(1'780'000'000));

  auto refused = Assign(2, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss) << refused.status();
  EXPECT_NE(refused.status().message().find("is the changelog topic shared"), std::string::npos)
      << refused.status();
}

}  // namespace
}  // namespace cdp::service
