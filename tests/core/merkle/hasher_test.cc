// RFC 6962 hashing: known answers and domain-separation properties.

#include <string>
#include <vector>

#include "core/crypto/crypto.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "tests/core/merkle/test_util.h"

namespace trialog::merkle {
namespace {

using testing::LoadJson;
using testing::Unbase64;
using testing::Unhex;

TEST(MerkleHasher, EmptyRootKnownAnswer) {
  // echo -n | sha256sum
  EXPECT_EQ(HexEncode(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  nlohmann::json kat = LoadJson("ct-cpp-merkle-kat.json");
  EXPECT_EQ(HexEncode(EmptyRoot()), kat.at("emptyTreeRoot").get<std::string>());
  nlohmann::json tlog = LoadJson("tlog-generated-bytes-1..64.json");
  EXPECT_EQ(EmptyRoot(), Unbase64(tlog.at("emptyRoot").get<std::string>()));
}

TEST(MerkleHasher, LeafKnownAnswers) {
  // echo -n 00 | xxd -r -p | sha256sum  (RFC 6962 leaf hash of the empty leaf)
  EXPECT_EQ(HexEncode(HashLeaf("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  // Every leaf of both tlog-generated files (golang.org/x/mod/sumdb/tlog).
  int checked = 0;
  for (const char* file : {"tlog-generated-bytes-1..64.json", "tlog-generated-ctkat-1..8.json"}) {
    nlohmann::json doc = LoadJson(file);
    for (const auto& leaf : doc.at("leaves")) {
      EXPECT_EQ(HashLeaf(Unhex(leaf.at("dataHex").get<std::string>())),
                Unbase64(leaf.at("leafHash").get<std::string>()))
          << file << " leaf " << leaf.at("index");
      ++checked;
    }
  }
  EXPECT_EQ(checked, 64 + 8);
}

TEST(MerkleHasher, ChildrenMatchesOneShotSha256) {
  const std::string a = HashLeaf("a");
  const std::string b = HashLeaf("b");
  // SHA-256(0x01 || a || b) computed by core/crypto in one shot.
  EXPECT_EQ(HashChildren(a, b), crypto::Sha256(std::string(1, '\x01') + a + b));
  // The KAT tree's size-2 root is HashChildren of its first two leaves.
  nlohmann::json kat = LoadJson("ct-cpp-merkle-kat.json");
  EXPECT_EQ(HexEncode(HashChildren(HashLeaf(""), HashLeaf(std::string(1, '\0')))),
            kat.at("rootsBySize").at("2").get<std::string>());
}

TEST(MerkleHasher, ChildrenOfOtherSizesAreHashedAsGiven) {
  // Outside HashChildren's REQUIRES, but defined: SHA-256(0x01 || l || r).
  EXPECT_EQ(HashChildren("ab", "c"), crypto::Sha256("\x01" "abc"));
  EXPECT_EQ(HashChildren("", ""), crypto::Sha256("\x01"));
  const std::string h = HashLeaf("h");
  EXPECT_EQ(HashChildren(h + "x", h), crypto::Sha256("\x01" + h + "x" + h));
}

TEST(MerkleHasher, ChildrenToMayAliasEitherInput) {
  const std::string a = HashLeaf("left");
  const std::string b = HashLeaf("right");
  const std::string want = HashChildren(a, b);
  std::string left = a;
  HashChildrenTo(left, b, left.data());
  EXPECT_EQ(left, want);
  std::string right = b;
  HashChildrenTo(a, right, right.data());
  EXPECT_EQ(right, want);
}

TEST(MerkleHasher, EmptyRootIsNotTheEmptyLeaf) { EXPECT_NE(EmptyRoot(), HashLeaf("")); }

TEST(MerkleHasher, NodeIsNotALeafOfTheConcatenation) {
  const std::string a = HashLeaf("a");
  const std::string b = HashLeaf("b");
  EXPECT_NE(HashChildren(a, b), HashLeaf(a + b));
  // Nor the plain hash of the concatenation (no prefix at all).
  EXPECT_NE(HashChildren(a, b), crypto::Sha256(a + b));
}

TEST(MerkleHasher, SwappingChildrenChangesTheHash) {
  const std::string a = HashLeaf("a");
  const std::string b = HashLeaf("b");
  EXPECT_NE(HashChildren(a, b), HashChildren(b, a));
}

TEST(MerkleHasher, LeafPrefixSeparatesLeavesFromRawData) {
  EXPECT_NE(HashLeaf("x"), crypto::Sha256("x"));
  EXPECT_EQ(HashLeaf("x"), crypto::Sha256(std::string(1, '\0') + "x"));
}

TEST(RootFromLeafHashes, MatchesKnownAnswerRoots) {
  nlohmann::json kat = LoadJson("ct-cpp-merkle-kat.json");
  std::vector<std::string> leaves;
  for (const auto& hex : kat.at("leafDataHex")) leaves.push_back(HashLeaf(Unhex(hex)));
  ASSERT_EQ(leaves.size(), 8u);
  EXPECT_EQ(RootFromLeafHashes({}), EmptyRoot());
  for (size_t size = 1; size <= 8; ++size) {
    std::vector<std::string> prefix(leaves.begin(), leaves.begin() + size);
    EXPECT_EQ(HexEncode(RootFromLeafHashes(prefix)),
              kat.at("rootsBySize").at(std::to_string(size)).get<std::string>())
        << "size " << size;
  }
}

}  // namespace
}  // namespace trialog::merkle
