// Damage: values changed directly in RocksDB behind the ledger's back are
// found when the ledger opens and by Scrub, which name the first bad index
// and the kind of damage. Also: a failing disk puts the ledger into a
// failed state until it is reopened.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/write_batch.h"
#include "storage/ledger.h"
#include "storage/schema.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using ::testing::HasSubstr;
using namespace ::trialog::storage::testing;  // NOLINT

constexpr uint64_t kSize = 40;

// A ledger of kSize entries (genesis + notes on two streams, several
// batches), closed.
void Build(LedgerHarness& h, uint64_t size = kSize) {
  ASSERT_TRUE(h.Open().ok());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  std::vector<Admitted> batch;
  for (uint64_t i = 1; i < size; ++i) {
    batch.push_back(NoteEvent(h.admin, i % 2 ? "subject/A" : "subject/B", absl::StrCat(i)));
    if (batch.size() == 7 || i + 1 == size) {
      for (const auto& r : h.ledger->AppendAll(std::move(batch))) ASSERT_TRUE(r.ok());
      batch.clear();
    }
  }
  ASSERT_EQ(h.ledger->size(), size);
  h.Shut();
}

void Put(Db& db, Cf cf, const std::string& key, const std::string& value) {
  ASSERT_TRUE(db.rocks()->Put(rocksdb::WriteOptions(), db.handle(cf), key, value).ok());
}
void Delete(Db& db, Cf cf, const std::string& key) {
  ASSERT_TRUE(db.rocks()->Delete(rocksdb::WriteOptions(), db.handle(cf), key).ok());
}

// The open error (refused), then a damaged-mode open's Scrub report.
struct Findings {
  absl::Status open;
  ScrubReport scrub;
};
Findings Inspect(LedgerHarness& h) {
  Findings f;
  f.open = h.Open();
  EXPECT_FALSE(f.open.ok()) << "damage not found on open";
  LedgerOptions o;
  o.refuse_damaged = false;
  absl::Status damaged = h.Open(o);
  EXPECT_TRUE(damaged.ok()) << damaged;
  if (!damaged.ok()) return f;
  EXPECT_FALSE(h.ledger->health().ok());
  absl::StatusOr<AppendResult> refused = h.ledger->Append(NoteEvent(h.admin, "subject/A", "x"));
  EXPECT_EQ(refused.status().code(), h.ledger->health().code());
  absl::StatusOr<ScrubReport> report = h.ledger->Scrub();
  EXPECT_TRUE(report.ok()) << report.status();
  if (report.ok()) f.scrub = *std::move(report);
  EXPECT_FALSE(f.scrub.ok()) << "damage not found by Scrub";
  h.Shut();
  return f;
}

TEST(DamageTest, HealthyLedgerScrubsClean) {
  LedgerHarness h;
  Build(h);
  ASSERT_TRUE(h.Open().ok());
  uint64_t last_done = 0, last_total = 0;
  absl::StatusOr<ScrubReport> r = h.ledger->Scrub([&](uint64_t done, uint64_t total) {
    last_done = done;
    last_total = total;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok()) << r->ToStatus();
  EXPECT_EQ(r->size, kSize);
  EXPECT_EQ(r->entries_checked, kSize);
  // Stored perfect nodes of a 40-leaf tree (levels >= kStoredNodeMinLevel
  // = 4): (4, 0), (4, 1) and (5, 0).
  EXPECT_EQ(r->nodes_checked, 3u);
  EXPECT_EQ(last_done, kSize);
  EXPECT_EQ(last_total, kSize);
}

TEST(DamageTest, FlippedEntryByte) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    absl::StatusOr<std::string> bytes = db->Get(Cf::kEntries, EntryKey(17));
    ASSERT_TRUE(bytes.ok());
    bytes->back() ^= 0x01;  // last byte of the envelope signature
    Put(*db, Cf::kEntries, EntryKey(17), *bytes);
  }
  Findings f = Inspect(h);
  EXPECT_EQ(f.open.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("at index 17: hash mismatch"));
  EXPECT_THAT(std::string(f.open.message()), HasSubstr(h.dir));
  ASSERT_FALSE(f.scrub.ok());
  EXPECT_EQ(f.scrub.first().index, 17u);
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kHashMismatch);
  // Entry 18 no longer links to the changed entry 17.
  bool chain_break_at_18 = false;
  for (const Damage& d : f.scrub.damages) {
    chain_break_at_18 |= d.kind == DamageKind::kChainBreak && d.index == 18;
  }
  EXPECT_TRUE(chain_break_at_18);
}

