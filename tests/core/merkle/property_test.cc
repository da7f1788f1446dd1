// Properties of proofs over random trees up to 5,000 leaves and random
// 64-bit sizes: generated proofs equal a naive RFC 9162 reference written
// here from the RFC text, verify, and stop verifying after any bit flip or
// an added or missing element. Error codes and messages for bad input.

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/crypto/crypto.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "tests/core/merkle/memory_node_source.h"
#include "tests/core/merkle/test_util.h"

namespace trialog::merkle {
namespace {

using testing::MemoryNodeSource;
using testing::ToHex;

constexpr uint64_t kLeaves = 5000;
constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// ---- Naive reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 verbatim,
// over leaf_hashes[b, e), hashing with core/crypto's one-shot SHA-256.

uint64_t LargestPowerOfTwoBelow(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

std::string RefMth(const std::vector<std::string>& d, uint64_t b, uint64_t e) {
  if (e - b == 1) return d[b];
  const uint64_t k = LargestPowerOfTwoBelow(e - b);
  return crypto::Sha256(std::string(1, '\x01') + RefMth(d, b, b + k) + RefMth(d, b + k, e));
}

std::vector<std::string> RefPath(uint64_t m, const std::vector<std::string>& d, uint64_t b,
                                 uint64_t e) {
  if (e - b == 1) return {};
  const uint64_t k = LargestPowerOfTwoBelow(e - b);
  std::vector<std::string> p;
  if (m < k) {
    p = RefPath(m, d, b, b + k);
    p.push_back(RefMth(d, b + k, e));
  } else {
    p = RefPath(m - k, d, b + k, e);
    p.push_back(RefMth(d, b, b + k));
  }
  return p;
}

std::vector<std::string> RefSubproof(uint64_t m, const std::vector<std::string>& d, uint64_t b,
                                     uint64_t e, bool whole) {
  if (m == e - b) {
    if (whole) return {};
    return {RefMth(d, b, e)};
  }
  const uint64_t k = LargestPowerOfTwoBelow(e - b);
  std::vector<std::string> p;
  if (m <= k) {
    p = RefSubproof(m, d, b, b + k, whole);
    p.push_back(RefMth(d, b + k, e));
  } else {
    p = RefSubproof(m - k, d, b + k, e, false);
    p.push_back(RefMth(d, b, b + k));
  }
  return p;
}

// ---- A 5,000-leaf tree shared by the tests of this file.

class MerkleProperties : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    leaves_ = new std::vector<std::string>();
    nodes_ = new MemoryNodeSource();
    roots_ = new std::vector<std::string>();
    CompactTree tree;
    roots_->push_back(tree.Root());
    for (uint64_t i = 0; i < kLeaves; ++i) {
      leaves_->push_back(HashLeaf("leaf " + std::to_string(i)));
      tree.Append(leaves_->back(), nodes_->Recorder());
      roots_->push_back(tree.Root());
    }
  }
  static void TearDownTestSuite() {
    delete leaves_;
    delete nodes_;
    delete roots_;
  }

