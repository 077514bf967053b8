#pragma once

#include <cstdint>
#include <string_view>

namespace cdp::rules {

enum class ValueType : std::uint8_t { kNumber, kString, kBool };

[[nodiscard]] std::string_view TypeName(ValueType type);

// A field value during evaluation: null (no value yet), a number, a string or a bool. Strings are
// views into the profile or the expression, valid for one evaluation.
class Value {
 public:
  constexpr Value() = default;
  static constexpr Value Null() { return Value(); }
  static constexpr Value Number(double v) { return Value(Kind::kNumber, v, {}, false); }
  static constexpr Value String(std::string_view v) { return Value(Kind::kString, 0, v, false); }
  static constexpr Value Bool(bool v) { return Value(Kind::kBool, 0, {}, v); }

  [[nodiscard]] constexpr bool is_null() const { return kind_ == Kind::kNull; }
  [[nodiscard]] constexpr bool is_number() const { return kind_ == Kind::kNumber; }
  [[nodiscard]] constexpr bool is_string() const { return kind_ == Kind::kString; }
  [[nodiscard]] constexpr bool is_bool() const { return kind_ == Kind::kBool; }
  [[nodiscard]] constexpr double number() const { return number_; }
  [[nodiscard]] constexpr std::string_view string() const { return string_; }
  [[nodiscard]] constexpr bool boolean() const { return bool_; }

  friend constexpr bool operator==(const Value& a, const Value& b) {
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
      case Kind::kNull: return true;
      case Kind::kNumber: return a.number_ == b.number_;
      case Kind::kString: return a.string_ == b.string_;
      case Kind::kBool: return a.bool_ == b.bool_;
    }
    return false;
  }

 private:
  enum class Kind : std::uint8_t { kNull, kNumber, kString, kBool };
  constexpr Value(Kind kind, double n, std::string_view s, bool b)
      : kind_(kind), number_(n), string_(s), bool_(b) {}

  Kind kind_ = Kind::kNull;
  double number_ = 0;
  std::string_view string_;
  bool bool_ = false;
};

}  // namespace cdp::rules
