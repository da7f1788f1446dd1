// NodeStore's proof read path (the nodes below the in-memory levels read
// from a real RocksDB, one Get each). The stored
// nodes are computed here with SHA-256 directly (RFC 6962 §2.1), not with
// core/merkle's hasher, and every proof is checked with core/merkle's
// verifier against core/merkle's reference root of the leaf hashes.

#include "storage/node_store.h"

#include <memory>
#include <string>
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

// A store holding entries 0..kLeaves-1 and every perfect node of level >= 1,
// written here as the schema says.
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
    for (uint32_t l = 1; level.size() >= 2; ++l) {
      std::vector<std::string> up;
      for (size_t i = 0; i + 1 < level.size(); i += 2) {
        up.push_back(crypto::Sha256(std::string(1, '\x01'), level[i] + level[i + 1]));
        w.Put(db_->handle(Cf::kNodes), NodeKey({l, i / 2}), up.back());
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
                  ->Delete(rocksdb::WriteOptions(), db_->handle(Cf::kNodes), NodeKey({3, 5}))
                  .ok());
  // Leaf 40 = node (3, 5)'s leaves [40, 48); the proof of leaf 32 needs it.
  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, 32, kLeaves);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(proof.status().message(), HasSubstr("node (3, 5)"));
}

TEST_F(NodeStoreReadTest, ProofNamesAMissingEntry) {
  ASSERT_TRUE(db_->rocks()
                  ->Delete(rocksdb::WriteOptions(), db_->handle(Cf::kEntries), EntryKey(33))
                  .ok());
  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, 32, kLeaves);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(proof.status().message(), HasSubstr("entry 33 is missing"));
}

TEST_F(NodeStoreReadTest, ProofRefusesAMalformedNode) {
  ASSERT_TRUE(db_->rocks()
                  ->Put(rocksdb::WriteOptions(), db_->handle(Cf::kNodes), NodeKey({2, 9}),
                        std::string(31, 'x'))
                  .ok());
  // Node (2, 9) covers leaves [36, 40): a sibling on leaf 32's path.
  absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(*store_, 32, kLeaves);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(proof.status().message(), HasSubstr("node (2, 9) holds 31 bytes"));
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
  // A level below the loaded ones still comes from RocksDB.
  ASSERT_TRUE(db_->rocks()
                  ->Delete(rocksdb::WriteOptions(), db_->handle(Cf::kNodes),
                           NodeKey({NodeStore::kLowCacheMinLevel - 1, 1}))
                  .ok());
  EXPECT_EQ(store_->GetNode({NodeStore::kLowCacheMinLevel - 1, 1}).status().code(),
            absl::StatusCode::kNotFound);
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
