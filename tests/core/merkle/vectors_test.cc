// The shared Merkle vectors (/work/shared/vectors/merkle), all of them:
// the certificate-transparency 8-leaf known-answer tree, the
// golang.org/x/mod/sumdb/tlog generated proofs and transparency-dev's
// compact-range golden roots. Proofs are generated from an in-memory
// NodeSource filled by CompactTree::Append and compared byte for byte, then
// verified.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "tests/core/merkle/memory_node_source.h"
#include "tests/core/merkle/test_util.h"

namespace trialog::merkle {
namespace {

using testing::Base64List;
using testing::HexList;
using testing::LoadJson;
using testing::MemoryNodeSource;
using testing::ToHex;
using testing::Unbase64;
using testing::Unhex;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// A verifier's rejection: never OK, and only the two documented codes.
void ExpectRejected(const absl::Status& status, const std::string& what) {
  EXPECT_FALSE(status.ok()) << what << ": accepted";
  EXPECT_TRUE(status.code() == absl::StatusCode::kInvalidArgument ||
              status.code() == absl::StatusCode::kFailedPrecondition)
      << what << ": " << status;
}

// A tree built leaf by leaf: every perfect node in `nodes`, and the root
// after every append in `roots` (roots[0] is the empty root).
struct BuiltTree {
  std::vector<std::string> leaf_hashes;
  MemoryNodeSource nodes;
  CompactTree tree;
  std::vector<std::string> roots;
};

void Build(BuiltTree& t, const std::vector<std::string>& leaf_hashes) {
  t.leaf_hashes = leaf_hashes;
  t.roots.push_back(t.tree.Root());
  for (const std::string& leaf : leaf_hashes) {
    t.tree.Append(leaf, t.nodes.Recorder());
    t.roots.push_back(t.tree.Root());
  }
}

// The mutations of certificate-transparency's MerkleVerifierTest::
// VerifierCheck: each must turn a good inclusion proof into a rejected one.
void ExpectInclusionMutationsRejected(uint64_t index, uint64_t size, const std::string& leaf,
                                      const std::vector<std::string>& proof,
                                      const std::string& root) {
  ASSERT_TRUE(VerifyInclusion(index, size, leaf, proof, root).ok());
  const std::string ctx = "leaf " + std::to_string(index) + " size " + std::to_string(size);
  ExpectRejected(VerifyInclusion(index - 1, size, leaf, proof, root), ctx + " index-1");
  ExpectRejected(VerifyInclusion(index + 1, size, leaf, proof, root), ctx + " index+1");
  ExpectRejected(VerifyInclusion(index ^ 2, size, leaf, proof, root), ctx + " index^2");
  ExpectRejected(VerifyInclusion(index, size * 2, leaf, proof, root), ctx + " size*2");
  ExpectRejected(VerifyInclusion(index, size / 2, leaf, proof, root), ctx + " size/2");
  ExpectRejected(VerifyInclusion(index, size, HashLeaf("WrongLeaf"), proof, root),
                 ctx + " wrong leaf");
  ExpectRejected(VerifyInclusion(index, size, leaf, proof, EmptyRoot()), ctx + " empty root");
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<std::string> p = proof;
    p[i] = EmptyRoot();
    ExpectRejected(VerifyInclusion(index, size, leaf, p, root),
                   ctx + " element " + std::to_string(i) + " replaced");
  }
  for (const std::string& extra : {std::string(), root}) {
    std::vector<std::string> appended = proof;
    appended.push_back(extra);
    ExpectRejected(VerifyInclusion(index, size, leaf, appended, root), ctx + " appended");
    std::vector<std::string> prepended = proof;
    prepended.insert(prepended.begin(), extra);
    ExpectRejected(VerifyInclusion(index, size, leaf, prepended, root), ctx + " prepended");
  }
  if (!proof.empty()) {
    std::vector<std::string> dropped(proof.begin(), proof.end() - 1);
    ExpectRejected(VerifyInclusion(index, size, leaf, dropped, root), ctx + " last dropped");
  }
}

// The mutations of MerkleVerifierTest::VerifierConsistencyCheck.
void ExpectConsistencyMutationsRejected(uint64_t size1, uint64_t size2,
                                        const std::vector<std::string>& proof,
                                        const std::string& root1, const std::string& root2) {
  ASSERT_TRUE(VerifyConsistency(size1, size2, proof, root1, root2).ok());
  const std::string ctx = std::to_string(size1) + " -> " + std::to_string(size2);
  ExpectRejected(VerifyConsistency(size1 - 1, size2, proof, root1, root2), ctx + " size1-1");
  ExpectRejected(VerifyConsistency(size1 + 1, size2, proof, root1, root2), ctx + " size1+1");
  ExpectRejected(VerifyConsistency(size1 ^ 2, size2, proof, root1, root2), ctx + " size1^2");
  ExpectRejected(VerifyConsistency(size1, size2 * 2, proof, root1, root2), ctx + " size2*2");
  ExpectRejected(VerifyConsistency(size1, size2 / 2, proof, root1, root2), ctx + " size2/2");
  const std::string wrong = HashLeaf("WrongRoot");
  ExpectRejected(VerifyConsistency(size1, size2, proof, wrong, root2), ctx + " wrong root1");
  ExpectRejected(VerifyConsistency(size1, size2, proof, root1, wrong), ctx + " wrong root2");
  if (root1 != root2) {
    ExpectRejected(VerifyConsistency(size1, size2, proof, root2, root1), ctx + " swapped");
  }
  if (!proof.empty()) {
    ExpectRejected(VerifyConsistency(size1, size2, {}, root1, root2), ctx + " empty proof");
    std::vector<std::string> dropped(proof.begin(), proof.end() - 1);
    ExpectRejected(VerifyConsistency(size1, size2, dropped, root1, root2), ctx + " dropped");
  }
  for (size_t i = 0; i < proof.size(); ++i) {
    std::vector<std::string> p = proof;
    p[i] = EmptyRoot();
    ExpectRejected(VerifyConsistency(size1, size2, p, root1, root2),
                   ctx + " element " + std::to_string(i) + " replaced");
  }
  for (const std::string& extra : {EmptyRoot(), root1, root2}) {
    std::vector<std::string> appended = proof;
    appended.push_back(extra);
    ExpectRejected(VerifyConsistency(size1, size2, appended, root1, root2), ctx + " appended");
    std::vector<std::string> prepended = proof;
    prepended.insert(prepended.begin(), extra);
    ExpectRejected(VerifyConsistency(size1, size2, prepended, root1, root2),
                   ctx + " prepended");
  }
}

// ---------------------------------------------------------------------------
// certificate-transparency's 8-leaf known-answer tree (ct-cpp-merkle-kat.json)

class CtKatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kat_ = LoadJson("ct-cpp-merkle-kat.json");
    ASSERT_FALSE(kat_.is_null());
    std::vector<std::string> leaves;
    for (const auto& hex : kat_.at("leafDataHex")) leaves.push_back(HashLeaf(Unhex(hex)));
    ASSERT_EQ(leaves.size(), 8u);
    Build(t_, leaves);
  }
  std::string Root(uint64_t size) const {
    return size == 0 ? Unhex(kat_.at("emptyTreeRoot"))
                     : Unhex(kat_.at("rootsBySize").at(std::to_string(size)));
  }

  nlohmann::json kat_;
  BuiltTree t_;
};