TEST(DamageTest, ChangedInteriorNode) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    // Node (4, 1) covers entries 16..31 and is not on the 40-leaf border.
    ASSERT_TRUE(db->Get(Cf::kNodes, NodeKey({4, 1})).ok());
    Put(*db, Cf::kNodes, NodeKey({4, 1}), std::string(32, '\xab'));
  }
  Findings f = Inspect(h);
  EXPECT_EQ(f.open.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("at index 16: node mismatch"));
  ASSERT_FALSE(f.scrub.ok());
  EXPECT_EQ(f.scrub.damage_count, 1u);
  EXPECT_EQ(f.scrub.first().index, 16u);
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kNodeMismatch);
  EXPECT_THAT(f.scrub.first().detail, HasSubstr("node (4, 1)"));
}

TEST(DamageTest, WrongRowBelowLevel4IsReportedButNotRead) {
  // Format 4 writes no rows at levels 1-3; a store upgraded from format 3
  // keeps its old ones. When such a row is there it must be right, but
  // proofs hash the entries instead of reading it.
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    EXPECT_TRUE(absl::IsNotFound(db->Get(Cf::kNodes, NodeKey({2, 3})).status()));
    // Node (2, 3) covers entries 12..15 and is not on the 40-leaf border.
    Put(*db, Cf::kNodes, NodeKey({2, 3}), std::string(32, '\xab'));
  }
  Findings f = Inspect(h);
  EXPECT_EQ(f.open.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("at index 12: node mismatch"));
  ASSERT_FALSE(f.scrub.ok());
  EXPECT_EQ(f.scrub.damage_count, 1u);
  EXPECT_EQ(f.scrub.first().index, 12u);
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kNodeMismatch);
  EXPECT_THAT(f.scrub.first().detail, HasSubstr("node (2, 3)"));

  LedgerOptions o;
  o.refuse_damaged = false;
  ASSERT_TRUE(h.Open(o).ok());
  // Entry 9's proof needs node (2, 3): the one hashed from entries 12..15.
  absl::StatusOr<std::vector<std::string>> proof = h.ledger->InclusionProof(9, kSize);
  ASSERT_TRUE(proof.ok()) << proof.status();
  // The root of the 40 entries, hashed here from the entry rows alone.
  std::vector<std::string> leaves;
  for (uint64_t i = 0; i < kSize; ++i) {
    absl::StatusOr<std::string> e = h.ledger->ReadEntry(i);
    ASSERT_TRUE(e.ok()) << e.status();
    leaves.push_back(merkle::HashLeaf(*e));
  }
  EXPECT_TRUE(merkle::VerifyInclusion(9, kSize, leaves[9], *proof,
                                      merkle::RootFromLeafHashes(leaves)).ok());
  EXPECT_NE((*proof)[2], std::string(32, '\xab'));
}

TEST(DamageTest, ChangedBorderNode) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    // The border of 40 leaves is (5, 0), stored, and (3, 4), hashed from
    // entries 32..39.
    Put(*db, Cf::kNodes, NodeKey({5, 0}), std::string(32, '\x01'));
  }
  Findings f = Inspect(h);
  EXPECT_EQ(f.open.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("right-border nodes"));
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("entries [32, 40)"));
  ASSERT_FALSE(f.scrub.ok());
  EXPECT_EQ(f.scrub.first().index, 0u);
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kNodeMismatch);
  EXPECT_THAT(f.scrub.first().detail, HasSubstr("node (5, 0)"));
}

