// The storage layout (keys documented in storage/schema.h), the RocksDB →
// absl status mapping, and the node store checked against published Merkle
// vectors (golang.org/x/mod/sumdb/tlog and transparency-dev/merkle).

#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rocksdb/db.h"
#include "rocksdb/status.h"
#include "rocksdb/write_batch.h"
#include "storage/node_store.h"
#include "storage/rocks_status.h"
#include "storage/schema.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

nlohmann::json LoadVectors(const std::string& relative) {
  std::ifstream in(std::string(TRIALOG_VECTORS_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << "missing vector file " << relative;
  return nlohmann::json::parse(in);
}

std::string FromBase64(const std::string& b64) {
  absl::StatusOr<std::string> bytes = Base64Decode(b64);
  EXPECT_TRUE(bytes.ok()) << b64;
  return bytes.ok() ? *bytes : std::string();
}

TEST(SchemaTest, KeysAreBigEndianAndOrdered) {
  EXPECT_EQ(HexEncode(EntryKey(0x0102)), "0000000000000102");
  EXPECT_EQ(HexEncode(NodeKey({3, 5})), "000000030000000000000005");
  EXPECT_EQ(StreamKey("s/A", 2), std::string("s/A\0\0\0\0\0\0\0\0\x02", 12));
  EXPECT_EQ(StreamPrefix("s/A"), std::string("s/A\0", 4));
  EXPECT_LT(EntryKey(255), EntryKey(256));
  EXPECT_LT(NodeKey({0, ~uint64_t{0}}), NodeKey({1, 0}));
  // One stream's keys never interleave with a longer stream id's.
  EXPECT_LT(StreamKey("s/A", ~uint64_t{0}), StreamKey("s/AB", 0));

  absl::StatusOr<merkle::NodeId> id = DecodeNodeKey(NodeKey({7, 99}));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, (merkle::NodeId{7, 99}));
  EXPECT_EQ(*DecodeEntryKey(EntryKey(42)), 42u);
  EXPECT_EQ(DecodeEntryKey("short").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeNodeKey("short").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeU64Value("1234567", "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(CheckHashValue(std::string(31, 'a'), "x").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ValidateStreamId(std::string("a\0b", 3)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateStreamId("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateStreamId("subject/RU-01-0007").ok());
}

TEST(RocksStatusTest, MapsEveryCode) {
  struct Case {
    rocksdb::Status in;
    absl::StatusCode want;
  };
  const Case cases[] = {
      {rocksdb::Status::NotFound("k"), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption("block checksum mismatch"), absl::StatusCode::kDataLoss},
      {rocksdb::Status::NotSupported("x"), absl::StatusCode::kUnimplemented},
      {rocksdb::Status::InvalidArgument("x"), absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::IOError("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::NoSpace("x"), absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::TimedOut("x"), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::Aborted("x"), absl::StatusCode::kAborted},
      {rocksdb::Status::Busy("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Incomplete("x"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::MergeInProgress("x"), absl::StatusCode::kInternal},
      {rocksdb::Status::ColumnFamilyDropped("x"), absl::StatusCode::kFailedPrecondition},
  };
  for (const Case& c : cases) {
    absl::Status s = FromRocks(c.in, "doing it");
    EXPECT_EQ(s.code(), c.want) << c.in.ToString();
    EXPECT_EQ(s.message(), absl::StrCat("doing it: ", c.in.ToString()));
  }
  EXPECT_TRUE(FromRocks(rocksdb::Status::OK(), "x").ok());
}

// Writes a tree over the leaf data `leaves` into `db` as the sequencer does
// (format 4): each leaf's data as its entries row, the perfect nodes of
// levels >= kStoredNodeMinLevel in nodes; one WriteBatch per `batch` leaves.
void StoreTree(Db& db, const std::vector<std::string>& leaves, size_t batch) {
  merkle::CompactTree tree;
  rocksdb::WriteBatch w;
  for (size_t i = 0; i < leaves.size(); ++i) {
    w.Put(db.handle(Cf::kEntries), rocksdb::Slice(EntryKey(i)), rocksdb::Slice(leaves[i]));
    tree.Append(merkle::HashLeaf(leaves[i]), [&](merkle::NodeId id, absl::string_view h) {
      if (id.level < kStoredNodeMinLevel) return;
      const std::string key = NodeKey(id);
      w.Put(db.handle(Cf::kNodes), rocksdb::Slice(key), rocksdb::Slice(h.data(), h.size()));
    });
    if ((i + 1) % batch == 0 || i + 1 == leaves.size()) {
      ASSERT_TRUE(db.Write(&w, /*sync=*/false).ok());
      w.Clear();
    }
  }
}

TEST(NodeStoreTest, ProofsFromStoredNodesMatchTlogVectors) {
  const nlohmann::json doc = LoadVectors("merkle/tlog-generated-bytes-1..64.json");
  testing::TempDir tmp;
  absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(DbOptions{tmp.path() + "/db"});
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<std::string> leaves;
  for (const auto& leaf : doc["leaves"]) {
    absl::StatusOr<std::string> data = HexDecode(leaf["dataHex"].get<std::string>());
    ASSERT_TRUE(data.ok());
    leaves.push_back(*data);
    EXPECT_EQ(merkle::HashLeaf(*data), FromBase64(leaf["leafHash"]));
  }
  ASSERT_EQ(leaves.size(), 64u);
  StoreTree(**db, leaves, 5);
  NodeStore nodes(db->get());
  ASSERT_TRUE(nodes.Load(64).ok());

  for (const auto& r : doc["roots"]) {
    absl::StatusOr<std::string> root = merkle::RootAt(nodes, r["size"].get<uint64_t>());
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(*root, FromBase64(r["root"])) << "size " << r["size"];
  }
  int checked = 0;
  for (const auto& t : doc["inclusion"]) {
    absl::StatusOr<std::vector<std::string>> proof =
        merkle::InclusionProof(nodes, t["leafIdx"].get<uint64_t>(), t["treeSize"].get<uint64_t>());
    ASSERT_TRUE(proof.ok()) << proof.status();
    std::vector<std::string> want;
    for (const auto& h : t["proof"]) want.push_back(FromBase64(h));
    EXPECT_EQ(*proof, want) << "leaf " << t["leafIdx"] << " size " << t["treeSize"];
    ++checked;
  }
  for (const auto& t : doc["consistency"]) {
    absl::StatusOr<std::vector<std::string>> proof =
        merkle::ConsistencyProof(nodes, t["size1"].get<uint64_t>(), t["size2"].get<uint64_t>());
    ASSERT_TRUE(proof.ok()) << proof.status();
    std::vector<std::string> want;
    for (const auto& h : t["proof"]) want.push_back(FromBase64(h));
    EXPECT_EQ(*proof, want) << t["size1"] << " -> " << t["size2"];
    ++checked;
  }
  EXPECT_EQ(checked, 4160);
  EXPECT_EQ(nodes.GetNode({0, 64}).status().code(), absl::StatusCode::kNotFound);
}

TEST(NodeStoreTest, CachedUpperLevelsGiveGoldenRootsOfBigTrees) {
  const nlohmann::json doc = LoadVectors("merkle/compact-range-golden-roots.json");
  uint64_t max_size = 0;
  for (const auto& v : doc["vectors"]) max_size = std::max(max_size, v["size"].get<uint64_t>());
  ASSERT_GE(max_size, 1u << 12);  // deep enough for the cached levels (>= 8)
  std::vector<std::string> leaves;
  for (uint64_t i = 0; i < max_size; ++i) {
    const char data[2] = {static_cast<char>(i & 0xff), static_cast<char>((i >> 8) & 0xff)};
    leaves.push_back(std::string(data, 2));
  }
  testing::TempDir tmp;
  absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(DbOptions{tmp.path() + "/db"});
  ASSERT_TRUE(db.ok()) << db.status();
  StoreTree(**db, leaves, 1000);

  NodeStore loaded(db->get());  // upper levels from memory
  ASSERT_TRUE(loaded.Load(max_size).ok());
  NodeStore cold(db->get());    // everything from RocksDB
  for (const auto& v : doc["vectors"]) {
    const uint64_t size = v["size"].get<uint64_t>();
    if (size == 0) continue;
    const std::string want = FromBase64(v["root"]);
    absl::StatusOr<std::string> a = merkle::RootAt(loaded, size);
    absl::StatusOr<std::string> b = merkle::RootAt(cold, size);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, want) << "size " << size;
    EXPECT_EQ(*b, want) << "size " << size;
  }
  // A node removed from the store is reported on Load.
  ASSERT_TRUE((*db)->rocks()->Delete(rocksdb::WriteOptions(), (*db)->handle(Cf::kNodes),
                                     rocksdb::Slice(NodeKey({9, 3}))).ok());
  NodeStore broken(db->get());
  absl::Status s = broken.Load(max_size);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("node (9, 3)"), absl::string_view::npos) << s;
}


// RFC 6962 MTH(D[begin:end]) straight from the definition (split at the
// largest power of two below n), independent of merkle::CompactTree.
std::string ReferenceRoot(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return merkle::HashChildren(ReferenceRoot(leaves, begin, begin + k),
                              ReferenceRoot(leaves, begin + k, end));
}

// The sequencer's path: nodes written to RocksDB and, once durable,
// published to the node store, whose recent window (levels below
// kCacheMinLevel) must serve fresh nodes and drop old ones.
TEST(NodeStoreTest, RecentWindowServesFreshNodesAndOlderOnesComeFromRocksDb) {
  testing::TempDir tmp;
  absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(DbOptions{tmp.path() + "/db"});
  ASSERT_TRUE(db.ok()) << db.status();
  const uint64_t n = 2 * NodeStore::kRecentLeaves + 4099;  // past the first trim
  std::vector<std::string> leaves;
  leaves.reserve(n);
  for (uint64_t i = 0; i < n; ++i) leaves.push_back(merkle::HashLeaf(absl::StrCat("leaf ", i)));
  NodeStore nodes(db->get());
  ASSERT_TRUE(nodes.Load(0).ok());
  merkle::CompactTree tree;
  rocksdb::WriteBatch w;
  std::vector<std::pair<merkle::NodeId, std::string>> published;
  for (uint64_t i = 0; i < n; ++i) {
    w.Put((*db)->handle(Cf::kEntries), rocksdb::Slice(EntryKey(i)),
          rocksdb::Slice(absl::StrCat("leaf ", i)));
    tree.Append(leaves[i], [&](merkle::NodeId id, absl::string_view h) {
      if (id.level >= kStoredNodeMinLevel) {  // lower nodes are not stored (format 4)
        const std::string key = NodeKey(id);
        w.Put((*db)->handle(Cf::kNodes), rocksdb::Slice(key), rocksdb::Slice(h.data(), h.size()));
      }
      published.emplace_back(id, std::string(h));
    });
    if ((i + 1) % 512 == 0 || i + 1 == n) {
      ASSERT_TRUE((*db)->Write(&w, /*sync=*/false).ok());
      w.Clear();
      nodes.Publish(published);
      published.clear();
    }
  }
  const std::string root = ReferenceRoot(leaves, 0, n);
  ASSERT_EQ(merkle::RootAt(nodes, n).value_or(""), root);
  for (uint64_t index : {uint64_t{0}, uint64_t{77}, NodeStore::kRecentLeaves - 1,
                         NodeStore::kRecentLeaves, n - 70000, n - 513, n - 2, n - 1}) {
    absl::StatusOr<std::vector<std::string>> proof = merkle::InclusionProof(nodes, index, n);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_TRUE(merkle::VerifyInclusion(index, n, leaves[index], *proof, root).ok())
        << "index " << index;
  }
  // With the entry rows gone from RocksDB, a fresh leaf is still served
  // (from memory), and a leaf trimmed from the window (in a tile no proof
  // above hashed) is not.
  const merkle::NodeId fresh{0, n - 1}, old{0, 40};
  for (merkle::NodeId id : {fresh, old}) {
    ASSERT_TRUE((*db)->rocks()->Delete(rocksdb::WriteOptions(), (*db)->handle(Cf::kEntries),
                                       EntryKey(id.index)).ok());
  }
  EXPECT_EQ(nodes.GetNode(fresh).value_or(""), leaves[n - 1]);
  EXPECT_EQ(nodes.GetNode(old).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace trialog::storage
