// NodeStore's proof read path (the nodes below the in-memory levels read
// from a real RocksDB: levels 4-7 one Get each, levels 0-3 hashed per
// 16-leaf tile from the tile's entries). The stored
// nodes are computed here with SHA-256 directly (RFC 6962 §2.1), not with
// core/merkle's hasher, and every proof is checked with core/merkle's
// verifier against core/merkle's reference root of the leaf hashes.

#include "storage/node_store.h"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/merkle/merkle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "storage/schema.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using ::testing::HasSubstr;
using namespace ::trialog::storage::testing;  // NOLINT

// 1000 leaves: levels 0..9, so proofs need RocksDB nodes (levels < 8, none
// published after Load) and cached ones (levels 8, 9), and the right border
// is not perfect (1000 = 512 + 256 + 128 + 64 + 32 + 8).
constexpr uint64_t kLeaves = 1000;

std::string Leaf(uint64_t i) { return absl::StrCat("entry bytes of leaf ", i); }

// A store holding entries 0..kLeaves-1 and every perfect node of level >=
// kStoredNodeMinLevel, written here as the schema says (format 4); every
// perfect node of every level, computed here with raw SHA-256, in nodes_.
class NodeStoreReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DbOptions o;
    o.dir = tmp_.path() + "/db";
    absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(o);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    rocksdb::WriteBatch w;
    std::vector<std::string> level;
    for (uint64_t i = 0; i < kLeaves; ++i) {
      w.Put(db_->handle(Cf::kEntries), EntryKey(i), Leaf(i));
      level.push_back(crypto::Sha256(std::string(1, '\0'), Leaf(i)));
      leaf_hashes_.push_back(level.back());
    }
    for (uint64_t i = 0; i < kLeaves; ++i) nodes_[{0, i}] = leaf_hashes_[i];
    for (uint32_t l = 1; level.size() >= 2; ++l) {
      std::vector<std::string> up;
      for (size_t i = 0; i + 1 < level.size(); i += 2) {
        up.push_back(crypto::Sha256(std::string(1, '\x01'), level[i] + level[i + 1]));
        nodes_[{l, i / 2}] = up.back();
        if (l >= kStoredNodeMinLevel) w.Put(db_->handle(Cf::kNodes), NodeKey({l, i / 2}), up.back());
      }
      level = std::move(up);
    }
    ASSERT_TRUE(db_->Write(&w, /*sync=*/false).ok());
    store_ = std::make_unique<NodeStore>(db_.get());
    ASSERT_TRUE(store_->Load(kLeaves).ok());
  }

  std::string RootAt(uint64_t size) const {
    return merkle::RootFromLeafHashes(
        std::vector<std::string>(leaf_hashes_.begin(), leaf_hashes_.begin() + size));
  }

  TempDir tmp_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<NodeStore> store_;
  std::vector<std::string> leaf_hashes_;
  std::map<std::pair<uint32_t, uint64_t>, std::string> nodes_;  // (level, index) -> hash
};

TEST_F(NodeStoreReadTest, InclusionProofsVerify) {
  for (uint64_t size : {uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{777}, kLeaves}) {
    const std::string root = RootAt(size);
    for (uint64_t index = 0; index < size; index += (size > 300 ? 7 : 1)) {
      absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, index, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(merkle::VerifyInclusion(index, size, leaf_hashes_[index], *proof, root).ok())
          << "index " << index << " size " << size;
    }
  }
}

