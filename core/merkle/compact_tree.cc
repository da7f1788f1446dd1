// CompactTree: the right border of an append-only tree.

#include <bit>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"

namespace trialog::merkle {

absl::StatusOr<CompactTree> CompactTree::FromBorder(uint64_t size,
                                                    std::vector<std::string> border) {
  const size_t want = static_cast<size_t>(std::popcount(size));
  if (border.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("a tree of size ", size, " has ", want,
                                                   " border nodes, got ", border.size()));
  }
  for (size_t i = 0; i < border.size(); ++i) {
    if (border[i].size() != kHashSize) {
      return absl::InvalidArgumentError(absl::StrCat("border node ", i, " has ",
                                                     border[i].size(), " bytes, want ",
                                                     kHashSize));
    }
  }
  CompactTree tree;
  tree.size_ = size;
  tree.border_ = std::move(border);
  return tree;
}

std::string CompactTree::Root() const {
  if (border_.empty()) return EmptyRoot();
  // The border's nodes are PerfectNodes(Range{0, size_}); fold them right
  // to left exactly as HashRange does.
  std::string acc = border_.back();
  for (size_t i = border_.size() - 1; i-- > 0;) {
    HashChildrenTo(border_[i], acc, acc.data());
  }
  return acc;
}

}  // namespace trialog::merkle