TEST(DamageTest, ChangedLastEntry) {
  // Nothing links to the last entry: its leaf hash is bound only by the
  // nodes above it and the signed root. 40 entries: the last is under node
  // (1, 19); 39: it is itself on the right border.
  for (const uint64_t size : {kSize, kSize - 1}) {
    SCOPED_TRACE(size);
    LedgerHarness h;
    Build(h, size);
    {
      std::unique_ptr<Db> db = h.OpenRaw();
      absl::StatusOr<std::string> bytes = db->Get(Cf::kEntries, EntryKey(size - 1));
      ASSERT_TRUE(bytes.ok());
      bytes->back() ^= 0x04;  // in the envelope signature: still parses
      Put(*db, Cf::kEntries, EntryKey(size - 1), *bytes);
    }
    Findings f = Inspect(h);
    EXPECT_EQ(f.open.code(), absl::StatusCode::kDataLoss);
    // The right border's nodes below level 4 are hashed from the entries
    // of the last tile, [32, size): the check of the signed root fails. At
    // open, a changed last entry cannot be told from a changed stored
    // border node (nothing links to it), so both are named; the scrub
    // below names the entry.
    EXPECT_THAT(std::string(f.open.message()), HasSubstr("right-border nodes"));
    EXPECT_THAT(std::string(f.open.message()),
                HasSubstr(absl::StrCat("one of entries [32, ", size, ")")));
    ASSERT_FALSE(f.scrub.ok());
    EXPECT_EQ(f.scrub.first().index, size - 1);
    EXPECT_EQ(f.scrub.first().kind, DamageKind::kHashMismatch);
  }
}

TEST(DamageTest, LeafRowsAreNotStoredAndNotRead) {
  // Format 4 keeps no node rows below level 4 (format 2 none at level 0):
  // a stray level-0 row changes nothing.
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    std::unique_ptr<rocksdb::Iterator> it = db->NewIterator(Cf::kNodes);
    it->Seek(NodeKey({0, 0}));
    ASSERT_TRUE(it->Valid());
    absl::StatusOr<merkle::NodeId> first = DecodeNodeKey(
        absl::string_view(it->key().data(), it->key().size()));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->level, kStoredNodeMinLevel);
    Put(*db, Cf::kNodes, NodeKey({0, 5}), std::string(32, '\x02'));
  }
  ASSERT_TRUE(h.Open().ok());
  absl::StatusOr<ScrubReport> r = h.ledger->Scrub();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ok()) << r->ToStatus();
  // The proof of entry 5 uses entry 4's real leaf hash.
  absl::StatusOr<std::vector<std::string>> proof = h.ledger->InclusionProof(5, kSize);
  ASSERT_TRUE(proof.ok());
  absl::StatusOr<std::string> e4 = h.ledger->ReadEntry(4);
  ASSERT_TRUE(e4.ok());
  EXPECT_EQ(proof->front(), merkle::HashLeaf(*e4));
}

TEST(DamageTest, DeletedEntry) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Delete(*db, Cf::kEntries, EntryKey(23));
  }
  Findings f = Inspect(h);
  EXPECT_EQ(f.open.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("at index 23: missing entry"));
  EXPECT_EQ(f.scrub.first().index, 23u);
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kMissingEntry);
}

TEST(DamageTest, DeletedLastEntry) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Delete(*db, Cf::kEntries, EntryKey(kSize - 1));
  }
  Findings f = Inspect(h);
  EXPECT_EQ(f.open.code(), absl::StatusCode::kDataLoss);
  // Its tile is the last, incomplete one, of the right border's low nodes.
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("entry 39 is not in the store"));
  EXPECT_EQ(f.scrub.first().index, kSize - 1);
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kMissingEntry);
}

