#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "absl/time/civil_time.h"
#include "cdp/rules/eval_context.h"
#include "cdp/rules/fields.h"
#include "cdp/rules/value.h"

namespace cdp::rules::testing {

// A profile at an instant, set up field by field. Fields not set are null.
class FakeContext : public EvalContext {
 public:
  FakeContext() { SetToday(2024, 3, 15); }

  FakeContext& Set(std::string_view field, double value) {
    return Set(field, Value::Number(value));
  }
  FakeContext& Set(std::string_view field, const char* value) {
    strings_.emplace_back(value);
    return Set(field, Value::String(strings_.back()));
  }
  FakeContext& Set(std::string_view field, Value value) {
    const auto id = FindField(field);
    if (!id) throw std::invalid_argument(std::string(field));
    fields_[static_cast<std::size_t>(*id)] = value;
    return *this;
  }
  FakeContext& Tag(std::string tag) {
    tags_.insert(std::move(tag));
    return *this;
  }
  FakeContext& Attr(std::string key, std::string value) {
    attributes_[std::move(key)] = std::move(value);
    return *this;
  }
  FakeContext& Consent(std::string channel, bool granted) {
    consent_[std::move(channel)] = granted;
    return *this;
  }
  // Held ever; held now since `entered` (a day as SetToday takes it) unless that is nullopt.
  FakeContext& Membership(std::string id, std::optional<absl::CivilDay> entered) {
    if (entered) held_since_[id] = *entered - absl::CivilDay(1970, 1, 1);
    ever_.insert(std::move(id));
    return *this;
  }
  FakeContext& SetToday(int year, int month, int day) {
    today_ = absl::CivilDay(year, month, day) - absl::CivilDay(1970, 1, 1);
    return *this;
  }

  // How many times field() was called, to see short-circuits.
  int field_reads() const { return field_reads_; }

  Value field(FieldId id) const override {
    ++field_reads_;
    return fields_[static_cast<std::size_t>(id)];
  }
  bool has_tag(std::string_view tag) const override { return tags_.contains(tag); }
  Value attr(std::string_view key) const override {
    const auto it = attributes_.find(key);
    return it == attributes_.end() ? Value::Null() : Value::String(it->second);
  }
  bool consent(std::string_view channel) const override {
    const auto it = consent_.find(channel);
    return it != consent_.end() && it->second;
  }
  bool ever_in(std::string_view id) const override { return ever_.contains(id); }
  std::optional<std::int64_t> entered_day(std::string_view id) const override {
    const auto it = held_since_.find(id);
    return it == held_since_.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
  }
  std::int64_t today() const override { return today_; }

 private:
  std::array<Value, kFieldCount> fields_{};
  std::set<std::string, std::less<>> tags_;
  // deque: string Values view these, and growing it moves none.
  std::deque<std::string> strings_;
  std::map<std::string, std::string, std::less<>> attributes_;
  std::map<std::string, bool, std::less<>> consent_;
  std::set<std::string, std::less<>> ever_;
  std::map<std::string, std::int64_t, std::less<>> held_since_;
  std::int64_t today_ = 0;
  mutable int field_reads_ = 0;
};

}  // namespace cdp::rules::testing
