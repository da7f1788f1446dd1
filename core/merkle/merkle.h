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
// All hashes are raw 32-byte strings (not hex, not base64). Sizes and
// indexes are leaf counts and 0-based leaf indexes.
//
// Error codes (every function that can fail):
//   INVALID_ARGUMENT     malformed input: bad sizes or index, a hash that is
//                        not 32 bytes, a proof of the wrong length, a range
//                        that is not a subtree range.
//   FAILED_PRECONDITION  a well-formed proof whose calculated root does not
//                        match the given root ("calculated root ... does not
//                        match ..."). Verifiers return no other failure code.
//   NOT_FOUND            (proof generation) the NodeSource lacks a node.
//   DATA_LOSS            (proof generation) the NodeSource returned a node
//                        hash that is not 32 bytes.
//
// Thread-safety: free functions are pure (safe to call concurrently if the
// NodeSource is). CompactTree is not thread-safe.

#ifndef TRIALOG_CORE_MERKLE_MERKLE_H_
#define TRIALOG_CORE_MERKLE_MERKLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog::merkle {

inline constexpr size_t kHashSize = 32;
// RFC 6962 §2.1 domain-separation prefixes.
inline constexpr char kLeafHashPrefix = 0x00;
inline constexpr char kNodeHashPrefix = 0x01;

// SHA-256(0x00 || leaf_bytes).
std::string HashLeaf(absl::string_view leaf_bytes);
// SHA-256(0x01 || left || right).
// REQUIRES: both inputs are kHashSize bytes (not checked: hot path).
std::string HashChildren(absl::string_view left, absl::string_view right);
// As HashChildren, writing the kHashSize-byte result to `out`. `out` may
// alias `left` or `right` (the inputs are read before `out` is written).
// REQUIRES: both inputs are kHashSize bytes (not checked: hot path). Inputs
// of other sizes are hashed as given (never read out of bounds).
void HashChildrenTo(absl::string_view left, absl::string_view right, char* out);
// SHA-256("") = e3b0c442...b855, the root of the tree of size 0.
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
// REQUIRES: every leaf hash is kHashSize bytes.
std::string RootFromLeafHashes(const std::vector<std::string>& leaf_hashes);

// The ranges whose hashes form the RFC 6962 inclusion proof (RFC 9162
// §2.1.3.1 PATH) of leaf `index` in a tree of `size` leaves, ordered from
// the leaf up. Fails with INVALID_ARGUMENT unless index < size.
absl::StatusOr<std::vector<Range>> InclusionRanges(uint64_t index, uint64_t size);

// The ranges whose hashes form the RFC 6962 consistency proof (RFC 9162
// §2.1.4.1 PROOF/SUBPROOF) from `old_size` to `new_size`, in proof order.
// Fails with INVALID_ARGUMENT unless 0 < old_size <= new_size.
// old_size == new_size gives an empty proof.
//
// Edge policy, a proof from size 0: REFUSED (here and in VerifyConsistency),
// as transparency-dev/merkle does and its test probes expect; the
// certificate-transparency C++ verifier instead accepts it with an empty
// proof. Every tree extends the empty tree, so such a proof would prove
// nothing; a client that trusts no earlier checkpoint must verify the new
// checkpoint on its own instead. docs/FORMAT.md cites this comment.
absl::StatusOr<std::vector<Range>> ConsistencyRanges(uint64_t old_size, uint64_t new_size);

// Splits a subtree range into the perfect nodes whose fold (right to left,
// acc = HashChildren(node, acc)) is the RFC 6962 hash of its leaves, left to
// right (largest first). A non-empty range is a *subtree range* when it is a
// perfect node itself, or when its left part [begin, begin + k), k the
// largest power of two < end - begin, is a perfect node (begin % k == 0) and
// its right part [begin + k, end) is a subtree range. Every range produced
// by InclusionRanges and ConsistencyRanges, and every Range{0, size}, is one.
// Returns an empty vector for an empty range or one that is not a subtree
// range (HashRange reports those as INVALID_ARGUMENT).
std::vector<NodeId> PerfectNodes(Range range);

// Where proofs get node hashes from (storage's node store, or memory).
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  // The hash of perfect node `id`. NOT_FOUND if it is not (yet) known.
  virtual absl::StatusOr<std::string> GetNode(NodeId id) const = 0;
};

// Hash of a non-empty subtree range, folding its perfect nodes right to
// left. INVALID_ARGUMENT for an empty or non-subtree range; the source's
// error (e.g. NOT_FOUND) if a node is missing; DATA_LOSS if a node is not
// kHashSize bytes.
absl::StatusOr<std::string> HashRange(const NodeSource& source, Range range);
// Inclusion / consistency proofs (lists of 32-byte hashes), from the nodes
// of `source`; errors as InclusionRanges / ConsistencyRanges and HashRange.
absl::StatusOr<std::vector<std::string>> InclusionProof(const NodeSource& source,
                                                        uint64_t index, uint64_t size);
absl::StatusOr<std::vector<std::string>> ConsistencyProof(const NodeSource& source,
                                                          uint64_t old_size, uint64_t new_size);
// Root of the first `size` leaves (EmptyRoot() for size 0).
absl::StatusOr<std::string> RootAt(const NodeSource& source, uint64_t size);

// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2). Each returns OK or a
// status whose message says what is wrong: INVALID_ARGUMENT for malformed
// input (index >= size, old_size == 0, old_size > new_size, any hash, root
// or proof element that is not kHashSize bytes, a proof of the wrong
// length for the sizes); FAILED_PRECONDITION when the calculated root does
// not match ("calculated root ... does not match ..."). Never DATA_LOSS:
// the caller decides whether a bad proof means damaged data.
absl::Status VerifyInclusion(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                             const std::vector<std::string>& proof, absl::string_view root);
// The root implied by an inclusion proof (checks everything VerifyInclusion
// does except the final comparison).
absl::StatusOr<std::string> RootFromInclusionProof(uint64_t index, uint64_t size,
                                                   absl::string_view leaf_hash,
                                                   const std::vector<std::string>& proof);
// Checks that the tree of `new_size` leaves with root `new_root` extends the
// tree of `old_size` leaves with root `old_root`. Refuses old_size == 0 (see
// ConsistencyRanges for the policy), including 0 -> 0. When old_size ==
// new_size the proof must be empty and the roots equal.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size,
                               const std::vector<std::string>& proof,
                               absl::string_view old_root, absl::string_view new_root);

// An append-only tree holding only its right border (one perfect node per
// set bit of size): O(log n) memory, O(1) amortised hashing per append.
class CompactTree {
 public:
  CompactTree() = default;
  // Rebuilds from the right border of a tree of `size`: the hashes of
  // PerfectNodes(Range{0, size}), left to right. INVALID_ARGUMENT on a
  // count mismatch or a hash that is not kHashSize bytes.
  static absl::StatusOr<CompactTree> FromBorder(uint64_t size, std::vector<std::string> border);

  // Appends a leaf hash. Every perfect node completed by this append
  // (the leaf itself at level 0 first, then upwards) is passed to
  // `on_node(NodeId, absl::string_view hash)` so storage can persist it;
  // the view is valid only during the call.
  // REQUIRES: leaf_hash is kHashSize bytes (not checked: hot path; another
  // size gives a meaningless tree but never touches memory out of bounds);
  // size() < 2^64 - 1.
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
    char parent[kHashSize];
    HashChildrenTo(border_.back(), hash, parent);
    hash.assign(parent, kHashSize);  // reuses hash's buffer: no allocation
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