TEST(DamageTest, SeveralDamagesNameTheFirst) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Delete(*db, Cf::kEntries, EntryKey(30));
    absl::StatusOr<std::string> bytes = db->Get(Cf::kEntries, EntryKey(12));
    ASSERT_TRUE(bytes.ok());
    (*bytes)[bytes->size() - 3] ^= 0x40;
    Put(*db, Cf::kEntries, EntryKey(12), *bytes);
  }
  Findings f = Inspect(h);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("at index 12: "));
  EXPECT_EQ(f.scrub.first().index, 12u);
  EXPECT_GE(f.scrub.damage_count, 2u);
  EXPECT_THAT(f.scrub.ToStatus().message(), HasSubstr("more problems"));
}

TEST(DamageTest, EntryBeyondSizeAndMetaChanges) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    absl::StatusOr<std::string> bytes = db->Get(Cf::kEntries, EntryKey(3));
    Put(*db, Cf::kEntries, EntryKey(kSize), *bytes);
  }
  Findings f = Inspect(h);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("beyond the signed size"));
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kMetaMismatch);
  EXPECT_EQ(f.scrub.first().index, kSize);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Delete(*db, Cf::kEntries, EntryKey(kSize));
    Put(*db, Cf::kMeta, std::string(kMetaFormat), std::string(kFormatVersion1));
  }
  // A format-1 store is refused with a clear error (also when not refusing damage).
  EXPECT_EQ(h.Open().code(), absl::StatusCode::kFailedPrecondition);
  LedgerOptions o;
  o.refuse_damaged = false;
  absl::Status s = h.Open(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("store format is \"trialog-storage/1\""));
}

TEST(DamageTest, ForgedCheckpointIsRefused) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    absl::StatusOr<std::string> note = db->Get(Cf::kMeta, std::string(kMetaCheckpoint));
    ASSERT_TRUE(note.ok());
    // Change the size line "40" to "41": the signature no longer verifies.
    const size_t at = note->find("\n40\n");
    ASSERT_NE(at, std::string::npos);
    (*note)[at + 2] = '1';
    Put(*db, Cf::kMeta, std::string(kMetaCheckpoint), *note);
  }
  Findings f = Inspect(h);
  EXPECT_EQ(f.open.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(f.open.message()), HasSubstr("checkpoint does not open"));
  EXPECT_EQ(f.scrub.first().kind, DamageKind::kBadCheckpoint);
}

TEST(DamageTest, IndexRowsAreCheckedByScrub) {
  LedgerHarness h;
  Build(h);
  std::string event_id;
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    absl::StatusOr<std::string> bytes = db->Get(Cf::kEntries, EntryKey(5));
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(*bytes);
    ASSERT_TRUE(e.ok());
    event_id = e->envelope.event_id();
    Delete(*db, Cf::kEventIds, event_id);
    // A streams row past subject/A's last version (20): it would make the
    // sequencer number the stream's next entry 101.
    Put(*db, Cf::kStreams, StreamKey("subject/A", 100), EncodeBigEndian64(5));
  }
  // Open does not read the index rows (documented); Scrub does.
  ASSERT_TRUE(h.Open().ok());
  absl::StatusOr<ScrubReport> r = h.ledger->Scrub();
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->first().index, 5u);
  EXPECT_EQ(r->first().kind, DamageKind::kIndexMismatch);
  EXPECT_EQ(r->damage_count, 2u);
  EXPECT_THAT(r->damages[1].detail,
              HasSubstr("streams has a row for stream subject/A version 100 but its last entry"));
}

TEST(DamageTest, ReadOnlyOpenSeesTheStoreAndWritesNothing) {
  LedgerHarness h;
  Build(h);
  DbOptions o;
  o.dir = h.dir;
  o.read_only = true;
  absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(o);
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<std::string> note = (*db)->Get(Cf::kMeta, std::string(kMetaCheckpoint));
  ASSERT_TRUE(note.ok());
  EXPECT_THAT(*note, HasSubstr("\n40\n"));
  rocksdb::WriteBatch w;
  w.Put((*db)->handle(Cf::kMeta), "x", "y");
  EXPECT_FALSE((*db)->Write(&w, true).ok());
  // No lock taken: the ledger opens beside it.
  ASSERT_TRUE(h.Open().ok());
  EXPECT_EQ(h.ledger->size(), kSize);
  o.dir = h.tmp.path() + "/absent";
  EXPECT_EQ(Db::Open(o).status().code(), absl::StatusCode::kNotFound);
}

