// RFC 6962 (RFC 9162 §2.1) Merkle tree hashing, proofs and verification.
//
//   leaf hash  = SHA-256(0x00 || leaf bytes)
//   node hash  = SHA-256(0x01 || left || right)
//   empty root = SHA-256("")
//
// Terminology: a *perfect node* NodeId{level, index} is the root of the
// perfect subtree over leaves [index * 2^level, (index + 1) * 2^level). It
// never changes once the tree holds all its leaves, so storage keeps every
// perfect node and builds any proof at any past size from them.
// A proof element is the hash of a *range* [begin, end) of leaves, which may
// be a perfect node or, on the right border, a fold of perfect nodes.
//
// Thread-safety: free functions are pure. CompactTree is not thread-safe.

#ifndef TRIALOG_CORE_MERKLE_MERKLE_H_
#define TRIALOG_CORE_MERKLE_MERKLE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog::merkle {

inline constexpr size_t kHashSize = 32;

std::string HashLeaf(absl::string_view leaf_bytes);
// REQUIRES: both inputs are kHashSize bytes (not checked: hot path).
std::string HashChildren(absl::string_view left, absl::string_view right);
std::string EmptyRoot();

// The root of a perfect subtree over leaves [index << level, (index+1) << level).
struct NodeId {
  uint32_t level = 0;
  uint64_t index = 0;
  friend bool operator==(const NodeId&, const NodeId&) = default;
};

// A half-open range of leaf indexes [begin, end).
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  friend bool operator==(const Range&, const Range&) = default;
};

// Root of the tree whose leaves have the given leaf hashes (reference
// implementation, O(n) memory; used by tests and small callers).
std::string RootFromLeafHashes(const std::vector<std::string>& leaf_hashes);

// The ranges whose hashes form the RFC 6962 inclusion proof of leaf
// `index` in a tree of `size` leaves, ordered from the leaf up.
// Fails with INVALID_ARGUMENT unless index < size.
absl::StatusOr<std::vector<Range>> InclusionRanges(uint64_t index, uint64_t size);

// The ranges whose hashes form the RFC 6962 consistency proof from
// `old_size` to `new_size`. Fails unless 0 < old_size <= new_size
// (a proof from size 0 is refused: see docs/FORMAT.md). old_size ==
// new_size gives an empty proof.
absl::StatusOr<std::vector<Range>> ConsistencyRanges(uint64_t old_size, uint64_t new_size);

// Splits a range into the perfect nodes whose fold gives its hash, left
// to right (largest first). REQUIRES: the range is a subtree range as
// produced above (begin aligned to the largest power of two < end-begin).
std::vector<NodeId> PerfectNodes(Range range);

// Where proofs get node hashes from (storage's node store, or memory).
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  // The hash of perfect node `id`. NOT_FOUND if it is not (yet) known.
  virtual absl::StatusOr<std::string> GetNode(NodeId id) const = 0;
};

// Hash of a range, folding its perfect nodes right to left.
absl::StatusOr<std::string> HashRange(const NodeSource& source, Range range);
// Inclusion / consistency proofs (lists of 32-byte hashes).
absl::StatusOr<std::vector<std::string>> InclusionProof(const NodeSource& source,
                                                        uint64_t index, uint64_t size);
absl::StatusOr<std::vector<std::string>> ConsistencyProof(const NodeSource& source,
                                                          uint64_t old_size, uint64_t new_size);
// Root of the first `size` leaves.
absl::StatusOr<std::string> RootAt(const NodeSource& source, uint64_t size);

// Verification. Each returns OK or a status whose message says what is
// wrong: INVALID_ARGUMENT for malformed input (bad sizes, indexes, hash
// lengths, proof length), DATA_LOSS-free; a root mismatch is
// FAILED_PRECONDITION ("calculated root ... does not match ...").
absl::Status VerifyInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                             const std::vector<std::string>& proof, absl::string_view root);
absl::StatusOr<std::string> RootFromInclusionProof(uint64_t index, uint64_t size,
                                                   absl::string_view leaf_hash,
                                                   const std::vector<std::string>& proof);
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               const std::vector<std::string>& proof,
                               absl::string_view old_root, absl::string_view new_root);

// An append-only tree holding only its right border (one perfect node per
// set bit of size): O(log n) memory, O(1) amortised hashing per append.
class CompactTree {
 public:
  CompactTree() = default;
  // Rebuilds from the right border of a tree of `size`: the hashes of
  // PerfectNodes(Range{0, size}), left to right. Fails on a count mismatch.
  static absl::StatusOr<CompactTree> FromBorder(uint64_t size, std::vector<std::string> border);

  // Appends a leaf hash. Every perfect node completed by this append
  // (the leaf itself at level 0 first, then upwards) is passed to
  // `on_node` so storage can persist it.
  template <typename OnNode>
  void Append(absl::string_view leaf_hash, OnNode&& on_node);
  void Append(absl::string_view leaf_hash) {
    Append(leaf_hash, [](NodeId, absl::string_view) {});
  }

  uint64_t size() const { return size_; }
  // RFC 6962 root of the current tree (EmptyRoot() when size is 0).
  std::string Root() const;
  // Right-border perfect nodes, left to right (see FromBorder).
  const std::vector<std::string>& border() const { return border_; }

 private:
  uint64_t size_ = 0;
  std::vector<std::string> border_;
};

template <typename OnNode>
void CompactTree::Append(absl::string_view leaf_hash, OnNode&& on_node) {
  std::string hash(leaf_hash);
  uint64_t index = size_;
  uint32_t level = 0;
  on_node(NodeId{0, index}, absl::string_view(hash));
  // Merge while the new node completes a pair (low bit set before append).
  while (index & 1) {
    hash = HashChildren(border_.back(), hash);
    border_.pop_back();
    index >>= 1;
    ++level;
    on_node(NodeId{level, index}, absl::string_view(hash));
  }
  border_.push_back(std::move(hash));
  ++size_;
}

}  // namespace trialog::merkle

#endif  // TRIALOG_CORE_MERKLE_MERKLE_H_
