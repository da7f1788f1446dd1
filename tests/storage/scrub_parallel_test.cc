// The scrub / replay walk reads, parses and hashes entries on several
// feed threads (ScrubOptions::workers). Its report and the entries it
// delivers must not depend on how many: for every kind of damage the
// damage tests plant, one feed thread and several name the same first bad
// index and kind (the planted one) and give the same full report; on a
// healthy store every entry is delivered once, in index order, and the
// projections folded from them equal the ones built while appending.
//
// The store has 2,600 entries, so the walk spans several of the feed's
// blocks (512 entries) and the damage is planted in blocks other than the
// first, including at block boundaries.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/ledger/registry.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/checkpointer.h"
#include "storage/schema.h"
#include "storage/scrub.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using namespace ::trialog::storage::testing;  // NOLINT

constexpr uint64_t kSize = 2600;

// What one walk produced.
struct Walked {
  ScrubReport report;
  std::vector<uint64_t> delivered;  // on_entry's indexes, in call order
  std::string rules_digest;         // NoteRules folded from on_entry
  std::string registry_state;       // PrincipalRegistry folded from on_entry
};

Walked Walk(const Db& db, const Checkpointer& cp, int workers, bool stop_at_first) {
  Walked w;
  NoteRules rules;
  ledger::PrincipalRegistry registry;
  ScrubOptions o;
  o.workers = workers;
  o.stop_at_first = stop_at_first;
  o.on_entry = [&](const ledger::ParsedEntry& e) {
    w.delivered.push_back(e.entry.index());
    rules.Apply(e);
    registry.Apply(e);
  };
  absl::StatusOr<ScrubReport> r = ScrubStore(db, cp, o);
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) w.report = *std::move(r);
  w.rules_digest = rules.digest();
  w.registry_state = registry.SaveState();
  return w;
}

std::string Describe(const ScrubReport& r) {
  std::string s = absl::StrCat("size ", r.size, " entries ", r.entries_checked, " nodes ",
                               r.nodes_checked, " damages ", r.damage_count, "\n");
  for (const Damage& d : r.damages) {
    absl::StrAppend(&s, d.index, " ", DamageKindName(d.kind), ": ", d.detail, "\n");
  }
  return s;
}

// Whether `r` reports damage of `kind` at `index` (not necessarily first).
bool Reports(const ScrubReport& r, DamageKind kind, uint64_t index) {
  for (const Damage& d : r.damages) {
    if (d.kind == kind && d.index == index) return true;
  }
  return false;
}

// A closed ledger of kSize entries, built once and copied for every case.
class ScrubParallelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    built_ = new LedgerHarness();
    LedgerHarness& h = *built_;
    ASSERT_TRUE(h.Open().ok());
    ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
    std::vector<Admitted> batch;
    for (uint64_t i = 1; i < kSize; ++i) {
      batch.push_back(NoteEventUnverified(h.admin, absl::StrCat("subject/S", i % 13), absl::StrCat(i)));
      if (batch.size() == 300 || i + 1 == kSize) {
        for (const auto& r : h.ledger->AppendAll(std::move(batch))) ASSERT_TRUE(r.ok());
        batch.clear();
      }
    }
    ASSERT_EQ(h.ledger->size(), kSize);
    live_digest_ = new std::string(h.rules->digest());
    live_registry_ = new std::string(h.registry->SaveState());
    h.Shut();
  }
  static void TearDownTestSuite() {
    delete built_;
    delete live_digest_;
    delete live_registry_;
  }

  // A copy of the built store, opened raw.
  std::unique_ptr<Db> Copy() {
    const std::string dir = tmp_.path() + "/copy";
    std::filesystem::copy(built_->dir, dir, std::filesystem::copy_options::recursive);
    return OpenRawDb(dir);
  }
  Checkpointer MakeCheckpointer() {
    absl::StatusOr<Checkpointer> cp = Checkpointer::Create(&built_->signer, "");
    EXPECT_TRUE(cp.ok());
    return *std::move(cp);
  }

  // Walks `db` with 1, 2 and 3 feed threads, with and without
  // stop_at_first; every report must equal the 1-thread one. Returns the
  // 1-thread full report.
  ScrubReport WalkAll(const Db& db) {
    const Checkpointer cp = MakeCheckpointer();
    ScrubReport full;
    for (const bool stop : {false, true}) {
      const Walked one = Walk(db, cp, 1, stop);
      for (const int workers : {2, 3}) {
        SCOPED_TRACE(absl::StrCat("workers ", workers, " stop_at_first ", stop));
        const Walked many = Walk(db, cp, workers, stop);
        EXPECT_EQ(Describe(many.report), Describe(one.report));
        EXPECT_EQ(many.delivered, one.delivered);
        EXPECT_EQ(many.rules_digest, one.rules_digest);
        EXPECT_EQ(many.registry_state, one.registry_state);
      }
      if (!stop) full = one.report;
      // Entries are delivered in order, from 0, and not all of them when
      // there is damage (a node's damage is found when its last leaf is
      // folded, so the entries below it are delivered first; damage beyond
      // the signed size is found after the last entry).
      for (size_t k = 0; k < one.delivered.size(); ++k) EXPECT_EQ(one.delivered[k], k);
      if (!one.report.ok() && one.report.first().index < kSize) {
        EXPECT_LT(one.delivered.size(), kSize);
      }
    }
    return full;
  }

  void Put(Db& db, Cf cf, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db.rocks()->Put(rocksdb::WriteOptions(), db.handle(cf), key, value).ok());
  }
  void Delete(Db& db, Cf cf, const std::string& key) {
    ASSERT_TRUE(db.rocks()->Delete(rocksdb::WriteOptions(), db.handle(cf), key).ok());
  }
  std::string Entry(Db& db, uint64_t i) {
    absl::StatusOr<std::string> bytes = db.Get(Cf::kEntries, EntryKey(i));
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::string();
  }
  void ExpectFirst(const ScrubReport& r, uint64_t index, DamageKind kind) {
    ASSERT_FALSE(r.ok()) << "damage not found";
    EXPECT_EQ(r.first().index, index) << Describe(r);
    EXPECT_EQ(r.first().kind, kind) << Describe(r);
  }

  static LedgerHarness* built_;
  static std::string* live_digest_;
  static std::string* live_registry_;
  TempDir tmp_;
};
LedgerHarness* ScrubParallelTest::built_ = nullptr;
std::string* ScrubParallelTest::live_digest_ = nullptr;
std::string* ScrubParallelTest::live_registry_ = nullptr;