// An Env whose WAL files fail every write once `fail` is set.
class FailingFile : public rocksdb::WritableFileWrapper {
 public:
  FailingFile(std::unique_ptr<rocksdb::WritableFile> target, std::atomic<bool>* fail)
      : rocksdb::WritableFileWrapper(target.get()), owned_(std::move(target)), fail_(fail) {}
  rocksdb::Status Append(const rocksdb::Slice& data) override {
    if (*fail_) return rocksdb::Status::IOError("injected fault: WAL append");
    return rocksdb::WritableFileWrapper::Append(data);
  }
  rocksdb::Status Append(const rocksdb::Slice& data,
                         const rocksdb::DataVerificationInfo& info) override {
    if (*fail_) return rocksdb::Status::IOError("injected fault: WAL append");
    return rocksdb::WritableFileWrapper::Append(data, info);
  }
  rocksdb::Status Sync() override {
    if (*fail_) return rocksdb::Status::IOError("injected fault: WAL sync");
    return rocksdb::WritableFileWrapper::Sync();
  }
  rocksdb::Status Fsync() override {
    if (*fail_) return rocksdb::Status::IOError("injected fault: WAL fsync");
    return rocksdb::WritableFileWrapper::Fsync();
  }

 private:
  std::unique_ptr<rocksdb::WritableFile> owned_;
  std::atomic<bool>* fail_;
};

class FailingEnv : public rocksdb::EnvWrapper {
 public:
  FailingEnv() : rocksdb::EnvWrapper(rocksdb::Env::Default()) {}
  const char* Name() const override { return "FailingEnv"; }
  rocksdb::Status NewWritableFile(const std::string& name,
                                  std::unique_ptr<rocksdb::WritableFile>* result,
                                  const rocksdb::EnvOptions& options) override {
    rocksdb::Status s = target()->NewWritableFile(name, result, options);
    if (s.ok() && absl::EndsWith(name, ".log")) {
      *result = std::make_unique<FailingFile>(std::move(*result), &fail);
    }
    return s;
  }
  std::atomic<bool> fail{false};
};

TEST(FaultTest, FailedWriteFailsTheLedgerUntilReopened) {
  LedgerHarness h;
  FailingEnv env;
  LedgerOptions o;
  o.env = &env;
  ASSERT_TRUE(h.Open(o).ok());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "s/A", "x")).ok());
  const std::string root = h.ledger->root();

  env.fail = true;
  std::vector<absl::StatusOr<AppendResult>> batch = h.ledger->AppendAll(
      {NoteEvent(h.admin, "s/A", "lost 1"), NoteEvent(h.admin, "s/A", "lost 2")});
  for (const auto& r : batch) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_THAT(r.status().message(), HasSubstr("injected fault"));
  }
  env.fail = false;  // even with the disk back, the ledger stays failed
  absl::StatusOr<AppendResult> after = h.ledger->Append(NoteEvent(h.admin, "s/A", "after"));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(after.status().message(), HasSubstr("until reopened"));
  EXPECT_EQ(h.ledger->size(), 4u);
  EXPECT_EQ(h.ledger->root(), root);
  h.Shut();

  ASSERT_TRUE(h.Open().ok());
  EXPECT_EQ(h.ledger->size(), 4u);
  EXPECT_EQ(h.ledger->root(), root);
  absl::StatusOr<AppendResult> again = h.ledger->Append(NoteEvent(h.admin, "s/A", "again"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->index, 4u);
  EXPECT_EQ(again->stream_version, 4u);
}

}  // namespace
}  // namespace trialog::storage
