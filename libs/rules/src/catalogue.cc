#include "cdp/rules/catalogue.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <span>
#include <utility>

#include "absl/strings/numbers.h"
#include "cdp/common/suggest.h"
#include "source_text.h"
#include "text.h"

namespace cdp::rules {
namespace {

constexpr std::string_view kFileKeys[] = {"timezone", "rfm", "segments", "dimensions"};
constexpr std::string_view kRfmKeys[] = {"scoring", "recency_days", "frequency_orders_365d",
                                         "monetary_365d"};
constexpr std::string_view kSegmentKeys[] = {"id", "description", "when", "min_dwell"};
constexpr std::string_view kDimensionKeys[] = {"id", "description", "tiers"};
constexpr std::string_view kTierKeys[] = {"id", "description", "when", "min_dwell"};
constexpr std::size_t kMaxIdLength = 64;
// A century: far beyond any sensible dwell, and day arithmetic on it cannot overflow.
constexpr std::int64_t kMaxDwellDays = 36500;

// A key that belongs elsewhere, with the fix: "unknown key" alone would not say where it goes.
struct MisplacedKey {
  std::string_view key;
  std::string_view message;
};

constexpr MisplacedKey kDimensionMisplacedKeys[] = {
    {"min_dwell",
     "'min_dwell' goes on a tier, not on a dimension; write it in each tier to be held that long"}};

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || id[0] < 'a' || id[0] > 'z') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string_view KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "text";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// A key and its value in a mapping.
struct Entry {
  YAML::Node key;
  YAML::Node value;
};

using Entries = std::map<std::string, Entry, std::less<>>;

class Loader {
 public:
  Loader(std::string_view text, std::string_view file) : text_(text), file_(file), source_(text) {}

