#include "generator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace cdp::tools {
namespace {

using Channel = v1::CustomerEvent::Channel;
using InteractionType = v1::Interaction::Type;

constexpr std::int64_t kMaxCustomers = 10'000'000;

// Zipf-Mandelbrot weights 1 / (rank + offset)^exponent: the offset keeps the single most active
// customer from dominating, while the top 1% still make about 40% of all activity.
constexpr double kZipfExponent = 1.05;
constexpr double kZipfOffset = 8.0;

// How many times to redraw when the drawn customer cannot act now, before falling back to the
// most active customer (who always can).
constexpr int kMaxDraws = 16;

// Recent purchases that a refund may name.
constexpr std::size_t kRefundableOrders = 1024;

// After a customer goes quiet, their remaining activity fades with this time constant, as a share
// of the span.
constexpr double kFadeFraction = 0.03;

constexpr std::int64_t kSkusPerCategory = 40;

struct Category {
  std::string_view name;
  std::string_view sku_prefix;
  int min_yuan;
  int max_yuan;
  // How likely a random basket line is in this category (0: only for those who ask for it).
  std::uint32_t weight;
  // Most units of one SKU in a basket line.
  std::int64_t max_quantity;
  std::array<std::string_view, 3> search_terms;
};

constexpr std::array<Category, 13> kCategories = {{
    {"mother_baby", "MB", 39, 459, 12, 6, {"diapers", "infant formula", "baby wipes"}},
    {"beauty", "BT", 49, 899, 15, 3, {"serum", "sunscreen", "lipstick"}},
    {"apparel", "AP", 59, 1299, 16, 3, {"down jacket", "hoodie", "dress"}},
    {"shoes", "SH", 99, 1599, 6, 2, {"running shoes", "sneakers", "boots"}},
    {"electronics", "EL", 99, 8999, 7, 1, {"earbuds", "phone", "power bank"}},
    {"home", "HM", 19, 1999, 10, 4, {"bedding", "air fryer", "storage box"}},
    {"grocery", "GR", 5, 199, 14, 6, {"green tea", "rice", "snacks"}},
    {"sports", "SP", 39, 2999, 6, 2, {"yoga mat", "badminton", "dumbbells"}},
    {"books", "BK", 15, 199, 5, 3, {"novel", "children books", "cookbook"}},
    {"toys", "TY", 29, 899, 4, 2, {"lego", "plush", "puzzle"}},
    {"jewelry", "JW", 299, 19999, 2, 1, {"gold bracelet", "pearl earrings", "necklace"}},
    {"pet", "PT", 19, 599, 3, 4, {"cat food", "dog treats", "cat litter"}},
    {"customised", "CU", 99, 1999, 0, 1, {"engraving", "custom print", "photo gift"}},
}};
constexpr std::size_t kMotherBaby = 0;
constexpr std::size_t kBeauty = 1;
constexpr std::size_t kPet = 11;
constexpr std::size_t kCustomised = 12;

constexpr auto kCategoryWeights = [] {
  std::array<std::uint32_t, kCategories.size()> weights{};
  for (std::size_t i = 0; i < kCategories.size(); ++i) weights[i] = kCategories[i].weight;
  return weights;
}();

struct City {
  std::string_view region;
  std::string_view city;
  std::string_view code;
  std::uint32_t weight;
};

constexpr std::array<City, 25> kCities = {{
    {"Shanghai", "Shanghai", "SH", 10},  {"Beijing", "Beijing", "BJ", 10},
    {"Guangdong", "Guangzhou", "GZ", 8}, {"Guangdong", "Shenzhen", "SZ", 9},
    {"Guangdong", "Dongguan", "DG", 3},  {"Guangdong", "Foshan", "FS", 3},
    {"Zhejiang", "Hangzhou", "HZ", 7},   {"Zhejiang", "Ningbo", "NB", 3},
    {"Jiangsu", "Nanjing", "NJ", 5},     {"Jiangsu", "Suzhou", "SU", 5},
    {"Sichuan", "Chengdu", "CD", 7},     {"Chongqing", "Chongqing", "CQ", 6},
    {"Hubei", "Wuhan", "WH", 5},         {"Shaanxi", "Xian", "XA", 4},
    {"Tianjin", "Tianjin", "TJ", 4},     {"Hunan", "Changsha", "CS", 4},
    {"Henan", "Zhengzhou", "ZZ", 4},     {"Shandong", "Qingdao", "QD", 3},
    {"Shandong", "Jinan", "JN", 3},      {"Fujian", "Xiamen", "XM", 3},
    {"Fujian", "Fuzhou", "FZ", 2},       {"Liaoning", "Shenyang", "SY", 3},
    {"Liaoning", "Dalian", "DL", 2},     {"Yunnan", "Kunming", "KM", 2},
    {"Anhui", "Hefei", "HF", 3},
}};

constexpr auto kCityWeights = [] {
  std::array<std::uint32_t, kCities.size()> weights{};
  for (std::size_t i = 0; i < kCities.size(); ++i) weights[i] = kCities[i].weight;
  return weights;
}();

struct Coupon {
  std::string_view code;
  std::int64_t min_spend;  // fen
  std::int64_t off;        // fen
  std::uint32_t weight;
};

constexpr std::array<Coupon, 6> kCoupons = {{
    {"FLASH5", 2900, 500, 3},
    {"NEW10", 5900, 1000, 3},
    {"SAVE20", 19900, 2000, 4},
    {"BABY30", 29900, 3000, 2},
    {"SAVE50", 39900, 5000, 3},
    {"VIP100", 99900, 10000, 1},
}};

constexpr auto kCouponWeights = [] {
  std::array<std::uint32_t, kCoupons.size()> weights{};
  for (std::size_t i = 0; i < kCoupons.size(); ++i) weights[i] = kCoupons[i].weight;
  return weights;
}();

// Monthly income, CNY.
constexpr std::array<std::string_view, 4> kIncomeBands = {"under_5k", "5k_15k", "15k_30k",
                                                          "over_30k"};
constexpr std::array<std::uint32_t, 4> kIncomeWeights = {22, 43, 25, 10};

// Membership is earned by orders: kLevelOrders[i] orders reach kLevels[i].
constexpr std::array<std::string_view, 4> kLevels = {"basic", "silver", "gold", "platinum"};
constexpr std::array<int, 4> kLevelOrders = {0, 3, 8, 20};
constexpr std::size_t kGold = 2;

constexpr std::array<std::string_view, 3> kGenders = {"female", "male", ""};
constexpr std::array<std::uint32_t, 3> kGenderWeights = {58, 36, 6};
constexpr std::array<std::string_view, 6> kAcquisition = {
    "wechat_ad", "douyin_ad", "xiaohongshu", "store_signup", "friend_referral", "search"};
constexpr std::array<std::string_view, 6> kInterestTags = {"skincare", "fitness", "coffee",
                                                           "gaming",   "travel",  "home_decor"};
constexpr std::array<std::string_view, 3> kSkinTypes = {"dry", "oily", "combination"};
constexpr std::array<std::string_view, 6> kPages = {
    "home", "member-center", "new-arrivals", "campaign-618", "campaign-double11", "store-locator"};
constexpr std::array<std::string_view, 7> kCampaigns = {
    "msg-new-arrivals", "msg-618",     "msg-double11",  "msg-birthday",
    "msg-restock",      "msg-winback", "msg-member-day"};
constexpr std::array<std::string_view, 3> kErasureReasons = {
    "customer request in app", "account closed", "PIPL deletion request"};
constexpr std::array<std::string_view, 3> kForeignCurrencies = {"USD", "EUR", "ZZZ"};

constexpr std::array<Channel, 3> kConsentChannels = {
    v1::CustomerEvent::email, v1::CustomerEvent::sms, v1::CustomerEvent::wechat};
constexpr std::array<Channel, 5> kMessageChannels = {
    v1::CustomerEvent::email, v1::CustomerEvent::sms, v1::CustomerEvent::wechat,
    v1::CustomerEvent::wecom, v1::CustomerEvent::app};
constexpr std::array<Channel, 4> kSupportChannels = {v1::CustomerEvent::wecom,
                                                     v1::CustomerEvent::app, v1::CustomerEvent::web,
                                                     v1::CustomerEvent::store};
constexpr std::array<Channel, 4> kSurveyChannels = {
    v1::CustomerEvent::email, v1::CustomerEvent::sms, v1::CustomerEvent::wechat,
    v1::CustomerEvent::app};

enum class Payload { kInteraction, kPurchase, kProfileUpdate, kConsent, kRefund, kErasure };
constexpr std::array<std::uint32_t, 6> kPayloadWeights = {600, 230, 55, 40, 20, 1};

// Indexed by Interaction::Type - 1.
constexpr std::array<std::uint32_t, 16> kInteractionWeights = {
    180,  // page_view
    240,  // product_view
    100,  // search
    80,   // add_to_cart
    25,   // share
    50,   // like
    20,   // comment
    30,   // review
    45,   // coupon_claim
    60,   // message_open
    30,   // message_click
    10,   // support_ticket
    20,   // survey_response
    8,    // referral
    15,   // community_post
    60,   // login
};

// Indexed by Defect - 1.
constexpr std::array<std::uint32_t, 4> kDefectWeights = {30, 25, 25, 20};

// Indexed by CustomerKind.
constexpr std::array<std::uint32_t, 4> kKindWeights = {60, 12, 18, 10};

enum class Satisfaction { kPromoter, kPassive, kDetractor };
constexpr std::array<std::uint32_t, 3> kSatisfactionWeights = {50, 30, 20};

template <typename T, std::size_t N>
[[nodiscard]] const T& PickOne(Rng& rng, const std::array<T, N>& values) {
  return values[rng.Below(N)];
}

void AppendPadded(std::string& out, std::int64_t value, int width) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  const auto length = static_cast<int>(result.ptr - digits);
  if (length < width) out.append(static_cast<std::size_t>(width - length), '0');
  out.append(digits, result.ptr);
}

