// Which ranges of leaves make up RFC 6962 proofs, and which perfect nodes
// make up a range. Pure index arithmetic: no hashing.

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"

namespace trialog::merkle {
namespace {

// The largest power of two strictly less than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace

absl::StatusOr<std::vector<Range>> InclusionRanges(uint64_t index, uint64_t size) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof: leaf index ", index, " is not below tree size ", size));
  }
  // RFC 9162 §2.1.3.1 PATH(m, D[b:e]), unrolled from the root down; the
  // proof lists the sibling ranges from the leaf up, so reverse at the end.
  std::vector<Range> path;
  uint64_t begin = 0;
  uint64_t end = size;
  while (end - begin > 1) {
    const uint64_t k = SplitPoint(end - begin);
    if (index < begin + k) {
      path.push_back(Range{begin + k, end});
      end = begin + k;
    } else {
      path.push_back(Range{begin, begin + k});
      begin += k;
    }
  }
  std::reverse(path.begin(), path.end());
  return path;
}

absl::StatusOr<std::vector<Range>> ConsistencyRanges(uint64_t old_size, uint64_t new_size) {
  if (old_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof from size 0 to ", new_size,
        " is refused: every tree extends the empty tree"));
  }
  if (old_size > new_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof: old size ", old_size, " exceeds new size ", new_size));
  }
  // RFC 9162 §2.1.4.1 SUBPROOF(m, D[b:e], whole), unrolled from the root
  // down. `whole` stays true while the subtree's left edge is leaf 0, i.e.
  // while the verifier already knows the old tree's hash of [b, b + m).
  std::vector<Range> proof;
  if (old_size == new_size) return proof;
  uint64_t begin = 0;
  uint64_t end = new_size;
  uint64_t m = old_size;  // old size relative to `begin`
  bool whole = true;
  while (m != end - begin) {
    const uint64_t k = SplitPoint(end - begin);
    if (m <= k) {
      proof.push_back(Range{begin + k, end});
      end = begin + k;
    } else {
      proof.push_back(Range{begin, begin + k});
      begin += k;
      m -= k;
      whole = false;
    }
  }
  if (!whole) proof.push_back(Range{begin, end});
  std::reverse(proof.begin(), proof.end());
  return proof;
}

std::vector<NodeId> PerfectNodes(Range range) {
  std::vector<NodeId> nodes;
  if (range.begin >= range.end) return nodes;
  uint64_t begin = range.begin;
  uint64_t n = range.end - range.begin;
  for (;;) {
    // The whole remaining range is one aligned perfect node: done.
    if (std::has_single_bit(n) && begin % n == 0) {
      const uint32_t level = static_cast<uint32_t>(std::countr_zero(n));
      nodes.push_back(NodeId{level, begin >> level});
      return nodes;
    }
    // Otherwise the left part of the RFC 6962 split must be one.
    const uint64_t k = SplitPoint(n);
    if (begin % k != 0) return {};
    const uint32_t level = static_cast<uint32_t>(std::countr_zero(k));
    nodes.push_back(NodeId{level, begin >> level});
    begin += k;
    n -= k;
  }
}

}  // namespace trialog::merkle