  absl::StatusOr<SegmentCatalogue> Run() {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text_));
    } catch (const YAML::Exception& e) {
      AddError(e.mark, e.msg);
      return Finish();
    }
    if (!root.IsMap()) {
      if (root.IsNull()) {
        AddError(TextPosition{}, "the segment file is empty; it needs 'segments' or 'dimensions'");
      } else {
        AddError(root.Mark(), internal::Cat("expected a mapping with keys timezone, rfm, "
                                            "segments and dimensions, found ",
                                            KindName(root)));
      }
      return Finish();
    }
    const Entries entries = CheckKeys(root, kFileKeys);
    if (const Entry* timezone = Find(entries, "timezone")) LoadTimezone(*timezone);
    if (const Entry* rfm = Find(entries, "rfm")) LoadRfm(*rfm);
    // Segments before dimensions, whatever the order in the file: tiers are checked against them.
    if (const Entry* segments = Find(entries, "segments")) LoadSegments(*segments);
    if (const Entry* dimensions = Find(entries, "dimensions")) LoadDimensions(*dimensions);
    CheckMembershipRefs();
    CheckDwellTiers();
    return Finish();
  }

 private:
  struct Error {
    TextPosition at;
    std::string text;
  };

  // An ever_in()/days_in() argument, checked once every id is known.
  struct PendingRef {
    std::string id;
    TextPosition at;
  };

  // A tier's `min_dwell`, checked once every tier is known.
  struct PendingDwell {
    std::string id;
    TextPosition at;
  };

  // The entry time a dwell counts from is kept per id, like the history ever_in() reads.
  void CheckDwellTiers() {
    std::map<std::string, std::vector<std::string_view>, std::less<>> dimensions_of;
    for (const Dimension& dimension : catalogue_.dimensions) {
      for (const Tier& tier : dimension.tiers) dimensions_of[tier.id].push_back(dimension.id);
    }
    for (const PendingDwell& dwell : pending_dwells_) {
      const auto it = dimensions_of.find(dwell.id);
      if (it == dimensions_of.end() || it->second.size() < 2) continue;
      AddError(dwell.at, internal::Cat("tier '", dwell.id, "' has a min_dwell but is a tier of ",
                                       internal::Join(it->second, " and "),
                                       "; give it an id unique in the file"));
    }
  }

  // History is kept per id, so a name must be exactly one segment or tier of the file.
  void CheckMembershipRefs() {
    std::map<std::string, std::vector<std::string>, std::less<>> owners;
    std::vector<std::string_view> known;
    for (const Segment& segment : catalogue_.segments) {
      owners[segment.id].push_back(internal::Cat("the segment '", segment.id, "'"));
    }
    for (const Dimension& dimension : catalogue_.dimensions) {
      for (const Tier& tier : dimension.tiers) {
        owners[tier.id].push_back(internal::Cat("a tier of '", dimension.id, "'"));
      }
    }
    for (const auto& [id, owner] : owners) known.push_back(id);
    for (const PendingRef& ref : pending_refs_) {
      const auto it = owners.find(ref.id);
      if (it == owners.end()) {
        std::string message = internal::Cat("'", ref.id, "' is no segment or tier of this file");
        if (const std::optional<std::string> match = cdp::Suggest(ref.id, known)) {
          message += internal::Cat("; did you mean '", *match, "'?");
        }
        errors_.push_back(Error{
            ref.at, internal::Cat(file_, ":", ref.at.line, ":", ref.at.column, ": ", message)});
      } else if (it->second.size() > 1) {
        errors_.push_back(
            Error{ref.at,
                  internal::Cat(file_, ":", ref.at.line, ":", ref.at.column, ": '", ref.id, "' is ",
                                internal::Join(it->second, " and "),
                                "; give the tiers ids unique in the file to read their history")});
      }
    }
  }

  absl::StatusOr<SegmentCatalogue> Finish() {
    if (errors_.empty()) return std::move(catalogue_);
    std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
      return std::pair(a.at.line, a.at.column) < std::pair(b.at.line, b.at.column);
    });
    std::vector<std::string> lines;
    for (const Error& error : errors_) lines.push_back(internal::SpellOutControls(error.text));
    return absl::InvalidArgumentError(internal::Join(lines, "\n"));
  }

  TextPosition PositionOf(const YAML::Mark& mark) const {
    if (mark.pos < 0) return TextPosition{};
    return source_.PositionOf(static_cast<std::size_t>(mark.pos));
  }

  // Where a value is, or its key when there is no value to point at.
  TextPosition PositionOf(const Entry& entry) const {
    return PositionOf(entry.value.IsNull() ? entry.key.Mark() : entry.value.Mark());
  }

  void AddError(TextPosition at, std::string_view message) {
    errors_.push_back(Error{at, internal::Cat(file_, file_.empty() ? "" : ":", at.line, ":",
                                              at.column, ": ", message)});
  }

  void AddError(const YAML::Mark& mark, std::string_view message) {
    AddError(PositionOf(mark), message);
  }

  static const Entry* Find(const Entries& entries, std::string_view key) {
    const auto it = entries.find(key);
    return it == entries.end() ? nullptr : &it->second;
  }

  // The entries of `map` by key, reporting keys that are unknown or repeated.
  Entries CheckKeys(const YAML::Node& map, std::span<const std::string_view> allowed,
                    std::span<const MisplacedKey> misplaced = {}) {
    Entries entries;
    for (auto it = map.begin(); it != map.end(); ++it) {
      // Copies: the iterator hands out a temporary pair.
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) {
        AddError(key.Mark(), internal::Cat("expected a key, found ", KindName(key)));
        continue;
      }
      const std::string& name = key.Scalar();
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        const auto known = std::find_if(misplaced.begin(), misplaced.end(),
                                        [&](const MisplacedKey& k) { return k.key == name; });
        if (known != misplaced.end()) {
          AddError(key.Mark(), known->message);
        } else if (const std::optional<std::string> match = cdp::Suggest(name, allowed)) {
          AddError(key.Mark(),
                   internal::Cat("unknown key '", name, "'; did you mean '", *match, "'?"));
        } else {
          AddError(key.Mark(), internal::Cat("unknown key '", name, "'; expected one of ",
                                             internal::Join(allowed, ", ")));
        }
        continue;
      }
      const auto [existing, inserted] = entries.emplace(name, Entry{key, value});
      if (!inserted) {
        AddError(key.Mark(), internal::Cat("duplicate key '", name, "'; it is already on line ",
                                           PositionOf(existing->second.key.Mark()).line));
      }
    }
    return entries;
  }

  // The text of a scalar value, or nullopt after reporting what is there instead.
  std::optional<std::string> Text(const Entry& entry) {
    if (entry.value.IsScalar()) return entry.value.Scalar();
    AddError(PositionOf(entry), internal::Cat("expected text for '", entry.key.Scalar(),
                                              "', found ", KindName(entry.value)));
    return std::nullopt;
  }

  void LoadTimezone(const Entry& entry) {
    const std::optional<std::string> name = Text(entry);
    if (!name) return;
    absl::TimeZone zone;
    if (name->empty() || !absl::LoadTimeZone(*name, &zone)) {
      AddError(PositionOf(entry),
               internal::Cat("unknown time zone '", *name,
                             "'; use an IANA name such as 'Asia/Shanghai' or 'UTC'"));
      return;
    }
    catalogue_.timezone_name = *name;
    catalogue_.timezone = zone;
  }

  void LoadRfm(const Entry& entry) {
    if (!entry.value.IsMap()) {
      AddError(PositionOf(entry),
               internal::Cat("expected a mapping for 'rfm' with keys ",
                             internal::Join(kRfmKeys, ", "), ", found ", KindName(entry.value)));
      return;
    }
    const Entries entries = CheckKeys(entry.value, kRfmKeys);
    if (const Entry* e = Find(entries, "scoring")) {
      const std::string scoring = e->value.IsScalar() ? e->value.Scalar() : "";
      if (scoring == "quintiles") {
        catalogue_.rfm_scoring = RfmScoring::kQuintiles;
      } else if (scoring != "breakpoints") {
        AddError(e->value.Mark(),
                 internal::Cat("'scoring' is 'breakpoints' (the default: the numbers below) or "
                               "'quintiles' (computed from the customers), found ",
                               e->value.IsScalar() ? internal::Cat("'", scoring, "'")
                                                   : std::string(KindName(e->value))));
        return;
      }
    }
    if (catalogue_.rfm_scoring == RfmScoring::kQuintiles) {
      for (const auto& [key, e] : entries) {
        if (key == "scoring") continue;
        AddError(e.key.Mark(), internal::Cat("'", key,
                                             "' cannot be set with 'scoring: quintiles', which "
                                             "computes the breakpoints; remove it"));
      }
      return;
    }
    RfmBreakpoints& rfm = catalogue_.rfm;
    if (const Entry* e = Find(entries, "recency_days")) LoadBreakpoints(*e, rfm.recency_days);
    if (const Entry* e = Find(entries, "frequency_orders_365d")) {
      LoadBreakpoints(*e, rfm.frequency_orders_365d);
    }
    if (const Entry* e = Find(entries, "monetary_365d")) LoadBreakpoints(*e, rfm.monetary_365d);
  }

  void LoadBreakpoints(const Entry& entry, std::array<double, 4>& out) {
    const std::string& name = entry.key.Scalar();
    if (!entry.value.IsSequence() || entry.value.size() != out.size()) {
      const std::string found = entry.value.IsSequence()
                                    ? internal::Cat(entry.value.size(), " numbers")
                                    : std::string(KindName(entry.value));
      AddError(PositionOf(entry), internal::Cat("'", name, "' needs 4 ascending numbers, e.g. [",
                                                internal::Join(out, ", "), "], found ", found));
      return;
    }
    std::array<double, 4> values{};
    for (std::size_t i = 0; i < values.size(); ++i) {
      const YAML::Node item = entry.value[i];
      double value = 0;
      if (!item.IsScalar() || !absl::SimpleAtod(item.Scalar(), &value) || !std::isfinite(value) ||
          value < 0) {
        AddError(item.Mark(), internal::Cat("'", name, "' needs numbers of at least 0, found ",
                                            item.IsScalar() ? internal::Cat("'", item.Scalar(), "'")
                                                            : std::string(KindName(item))));
        return;
      }
      if (i > 0 && value <= values[i - 1]) {
        AddError(item.Mark(), internal::Cat("'", name, "' must be ascending: ", item.Scalar(),
                                            " is not above the number before it"));
        return;
      }
      values[i] = value;
    }
    out = values;
  }

  // A mapping's `id`, valid and present, or nullopt after reporting the problem.
  std::optional<std::string> LoadId(const YAML::Node& map, const Entries& entries,
                                    std::string_view what) {
    const Entry* entry = Find(entries, "id");
    if (!entry) {
      AddError(map.Mark(), internal::Cat(what, " is missing 'id'"));
      return std::nullopt;
    }
    std::optional<std::string> id = Text(*entry);
    if (id && !IsValidId(*id)) {
      AddError(PositionOf(*entry),
               internal::Cat("invalid id '", *id,
                             "': use lowercase letters, digits and '_', starting with a letter, "
                             "at most ",
                             kMaxIdLength, " characters"));
      return std::nullopt;
    }
    return id;
  }

  // `min_dwell` in days, 0 when absent or after reporting a value that is not a whole number of
  // days from 1 to kMaxDwellDays.
  int LoadDwell(const Entries& entries, std::string_view what) {
    const Entry* entry = Find(entries, "min_dwell");
    if (!entry) return 0;
    std::int64_t days = 0;
    if (entry->value.IsScalar() && absl::SimpleAtoi(entry->value.Scalar(), &days) && days >= 1 &&
        days <= kMaxDwellDays) {
      return static_cast<int>(days);
    }
    AddError(PositionOf(*entry),
             internal::Cat("'min_dwell' of ", what, " needs a whole number of days from 1 to ",
                           kMaxDwellDays, ", e.g. 'min_dwell: 7', found ",
                           entry->value.IsScalar() ? internal::Cat("'", entry->value.Scalar(), "'")
                                                   : std::string(KindName(entry->value))));
    return 0;
  }

  std::string LoadDescription(const Entries& entries) {
    const Entry* entry = Find(entries, "description");
    if (!entry || entry->value.IsNull()) return "";
    return Text(*entry).value_or("");
  }

  // The compiled `when` of a segment or tier, or nullopt after reporting why not.
  std::optional<Expression> LoadRule(const YAML::Node& map, const Entries& entries,
                                     std::string_view what) {
    const Entry* entry = Find(entries, "when");
    if (!entry) {
      AddError(map.Mark(), internal::Cat(what, " is missing 'when', its condition"));
      return std::nullopt;
    }
    if (entry->value.IsNull()) {
      AddError(PositionOf(*entry),
               internal::Cat("'when' of ", what, " is empty; write a condition"));
      return std::nullopt;
    }
    const std::optional<std::string> rule = Text(*entry);
    if (!rule) return std::nullopt;
    const YAML::Mark mark = entry->value.Mark();
    const TextPosition start = PositionOf(mark);
    std::optional<std::vector<TextPosition>> positions;
    if (mark.pos >= 0) positions = source_.Locate(*rule, static_cast<std::size_t>(mark.pos));
    if (!positions) positions.emplace(rule->size() + 1, start);
    absl::StatusOr<Expression> expression = CompileExpression(*rule, file_, *positions);
    if (!expression.ok()) {
      // The message is already "file:line:column: ..."; the rule's start orders it among others.
      errors_.push_back(Error{start, std::string(expression.status().message())});
      return std::nullopt;
    }
    for (const MembershipRef& ref : expression->membership_refs()) {
      pending_refs_.push_back(PendingRef{ref.id, (*positions)[ref.offset]});
    }
    return std::move(*expression);
  }

  // The mapping's entries, or nullopt after reporting that `node` is not a mapping.
  std::optional<Entries> Item(const YAML::Node& node, std::span<const std::string_view> keys,
                              std::string_view what, std::span<const MisplacedKey> misplaced = {}) {
    if (!node.IsMap()) {
      AddError(node.Mark(), internal::Cat("expected ", what, " (a mapping with ",
                                          internal::Join(keys, ", "), "), found ", KindName(node)));
      return std::nullopt;
    }
    return CheckKeys(node, keys, misplaced);
  }

  // A list's items; a missing list is empty.
  std::optional<YAML::Node> List(const Entry& entry) {
    if (entry.value.IsSequence() || entry.value.IsNull()) return entry.value;
    AddError(PositionOf(entry), internal::Cat("expected a list for '", entry.key.Scalar(),
                                              "', found ", KindName(entry.value)));
    return std::nullopt;
  }

  void LoadSegments(const Entry& entry) {
    const std::optional<YAML::Node> list = List(entry);
    if (!list) return;
    for (const YAML::Node& node : *list) {
      const std::optional<Entries> entries = Item(node, kSegmentKeys, "a segment");
      if (!entries) continue;
      const std::optional<std::string> id = LoadId(node, *entries, "a segment");
      const std::string what = id ? internal::Cat("segment '", *id, "'") : "a segment";
      std::string description = LoadDescription(*entries);
      std::optional<Expression> when = LoadRule(node, *entries, what);
      const int min_dwell_days = LoadDwell(*entries, what);
      if (id) {
        const TextPosition at = PositionOf(Find(*entries, "id")->value.Mark());
        const auto [first, inserted] = segment_ids_.emplace(*id, at);
        if (!inserted) {
          AddError(at, internal::Cat("duplicate segment id '", *id, "'; the first is on line ",
                                     first->second.line));
          continue;
        }
      }
      if (id && when) {
        catalogue_.segments.push_back(
            Segment{*id, std::move(description), std::move(*when), min_dwell_days});
      }
    }
  }

  void LoadDimensions(const Entry& entry) {
    const std::optional<YAML::Node> list = List(entry);
    if (!list) return;
    std::map<std::string, TextPosition, std::less<>> dimension_ids;
    for (const YAML::Node& node : *list) {
      const std::optional<Entries> entries =
          Item(node, kDimensionKeys, "a dimension", kDimensionMisplacedKeys);
      if (!entries) continue;
      const std::optional<std::string> id = LoadId(node, *entries, "a dimension");
      bool valid = id.has_value();
      if (id) {
        const TextPosition at = PositionOf(Find(*entries, "id")->value.Mark());
        const auto [first, inserted] = dimension_ids.emplace(*id, at);
        if (!inserted) {
          AddError(at, internal::Cat("duplicate dimension id '", *id, "'; the first is on line ",
                                     first->second.line));
          valid = false;
        }
      }
      Dimension dimension;
      dimension.id = id.value_or("");
      dimension.description = LoadDescription(*entries);
      const std::string what = id ? internal::Cat("dimension '", *id, "'") : "a dimension";
      const Entry* tiers = Find(*entries, "tiers");
      if (!tiers) {
        AddError(node.Mark(), internal::Cat(what, " is missing 'tiers'"));
        continue;
      }
      const std::optional<YAML::Node> tier_list = List(*tiers);
      if (!tier_list) continue;
      if (tier_list->size() == 0) {
        AddError(PositionOf(*tiers), internal::Cat(what, " has no tiers; add at least one"));
        continue;
      }
      valid = LoadTiers(*tier_list, what, dimension) && valid;
      if (valid) catalogue_.dimensions.push_back(std::move(dimension));
    }
  }

  // Whether every tier is valid.
  bool LoadTiers(const YAML::Node& list, std::string_view dimension_name, Dimension& dimension) {
    std::map<std::string, TextPosition, std::less<>> tier_ids;
    bool valid = true;
    for (const YAML::Node& node : list) {
      const std::optional<Entries> entries = Item(node, kTierKeys, "a tier");
      if (!entries) {
        valid = false;
        continue;
      }
      const std::optional<std::string> id = LoadId(node, *entries, "a tier");
      const std::string what = id ? internal::Cat("tier '", *id, "'") : "a tier";
      std::string description = LoadDescription(*entries);
      std::optional<Expression> when = LoadRule(node, *entries, what);
      const int min_dwell_days = LoadDwell(*entries, what);
      if (id) {
        const TextPosition at = PositionOf(Find(*entries, "id")->value.Mark());
        if (min_dwell_days > 0) {
          pending_dwells_.push_back(PendingDwell{*id, PositionOf(*Find(*entries, "min_dwell"))});
        }
        if (const auto [first, inserted] = tier_ids.emplace(*id, at); !inserted) {
          AddError(at, internal::Cat("duplicate tier id '", *id, "' in ", dimension_name,
                                     "; the first is on line ", first->second.line));
          valid = false;
        }
        if (const auto segment = segment_ids_.find(*id); segment != segment_ids_.end()) {
          AddError(at, internal::Cat("tier id '", *id, "' is also the id of the segment on line ",
                                     segment->second.line,
                                     "; rename one so that changes tell them apart"));
          valid = false;
        }
      }
      if (!id || !when) {
        valid = false;
        continue;
      }
      dimension.tiers.push_back(
          Tier{*id, std::move(description), std::move(*when), min_dwell_days});
    }
    return valid;
  }

  std::string_view text_;
  std::string_view file_;
  internal::SourceText source_;
  SegmentCatalogue catalogue_;
  std::map<std::string, TextPosition, std::less<>> segment_ids_;
  std::vector<PendingRef> pending_refs_;
  std::vector<PendingDwell> pending_dwells_;
  std::vector<Error> errors_;
};

}  // namespace

absl::StatusOr<SegmentCatalogue> ParseSegmentCatalogue(std::string_view yaml_text,
                                                       std::string_view file_name) {
  try {
    return Loader(yaml_text, file_name).Run();
  } catch (const YAML::Exception& e) {
    // Loader only reads nodes of the kinds it checked; this is a safety net, not a path.
    return absl::InternalError(internal::Cat(file_name, ": unexpected YAML error: ", e.what()));
  }
}

absl::StatusOr<SegmentCatalogue> LoadSegmentCatalogue(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    const int error = errno;
    return absl::ErrnoToStatus(error, internal::Cat("cannot read segment file '", path, "'"));
  }
  std::string text;
  char buffer[1 << 16];
  std::size_t read = 0;
  while ((read = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, read);
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::ErrnoToStatus(error, internal::Cat("cannot read segment file '", path, "'"));
  }
  return ParseSegmentCatalogue(text, path);
}

}  // namespace cdp::rules