TEST_F(NodeStoreReadTest, ConsistencyProofsVerify) {
  for (uint64_t new_size : {uint64_t{300}, uint64_t{512}, kLeaves}) {
    const std::string new_root = RootAt(new_size);
    for (uint64_t old_size = 1; old_size <= new_size; old_size += 13) {
      absl::StatusOr<std::vector<std::string>> proof =
          merkle::ConsistencyProof(*store_, old_size, new_size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_TRUE(
          merkle::VerifyConsistency(old_size, new_size, *proof, RootAt(old_size), new_root).ok())
          << old_size << " -> " << new_size;
    }
  }
}

TEST_F(NodeStoreReadTest, ProofNamesAMissingNode) {
  ASSERT_TRUE(db_->rocks()
                  ->Delete(rocksdb::WriteOptions(), db_->handle(Cf::kNodes), NodeKey({4, 3}))
                  .ok());
  // Node (4, 3) covers leaves [48, 64); the proof of leaf 32 needs it.
  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, 32, kLeaves);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(proof.status().message(), HasSubstr("node (4, 3)"));
}

// The nodes below level 4 have no rows: they are hashed from their tile of
// 16 entries. Every one of them equals the node this test computed with raw
// SHA-256, in the complete tiles and in the last, incomplete one (leaves
// 992..999), and proofs of every size, which need them, verify.
TEST_F(NodeStoreReadTest, LowNodesAreHashedFromTheTilesEntries) {
  for (uint32_t l = 1; l < NodeStore::kLowCacheMinLevel; ++l) {
    EXPECT_TRUE(absl::IsNotFound(db_->Get(Cf::kNodes, NodeKey({l, 0})).status()));
  }
  size_t low = 0;
  for (const auto& [key, hash] : nodes_) {
    const merkle::NodeId id{key.first, key.second};
    if (id.level >= NodeStore::kLowCacheMinLevel) continue;
    ++low;
    absl::StatusOr<std::string> node = store_->GetNode(id);
    ASSERT_TRUE(node.ok()) << "node (" << id.level << ", " << id.index << "): " << node.status();
    EXPECT_EQ(*node, hash) << "node (" << id.level << ", " << id.index << ")";
  }
  EXPECT_EQ(low, 1000u + 500 + 250 + 125);
  // (3, 124) covers the last tile's 8 stored leaves; (2, 250) would need
  // leaf 1000, which is not stored.
  absl::StatusOr<std::string> beyond = store_->GetNode({2, 250});
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(beyond.status().message()), HasSubstr("entry 1000 is not in the store"));
  for (uint64_t size : {uint64_t{1}, uint64_t{15}, uint64_t{16}, uint64_t{17}, uint64_t{993}, kLeaves}) {
    const std::string root = RootAt(size);
    for (uint64_t index = 0; index < size; index += 5) {
      absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, index, size);
      ASSERT_TRUE(proof.ok()) << "index " << index << ": " << proof.status();
      EXPECT_TRUE(merkle::VerifyInclusion(index, size, leaf_hashes_[index], *proof, root).ok())
          << "index " << index << " size " << size;
    }
  }
}

// Proofs from several threads at once share the tile cache (64 slots, so
// these 62 tiles collide and are rehashed): every proof verifies.
TEST_F(NodeStoreReadTest, ConcurrentProofsShareTheTileCache) {
  const std::string root = RootAt(kLeaves);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 500; ++i) {
        const uint64_t index = rng() % kLeaves;
        absl::StatusOr<std::vector<std::string>> proof =
            merkle::InclusionProof(*store_, index, kLeaves);
        if (!proof.ok() ||
            !merkle::VerifyInclusion(index, kLeaves, leaf_hashes_[index], *proof, root).ok()) {
          ++bad[t];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(bad, std::vector<int>(4, 0));
}

// A tile missing an entry (a damaged store): the nodes before it are hashed
// from the tile, the nodes after it from their own entries, and a node
// that needs it names it.
TEST_F(NodeStoreReadTest, TileWithAMissingEntryNamesItAndHashesTheRest) {
  ASSERT_TRUE(db_->rocks()
                  ->Delete(rocksdb::WriteOptions(), db_->handle(Cf::kEntries), EntryKey(70))
                  .ok());
  // Tile 4 = leaves [64, 80). Node (2, 16) covers [64, 68), (2, 18) [72, 76).
  EXPECT_EQ(store_->GetNode({2, 16}).value_or(""), (nodes_[{2, 16}]));
  EXPECT_EQ(store_->GetNode({2, 18}).value_or(""), (nodes_[{2, 18}]));
  EXPECT_EQ(store_->GetNode({0, 71}).value_or(""), leaf_hashes_[71]);
  for (const merkle::NodeId id : {merkle::NodeId{0, 70}, merkle::NodeId{1, 35},
                                  merkle::NodeId{2, 17}, merkle::NodeId{3, 8}}) {
    absl::StatusOr<std::string> missing = store_->GetNode(id);
    EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(std::string(missing.status().message()), HasSubstr("entry 70 is not in the store"))
        << "node (" << id.level << ", " << id.index << ")";
  }
}

TEST_F(NodeStoreReadTest, ProofNamesAMissingEntry) {
  ASSERT_TRUE(db_->rocks()
                  ->Delete(rocksdb::WriteOptions(), db_->handle(Cf::kEntries), EntryKey(33))
                  .ok());
  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, 32, kLeaves);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(proof.status().message()), HasSubstr("entry 33 is not in the store"));
}

