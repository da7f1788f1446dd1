// An in-memory NodeSource for tests, the fuzzer and the benchmark: every
// perfect node, stored densely per level (32 bytes per node), filled from
// CompactTree::Append's callback.

#ifndef TRIALOG_TESTS_CORE_MERKLE_MEMORY_NODE_SOURCE_H_
#define TRIALOG_TESTS_CORE_MERKLE_MEMORY_NODE_SOURCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/merkle/merkle.h"

namespace trialog::merkle::testing {

class MemoryNodeSource : public NodeSource {
 public:
  // Stores perfect node `id`. REQUIRES: hash is kHashSize bytes.
  void Put(NodeId id, absl::string_view hash) {
    if (id.level >= levels_.size()) levels_.resize(id.level + 1);
    Level& level = levels_[id.level];
    if (id.index >= level.present.size()) {
      level.present.resize(id.index + 1, false);
      level.hashes.resize((id.index + 1) * kHashSize, '\0');
    }
    level.present[id.index] = true;
    level.hashes.replace(id.index * kHashSize, kHashSize, hash.data(), kHashSize);
  }

  // A callback for CompactTree::Append that records every node.
  auto Recorder() {
    return [this](NodeId id, absl::string_view hash) { Put(id, hash); };
  }

  absl::StatusOr<std::string> GetNode(NodeId id) const override {
    if (id.level < levels_.size()) {
      const Level& level = levels_[id.level];
      if (id.index < level.present.size() && level.present[id.index]) {
        return level.hashes.substr(id.index * kHashSize, kHashSize);
      }
    }
    return absl::NotFoundError(
        absl::StrCat("no node at level ", id.level, " index ", id.index));
  }

 private:
  struct Level {
    std::vector<bool> present;
    std::string hashes;  // node i at [i * kHashSize, (i + 1) * kHashSize)
  };
  std::vector<Level> levels_;
};

}  // namespace trialog::merkle::testing

#endif  // TRIALOG_TESTS_CORE_MERKLE_MEMORY_NODE_SOURCE_H_