TEST_F(ScrubParallelTest, HealthyStoreDeliversEveryEntryInOrderWithTheLiveProjections) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  const Checkpointer cp = MakeCheckpointer();
  for (const int workers : {1, 2, 3, 0}) {
    SCOPED_TRACE(workers);
    const Walked w = Walk(*db, cp, workers, /*stop_at_first=*/true);
    EXPECT_TRUE(w.report.ok()) << Describe(w.report);
    EXPECT_EQ(w.report.entries_checked, kSize);
    ASSERT_EQ(w.delivered.size(), kSize);
    for (uint64_t i = 0; i < kSize; ++i) ASSERT_EQ(w.delivered[i], i);
    // The projections a replay folds equal the ones built while appending.
    EXPECT_EQ(w.rules_digest, *live_digest_);
    EXPECT_EQ(w.registry_state, *live_registry_);
  }
}

TEST_F(ScrubParallelTest, FlippedEntryByte) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  std::string bytes = Entry(*db, 1100);
  bytes.back() ^= 0x01;  // in the envelope signature: still parses
  Put(*db, Cf::kEntries, EntryKey(1100), bytes);
  ExpectFirst(WalkAll(*db), 1100, DamageKind::kHashMismatch);
}

TEST_F(ScrubParallelTest, UnparsableEntryAtABlockStart) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  Put(*db, Cf::kEntries, EntryKey(1024), "not an entry");
  ExpectFirst(WalkAll(*db), 1024, DamageKind::kUnparsableEntry);
}

TEST_F(ScrubParallelTest, DeletedEntryAtABlockEnd) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  Delete(*db, Cf::kEntries, EntryKey(1535));
  ExpectFirst(WalkAll(*db), 1535, DamageKind::kMissingEntry);
}

TEST_F(ScrubParallelTest, SwappedEntries) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  const std::string a = Entry(*db, 511), b = Entry(*db, 512);
  Put(*db, Cf::kEntries, EntryKey(511), b);
  Put(*db, Cf::kEntries, EntryKey(512), a);
  // Entry 511 is under node (9, 0), which no longer rebuilds: the damage
  // at the lowest index is that node's, at its first leaf.
  const ScrubReport r = WalkAll(*db);
  ExpectFirst(r, 0, DamageKind::kNodeMismatch);
  EXPECT_TRUE(Reports(r, DamageKind::kChainBreak, 511)) << Describe(r);
  EXPECT_TRUE(Reports(r, DamageKind::kChainBreak, 512)) << Describe(r);
}

TEST_F(ScrubParallelTest, ChangedInteriorNode) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Get(Cf::kNodes, NodeKey({4, 75})).ok());
  Put(*db, Cf::kNodes, NodeKey({4, 75}), std::string(32, '\xab'));  // entries 1200..1215
  ExpectFirst(WalkAll(*db), 1200, DamageKind::kNodeMismatch);
}

TEST_F(ScrubParallelTest, MissingNode) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Get(Cf::kNodes, NodeKey({4, 112})).ok());
  Delete(*db, Cf::kNodes, NodeKey({4, 112}));  // entries 1792..1807
  ExpectFirst(WalkAll(*db), 1792, DamageKind::kMissingNode);
}

TEST_F(ScrubParallelTest, ChangedLastEntry) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  std::string bytes = Entry(*db, kSize - 1);
  bytes.back() ^= 0x04;
  Put(*db, Cf::kEntries, EntryKey(kSize - 1), bytes);
  ExpectFirst(WalkAll(*db), kSize - 1, DamageKind::kHashMismatch);
}

TEST_F(ScrubParallelTest, EntryBeyondTheSignedSize) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  Put(*db, Cf::kEntries, EntryKey(kSize), Entry(*db, 7));
  ExpectFirst(WalkAll(*db), kSize, DamageKind::kMetaMismatch);
}

TEST_F(ScrubParallelTest, SeveralDamagesInSeveralBlocks) {
  std::unique_ptr<Db> db = Copy();
  ASSERT_NE(db, nullptr);
  Delete(*db, Cf::kEntries, EntryKey(2100));
  Put(*db, Cf::kEntries, EntryKey(1600), "garbage");
  std::string bytes = Entry(*db, 700);
  bytes.back() ^= 0x01;
  Put(*db, Cf::kEntries, EntryKey(700), bytes);
  const ScrubReport r = WalkAll(*db);
  ExpectFirst(r, 700, DamageKind::kHashMismatch);
  EXPECT_TRUE(Reports(r, DamageKind::kMissingEntry, 2100)) << Describe(r);
  EXPECT_TRUE(Reports(r, DamageKind::kUnparsableEntry, 1600)) << Describe(r);
}

}  // namespace
}  // namespace trialog::storage