TEST_F(NodeStoreReadTest, ProofRefusesAMalformedNode) {
  ASSERT_TRUE(db_->rocks()
                  ->Put(rocksdb::WriteOptions(), db_->handle(Cf::kNodes), NodeKey({5, 0}),
                        std::string(31, 'x'))
                  .ok());
  // Node (5, 0) covers leaves [0, 32): a sibling on leaf 32's path.
  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, 32, kLeaves);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(proof.status().message(), HasSubstr("node (5, 0) holds 31 bytes"));
}

TEST_F(NodeStoreReadTest, LowLevelsLoadedAfterOpenServeProofsFromMemory) {
  ASSERT_TRUE(store_->WaitLowLevelLoad() == false);  // never started
  store_->StartLowLevelLoad(kLeaves);
  ASSERT_TRUE(store_->WaitLowLevelLoad());
  // Remove every stored node of the loaded levels: proofs still verify, so
  // they came from memory.
  rocksdb::WriteBatch w;
  for (uint32_t l = NodeStore::kLowCacheMinLevel; l < NodeStore::kCacheMinLevel; ++l) {
    for (uint64_t i = 0; i < (kLeaves >> l); ++i) w.Delete(db_->handle(Cf::kNodes), NodeKey({l, i}));
  }
  ASSERT_TRUE(db_->Write(&w, /*sync=*/false).ok());
  const std::string root = RootAt(kLeaves);
  for (uint64_t index = 0; index < kLeaves; index += 3) {
    absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, index, kLeaves);
    ASSERT_TRUE(proof.ok()) << "index " << index << ": " << proof.status();
    EXPECT_TRUE(merkle::VerifyInclusion(index, kLeaves, leaf_hashes_[index], *proof, root).ok())
        << "index " << index;
  }
  // A level below the loaded ones has no rows: hashed from the entries
  // (the last, incomplete tile's 8).
  const merkle::NodeId last_tile_node{NodeStore::kLowCacheMinLevel - 1,
                                      kLeaves / NodeStore::kTileLeaves * 2};  // (3, 124)
  EXPECT_EQ(store_->GetNode(last_tile_node).value_or(""), (nodes_[{3, 124}]));
}

TEST_F(NodeStoreReadTest, MalformedLowLevelNodeStopsTheLoadAndIsStillReported) {
  ASSERT_TRUE(db_->rocks()
                  ->Put(rocksdb::WriteOptions(), db_->handle(Cf::kNodes), NodeKey({5, 7}),
                        std::string(33, 'x'))
                  .ok());
  store_->StartLowLevelLoad(kLeaves);
  EXPECT_FALSE(store_->WaitLowLevelLoad());
  // Node (5, 7) covers leaves [224, 256): on the path of leaf 200.
  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, 200, kLeaves);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(proof.status().message(), HasSubstr("node (5, 7) holds 33 bytes"));
}

}  // namespace
}  // namespace trialog::storage