// Unit prices of every SKU, cheapest first, the same for every seed: the shop's catalogue.
using PriceList = std::array<std::array<std::int64_t, kSkusPerCategory>, kCategories.size()>;

PriceList MakePriceList() {
  PriceList prices{};
  Rng rng(0x5eedca7a10960e5dULL);
  for (std::size_t c = 0; c < kCategories.size(); ++c) {
    const double lo = kCategories[c].min_yuan;
    const double hi = kCategories[c].max_yuan;
    for (std::int64_t& price : prices[c]) {
      // Log-uniform, then priced the way shops do: 39, 199, 8999 yuan.
      auto yuan = static_cast<std::int64_t>(lo * std::pow(hi / lo, rng.Unit()));
      if (yuan >= 10) yuan = yuan / 10 * 10 + 9;
      price = yuan * 100;
    }
    std::sort(prices[c].begin(), prices[c].end());
  }
  return prices;
}

[[nodiscard]] std::size_t LevelForOrders(int orders) {
  std::size_t level = 0;
  while (level + 1 < kLevels.size() && orders >= kLevelOrders[level + 1]) ++level;
  return level;
}

}  // namespace

// Everything about one customer that does not change, derived from (seed, number) alone so that
// no per-customer table is needed.
struct Generator::Persona {
  std::int64_t number = 0;
  CustomerKind kind = CustomerKind::kRegular;
  absl::Time joins_at;
  absl::Time quiet_from = absl::InfiniteFuture();
  absl::Time quiet_until = absl::InfiniteFuture();
  std::string_view gender;  // empty: not disclosed
  std::int64_t age = 0;
  std::int64_t birth_year = 0;
  std::int64_t birth_day_of_year = 0;  // 0-based
  bool discloses_birth_date = false;
  const City* city = nullptr;
  std::optional<std::size_t> income_band;
  std::size_t acquisition = 0;
  std::array<std::size_t, 2> favourite_categories{};
  bool price_sensitive = false;
  bool high_end = false;
  bool personalised = false;
  bool advocate = false;
  bool prefers_mini_program = false;
  Satisfaction satisfaction = Satisfaction::kPromoter;
  // Days from the span's first day (negative: before it).
  std::optional<std::int64_t> baby_born_day;
};