  static std::vector<std::string>* leaves_;
  static MemoryNodeSource* nodes_;
  static std::vector<std::string>* roots_;  // (*roots_)[n] = root of size n
  std::mt19937_64 rng_{0x7472'6961'6c6f'6721ULL};  // fixed: failures reproduce

  uint64_t Uniform(uint64_t lo, uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  std::string FlipRandomBit(std::string s) {
    const uint64_t bit = Uniform(0, s.size() * 8 - 1);
    s[bit / 8] = static_cast<char>(s[bit / 8] ^ (1 << (bit % 8)));
    return s;
  }
};

std::vector<std::string>* MerkleProperties::leaves_ = nullptr;
MemoryNodeSource* MerkleProperties::nodes_ = nullptr;
std::vector<std::string>* MerkleProperties::roots_ = nullptr;

TEST_F(MerkleProperties, RootsMatchTheReference) {
  for (int trial = 0; trial < 40; ++trial) {
    const uint64_t size = trial < 3 ? trial + 1 : Uniform(1, kLeaves);
    const std::string want = RefMth(*leaves_, 0, size);
    EXPECT_EQ((*roots_)[size], want) << "size " << size;
    EXPECT_EQ(RootFromLeafHashes(std::vector<std::string>(leaves_->begin(),
                                                          leaves_->begin() + size)),
              want);
    absl::StatusOr<std::string> at = RootAt(*nodes_, size);
    ASSERT_TRUE(at.ok()) << at.status();
    EXPECT_EQ(*at, want);
  }
}

TEST_F(MerkleProperties, InclusionProofsMatchTheReferenceAndVerify) {
  for (int trial = 0; trial < 60; ++trial) {
    const uint64_t size = trial == 0 ? kLeaves : Uniform(1, kLeaves);
    const uint64_t index = trial == 0 ? kLeaves - 1 : Uniform(0, size - 1);
    SCOPED_TRACE("leaf " + std::to_string(index) + " size " + std::to_string(size));
    absl::StatusOr<std::vector<std::string>> proof = InclusionProof(*nodes_, index, size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(ToHex(*proof), ToHex(RefPath(index, *leaves_, 0, size)));
    EXPECT_TRUE(VerifyInclusion(index, size, (*leaves_)[index], *proof, (*roots_)[size]).ok());
  }
}

TEST_F(MerkleProperties, ConsistencyProofsMatchTheReferenceAndVerify) {
  for (int trial = 0; trial < 60; ++trial) {
    uint64_t size1 = Uniform(1, kLeaves);
    uint64_t size2 = Uniform(1, kLeaves);
    if (size1 > size2) std::swap(size1, size2);
    if (trial == 0) size1 = size2;
    if (trial == 1) size1 = 1024;  // a perfect old tree
    SCOPED_TRACE(std::to_string(size1) + " -> " + std::to_string(size2));
    absl::StatusOr<std::vector<std::string>> proof = ConsistencyProof(*nodes_, size1, size2);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(ToHex(*proof), ToHex(RefSubproof(size1, *leaves_, 0, size2, true)));
    EXPECT_TRUE(
        VerifyConsistency(size1, size2, *proof, (*roots_)[size1], (*roots_)[size2]).ok());
  }
}

TEST_F(MerkleProperties, InclusionRejectsBitFlipsAndWrongLengths) {
  for (int trial = 0; trial < 300; ++trial) {
    const uint64_t size = Uniform(1, kLeaves);
    const uint64_t index = Uniform(0, size - 1);
    SCOPED_TRACE("leaf " + std::to_string(index) + " size " + std::to_string(size));
    const std::string& leaf = (*leaves_)[index];
    const std::string& root = (*roots_)[size];
    absl::StatusOr<std::vector<std::string>> proof = InclusionProof(*nodes_, index, size);
    ASSERT_TRUE(proof.ok());
    ASSERT_TRUE(VerifyInclusion(index, size, leaf, *proof, root).ok());
    for (size_t i = 0; i < proof->size(); ++i) {
      std::vector<std::string> p = *proof;
      p[i] = FlipRandomBit(p[i]);
      EXPECT_EQ(VerifyInclusion(index, size, leaf, p, root).code(),
                absl::StatusCode::kFailedPrecondition);
    }
    EXPECT_EQ(VerifyInclusion(index, size, FlipRandomBit(leaf), *proof, root).code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(VerifyInclusion(index, size, leaf, *proof, FlipRandomBit(root)).code(),
              absl::StatusCode::kFailedPrecondition);
    const std::string extra = crypto::RandomBytes(kHashSize);
    std::vector<std::string> longer = *proof;
    longer.push_back(extra);
    EXPECT_EQ(VerifyInclusion(index, size, leaf, longer, root).code(),
              absl::StatusCode::kInvalidArgument);
    longer = *proof;
    longer.insert(longer.begin(), extra);
    EXPECT_EQ(VerifyInclusion(index, size, leaf, longer, root).code(),
              absl::StatusCode::kInvalidArgument);
    if (!proof->empty()) {
      std::vector<std::string> shorter(proof->begin() + 1, proof->end());
      EXPECT_EQ(VerifyInclusion(index, size, leaf, shorter, root).code(),
                absl::StatusCode::kInvalidArgument);
      shorter.assign(proof->begin(), proof->end() - 1);
      EXPECT_EQ(VerifyInclusion(index, size, leaf, shorter, root).code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(MerkleProperties, ConsistencyRejectsBitFlipsAndWrongLengths) {
  for (int trial = 0; trial < 300; ++trial) {
    uint64_t size1 = Uniform(1, kLeaves);
    uint64_t size2 = Uniform(1, kLeaves);
    if (size1 > size2) std::swap(size1, size2);
    if (trial % 50 == 0) size1 = size2;
    SCOPED_TRACE(std::to_string(size1) + " -> " + std::to_string(size2));
    const std::string& root1 = (*roots_)[size1];
    const std::string& root2 = (*roots_)[size2];
    absl::StatusOr<std::vector<std::string>> proof = ConsistencyProof(*nodes_, size1, size2);
    ASSERT_TRUE(proof.ok());
    ASSERT_TRUE(VerifyConsistency(size1, size2, *proof, root1, root2).ok());
    for (size_t i = 0; i < proof->size(); ++i) {
      std::vector<std::string> p = *proof;
      p[i] = FlipRandomBit(p[i]);
      EXPECT_EQ(VerifyConsistency(size1, size2, p, root1, root2).code(),
                absl::StatusCode::kFailedPrecondition);
    }
    EXPECT_EQ(VerifyConsistency(size1, size2, *proof, FlipRandomBit(root1), root2).code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(VerifyConsistency(size1, size2, *proof, root1, FlipRandomBit(root2)).code(),
              absl::StatusCode::kFailedPrecondition);
    const std::string extra = crypto::RandomBytes(kHashSize);
    std::vector<std::string> longer = *proof;
    longer.push_back(extra);
    EXPECT_EQ(VerifyConsistency(size1, size2, longer, root1, root2).code(),
              absl::StatusCode::kInvalidArgument);
    longer = *proof;
    longer.insert(longer.begin(), extra);
    EXPECT_EQ(VerifyConsistency(size1, size2, longer, root1, root2).code(),
              absl::StatusCode::kInvalidArgument);
    if (!proof->empty()) {
      std::vector<std::string> shorter(proof->begin() + 1, proof->end());
      EXPECT_EQ(VerifyConsistency(size1, size2, shorter, root1, root2).code(),
                absl::StatusCode::kInvalidArgument);
      shorter.assign(proof->begin(), proof->end() - 1);
      EXPECT_EQ(VerifyConsistency(size1, size2, shorter, root1, root2).code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
}

// Every single-bit flip anywhere in a few long proofs, their roots and leaf.
TEST_F(MerkleProperties, EveryBitFlipIsRejected) {
  auto each_flip = [](const std::string& s, auto&& check) {
    for (size_t bit = 0; bit < s.size() * 8; ++bit) {
      std::string f = s;
      f[bit / 8] = static_cast<char>(f[bit / 8] ^ (1 << (bit % 8)));
      check(f);
    }
  };
  int rejected = 0;
  // Plain locals below, not structured bindings: clang 14 (the sanitized
  // build's compiler) cannot capture those in lambdas.
  for (const auto& at : {std::pair<uint64_t, uint64_t>{2730, 5000}, {4095, 4097}}) {
    const uint64_t index = at.first;
    const uint64_t size = at.second;
    const std::string& leaf = (*leaves_)[index];
    const std::string& root = (*roots_)[size];
    absl::StatusOr<std::vector<std::string>> proof = InclusionProof(*nodes_, index, size);
    ASSERT_TRUE(proof.ok());
    auto expect_rejected = [&](const absl::Status& s) {
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
      ++rejected;
    };
    for (size_t i = 0; i < proof->size(); ++i) {
      each_flip((*proof)[i], [&](const std::string& f) {
        std::vector<std::string> p = *proof;
        p[i] = f;
        expect_rejected(VerifyInclusion(index, size, leaf, p, root));
      });
    }
    each_flip(leaf, [&](const std::string& f) {
      expect_rejected(VerifyInclusion(index, size, f, *proof, root));
    });
    each_flip(root, [&](const std::string& f) {
      expect_rejected(VerifyInclusion(index, size, leaf, *proof, f));
    });
  }
  for (const auto& sizes : {std::pair<uint64_t, uint64_t>{2731, 5000}, {3, 4999}}) {
    const uint64_t size1 = sizes.first;
    const uint64_t size2 = sizes.second;
    const std::string& root1 = (*roots_)[size1];
    const std::string& root2 = (*roots_)[size2];
    absl::StatusOr<std::vector<std::string>> proof = ConsistencyProof(*nodes_, size1, size2);
    ASSERT_TRUE(proof.ok());
    auto expect_rejected = [&](const absl::Status& s) {
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
      ++rejected;
    };
    for (size_t i = 0; i < proof->size(); ++i) {
      each_flip((*proof)[i], [&](const std::string& f) {
        std::vector<std::string> p = *proof;
        p[i] = f;
        expect_rejected(VerifyConsistency(size1, size2, p, root1, root2));
      });
    }
    each_flip(root1, [&](const std::string& f) {
      expect_rejected(VerifyConsistency(size1, size2, *proof, f, root2));
    });
    each_flip(root2, [&](const std::string& f) {
      expect_rejected(VerifyConsistency(size1, size2, *proof, root1, f));
    });
  }
  EXPECT_GT(rejected, 10000);
}

// ---- Proof shapes at any 64-bit size: the ranges tile the tree, each is a
// subtree range, and the verifier wants exactly that many hashes.

void CheckInclusionShape(uint64_t index, uint64_t size) {
  SCOPED_TRACE("leaf " + std::to_string(index) + " size " + std::to_string(size));
  absl::StatusOr<std::vector<Range>> ranges = InclusionRanges(index, size);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  // Siblings from the leaf up: each range is adjacent to the span covered
  // so far, which starts as [index, index + 1) and ends as [0, size).
  uint64_t lo = index;
  uint64_t hi = index + 1;
  for (const Range& r : *ranges) {
    ASSERT_LT(r.begin, r.end);
    ASSERT_FALSE(PerfectNodes(r).empty()) << r.begin << ".." << r.end;
    ASSERT_TRUE(r.end == lo || r.begin == hi) << r.begin << ".." << r.end;
    if (r.end == lo) lo = r.begin;
    else hi = r.end;
  }
  EXPECT_EQ(lo, 0u);
  EXPECT_EQ(hi, size);
  const std::string h = HashLeaf("x");
  std::vector<std::string> proof(ranges->size(), h);
  EXPECT_EQ(VerifyInclusion(index, size, h, proof, EmptyRoot()).code(),
            absl::StatusCode::kFailedPrecondition);
  proof.push_back(h);
  EXPECT_EQ(VerifyInclusion(index, size, h, proof, EmptyRoot()).code(),
            absl::StatusCode::kInvalidArgument);
  proof.resize(proof.size() - 2 + (ranges->empty() ? 1 : 0));
  if (!ranges->empty()) {
    EXPECT_EQ(VerifyInclusion(index, size, h, proof, EmptyRoot()).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

void CheckConsistencyShape(uint64_t size1, uint64_t size2) {
  SCOPED_TRACE(std::to_string(size1) + " -> " + std::to_string(size2));
  absl::StatusOr<std::vector<Range>> ranges = ConsistencyRanges(size1, size2);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  if (size1 == size2) {
    EXPECT_TRUE(ranges->empty());
    return;
  }
  // The ranges tile [size1, size2) when the old tree is perfect (its root
  // is the verifier's seed), else [0, size2) (the seed is the first range).
  const bool perfect = std::has_single_bit(size1);
  std::vector<Range> sorted = *ranges;
  std::sort(sorted.begin(), sorted.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  uint64_t at = perfect ? size1 : 0;
  for (const Range& r : sorted) {
    ASSERT_EQ(r.begin, at);
    ASSERT_LT(r.begin, r.end);
    ASSERT_FALSE(PerfectNodes(r).empty()) << r.begin << ".." << r.end;
    at = r.end;
  }
  EXPECT_EQ(at, size2);
  if (!perfect) {
    // The seed: the old tree's last perfect node, ending at size1.
    EXPECT_EQ((*ranges)[0].end, size1);
    EXPECT_EQ((*ranges)[0].end - (*ranges)[0].begin,
              uint64_t{1} << std::countr_zero(size1));
  }
  const std::string h = HashLeaf("x");
  std::vector<std::string> proof(ranges->size(), h);
  EXPECT_EQ(VerifyConsistency(size1, size2, proof, h, h).code(),
            absl::StatusCode::kFailedPrecondition);
  proof.push_back(h);
  EXPECT_EQ(VerifyConsistency(size1, size2, proof, h, h).code(),
            absl::StatusCode::kInvalidArgument);
  proof.resize(proof.size() - 2);
  EXPECT_EQ(VerifyConsistency(size1, size2, proof, h, h).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(MerkleProperties, ProofShapesAtAny64BitSize) {
  const uint64_t edges[] = {1, 2, 3, 4, 5, 7, 8, 9, (1ULL << 32) - 1, 1ULL << 32,
                            (1ULL << 63) - 1, 1ULL << 63, (1ULL << 63) + 1, kMaxU64 - 1,
                            kMaxU64};
  for (uint64_t size : edges) {
    for (uint64_t index : {uint64_t{0}, size / 2, size - 1}) CheckInclusionShape(index, size);
    for (uint64_t old_size : edges) {
      if (old_size <= size) CheckConsistencyShape(old_size, size);
    }
  }
  for (int trial = 0; trial < 2000; ++trial) {
    // Sizes of every magnitude: a random bit length, then random bits.
    const int bits = static_cast<int>(Uniform(1, 64));
    const uint64_t size = std::max<uint64_t>(1, rng_() >> (64 - bits));
    CheckInclusionShape(Uniform(0, size - 1), size);
    CheckConsistencyShape(Uniform(1, size), size);
  }
}

// ---- PerfectNodes, HashRange and error reporting.

TEST(PerfectNodes, SplitsAsTheRfcDoes) {
  EXPECT_TRUE(PerfectNodes(Range{0, 0}).empty());
  EXPECT_TRUE(PerfectNodes(Range{5, 3}).empty());
  EXPECT_TRUE(PerfectNodes(Range{1, 4}).empty());   // left part [1, 3) not aligned
  EXPECT_TRUE(PerfectNodes(Range{2, 10}).empty());  // left part [2, 6) not aligned
  EXPECT_EQ(PerfectNodes(Range{0, 1}), (std::vector<NodeId>{{0, 0}}));
  EXPECT_EQ(PerfectNodes(Range{7, 8}), (std::vector<NodeId>{{0, 7}}));
  EXPECT_EQ(PerfectNodes(Range{0, 13}), (std::vector<NodeId>{{3, 0}, {2, 2}, {0, 12}}));
  EXPECT_EQ(PerfectNodes(Range{8, 16}), (std::vector<NodeId>{{3, 1}}));
  // Not a node of the big tree, but MTH of 8 leaves splits at 4 into two.
  EXPECT_EQ(PerfectNodes(Range{4, 12}), (std::vector<NodeId>{{2, 1}, {2, 2}}));
  EXPECT_EQ(PerfectNodes(Range{0, kMaxU64}).size(), 64u);
  EXPECT_EQ(PerfectNodes(Range{0, 1ULL << 63}), (std::vector<NodeId>{{63, 0}}));
}

TEST_F(MerkleProperties, HashRangeEqualsTheReferenceMth) {
  for (int trial = 0; trial < 40; ++trial) {
    const uint64_t size = Uniform(1, kLeaves);
    absl::StatusOr<std::vector<Range>> ranges = InclusionRanges(Uniform(0, size - 1), size);
    ASSERT_TRUE(ranges.ok());
    for (const Range& r : *ranges) {
      absl::StatusOr<std::string> hash = HashRange(*nodes_, r);
      ASSERT_TRUE(hash.ok()) << hash.status();
      EXPECT_EQ(*hash, RefMth(*leaves_, r.begin, r.end));
    }
  }
  absl::StatusOr<std::string> odd = HashRange(*nodes_, Range{4, 12});
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(*odd, RefMth(*leaves_, 4, 12));
}

TEST_F(MerkleProperties, AppendReportsEveryPerfectNodeOnce) {
  MemoryNodeSource nodes;
  CompactTree tree;
  uint64_t reported = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    tree.Append((*leaves_)[i], [&](NodeId id, absl::string_view hash) {
      ++reported;
      EXPECT_EQ(id.index, (i + 1) / (uint64_t{1} << id.level) - 1) << "level " << id.level;
      nodes.Put(id, hash);
    });
  }
  // A tree of n leaves has 2n - popcount(n) perfect nodes.
  EXPECT_EQ(reported, 2 * 1000 - std::popcount(1000u));
  EXPECT_EQ(tree.Root(), (*roots_)[1000]);
}

class ShortNodeSource : public NodeSource {
 public:
  absl::StatusOr<std::string> GetNode(NodeId) const override {
    return std::string(kHashSize - 1, 'x');
  }
};

TEST_F(MerkleProperties, GenerationErrors) {
  EXPECT_EQ(InclusionProof(*nodes_, 5, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(*nodes_, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(*nodes_, 0, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(*nodes_, 6, 5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashRange(*nodes_, Range{3, 3}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status not_subtree = HashRange(*nodes_, Range{1, 4}).status();
  EXPECT_EQ(not_subtree.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(not_subtree.message().find("not a subtree range"), absl::string_view::npos)
      << not_subtree;
  // Beyond what the source holds.
  EXPECT_EQ(RootAt(*nodes_, kLeaves + 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(InclusionProof(*nodes_, 0, kLeaves + 3).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ConsistencyProof(*nodes_, 10, kLeaves + 1).status().code(),
            absl::StatusCode::kNotFound);
  // A damaged store.
  ShortNodeSource short_nodes;
  absl::Status damaged = RootAt(short_nodes, 3).status();
  EXPECT_EQ(damaged.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(damaged.message().find("31 bytes"), absl::string_view::npos) << damaged;
  absl::StatusOr<std::string> empty = RootAt(short_nodes, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, EmptyRoot());
}

TEST_F(MerkleProperties, VerificationErrorsSayWhatIsWrong) {
  const std::string& leaf = (*leaves_)[3];
  const std::string& root = (*roots_)[10];
  absl::StatusOr<std::vector<std::string>> proof = InclusionProof(*nodes_, 3, 10);
  ASSERT_TRUE(proof.ok());
  auto expect = [](const absl::Status& s, absl::StatusCode code, const std::string& text) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_NE(s.message().find(text), absl::string_view::npos) << s;
  };
  expect(VerifyInclusion(10, 10, leaf, *proof, root), absl::StatusCode::kInvalidArgument,
         "leaf index 10 is not below tree size 10");
  expect(VerifyInclusion(3, 10, leaf.substr(1), *proof, root),
         absl::StatusCode::kInvalidArgument, "leaf hash has 31 bytes, want 32");
  expect(VerifyInclusion(3, 10, leaf, *proof, root + "x"), absl::StatusCode::kInvalidArgument,
         "root has 33 bytes, want 32");
  std::vector<std::string> bad = *proof;
  bad[1] = "";
  expect(VerifyInclusion(3, 10, leaf, bad, root), absl::StatusCode::kInvalidArgument,
         "proof element 1 has 0 bytes, want 32");
  bad = *proof;
  bad.pop_back();
  expect(VerifyInclusion(3, 10, leaf, bad, root), absl::StatusCode::kInvalidArgument,
         "inclusion proof has 3 hashes, want 4");
  expect(VerifyInclusion(3, 10, leaf, *proof, (*roots_)[11]),
         absl::StatusCode::kFailedPrecondition,
         "calculated root " + HexEncode(root) + " does not match the given one " +
             HexEncode((*roots_)[11]));

  absl::StatusOr<std::vector<std::string>> cproof = ConsistencyProof(*nodes_, 6, 10);
  ASSERT_TRUE(cproof.ok());
  const std::string& root6 = (*roots_)[6];
  expect(VerifyConsistency(0, 10, {}, EmptyRoot(), root), absl::StatusCode::kInvalidArgument,
         "from size 0");
  expect(VerifyConsistency(11, 10, *cproof, root6, root), absl::StatusCode::kInvalidArgument,
         "old size 11 exceeds new size 10");
  expect(VerifyConsistency(6, 10, *cproof, root6.substr(2), root),
         absl::StatusCode::kInvalidArgument, "old root has 30 bytes");
  expect(VerifyConsistency(6, 10, *cproof, root6, ""), absl::StatusCode::kInvalidArgument,
         "new root has 0 bytes");
  expect(VerifyConsistency(6, 6, *cproof, root6, root6), absl::StatusCode::kInvalidArgument,
         "must be empty");
  expect(VerifyConsistency(6, 6, {}, root6, root), absl::StatusCode::kFailedPrecondition,
         "sizes are equal (6)");
  expect(VerifyConsistency(6, 10, {}, root6, root), absl::StatusCode::kInvalidArgument,
         "consistency proof has 0 hashes, want " + std::to_string(cproof->size()));
  expect(VerifyConsistency(6, 10, *cproof, (*roots_)[7], root),
         absl::StatusCode::kFailedPrecondition, "calculated old root " + HexEncode(root6));
  expect(VerifyConsistency(6, 10, *cproof, root6, (*roots_)[9]),
         absl::StatusCode::kFailedPrecondition, "calculated new root " + HexEncode(root));
}

}  // namespace
}  // namespace trialog::merkle
