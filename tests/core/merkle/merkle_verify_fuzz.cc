// libFuzzer target for core/merkle's verifiers and proof arithmetic.
// Built only with clang (tests/core/merkle/CMakeLists.txt):
//   CXX=clang++ cmake -S . -B build-fuzz -G Ninja
//   cmake --build build-fuzz --target merkle_verify_fuzz
//   build-fuzz/tests/core/merkle/merkle_verify_fuzz -max_total_time=30
//
// The input's first byte picks a mode; the rest is decoded into sizes,
// indexes, hashes of any length and proofs of any length. Besides "never
// crash", it traps when a property breaks:
//   0  VerifyInclusion on arbitrary input agrees with RootFromInclusionProof
//      and with InclusionRanges' proof length.
//   1  VerifyConsistency on arbitrary input; its accepted proof length
//      agrees with ConsistencyRanges.
//   2  Proofs generated from a real tree of up to 300 leaves verify, and
//      stop verifying after an input-chosen bit flip.
//   3  PerfectNodes / HashRange on arbitrary 64-bit ranges: the nodes tile
//      the range, aligned, and HashRange agrees with PerfectNodes.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/merkle/merkle.h"
#include "tests/core/merkle/memory_node_source.h"

namespace trialog::merkle {
namespace {

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) __builtin_trap(); \
  } while (0)

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | U8();
    return v;
  }
  // A size or index: small (one byte) or any 64-bit value, by a flag bit.
  uint64_t Size() { return (U8() & 1) ? U64() : U8(); }
  // A hash: usually 32 bytes, sometimes another length (0..63).
  std::string Hash() {
    const uint8_t len_code = U8();
    const size_t len = len_code < 192 ? kHashSize : len_code - 192;
    std::string out;
    for (size_t i = 0; i < len; ++i) out.push_back(static_cast<char>(U8()));
    return out;
  }
  std::vector<std::string> Proof() {
    const size_t n = U8() % 80;
    std::vector<std::string> proof;
    for (size_t i = 0; i < n; ++i) proof.push_back(Hash());
    return proof;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool AllHashSized(const std::vector<std::string>& hashes) {
  for (const std::string& h : hashes) {
    if (h.size() != kHashSize) return false;
  }
  return true;
}

bool IsVerifierCode(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
         s.code() == absl::StatusCode::kFailedPrecondition;
}

void FuzzInclusion(Reader& r) {
  const uint64_t size = r.Size();
  const uint64_t index = r.Size();
  const std::string leaf = r.Hash();
  const std::string root = r.Hash();
  const std::vector<std::string> proof = r.Proof();
  const absl::Status status = VerifyInclusion(index, size, leaf, proof, root);
  const absl::StatusOr<std::string> implied = RootFromInclusionProof(index, size, leaf, proof);
  FUZZ_CHECK(status.ok() || IsVerifierCode(status));
  if (status.ok()) FUZZ_CHECK(implied.ok() && *implied == root);
  const absl::StatusOr<std::vector<Range>> ranges = InclusionRanges(index, size);
  FUZZ_CHECK(ranges.ok() == (index < size));
  if (ranges.ok()) {
    FUZZ_CHECK(ranges->size() <= 64);
    // A well-formed proof of the right length is never INVALID_ARGUMENT.
    if (leaf.size() == kHashSize && AllHashSized(proof)) {
      FUZZ_CHECK(implied.ok() == (proof.size() == ranges->size()));
    }
  }
}

void FuzzConsistency(Reader& r) {
  const uint64_t new_size = r.Size();
  const uint64_t old_size = r.Size();
  const std::string old_root = r.Hash();
  const std::string new_root = r.Hash();
  const std::vector<std::string> proof = r.Proof();
  const absl::Status status = VerifyConsistency(old_size, new_size, proof, old_root, new_root);
  FUZZ_CHECK(status.ok() || IsVerifierCode(status));
  const absl::StatusOr<std::vector<Range>> ranges = ConsistencyRanges(old_size, new_size);
  FUZZ_CHECK(ranges.ok() == (old_size > 0 && old_size <= new_size));
  if (status.ok()) FUZZ_CHECK(ranges.ok() && ranges->size() == proof.size());
  if (ranges.ok() && old_root.size() == kHashSize && new_root.size() == kHashSize &&
      AllHashSized(proof)) {
    // Length right: only a root mismatch can fail it.
    const bool length_right = proof.size() == ranges->size();
    FUZZ_CHECK(length_right ? (status.ok() ||
                               status.code() == absl::StatusCode::kFailedPrecondition)
                            : status.code() == absl::StatusCode::kInvalidArgument);
  }
}

void FuzzRealTree(Reader& r) {
  const uint64_t leaves = 1 + r.U8() + (r.U8() % 45);  // 1..300
  testing::MemoryNodeSource nodes;
  CompactTree tree;
  std::vector<std::string> leaf_hashes;
  const uint8_t salt = r.U8();
  for (uint64_t i = 0; i < leaves; ++i) {
    const char data[2] = {static_cast<char>(i), static_cast<char>(salt)};
    leaf_hashes.push_back(HashLeaf(absl::string_view(data, 2)));
    tree.Append(leaf_hashes.back(), nodes.Recorder());
  }
  const uint64_t size = 1 + r.U64() % leaves;
  const uint64_t index = r.U64() % size;
  const uint64_t old_size = 1 + r.U64() % size;
  const uint64_t flip = r.U64();
  // Roots by the reference recursion (independent of the node source).
  std::vector<std::string> roots(size + 1);
  roots[size] = RootFromLeafHashes(
      std::vector<std::string>(leaf_hashes.begin(), leaf_hashes.begin() + size));
  roots[old_size] = RootFromLeafHashes(
      std::vector<std::string>(leaf_hashes.begin(), leaf_hashes.begin() + old_size));
  if (size == leaves) FUZZ_CHECK(roots[size] == tree.Root());

  absl::StatusOr<std::vector<std::string>> proof = InclusionProof(nodes, index, size);
  FUZZ_CHECK(proof.ok());
  FUZZ_CHECK(VerifyInclusion(index, size, leaf_hashes[index], *proof, roots[size]).ok());
  if (!proof->empty()) {
    std::vector<std::string> bad = *proof;
    const uint64_t bit = flip % (bad.size() * kHashSize * 8);
    std::string& h = bad[bit / (kHashSize * 8)];
    h[(bit / 8) % kHashSize] ^= static_cast<char>(1 << (bit % 8));
    FUZZ_CHECK(VerifyInclusion(index, size, leaf_hashes[index], bad, roots[size]).code() ==
               absl::StatusCode::kFailedPrecondition);
  }

  proof = ConsistencyProof(nodes, old_size, size);
  FUZZ_CHECK(proof.ok());
  FUZZ_CHECK(VerifyConsistency(old_size, size, *proof, roots[old_size], roots[size]).ok());
  if (!proof->empty()) {
    std::vector<std::string> bad = *proof;
    const uint64_t bit = flip % (bad.size() * kHashSize * 8);
    std::string& h = bad[bit / (kHashSize * 8)];
    h[(bit / 8) % kHashSize] ^= static_cast<char>(1 << (bit % 8));
    FUZZ_CHECK(VerifyConsistency(old_size, size, bad, roots[old_size], roots[size]).code() ==
               absl::StatusCode::kFailedPrecondition);
  }
}

// Every node hash is the same constant: enough to exercise HashRange.
class ConstantNodeSource : public NodeSource {
 public:
  absl::StatusOr<std::string> GetNode(NodeId) const override {
    return std::string(kHashSize, '\x5a');
  }
};

void FuzzRanges(Reader& r) {
  const uint64_t begin = r.Size();
  const uint64_t end = r.Size();
  const std::vector<NodeId> nodes = PerfectNodes(Range{begin, end});
  const absl::StatusOr<std::string> hash = HashRange(ConstantNodeSource(), Range{begin, end});
  FUZZ_CHECK(hash.ok() == !nodes.empty());
  if (!hash.ok()) FUZZ_CHECK(hash.status().code() == absl::StatusCode::kInvalidArgument);
  uint64_t at = begin;
  uint32_t previous_level = 64;
  for (const NodeId& n : nodes) {
    FUZZ_CHECK(n.level < 64);
    FUZZ_CHECK(n.level <= previous_level);
    previous_level = n.level;
    FUZZ_CHECK(n.index << n.level == at);  // aligned and contiguous
    at += uint64_t{1} << n.level;
  }
  if (!nodes.empty()) FUZZ_CHECK(at == end);
}

}  // namespace
}  // namespace trialog::merkle

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trialog::merkle::Reader r(data, size);
  switch (r.U8() % 4) {
    case 0:
      trialog::merkle::FuzzInclusion(r);
      break;
    case 1:
      trialog::merkle::FuzzConsistency(r);
      break;
    case 2:
      trialog::merkle::FuzzRealTree(r);
      break;
    default:
      trialog::merkle::FuzzRanges(r);
      break;
  }
  return 0;
}