struct Generator::Order {
  std::int64_t event_number = 0;
  std::int64_t customer = 0;
  std::int64_t total = 0;
  std::int64_t largest_line = 0;
  bool refunded = false;
};

struct Generator::Model {
  struct CustomerState {
    bool registered = false;
    bool erased = false;
    std::uint8_t level = 0;
    std::uint16_t orders = 0;
  };

  // Activity ranks drawn in constant time (Walker's alias method): draw a rank uniformly, keep it
  // with probability rank_keep, else take its rank_alias.
  std::vector<double> rank_keep;
  std::vector<std::uint32_t> rank_alias;
  // Who holds each rank (number - 1).
  std::vector<std::uint32_t> customer_at_rank;
  std::int64_t most_active = 1;
  std::vector<CustomerState> customers;  // by number - 1
  // Ring of the latest purchases, and the slot the next one overwrites once it is full.
  std::vector<Order> orders;
  std::size_t next_order = 0;
  // Set when the last valid event was a sign-up: who signed up, and what they came to do.
  struct SignedUp {
    std::int64_t number;
    Payload payload;
  };
  std::optional<SignedUp> after_sign_up;
  PriceList prices = MakePriceList();
  absl::CivilDay start_day;
};

absl::StatusOr<Generator> Generator::Create(GeneratorOptions options) {
  if (options.customers < 1 || options.customers > kMaxCustomers) {
    return absl::InvalidArgumentError(absl::StrCat("customers must be between 1 and ",
                                                   kMaxCustomers, ", got ", options.customers));
  }
  if (options.events < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("events must be 0 (no end) or more, got ", options.events));
  }
  if (options.clock == ClockMode::kSimulated && options.events == 0) {
    return absl::InvalidArgumentError(
        "a simulated clock needs an event count: the simulated days are divided among the events");
  }
  if (!(options.invalid_fraction >= 0.0 && options.invalid_fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid fraction must be between 0 and 1, got ", options.invalid_fraction));
  }
  if (options.span < absl::Seconds(1)) {
    return absl::InvalidArgumentError("the simulated span must be at least one second");
  }
  // Birth dates are laid out up to 70 years before the start, and every time must fit a protobuf
  // Timestamp.
  const absl::Time earliest = absl::FromCivil(absl::CivilDay(1970, 1, 1), absl::UTCTimeZone());
  const absl::Time latest = absl::FromCivil(absl::CivilDay(9999, 1, 1), absl::UTCTimeZone());
  if (options.start < earliest || options.start + options.span > latest) {
    return absl::InvalidArgumentError(absl::StrCat("the span starting ",
                                                   absl::FormatTime(options.start),
                                                   " must lie between years 1970 and 9998"));
  }
  if (options.clock == ClockMode::kLive && !options.wall_clock) {
    return absl::InvalidArgumentError("a live clock needs a wall clock");
  }
  return Generator(std::move(options));
}

Generator::Generator(GeneratorOptions options)
    : options_(std::move(options)),
      rng_(options_.seed),
      event_id_prefix_(absl::StrCat(options_.seed, "-")),
      model_(std::make_unique<Model>()) {
  for (std::int64_t limit = 1'000'000; options_.customers >= limit; limit *= 10) ++id_digits_;

  const auto count = static_cast<std::size_t>(options_.customers);
  // Vose's construction of the alias tables.
  std::vector<double> scaled(count);
  double total = 0.0;
  for (std::size_t rank = 0; rank < count; ++rank) {
    scaled[rank] = std::pow(static_cast<double>(rank) + 1.0 + kZipfOffset, -kZipfExponent);
    total += scaled[rank];
  }
  std::vector<std::uint32_t> below_one;
  std::vector<std::uint32_t> above_one;
  for (std::size_t rank = 0; rank < count; ++rank) {
    scaled[rank] *= static_cast<double>(count) / total;
    (scaled[rank] < 1.0 ? below_one : above_one).push_back(static_cast<std::uint32_t>(rank));
  }
  model_->rank_keep.assign(count, 1.0);
  model_->rank_alias.resize(count);
  for (std::size_t rank = 0; rank < count; ++rank) {
    model_->rank_alias[rank] = static_cast<std::uint32_t>(rank);
  }
  while (!below_one.empty() && !above_one.empty()) {
    const std::uint32_t small = below_one.back();
    below_one.pop_back();
    const std::uint32_t large = above_one.back();
    model_->rank_keep[small] = scaled[small];
    model_->rank_alias[small] = large;
    scaled[large] -= 1.0 - scaled[small];
    if (scaled[large] < 1.0) {
      above_one.pop_back();
      below_one.push_back(large);
    }
  }
  // Shuffled, so that how active a customer is does not follow their number.
  model_->customer_at_rank.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    model_->customer_at_rank[i] = static_cast<std::uint32_t>(i);
  }
  for (std::size_t i = count; i > 1; --i) {
    std::swap(model_->customer_at_rank[i - 1], model_->customer_at_rank[rng_.Below(i)]);
  }
  model_->most_active = model_->customer_at_rank[0] + 1;
  model_->start_day = absl::ToCivilDay(options_.start, absl::UTCTimeZone());
  model_->customers.resize(count);
  model_->orders.reserve(kRefundableOrders);
}