TEST_F(CtKatTest, RootsForEverySize) {
  for (uint64_t size = 0; size <= 8; ++size) {
    EXPECT_EQ(HexEncode(t_.roots[size]), HexEncode(Root(size))) << "size " << size;
    absl::StatusOr<std::string> root = RootAt(t_.nodes, size);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(*root, Root(size)) << "size " << size;
  }
}

TEST_F(CtKatTest, LevelCounts) {
  // kLevelCounts: levels of a tree of size n = leaf 0's path length + 1.
  const auto& counts = kat_.at("levelCounts").at("values");
  ASSERT_EQ(counts.size(), 8u);
  for (uint64_t size = 1; size <= 8; ++size) {
    absl::StatusOr<std::vector<Range>> ranges = InclusionRanges(0, size);
    ASSERT_TRUE(ranges.ok());
    EXPECT_EQ(ranges->size() + 1, counts[size - 1].get<size_t>()) << "size " << size;
  }
}

TEST_F(CtKatTest, InclusionProofs) {
  int checked = 0;
  for (const auto& v : kat_.at("inclusionProofs").at("vectors")) {
    const uint64_t index = v.at("leafIndex");
    const uint64_t size = v.at("treeSize");
    ASSERT_EQ(index + 1, v.at("cppLeaf").get<uint64_t>());  // 1-based upstream
    const std::vector<std::string> want = HexList(v.at("proof"));
    absl::StatusOr<std::vector<std::string>> proof = InclusionProof(t_.nodes, index, size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(ToHex(*proof), ToHex(want)) << "leaf " << index << " size " << size;
    EXPECT_TRUE(VerifyInclusion(index, size, t_.leaf_hashes[index], want, Root(size)).ok());
    ExpectInclusionMutationsRejected(index, size, t_.leaf_hashes[index], want, Root(size));
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST_F(CtKatTest, InclusionErrorCases) {
  int checked = 0;
  for (const auto& v : kat_.at("inclusionProofs").at("errorCases")) {
    // C++ leaf 0 is 0-based index -1: it wraps to 2^64-1 here.
    const uint64_t index = v.at("cppLeaf").get<uint64_t>() - 1;
    const uint64_t size = v.at("treeSize");
    EXPECT_EQ(index, kMaxU64);
    EXPECT_EQ(InclusionProof(t_.nodes, index, size).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(InclusionRanges(index, size).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(VerifyInclusion(index, size, t_.leaf_hashes[0], {}, Root(0)).code(),
              absl::StatusCode::kInvalidArgument);
    ++checked;
  }
  EXPECT_EQ(checked, 1);
}

TEST_F(CtKatTest, ConsistencyProofs) {
  std::vector<nlohmann::json> vectors;
  for (const auto& v : kat_.at("consistencyProofs").at("vectors")) vectors.push_back(v);
  for (const auto& v : kat_.at("extraFromTransparencyDevProofgen").at("consistencyProofs")) {
    vectors.push_back(v);
  }
  ASSERT_EQ(vectors.size(), 5u);
  for (const auto& v : vectors) {
    const uint64_t size1 = v.at("size1");
    const uint64_t size2 = v.at("size2");
    const std::vector<std::string> want = HexList(v.at("proof"));
    absl::StatusOr<std::vector<std::string>> proof = ConsistencyProof(t_.nodes, size1, size2);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(ToHex(*proof), ToHex(want)) << size1 << " -> " << size2;
    EXPECT_TRUE(VerifyConsistency(size1, size2, want, Root(size1), Root(size2)).ok());
    ExpectConsistencyMutationsRejected(size1, size2, want, Root(size1), Root(size2));
  }
}

TEST_F(CtKatTest, ConsistencyFromSizeZeroIsRefused) {
  // The CT C++ verifier accepts these (see alwaysConsistentPerCpp); our
  // documented policy refuses them.
  const std::string note =
      kat_.at("verifierNegativeCases").at("alwaysConsistentPerCpp").get<std::string>();
  EXPECT_NE(note.find("(0,0), (0,1), (1,1)"), std::string::npos);
  EXPECT_EQ(VerifyConsistency(0, 0, {}, Root(0), Root(0)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyConsistency(0, 1, {}, Root(0), Root(1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(VerifyConsistency(1, 1, {}, Root(1), Root(1)).ok());
  EXPECT_EQ(ConsistencyProof(t_.nodes, 0, 8).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// golang.org/x/mod/sumdb/tlog generated proofs: every root, every inclusion
// and consistency proof of trees up to 64 (and 8) leaves.

void CheckTlogFile(const std::string& file, size_t want_leaves, size_t want_proofs) {
  SCOPED_TRACE(file);
  nlohmann::json doc = LoadJson(file);
  ASSERT_FALSE(doc.is_null());
  EXPECT_EQ(EmptyRoot(), Unbase64(doc.at("emptyRoot")));

  std::vector<std::string> leaves;
  for (const auto& leaf : doc.at("leaves")) {
    ASSERT_EQ(leaf.at("index").get<size_t>(), leaves.size());
    leaves.push_back(HashLeaf(Unhex(leaf.at("dataHex"))));
    EXPECT_EQ(leaves.back(), Unbase64(leaf.at("leafHash")));
  }
  ASSERT_EQ(leaves.size(), want_leaves);
  BuiltTree t;
  Build(t, leaves);

  // Roots: from the compact tree, from the node source and from the
  // reference recursion, against tlog's.
  std::vector<std::string> roots(want_leaves + 1);
  roots[0] = EmptyRoot();
  size_t root_count = 0;
  for (const auto& r : doc.at("roots")) {
    const uint64_t size = r.at("size");
    ASSERT_GE(size, 1u);
    ASSERT_LE(size, want_leaves);
    roots[size] = Unbase64(r.at("root"));
    EXPECT_EQ(t.roots[size], roots[size]) << "size " << size;
    absl::StatusOr<std::string> at = RootAt(t.nodes, size);
    ASSERT_TRUE(at.ok()) << at.status();
    EXPECT_EQ(*at, roots[size]) << "size " << size;
    EXPECT_EQ(RootFromLeafHashes(std::vector<std::string>(leaves.begin(), leaves.begin() + size)),
              roots[size]);
    ++root_count;
  }
  ASSERT_EQ(root_count, want_leaves);

  size_t inclusion_count = 0;
  for (const auto& v : doc.at("inclusion")) {
    const uint64_t index = v.at("leafIdx");
    const uint64_t size = v.at("treeSize");
    ASSERT_LT(index, size);
    ASSERT_LE(size, want_leaves);
    const std::vector<std::string> want = Base64List(v.at("proof"));
    absl::StatusOr<std::vector<std::string>> proof = InclusionProof(t.nodes, index, size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(ToHex(*proof), ToHex(want)) << "leaf " << index << " size " << size;
    EXPECT_TRUE(VerifyInclusion(index, size, leaves[index], want, roots[size]).ok())
        << "leaf " << index << " size " << size;
    absl::StatusOr<std::string> implied = RootFromInclusionProof(index, size, leaves[index], want);
    ASSERT_TRUE(implied.ok());
    EXPECT_EQ(*implied, roots[size]);
    ++inclusion_count;
  }
  EXPECT_EQ(inclusion_count, want_proofs);

  size_t consistency_count = 0;
  for (const auto& v : doc.at("consistency")) {
    const uint64_t size1 = v.at("size1");
    const uint64_t size2 = v.at("size2");
    ASSERT_GE(size1, 1u);
    ASSERT_LE(size1, size2);
    ASSERT_LE(size2, want_leaves);
    const std::vector<std::string> want = Base64List(v.at("proof"));
    absl::StatusOr<std::vector<std::string>> proof = ConsistencyProof(t.nodes, size1, size2);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(ToHex(*proof), ToHex(want)) << size1 << " -> " << size2;
    EXPECT_TRUE(VerifyConsistency(size1, size2, want, roots[size1], roots[size2]).ok())
        << size1 << " -> " << size2;
    ++consistency_count;
  }
  EXPECT_EQ(consistency_count, want_proofs);
}

TEST(TlogGenerated, Bytes1To64) { CheckTlogFile("tlog-generated-bytes-1..64.json", 64, 2080); }

TEST(TlogGenerated, CtKat1To8) { CheckTlogFile("tlog-generated-ctkat-1..8.json", 8, 36); }

// ---------------------------------------------------------------------------
// transparency-dev compact.Range golden roots (up to 65,535 leaves).

std::string GoldenLeaf(uint64_t i) {
  const char data[2] = {static_cast<char>(i & 0xff), static_cast<char>((i >> 8) & 0xff)};
  return HashLeaf(absl::string_view(data, 2));
}

TEST(CompactRangeGolden, RootsBorderNodesAndRoundTrip) {
  nlohmann::json doc = LoadJson("compact-range-golden-roots.json");
  ASSERT_FALSE(doc.is_null());
  std::vector<uint64_t> sizes;
  std::vector<std::string> want_roots;
  for (const auto& v : doc.at("vectors")) {
    sizes.push_back(v.at("size"));
    want_roots.push_back(v.at("size").get<uint64_t>() == 0 ? EmptyRoot()
                                                           : Unbase64(v.at("root")));
  }
  ASSERT_EQ(sizes.size(), 12u);
  ASSERT_TRUE(std::is_sorted(sizes.begin(), sizes.end()));
  ASSERT_EQ(sizes.back(), 65535u);
  const auto& border_vectors = doc.at("compactRangeNodes");

  MemoryNodeSource nodes;
  CompactTree tree;
  std::vector<std::vector<std::string>> borders;
  size_t next = 0;
  int border_nodes_checked = 0;
  for (uint64_t i = 0;; ++i) {
    while (next < sizes.size() && sizes[next] == i) {
      const uint64_t size = sizes[next];
      SCOPED_TRACE("size " + std::to_string(size));
      EXPECT_EQ(tree.size(), size);
      EXPECT_EQ(tree.Root(), want_roots[next]);
      absl::StatusOr<std::string> at = RootAt(nodes, size);
      ASSERT_TRUE(at.ok()) << at.status();
      EXPECT_EQ(*at, want_roots[next]);

      // The border is the hashes of PerfectNodes(Range{0, size}).
      const std::vector<NodeId> ids = PerfectNodes(Range{0, size});
      ASSERT_EQ(ids.size(), tree.border().size());
      for (size_t j = 0; j < ids.size(); ++j) {
        absl::StatusOr<std::string> node = nodes.GetNode(ids[j]);
        ASSERT_TRUE(node.ok());
        EXPECT_EQ(*node, tree.border()[j]);
      }
      borders.push_back(tree.border());

      // compact.Range's right-border nodes [level, index, hash]: the hash
      // of [index << level, min((index + 1) << level, size)), both from the
      // node source and by folding the compact tree's border suffix.
      const std::string key = std::to_string(size);
      if (border_vectors.contains(key)) {
        for (const auto& n : border_vectors.at(key)) {
          const uint32_t level = n.at(0);
          const uint64_t index = n.at(1);
          const std::string want = Unbase64(n.at(2));
          const Range range{index << level, std::min((index + 1) << level, size)};
          absl::StatusOr<std::string> hash = HashRange(nodes, range);
          ASSERT_TRUE(hash.ok()) << hash.status();
          EXPECT_EQ(*hash, want) << "node " << level << "/" << index;
          std::string acc;
          uint64_t begin = size;
          for (size_t j = ids.size(); j-- > 0 && begin > range.begin;) {
            acc = acc.empty() ? tree.border()[j] : HashChildren(tree.border()[j], acc);
            begin = ids[j].index << ids[j].level;
          }
          EXPECT_EQ(begin, range.begin);
          EXPECT_EQ(acc, want) << "border fold " << level << "/" << index;
          ++border_nodes_checked;
        }
      }
      ++next;
    }
    if (next == sizes.size()) break;
    tree.Append(GoldenLeaf(i), nodes.Recorder());
  }
  EXPECT_EQ(border_nodes_checked, 2 + 7 + 5);

  // FromBorder round trip: a tree restored at each golden size reaches the
  // next golden root on its own.
  for (size_t k = 0; k + 1 < sizes.size(); ++k) {
    absl::StatusOr<CompactTree> restored = CompactTree::FromBorder(sizes[k], borders[k]);
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(restored->size(), sizes[k]);
    EXPECT_EQ(restored->Root(), want_roots[k]);
    for (uint64_t i = sizes[k]; i < sizes[k + 1]; ++i) restored->Append(GoldenLeaf(i));
    EXPECT_EQ(restored->Root(), want_roots[k + 1]) << "restored at " << sizes[k];
    EXPECT_EQ(restored->border(), borders[k + 1]);
  }
}

TEST(CompactTree, FromBorderRejectsMalformedBorders) {
  const std::string h = HashLeaf("x");
  // 5 = 0b101 has two border nodes.
  EXPECT_EQ(CompactTree::FromBorder(5, {h}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactTree::FromBorder(5, {h, h, h}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactTree::FromBorder(5, {h, h.substr(1)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactTree::FromBorder(0, {h}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CompactTree::FromBorder(kMaxU64, {h}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<CompactTree> empty = CompactTree::FromBorder(0, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->Root(), EmptyRoot());
  absl::StatusOr<CompactTree> five = CompactTree::FromBorder(5, {h, h});
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->Root(), HashChildren(h, h));
}

}  // namespace
}  // namespace trialog::merkle
