// Proof generation from perfect nodes held by a NodeSource.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "core/util/status_macros.h"

namespace trialog::merkle {
namespace {

std::string RangeText(Range range) {
  return absl::StrCat("[", range.begin, ", ", range.end, ")");
}

absl::StatusOr<std::string> GetCheckedNode(const NodeSource& source, NodeId id) {
  TRIALOG_ASSIGN_OR_RETURN(std::string hash, source.GetNode(id));
  if (hash.size() != kHashSize) {
    return absl::DataLossError(absl::StrCat("Merkle node (level ", id.level, ", index ",
                                            id.index, ") has ", hash.size(),
                                            " bytes, want ", kHashSize));
  }
  return hash;
}

absl::StatusOr<std::vector<std::string>> HashRanges(const NodeSource& source,
                                                    const std::vector<Range>& ranges) {
  std::vector<std::string> hashes;
  hashes.reserve(ranges.size());
  for (const Range& range : ranges) {
    TRIALOG_ASSIGN_OR_RETURN(std::string hash, HashRange(source, range));
    hashes.push_back(std::move(hash));
  }
  return hashes;
}

}  // namespace

absl::StatusOr<std::string> HashRange(const NodeSource& source, Range range) {
  if (range.begin >= range.end) {
    return absl::InvalidArgumentError(
        absl::StrCat("Merkle range ", RangeText(range), " is empty"));
  }
  const std::vector<NodeId> nodes = PerfectNodes(range);
  if (nodes.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Merkle range ", RangeText(range), " is not a subtree range"));
  }
  // Fold right to left: acc = HashChildren(node, acc).
  TRIALOG_ASSIGN_OR_RETURN(std::string acc, GetCheckedNode(source, nodes.back()));
  for (size_t i = nodes.size() - 1; i-- > 0;) {
    TRIALOG_ASSIGN_OR_RETURN(std::string left, GetCheckedNode(source, nodes[i]));
    HashChildrenTo(left, acc, acc.data());
  }
  return acc;
}

absl::StatusOr<std::vector<std::string>> InclusionProof(const NodeSource& source,
                                                        uint64_t index, uint64_t size) {
  TRIALOG_ASSIGN_OR_RETURN(std::vector<Range> ranges, InclusionRanges(index, size));
  return HashRanges(source, ranges);
}

absl::StatusOr<std::vector<std::string>> ConsistencyProof(const NodeSource& source,
                                                          uint64_t old_size, uint64_t new_size) {
  TRIALOG_ASSIGN_OR_RETURN(std::vector<Range> ranges, ConsistencyRanges(old_size, new_size));
  return HashRanges(source, ranges);
}

absl::StatusOr<std::string> RootAt(const NodeSource& source, uint64_t size) {
  if (size == 0) return EmptyRoot();
  return HashRange(source, Range{0, size});
}

}  // namespace trialog::merkle
