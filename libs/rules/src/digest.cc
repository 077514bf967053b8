#include "cdp/rules/digest.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>

#include "cdp/common/stable_hash.h"

namespace cdp::rules {
namespace {

// Each part goes in with its length first, so no two different definitions encode alike whatever
// characters their rules contain.
void AppendPart(std::string_view text, std::string& out) {
  out.append(std::to_string(text.size())).push_back(':');
  out.append(text);
}

// The shortest text that reads back as `value`: equal breakpoints always encode alike.
void AppendNumber(double value, std::string& out) {
  char buffer[32];
  const std::to_chars_result result = std::to_chars(std::begin(buffer), std::end(buffer), value);
  AppendPart(std::string_view(buffer, static_cast<std::size_t>(result.ptr - buffer)), out);
}

// What every rule of the catalogue depends on besides its own text: the time zone decides
// "today" and calendar days, the rfm scoring the rfm_* fields.
std::string SharedPart(const SegmentCatalogue& catalogue) {
  std::string shared;
  AppendPart("cdp-definition-v1", shared);
  AppendPart(catalogue.timezone_name, shared);
  // Quintiles change with the population; the refreshes re-evaluate what reads them.
  if (catalogue.rfm_scoring == RfmScoring::kQuintiles) {
    AppendPart("rfm:quintiles", shared);
    return shared;
  }
  for (const auto* breakpoints : {&catalogue.rfm.recency_days, &catalogue.rfm.frequency_orders_365d,
                                  &catalogue.rfm.monetary_365d}) {
    for (double value : *breakpoints) AppendNumber(value, shared);
  }
  return shared;
}

// Only a set dwell is written, so the digests of definitions without one stay as stored before
// min_dwell existed. ':' is in no id, so the marker cannot be read as a tier's id.
void AppendDwell(int days, std::string& out) {
  if (days == 0) return;
  AppendPart("min_dwell:", out);
  AppendPart(std::to_string(days), out);
}

void AddReferences(const Expression& rule, std::vector<std::string>& references) {
  for (const MembershipRef& ref : rule.membership_refs()) references.push_back(ref.id);
}

}  // namespace

std::vector<DefinitionDigest> DefinitionDigests(const SegmentCatalogue& catalogue) {
  const std::string shared = SharedPart(catalogue);
  std::vector<DefinitionDigest> digests;
  digests.reserve(catalogue.segments.size() + catalogue.dimensions.size());
  for (const Segment& segment : catalogue.segments) {
    std::string canonical = shared;
    AppendPart("segment", canonical);
    AppendPart(segment.when.source(), canonical);
    AppendDwell(segment.min_dwell_days, canonical);
    DefinitionDigest& digest = digests.emplace_back();
    digest.kind = RuleKind::kSegment;
    digest.id = segment.id;
    digest.digest = StableHash64(canonical);
    digest.defines.push_back(segment.id);
    AddReferences(segment.when, digest.references);
  }
  for (const Dimension& dimension : catalogue.dimensions) {
    std::string canonical = shared;
    AppendPart("dimension", canonical);
    DefinitionDigest& digest = digests.emplace_back();
    for (const Tier& tier : dimension.tiers) {
      AppendPart(tier.id, canonical);
      AppendPart(tier.when.source(), canonical);
      AppendDwell(tier.min_dwell_days, canonical);
      digest.defines.push_back(tier.id);
      AddReferences(tier.when, digest.references);
    }
    digest.kind = RuleKind::kDimension;
    digest.id = dimension.id;
    digest.digest = StableHash64(canonical);
  }
  std::sort(digests.begin(), digests.end(), [](const auto& a, const auto& b) {
    return std::tie(a.kind, a.id) < std::tie(b.kind, b.id);
  });
  return digests;
}

namespace {

// Marks, in `digests`, every unmarked rule that reads (ever_in, days_in) the memberships of a
// marked one, transitively, and returns all the marked ones with `also`, sorted.
std::vector<RuleRef> WithReaders(const std::vector<DefinitionDigest>& digests,
                                 std::vector<bool> marked, std::set<RuleRef> also) {
  // Ids whose memberships may move, which the rules that read their history then follow.
  std::set<std::string_view> moved;
  auto mark = [&](std::size_t i) {
    marked[i] = true;
    also.insert(RuleRef{digests[i].kind, digests[i].id});
    moved.insert(digests[i].defines.begin(), digests[i].defines.end());
  };
  for (std::size_t i = 0; i < digests.size(); ++i) {
    if (marked[i]) mark(i);
  }
  // Each round marks at least one more rule or ends, so this stops after at most digests.size()
  // rounds; references form short chains in practice.
  for (bool grew = true; grew;) {
    grew = false;
    for (std::size_t i = 0; i < digests.size(); ++i) {
      if (marked[i]) continue;
      const auto& references = digests[i].references;
      if (std::any_of(references.begin(), references.end(),
                      [&](const std::string& id) { return moved.contains(id); })) {
        mark(i);
        grew = true;
      }
    }
  }
  return std::vector<RuleRef>(also.begin(), also.end());
}

bool Reads(const Expression& rule, std::span<const FieldId> fields) {
  return std::any_of(rule.fields().begin(), rule.fields().end(), [&](FieldId field) {
    return std::find(fields.begin(), fields.end(), field) != fields.end();
  });
}

}  // namespace

std::vector<RuleRef> ChangedDefinitions(const std::vector<DefinitionDigest>& before,
                                        const std::vector<DefinitionDigest>& after) {
  std::map<RuleRef, std::uint64_t> removed;
  for (const DefinitionDigest& d : before) removed.emplace(RuleRef{d.kind, d.id}, d.digest);
  std::vector<bool> marked(after.size(), false);
  for (std::size_t i = 0; i < after.size(); ++i) {
    const auto previous = removed.find(RuleRef{after[i].kind, after[i].id});
    if (previous == removed.end()) {
      marked[i] = true;
      continue;
    }
    marked[i] = previous->second != after[i].digest;
    removed.erase(previous);
  }
  std::set<RuleRef> gone;
  for (const auto& [ref, digest] : removed) gone.insert(ref);
  return WithReaders(after, std::move(marked), std::move(gone));
}

std::vector<RuleRef> DefinitionsReading(const SegmentCatalogue& catalogue,
                                        std::span<const FieldId> fields) {
  const std::vector<DefinitionDigest> digests = DefinitionDigests(catalogue);
  std::vector<bool> marked(digests.size(), false);
  for (std::size_t i = 0; i < digests.size(); ++i) {
    if (digests[i].kind == RuleKind::kSegment) {
      for (const Segment& segment : catalogue.segments) {
        if (segment.id == digests[i].id) marked[i] = Reads(segment.when, fields);
      }
    } else {
      for (const Dimension& dimension : catalogue.dimensions) {
        if (dimension.id != digests[i].id) continue;
        marked[i] = std::any_of(dimension.tiers.begin(), dimension.tiers.end(),
                                [&](const Tier& tier) { return Reads(tier.when, fields); });
      }
    }
  }
  return WithReaders(digests, std::move(marked), {});
}

}  // namespace cdp::rules