Generator::Generator(Generator&&) noexcept = default;
Generator& Generator::operator=(Generator&&) noexcept = default;
Generator::~Generator() = default;

std::string Generator::CustomerId(std::int64_t number) const {
  std::string id = "c";
  AppendPadded(id, number, id_digits_);
  return id;
}

std::int64_t Generator::CustomerNumber(std::string_view customer_id) const {
  if (customer_id.size() != static_cast<std::size_t>(id_digits_) + 1 || customer_id[0] != 'c') {
    return 0;
  }
  std::int64_t number = 0;
  const char* end = customer_id.data() + customer_id.size();
  const auto result = std::from_chars(customer_id.data() + 1, end, number);
  if (result.ec != std::errc() || result.ptr != end || number < 1 || number > options_.customers) {
    return 0;
  }
  return number;
}

CustomerTraits Generator::Traits(std::int64_t number) const {
  const Persona persona = PersonaOf(number);
  return CustomerTraits{.kind = persona.kind,
                        .joins_at = persona.joins_at,
                        .quiet_from = persona.quiet_from,
                        .quiet_until = persona.quiet_until};
}

Generator::Persona Generator::PersonaOf(std::int64_t number) const {
  Rng rng(Mix64(options_.seed) ^ Mix64(static_cast<std::uint64_t>(number)));
  const auto at = [&](double fraction) { return options_.start + options_.span * fraction; };

  Persona p;
  p.number = number;
  p.kind = static_cast<CustomerKind>(rng.Weighted(kKindWeights));
  const double joins = rng.Chance(0.65) ? 0.0 : 0.85 * rng.Unit();
  const double drift_draw = rng.Unit();
  const double pause_draw = rng.Unit();
  if (number == model_->most_active) {
    // The fallback when no drawn customer can act, so always able to.
    p.kind = CustomerKind::kRegular;
    p.joins_at = options_.start;
  } else {
    p.joins_at = at(joins);
  }
  if (p.kind == CustomerKind::kDrifter) {
    p.quiet_from = at(joins + (1.0 - joins) * (0.1 + 0.5 * drift_draw));
  } else if (p.kind == CustomerKind::kReturner) {
    // Away for over half the span: long enough to be at risk, then churned, then won back.
    const double from = joins + 0.05 + 0.15 * drift_draw;
    p.quiet_from = at(from);
    p.quiet_until = at(from + 0.5 + 0.1 * pause_draw);
  }

  p.gender = kGenders[rng.Weighted(kGenderWeights)];
  // 18 to 70, most in their late twenties to forties.
  p.age = 18 + rng.Between(0, 19) + rng.Between(0, 19) + rng.Between(0, 13);
  p.birth_year = model_->start_day.year() - p.age;
  p.birth_day_of_year = rng.Between(0, 364);
  p.discloses_birth_date = rng.Chance(0.85);
  p.city = &kCities[rng.Weighted(kCityWeights)];
  p.high_end = rng.Chance(0.08);
  const std::size_t band = p.high_end ? 2 + rng.Below(2) : rng.Weighted(kIncomeWeights);
  if (rng.Chance(0.7)) p.income_band = band;
  p.acquisition = rng.Below(kAcquisition.size());
  p.price_sensitive = !p.high_end && rng.Chance(0.25);
  p.personalised = rng.Chance(0.04);
  p.advocate = rng.Chance(0.05);
  p.prefers_mini_program = rng.Chance(0.4);
  p.satisfaction = static_cast<Satisfaction>(rng.Weighted(kSatisfactionWeights));

  // Parents of babies born between 18 months before the span and near its end: every baby-age
  // stage occurs during the span.
  const bool parent_age = p.age >= 24 && p.age <= 40;
  if (parent_age && rng.Chance(p.gender == "female" ? 0.35 : 0.15)) {
    const std::int64_t span_days = absl::ToInt64Hours(options_.span) / 24;
    p.baby_born_day = rng.Between(-540, span_days * 9 / 10);
  }
  p.favourite_categories[0] =
      p.baby_born_day && rng.Chance(0.7) ? kMotherBaby : rng.Weighted(kCategoryWeights);
  p.favourite_categories[1] = rng.Weighted(kCategoryWeights);
  return p;
}

bool Generator::Next(Record& record) {
  if (options_.events > 0 && produced_ >= options_.events) return false;
  absl::Time at;
  if (options_.clock == ClockMode::kSimulated) {
    // Event n falls somewhere in the n-th of `events` equal slices of the span: time always moves
    // forward, irregularly, and stays inside the span.
    const double fraction =
        (static_cast<double>(produced_) + rng_.Unit()) / static_cast<double>(options_.events);
    at = options_.start + absl::Floor(options_.span * fraction, absl::Milliseconds(1));
    at = std::min(at, options_.start + options_.span - absl::Milliseconds(1));
  } else {
    at = absl::FromUnixMillis(absl::ToUnixMillis(options_.wall_clock()));
  }
  ++produced_;
  record.garbage.clear();
  record.event.Clear();
  if (options_.invalid_fraction > 0.0 && rng_.Chance(options_.invalid_fraction)) {
    MakeInvalid(at, record);
  } else {
    MakeValid(at, record);
  }
  return true;
}

