#pragma once

#include <compare>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cdp/rules/catalogue.h"

namespace cdp::rules {

// Segments and dimensions have separate id spaces, so an id is named with its kind.
enum class RuleKind : std::uint8_t { kSegment, kDimension };

// A segment or a dimension of a catalogue.
struct RuleRef {
  RuleKind kind = RuleKind::kSegment;
  std::string id;

  friend bool operator==(const RuleRef&, const RuleRef&) = default;
  friend std::strong_ordering operator<=>(const RuleRef&, const RuleRef&) = default;
};

// A fingerprint of everything that decides one segment's or dimension's result for a profile:
// its rule text and min_dwell (a dimension's tier ids, rules and min_dwells, in order), the
// catalogue's time zone and RFM scoring (breakpoints, or quintiles). Equal digests mean equal
// results, so after a segment file is reloaded only the definitions whose digest changed need
// re-evaluating.
struct DefinitionDigest {
  RuleKind kind = RuleKind::kSegment;
  std::string id;
  // StableHash64: the same definition gives the same digest in every build, so it can be stored.
  std::uint64_t digest = 0;
  // For ChangedDefinitions to follow ever_in()/days_in(): the ids those functions can name here
  // (the segment's id, or the dimension's tier ids), and the ids its rules name in them. Only read
  // from the catalogue being changed to, so a stored digest needs kind, id and digest alone.
  std::vector<std::string> defines;
  std::vector<std::string> references;
};

// One digest per segment and dimension of `catalogue`, sorted by (kind, id).
[[nodiscard]] std::vector<DefinitionDigest> DefinitionDigests(const SegmentCatalogue& catalogue);

// The segments and dimensions whose results may differ between the catalogue `before` describes
// and the one `after` describes: those added, removed or whose digest changed, and every rule of
// `after` that reads (ever_in, days_in) the memberships of one of those, transitively. Sorted,
// without repeats.
[[nodiscard]] std::vector<RuleRef> ChangedDefinitions(const std::vector<DefinitionDigest>& before,
                                                      const std::vector<DefinitionDigest>& after);

// The segments and dimensions of `catalogue` whose rules read one of `fields`, and every rule that
// reads (ever_in, days_in) their memberships, transitively: what to re-evaluate when those fields
// change meaning, e.g. rfm quintiles refreshed. Sorted, without repeats.
[[nodiscard]] std::vector<RuleRef> DefinitionsReading(const SegmentCatalogue& catalogue,
                                                      std::span<const FieldId> fields);

}  // namespace cdp::rules