Generator::Persona Generator::PickCustomer(absl::Time at, bool& may_buy) {
  for (int draw = 0; draw < kMaxDraws; ++draw) {
    std::size_t rank = rng_.Below(model_->rank_keep.size());
    if (rng_.Unit() >= model_->rank_keep[rank]) rank = model_->rank_alias[rank];
    const std::int64_t number = model_->customer_at_rank[rank] + 1;
    if (model_->customers[number - 1].erased) continue;
    Persona persona = PersonaOf(number);
    if (at < persona.joins_at) continue;
    if (at >= persona.quiet_from && at < persona.quiet_until) {
      const double quiet_for = absl::FDivDuration(at - persona.quiet_from, options_.span);
      if (!rng_.Chance(std::exp(-quiet_for / kFadeFraction))) continue;
      may_buy = false;
    }
    if (persona.kind == CustomerKind::kBrowser) may_buy = false;
    return persona;
  }
  return PersonaOf(model_->most_active);
}

void Generator::SetEnvelope(std::int64_t number, absl::Time at, v1::CustomerEvent& event) {
  std::string& event_id = *event.mutable_event_id();
  event_id.assign(event_id_prefix_);
  AppendPadded(event_id, produced_, 1);
  std::string& customer_id = *event.mutable_customer_id();
  customer_id.assign("c");
  AppendPadded(customer_id, number, id_digits_);
  const std::int64_t seconds = absl::ToUnixSeconds(at);
  google::protobuf::Timestamp& occurred_at = *event.mutable_occurred_at();
  occurred_at.set_seconds(seconds);
  occurred_at.set_nanos(
      static_cast<std::int32_t>((at - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

void Generator::AppendOrderId(std::int64_t event_number, std::string& out) const {
  out.push_back('o');
  out.append(event_id_prefix_);
  AppendPadded(out, event_number, 1);
}

void Generator::MakeValid(absl::Time at, Record& record) {
  record.defect = Defect::kNone;
  v1::CustomerEvent& event = record.event;
  Payload payload;
  bool may_buy;
  std::optional<Persona> persona;
  if (model_->after_sign_up) {
    // What the customer who just signed up came to do.
    payload = model_->after_sign_up->payload;
    persona = PersonaOf(model_->after_sign_up->number);
    model_->after_sign_up.reset();
    const bool away = at >= persona->quiet_from && at < persona->quiet_until;
    may_buy = persona->kind != CustomerKind::kBrowser && !away;
  } else {
    payload = static_cast<Payload>(rng_.Weighted(kPayloadWeights));
    if (payload == Payload::kRefund) {
      Order order;
      if (TakeRefundableOrder(order)) {
        SetEnvelope(order.customer, at, event);
        MakeRefund(order, event);
        record.key = event.customer_id();
        return;
      }
      payload = Payload::kPurchase;
    }
    if (payload == Payload::kErasure) {
      if (MakeErasure(at, event)) {
        record.key = event.customer_id();
        return;
      }
      payload = Payload::kInteraction;
    }
    may_buy = true;
    persona = PickCustomer(at, may_buy);
  }

  SetEnvelope(persona->number, at, event);
  record.key = event.customer_id();
  Model::CustomerState& state = model_->customers[persona->number - 1];
  if (!state.registered) {
    // A customer's first event is signing up; what they came for follows.
    state.registered = true;
    MakeRegistration(*persona, at, event);
    model_->after_sign_up = {.number = persona->number, .payload = payload};
  } else if (payload == Payload::kPurchase && may_buy) {
    MakePurchase(*persona, event);
    BookOrder(persona->number, event.purchase());
  } else if (payload == Payload::kProfileUpdate) {
    MakeProfileChange(*persona, at, event);
  } else if (payload == Payload::kConsent) {
    MakeConsent(event);
  } else {
    MakeInteraction(*persona, event);
  }
}

void Generator::MakeInvalid(absl::Time at, Record& record) {
  record.defect = static_cast<Defect>(rng_.Weighted(kDefectWeights) + 1);
  if (record.defect == Defect::kGarbage) {
    MakeGarbage(record);
    SetRandomKey(record);
    return;
  }
  v1::CustomerEvent& event = record.event;
  bool may_buy = true;
  const Persona persona = PickCustomer(at, may_buy);
  SetEnvelope(persona.number, at, event);
  record.key = event.customer_id();
  const auto make_refund = [&](std::int64_t amount, std::string_view currency) {
    v1::Refund& refund = *event.mutable_refund();
    AppendOrderId(produced_, *refund.mutable_order_id());
    refund.set_amount(amount);
    refund.set_currency(std::string(currency));
    event.set_channel(v1::CustomerEvent::app);
  };
  switch (record.defect) {
    case Defect::kNegativeAmount: {
      const std::uint64_t variant = rng_.Below(4);
      if (variant == 3) {
        make_refund(-rng_.Between(100, 50'000), "CNY");
        break;
      }
      MakePurchase(persona, event);
      v1::Purchase& purchase = *event.mutable_purchase();
      v1::Purchase::Item& item = *purchase.mutable_items(0);
      if (variant == 0) {
        purchase.set_total_amount(-purchase.total_amount() - 1);
      } else if (variant == 1) {
        item.set_unit_price(-item.unit_price());
      } else {
        item.set_quantity(0);
      }
      break;
    }
    case Defect::kUnknownCurrency:
      if (rng_.Chance(0.8)) {
        MakePurchase(persona, event);
        event.mutable_purchase()->set_currency(std::string(PickOne(rng_, kForeignCurrencies)));
      } else {
        make_refund(rng_.Between(100, 50'000), PickOne(rng_, kForeignCurrencies));
      }
      break;
    case Defect::kMissingCustomerId:
      MakeInteraction(persona, event);
      event.clear_customer_id();
      SetRandomKey(record);
      break;
    case Defect::kNone:
    case Defect::kGarbage:
      break;
  }
}

void Generator::MakePurchase(const Persona& persona, v1::CustomerEvent& event) {
  v1::Purchase& purchase = *event.mutable_purchase();
  AppendOrderId(produced_, *purchase.mutable_order_id());
  purchase.set_currency("CNY");

  constexpr std::array<std::uint32_t, 4> kLineWeights = {55, 25, 13, 7};
  constexpr std::array<std::uint32_t, 5> kQuantityWeights = {75, 17, 5, 2, 1};
  const std::size_t lines = 1 + rng_.Weighted(kLineWeights);
  std::int64_t subtotal = 0;
  for (std::size_t line = 0; line < lines; ++line) {
    std::size_t category;
    if (persona.personalised && rng_.Chance(0.3)) {
      category = kCustomised;
    } else if (rng_.Chance(0.7)) {
      category = persona.favourite_categories[rng_.Below(2)];
    } else {
      category = rng_.Weighted(kCategoryWeights);
    }
    // High-end customers buy from the dearest quarter; others lean to the cheaper end.
    const std::int64_t sku = persona.high_end
                                 ? rng_.Between(kSkusPerCategory * 3 / 4, kSkusPerCategory - 1)
                                 : std::min(rng_.Between(0, kSkusPerCategory - 1),
                                            rng_.Between(0, kSkusPerCategory - 1));
    const std::int64_t unit_price = model_->prices[category][static_cast<std::size_t>(sku)];
    const std::int64_t quantity =
        1 + std::min<std::int64_t>(static_cast<std::int64_t>(rng_.Weighted(kQuantityWeights)),
                                   kCategories[category].max_quantity - 1);
    v1::Purchase::Item& item = *purchase.add_items();
    std::string& sku_id = *item.mutable_sku();
    sku_id.assign(kCategories[category].sku_prefix);
    sku_id.push_back('-');
    AppendPadded(sku_id, sku + 1, 4);
    item.set_category(std::string(kCategories[category].name));
    item.set_quantity(quantity);
    item.set_unit_price(unit_price);
    subtotal += unit_price * quantity;
  }

  std::int64_t discount = 0;
  if (rng_.Chance(persona.price_sensitive ? 0.55 : 0.07)) {
    auto weights = kCouponWeights;
    std::uint32_t usable = 0;
    for (std::size_t i = 0; i < kCoupons.size(); ++i) {
      if (kCoupons[i].min_spend > subtotal) weights[i] = 0;
      usable += weights[i];
    }
    if (usable > 0) {
      const Coupon& coupon = kCoupons[rng_.Weighted(weights)];
      purchase.set_coupon_code(std::string(coupon.code));
      discount = coupon.off;
    }
  } else if (rng_.Chance(persona.price_sensitive ? 0.4 : 0.12)) {
    // A store-wide promotion: a share of the basket off, in whole yuan.
    discount = subtotal * rng_.Between(5, 15) / 100 / 100 * 100;
  }
  discount = std::min(discount, subtotal / 2);
  purchase.set_discount_amount(discount);
  purchase.set_total_amount(subtotal - discount);

  const std::array<std::uint32_t, 4> channel_weights = {
      persona.prefers_mini_program ? 15u : 40u, persona.prefers_mini_program ? 45u : 20u, 15, 20};
  constexpr std::array<Channel, 4> kChannels = {v1::CustomerEvent::app,
                                                v1::CustomerEvent::mini_program,
                                                v1::CustomerEvent::web, v1::CustomerEvent::store};
  const Channel channel = kChannels[rng_.Weighted(channel_weights)];
  event.set_channel(channel);
  if (channel == v1::CustomerEvent::store) {
    std::string& store = *purchase.mutable_store_id();
    store.assign("st-");
    store.append(persona.city->code);
    store.push_back('-');
    AppendPadded(store, rng_.Between(1, 12), 2);
  }
}

void Generator::BookOrder(std::int64_t customer, const v1::Purchase& purchase) {
  Model::CustomerState& state = model_->customers[customer - 1];
  if (state.orders < UINT16_MAX) ++state.orders;
  Order order{.event_number = produced_, .customer = customer, .total = purchase.total_amount()};
  for (const v1::Purchase::Item& item : purchase.items()) {
    order.largest_line = std::max(order.largest_line, item.unit_price() * item.quantity());
  }
  if (model_->orders.size() < kRefundableOrders) {
    model_->orders.push_back(order);
  } else {
    model_->orders[model_->next_order] = order;
    model_->next_order = (model_->next_order + 1) % kRefundableOrders;
  }
}

bool Generator::TakeRefundableOrder(Order& order) {
  if (model_->orders.empty()) return false;
  Order& candidate = model_->orders[rng_.Below(model_->orders.size())];
  if (candidate.refunded || model_->customers[candidate.customer - 1].erased) return false;
  candidate.refunded = true;
  order = candidate;
  return true;
}

void Generator::MakeRefund(const Order& order, v1::CustomerEvent& event) {
  v1::Refund& refund = *event.mutable_refund();
  AppendOrderId(order.event_number, *refund.mutable_order_id());
  // Whole orders come back, or their biggest line.
  refund.set_amount(rng_.Chance(0.5) ? order.total : std::min(order.largest_line, order.total));
  refund.set_currency("CNY");
  constexpr std::array<Channel, 3> kChannels = {
      v1::CustomerEvent::app, v1::CustomerEvent::mini_program, v1::CustomerEvent::store};
  event.set_channel(PickOne(rng_, kChannels));
}

void Generator::MakeInteraction(const Persona& persona, v1::CustomerEvent& event) {
  auto weights = kInteractionWeights;
  if (persona.advocate) {
    weights[v1::Interaction::referral - 1] *= 6;
    weights[v1::Interaction::community_post - 1] *= 6;
    weights[v1::Interaction::share - 1] *= 3;
  }
  if (persona.price_sensitive) weights[v1::Interaction::coupon_claim - 1] *= 3;
  const auto type = static_cast<InteractionType>(rng_.Weighted(weights) + 1);
  const std::size_t category = rng_.Chance(0.7) ? persona.favourite_categories[rng_.Below(2)]
                                                : rng_.Weighted(kCategoryWeights);
  const Channel browsing = rng_.Chance(0.25)              ? v1::CustomerEvent::web
                           : rng_.Chance(0.1)             ? v1::CustomerEvent::wechat
                           : persona.prefers_mini_program ? v1::CustomerEvent::mini_program
                                                          : v1::CustomerEvent::app;

  v1::Interaction& interaction = *event.mutable_interaction();
  interaction.set_type(type);
  const auto set_category = [&] {
    interaction.set_category(std::string(kCategories[category].name));
  };
  const auto set_product = [&] {
    const std::int64_t sku = persona.high_end
                                 ? rng_.Between(kSkusPerCategory / 2, kSkusPerCategory - 1)
                                 : rng_.Between(0, kSkusPerCategory - 1);
    std::string& target = *interaction.mutable_target_id();
    target.assign(kCategories[category].sku_prefix);
    target.push_back('-');
    AppendPadded(target, sku + 1, 4);
    set_category();
  };
  const auto set_numbered_target = [&](std::string_view prefix) {
    std::string& target = *interaction.mutable_target_id();
    target.assign(prefix);
    target.append(event_id_prefix_);
    AppendPadded(target, produced_, 1);
  };
  event.set_channel(browsing);

  switch (type) {
    case v1::Interaction::page_view:
      if (rng_.Chance(0.4)) {
        std::string& target = *interaction.mutable_target_id();
        target.assign("category-");
        target.append(kCategories[category].name);
        set_category();
      } else {
        interaction.set_target_id(std::string(PickOne(rng_, kPages)));
      }
      break;
    case v1::Interaction::share:
      if (rng_.Chance(0.6)) event.set_channel(v1::CustomerEvent::wechat);
      set_product();
      break;
    case v1::Interaction::product_view:
    case v1::Interaction::add_to_cart:
    case v1::Interaction::like:
    case v1::Interaction::comment:
      set_product();
      break;
    case v1::Interaction::review: {
      set_product();
      constexpr std::array<std::uint32_t, 5> kPromoterStars = {0, 0, 2, 23, 75};
      constexpr std::array<std::uint32_t, 5> kPassiveStars = {2, 8, 35, 45, 10};
      constexpr std::array<std::uint32_t, 5> kDetractorStars = {35, 35, 22, 8, 0};
      const auto& stars = persona.satisfaction == Satisfaction::kPromoter  ? kPromoterStars
                          : persona.satisfaction == Satisfaction::kPassive ? kPassiveStars
                                                                           : kDetractorStars;
      interaction.set_rating(static_cast<std::int32_t>(rng_.Weighted(stars) + 1));
      break;
    }
    case v1::Interaction::search:
      interaction.set_target_id(std::string(PickOne(rng_, kCategories[category].search_terms)));
      set_category();
      break;
    case v1::Interaction::coupon_claim:
      interaction.set_target_id(std::string(kCoupons[rng_.Weighted(kCouponWeights)].code));
      break;
    case v1::Interaction::message_open:
    case v1::Interaction::message_click:
      interaction.set_target_id(std::string(PickOne(rng_, kCampaigns)));
      event.set_channel(PickOne(rng_, kMessageChannels));
      break;
    case v1::Interaction::support_ticket:
      set_numbered_target("ticket-");
      event.set_channel(PickOne(rng_, kSupportChannels));
      break;
    case v1::Interaction::survey_response: {
      interaction.set_target_id("nps-survey");
      std::int64_t score;
      if (persona.satisfaction == Satisfaction::kPromoter) {
        score = rng_.Chance(0.85) ? rng_.Between(9, 10) : rng_.Between(7, 8);
      } else if (persona.satisfaction == Satisfaction::kPassive) {
        score = rng_.Chance(0.8) ? rng_.Between(7, 8) : rng_.Between(5, 9);
      } else {
        score = rng_.Between(0, 6);
      }
      interaction.set_score(static_cast<std::int32_t>(score));
      event.set_channel(PickOne(rng_, kSurveyChannels));
      break;
    }
    case v1::Interaction::referral: {
      // The friend brought in: any customer, whether or not they have been seen yet.
      std::string& target = *interaction.mutable_target_id();
      target.assign("c");
      AppendPadded(target, rng_.Between(1, options_.customers), id_digits_);
      if (rng_.Chance(0.6)) event.set_channel(v1::CustomerEvent::wechat);
      break;
    }
    case v1::Interaction::community_post:
      set_numbered_target("post-");
      set_category();
      break;
    case v1::Interaction::login:
    default:
      break;
  }
}

void Generator::MakeRegistration(const Persona& persona, absl::Time at, v1::CustomerEvent& event) {
  constexpr std::array<Channel, 4> kChannels = {v1::CustomerEvent::app,
                                                v1::CustomerEvent::mini_program,
                                                v1::CustomerEvent::web, v1::CustomerEvent::store};
  const std::array<std::uint32_t, 4> channel_weights = {
      persona.prefers_mini_program ? 15u : 45u, persona.prefers_mini_program ? 50u : 20u, 15, 20};
  event.set_channel(kChannels[rng_.Weighted(channel_weights)]);

  v1::ProfileUpdate& update = *event.mutable_profile_update();
  if (persona.discloses_birth_date) {
    update.set_birth_date(absl::FormatCivilTime(absl::CivilDay(persona.birth_year, 1, 1) +
                                                persona.birth_day_of_year));
  }
  if (!persona.gender.empty()) update.set_gender(std::string(persona.gender));
  if (rng_.Chance(0.95)) {
    update.set_region(std::string(persona.city->region));
    update.set_city(std::string(persona.city->city));
  }
  if (persona.income_band) update.set_income_band(std::string(kIncomeBands[*persona.income_band]));
  update.set_membership_level(std::string(kLevels[0]));
  auto& attributes = *update.mutable_attributes();
  attributes["acquisition_channel"] = std::string(kAcquisition[persona.acquisition]);
  const std::int64_t today = absl::ToCivilDay(at, absl::UTCTimeZone()) - model_->start_day;
  const bool has_baby = persona.baby_born_day && *persona.baby_born_day <= today;
  if (has_baby) {
    attributes["baby_birth_date"] =
        absl::FormatCivilTime(model_->start_day + *persona.baby_born_day);
  }

  if (rng_.Chance(0.4)) update.add_add_tags("newsletter");
  if (rng_.Chance(0.35)) update.add_add_tags("wechat_follower");
  if (persona.age < 23 && rng_.Chance(0.6)) update.add_add_tags("student");
  if (persona.favourite_categories[0] == kPet || persona.favourite_categories[1] == kPet) {
    update.add_add_tags("pet_owner");
  }
  if (has_baby) update.add_add_tags("new_parent");
}

void Generator::MakeProfileChange(const Persona& persona, absl::Time at, v1::CustomerEvent& event) {
  constexpr std::array<Channel, 3> kChannels = {
      v1::CustomerEvent::app, v1::CustomerEvent::mini_program, v1::CustomerEvent::web};
  event.set_channel(PickOne(rng_, kChannels));
  v1::ProfileUpdate& update = *event.mutable_profile_update();

  Model::CustomerState& state = model_->customers[persona.number - 1];
  const std::size_t earned = LevelForOrders(state.orders);
  if (earned > state.level) {
    state.level = static_cast<std::uint8_t>(earned);
    update.set_membership_level(std::string(kLevels[earned]));
    if (earned >= kGold) update.add_add_tags("vip");
    return;
  }

  enum Change { kMove, kBaby, kInterest, kIncome, kNewsletterOff, kAttribute };
  const std::int64_t today = absl::ToCivilDay(at, absl::UTCTimeZone()) - model_->start_day;
  const bool has_baby = persona.baby_born_day && *persona.baby_born_day <= today;
  const std::array<std::uint32_t, 6> weights = {8, has_baby ? 20u : 0u, 35, 10, 10, 17};
  switch (rng_.Weighted(weights)) {
    case kMove: {
      const City& city = kCities[rng_.Weighted(kCityWeights)];
      update.set_region(std::string(city.region));
      update.set_city(std::string(city.city));
      break;
    }
    case kBaby:
      (*update.mutable_attributes())["baby_birth_date"] =
          absl::FormatCivilTime(model_->start_day + *persona.baby_born_day);
      update.add_add_tags("new_parent");
      break;
    case kInterest: {
      const std::size_t added = rng_.Below(kInterestTags.size());
      update.add_add_tags(std::string(kInterestTags[added]));
      if (rng_.Chance(0.3)) {
        const std::size_t removed =
            (added + 1 + rng_.Below(kInterestTags.size() - 1)) % kInterestTags.size();
        update.add_remove_tags(std::string(kInterestTags[removed]));
      }
      break;
    }
    case kIncome:
      update.set_income_band(std::string(kIncomeBands[rng_.Weighted(kIncomeWeights)]));
      break;
    case kNewsletterOff:
      update.add_remove_tags("newsletter");
      break;
    case kAttribute:
    default: {
      auto& attributes = *update.mutable_attributes();
      if (persona.favourite_categories[0] == kBeauty) {
        attributes["skin_type"] = std::string(PickOne(rng_, kSkinTypes));
      }
      std::string& store = attributes["preferred_store"];
      store.assign("st-");
      store.append(persona.city->code);
      store.push_back('-');
      AppendPadded(store, rng_.Between(1, 12), 2);
      break;
    }
  }
}

void Generator::MakeConsent(v1::CustomerEvent& event) {
  constexpr std::array<Channel, 3> kChannels = {
      v1::CustomerEvent::app, v1::CustomerEvent::mini_program, v1::CustomerEvent::web};
  event.set_channel(PickOne(rng_, kChannels));
  v1::Consent& consent = *event.mutable_consent();
  consent.set_channel(PickOne(rng_, kConsentChannels));
  consent.set_granted(rng_.Chance(0.7));
}

bool Generator::MakeErasure(absl::Time at, v1::CustomerEvent& event) {
  // Rare and best effort: a few draws for a known customer, else no erasure this time.
  for (int draw = 0; draw < 4; ++draw) {
    const std::int64_t number = rng_.Between(1, options_.customers);
    Model::CustomerState& state = model_->customers[number - 1];
    if (number == model_->most_active || !state.registered || state.erased) continue;
    state.erased = true;
    SetEnvelope(number, at, event);
    event.set_channel(rng_.Chance(0.7) ? v1::CustomerEvent::app : v1::CustomerEvent::web);
    event.mutable_erasure()->set_reason(std::string(PickOne(rng_, kErasureReasons)));
    return true;
  }
  return false;
}

void Generator::MakeGarbage(Record& record) {
  // A leading 0x00 is field number 0, which no protobuf parser accepts, and is not '{', so no
  // decoder takes it for JSON either.
  record.garbage.push_back('\0');
  const std::int64_t length = rng_.Between(8, 64);
  for (std::int64_t i = 0; i < length; ++i) {
    auto byte = static_cast<unsigned>(rng_.Below(255));
    if (byte >= '\n') ++byte;  // never '\n': one record per line in a file
    record.garbage.push_back(static_cast<char>(byte));
  }
}

void Generator::SetRandomKey(Record& record) {
  // One StrCat rather than assign + append: GCC 12 at -O3 sees a false -Wrestrict overlap there.
  record.key = absl::StrCat("g", absl::Hex(rng_.Bits(), absl::kZeroPad16));
}

}  // namespace cdp::tools
