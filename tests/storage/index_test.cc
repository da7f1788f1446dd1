// Deferred index rows (format 3, storage/indexer.h): the event_ids and
// streams rows are written after the synced batch, behind meta "indexed".
// A crash between the two leaves entries without rows; open must re-index
// them so that every lookup answers exactly as before (duplicates, stream
// reads, stream versions). Expected answers come from the stored entries
// themselves (parsed here), never from the index under test.

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/checkpointer.h"
#include "storage/indexer.h"
#include "storage/ledger.h"
#include "storage/schema.h"
#include "storage/scrub.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using ::testing::HasSubstr;
using namespace ::trialog::storage::testing;  // NOLINT

constexpr uint64_t kSize = 60;
const char* const kStreams[] = {"subject/A", "subject/B", "subject/C"};

// A ledger of kSize entries appended in batches of 9; returns every
// accepted envelope by index (for repeats). Closed on return.
std::vector<Admitted> Build(LedgerHarness& h) {
  std::vector<Admitted> all;
  EXPECT_TRUE(h.Open().ok());
  Admitted genesis = Genesis(h.admin);
  all.push_back(genesis);
  EXPECT_TRUE(h.ledger->Append(std::move(genesis)).ok());
  std::vector<Admitted> batch;
  for (uint64_t i = 1; i < kSize; ++i) {
    batch.push_back(NoteEvent(h.admin, kStreams[(i * 7) % 3], absl::StrCat("note ", i)));
    all.push_back(batch.back());
    if (batch.size() == 9 || i + 1 == kSize) {
      for (const auto& r : h.ledger->AppendAll(std::move(batch))) EXPECT_TRUE(r.ok()) << r.status();
      batch.clear();
    }
  }
  EXPECT_EQ(h.ledger->size(), kSize);
  h.Shut();
  return all;
}

void Put(Db& db, Cf cf, absl::string_view key, absl::string_view value) {
  ASSERT_TRUE(db.rocks()
                  ->Put(rocksdb::WriteOptions(), db.handle(cf),
                        rocksdb::Slice(key.data(), key.size()),
                        rocksdb::Slice(value.data(), value.size()))
                  .ok());
}
void Delete(Db& db, Cf cf, absl::string_view key) {
  ASSERT_TRUE(
      db.rocks()->Delete(rocksdb::WriteOptions(), db.handle(cf), rocksdb::Slice(key.data(), key.size())).ok());
}

// What the stored entries say: event id -> index, stream -> indexes by version.
struct Truth {
  std::map<std::string, uint64_t> event_ids;
  std::map<std::string, std::vector<uint64_t>> streams;
  std::vector<std::string> event_id_of;     // by index
  std::vector<std::string> stream_of;       // by index
  std::vector<uint64_t> version_of;         // by index
};
Truth ReadTruth(Db& db, uint64_t size) {
  Truth t;
  for (uint64_t i = 0; i < size; ++i) {
    absl::StatusOr<std::string> bytes = db.Get(Cf::kEntries, EntryKey(i));
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(*bytes);
    EXPECT_TRUE(e.ok()) << e.status();
    t.event_ids[e->envelope.event_id()] = i;
    std::vector<uint64_t>& s = t.streams[e->envelope.stream_id()];
    EXPECT_EQ(e->entry.stream_version(), s.size() + 1) << "entry " << i;
    s.push_back(i);
    t.event_id_of.push_back(e->envelope.event_id());
    t.stream_of.push_back(e->envelope.stream_id());
    t.version_of.push_back(e->entry.stream_version());
  }
  return t;
}

// The state a crash leaves when the index writes of entries [from, size)
// never reached the disk: their rows absent, meta "indexed" = from.
void LoseIndexTail(Db& db, const Truth& t, uint64_t from) {
  for (uint64_t i = from; i < t.event_id_of.size(); ++i) {
    Delete(db, Cf::kEventIds, t.event_id_of[i]);
    Delete(db, Cf::kStreams, StreamKey(t.stream_of[i], t.version_of[i]));
  }
  Put(db, Cf::kMeta, kMetaIndexed, EncodeBigEndian64(from));
}

void ExpectLookupsMatch(Ledger& ledger, const Truth& t) {
  for (const auto& [id, index] : t.event_ids) {
    absl::StatusOr<uint64_t> found = ledger.FindEventId(id);
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(*found, index);
  }
  for (const auto& [stream, indexes] : t.streams) {
    absl::StatusOr<std::vector<uint64_t>> got = ledger.StreamIndexes(stream, 1);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, indexes) << stream;
    absl::StatusOr<uint64_t> version = ledger.StreamVersion(stream);
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(*version, indexes.size()) << stream;
  }
}

TEST(DeferredIndexTest, NewStoreIsFormat4WithTheWatermarkAtTheSize) {
  LedgerHarness h;
  Build(h);
  std::unique_ptr<Db> db = h.OpenRaw();
  EXPECT_EQ(*db->Get(Cf::kMeta, kMetaFormat), "trialog-storage/4");
  absl::StatusOr<std::optional<uint64_t>> indexed = ReadIndexed(*db);
  ASSERT_TRUE(indexed.ok());
  ASSERT_TRUE(indexed->has_value());
  // Close drains the indexer: every entry has its rows.
  EXPECT_EQ(**indexed, kSize);
  const Truth t = ReadTruth(*db, kSize);
  for (const auto& [id, index] : t.event_ids) {
    absl::StatusOr<std::string> row = db->Get(Cf::kEventIds, id);
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(*row, EncodeBigEndian64(index));
  }
}

TEST(DeferredIndexTest, CrashBeforeTheIndexWriteIsRepairedOnOpen) {
  for (const uint64_t lost_from : {uint64_t{0}, uint64_t{1}, uint64_t{37}, kSize - 1}) {
    SCOPED_TRACE(absl::StrCat("index lost from ", lost_from));
    LedgerHarness h;
    const std::vector<Admitted> sent = Build(h);
    Truth t;
    {
      std::unique_ptr<Db> db = h.OpenRaw();
      t = ReadTruth(*db, kSize);
      LoseIndexTail(*db, t, lost_from);
    }
    ASSERT_TRUE(h.Open().ok());
    EXPECT_EQ(h.ledger->open_stats().reindexed_entries, kSize - lost_from);
    ExpectLookupsMatch(*h.ledger, t);

    // Every repeat of an acknowledged envelope (the lost tail included)
    // is a duplicate with its original index; a new envelope under a used
    // event id is ALREADY_EXISTS.
    std::vector<Admitted> repeats(sent.begin() + 1, sent.end());
    std::vector<absl::StatusOr<AppendResult>> answers = h.ledger->AppendAll(std::move(repeats));
    for (size_t k = 0; k < answers.size(); ++k) {
      ASSERT_TRUE(answers[k].ok()) << answers[k].status();
      EXPECT_TRUE(answers[k]->duplicate);
      EXPECT_EQ(answers[k]->index, k + 1);
    }
    absl::StatusOr<AppendResult> clash = h.ledger->Append(
        NoteEvent(h.admin, "subject/A", "other text", std::nullopt, t.event_id_of[kSize - 1]));
    EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(h.ledger->size(), kSize);

    // Stream versions continue from the re-indexed rows.
    const uint64_t b_version = t.streams["subject/B"].size();
    absl::StatusOr<AppendResult> stale =
        h.ledger->Append(NoteEvent(h.admin, "subject/B", "stale", b_version - 1));
    EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
    absl::StatusOr<AppendResult> next =
        h.ledger->Append(NoteEvent(h.admin, "subject/B", "next", b_version));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->stream_version, b_version + 1);

    absl::StatusOr<ScrubReport> scrub = h.ledger->Scrub();
    ASSERT_TRUE(scrub.ok());
    EXPECT_TRUE(scrub->ok()) << scrub->ToStatus();
    h.Shut();
    std::unique_ptr<Db> db = h.OpenRaw();
    EXPECT_EQ(**ReadIndexed(*db), kSize + 1);
  }
}

TEST(DeferredIndexTest, RepeatsRightAfterTheirBatchAreDuplicates) {
  // Repeats submitted while the first copies' index rows may still be
  // pending: answered from the indexer's pending map or the store alike.
  LedgerHarness h;
  ASSERT_TRUE(h.Open().ok());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  for (int round = 0; round < 20; ++round) {
    std::vector<Admitted> batch;
    for (int i = 0; i < 16; ++i) {
      batch.push_back(NoteEvent(h.admin, kStreams[i % 3], absl::StrCat(round, "/", i)));
    }
    std::vector<Admitted> again = batch;
    auto first = h.ledger->AppendAll(std::move(batch));
    auto second = h.ledger->AppendAll(std::move(again));
    for (size_t i = 0; i < first.size(); ++i) {
      ASSERT_TRUE(first[i].ok()) << first[i].status();
      ASSERT_TRUE(second[i].ok()) << second[i].status();
      EXPECT_FALSE(first[i]->duplicate);
      EXPECT_TRUE(second[i]->duplicate);
      EXPECT_EQ(second[i]->index, first[i]->index);
      EXPECT_EQ(second[i]->entry_bytes, first[i]->entry_bytes);
    }
  }
  EXPECT_EQ(h.ledger->size(), 1u + 20 * 16);
}

TEST(DeferredIndexTest, ScrubRequiresRowsBelowTheWatermarkOnly) {
  LedgerHarness h;
  Build(h);
  std::unique_ptr<Db> db = h.OpenRaw();
  const Truth t = ReadTruth(*db, kSize);
  absl::StatusOr<Checkpointer> cp = Checkpointer::Create(&h.signer, kOrigin);
  ASSERT_TRUE(cp.ok());
  auto scrub = [&] {
    ScrubOptions o;
    absl::StatusOr<ScrubReport> r = ScrubStore(*db, *cp, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *std::move(r) : ScrubReport{};
  };
  // Rows of entry 40 missing, watermark above it: damage at 40.
  Delete(*db, Cf::kEventIds, t.event_id_of[40]);
  Put(*db, Cf::kMeta, kMetaIndexed, EncodeBigEndian64(45));
  ScrubReport r = scrub();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first().index, 40u);
  EXPECT_EQ(r.first().kind, DamageKind::kIndexMismatch);
  EXPECT_THAT(r.first().detail, HasSubstr("is missing"));
  // Watermark at or below 40: a crash may leave those rows unwritten.
  Put(*db, Cf::kMeta, kMetaIndexed, EncodeBigEndian64(40));
  EXPECT_TRUE(scrub().ok());
  // But a row that is present must be right, watermark or not.
  Put(*db, Cf::kStreams, StreamKey(t.stream_of[50], t.version_of[50]), EncodeBigEndian64(7));
  r = scrub();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first().index, 50u);
  EXPECT_THAT(r.first().detail, HasSubstr("streams row"));
  // A watermark beyond the signed size, or none, is damage.
  Put(*db, Cf::kStreams, StreamKey(t.stream_of[50], t.version_of[50]), EncodeBigEndian64(50));
  Put(*db, Cf::kEventIds, t.event_id_of[40], EncodeBigEndian64(40));
  EXPECT_TRUE(scrub().ok());
  Put(*db, Cf::kMeta, kMetaIndexed, EncodeBigEndian64(kSize + 1));
  r = scrub();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.first().kind, DamageKind::kMetaMismatch);
  EXPECT_THAT(r.first().detail, HasSubstr("beyond the signed size"));
  Delete(*db, Cf::kMeta, kMetaIndexed);
  r = scrub();
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.first().detail, HasSubstr("meta \"indexed\" is missing"));
}

TEST(DeferredIndexTest, BadWatermarkRefusesTheOpen) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Put(*db, Cf::kMeta, kMetaIndexed, EncodeBigEndian64(kSize + 3));
  }
  absl::Status s = h.Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("meta \"indexed\" is 63, beyond the signed size 60"));
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Put(*db, Cf::kMeta, kMetaIndexed, "short");
  }
  s = h.Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("meta \"indexed\""));
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Delete(*db, Cf::kMeta, kMetaIndexed);
  }
  s = h.Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("meta \"indexed\" is missing"));
}

TEST(DeferredIndexTest, Format2StoreIsUpgradedInPlace) {
  LedgerHarness h;
  Build(h);
  Truth t;
  {
    // Format 2's shape: every index row present, no watermark.
    std::unique_ptr<Db> db = h.OpenRaw();
    t = ReadTruth(*db, kSize);
    Put(*db, Cf::kMeta, kMetaFormat, kFormatVersion2);
    Delete(*db, Cf::kMeta, kMetaIndexed);
  }
  ASSERT_TRUE(h.Open().ok());
  EXPECT_EQ(h.ledger->open_stats().reindexed_entries, 0u);
  ExpectLookupsMatch(*h.ledger, t);
  h.Shut();
  std::unique_ptr<Db> db = h.OpenRaw();
  EXPECT_EQ(*db->Get(Cf::kMeta, kMetaFormat), kFormatVersion);
  EXPECT_EQ(**ReadIndexed(*db), kSize);
}

// A format-3 store (node rows at levels 1-3 too) opened for writing becomes
// format 4: its old low rows stay and are still compared by Scrub, appends
// after the upgrade write none.
TEST(FormatUpgradeTest, Format3StoreIsUpgradedInPlaceAndKeepsItsLowRows) {
  LedgerHarness h;
  Build(h);
  {
    // Format 3's shape: every perfect node of levels 1-3 has a row too,
    // hashed here from the entry rows.
    std::unique_ptr<Db> db = h.OpenRaw();
    std::vector<std::string> level;
    for (uint64_t i = 0; i < kSize; ++i) level.push_back(merkle::HashLeaf(*db->Get(Cf::kEntries, EntryKey(i))));
    for (uint32_t l = 1; l < kStoredNodeMinLevel; ++l) {
      std::vector<std::string> up;
      for (size_t i = 0; i + 1 < level.size(); i += 2) {
        up.push_back(merkle::HashChildren(level[i], level[i + 1]));
        EXPECT_TRUE(absl::IsNotFound(db->Get(Cf::kNodes, NodeKey({l, i / 2})).status()));
        Put(*db, Cf::kNodes, NodeKey({l, i / 2}), up.back());
      }
      level = std::move(up);
    }
    Put(*db, Cf::kMeta, kMetaFormat, kFormatVersion3);
  }
  ASSERT_TRUE(h.Open().ok());
  absl::StatusOr<ScrubReport> r = h.ledger->Scrub();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok()) << r->ToStatus();
  // 30 + 15 + 7 low rows, (4, 0..2) and (5, 0).
  EXPECT_EQ(r->nodes_checked, 52u + 4);
  for (uint64_t i = kSize; i < 100; ++i) {
    ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, kStreams[i % 3], absl::StrCat("after ", i))).ok());
  }
  r = h.ledger->Scrub();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok()) << r->ToStatus();
  // The same 52 low rows; (4, 0..5), (5, 0..2), (6, 0).
  EXPECT_EQ(r->nodes_checked, 52u + 10);
  h.Shut();
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    EXPECT_EQ(*db->Get(Cf::kMeta, kMetaFormat), kFormatVersion);
    EXPECT_TRUE(db->Get(Cf::kNodes, NodeKey({1, 29})).ok());  // leaves 58, 59: before
    EXPECT_TRUE(absl::IsNotFound(db->Get(Cf::kNodes, NodeKey({1, 30})).status()));  // 60, 61
    // An old low row that changed is still found.
    Put(*db, Cf::kNodes, NodeKey({2, 5}), std::string(32, '\x07'));
  }
  LedgerOptions o;
  o.refuse_damaged = false;
  ASSERT_TRUE(h.Open(o).ok());
  r = h.ledger->Scrub();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->ok());
  EXPECT_EQ(r->first().kind, DamageKind::kNodeMismatch);
  EXPECT_EQ(r->first().index, 20u);
}

TEST(DeferredIndexTest, UnparsableEntryInTheUnindexedTailIsNamed) {
  LedgerHarness h;
  Build(h);
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    const Truth t = ReadTruth(*db, kSize);
    LoseIndexTail(*db, t, 50);
  }
  // Re-indexing reads only entries the open checks passed; an entry that
  // is damaged is found by those checks first (the chain replay), so the
  // open is refused naming it.
  {
    std::unique_ptr<Db> db = h.OpenRaw();
    Put(*db, Cf::kEntries, EntryKey(52), "\xff\xff not an entry");
  }
  absl::Status s = h.Open();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("52"));
}

// What the ledger's own entries say (read through the ledger, not the
// index under test).
Truth TruthFromEntries(const Ledger& ledger) {
  Truth t;
  for (uint64_t i = 0; i < ledger.size(); ++i) {
    absl::StatusOr<std::string> bytes = ledger.ReadEntry(i);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(*bytes);
    EXPECT_TRUE(e.ok()) << e.status();
    t.event_ids[e->envelope.event_id()] = i;
    t.streams[e->envelope.stream_id()].push_back(i);
    t.event_id_of.push_back(e->envelope.event_id());
    t.stream_of.push_back(e->envelope.stream_id());
    t.version_of.push_back(e->entry.stream_version());
  }
  return t;
}

// Every way to read a stream from the middle, and all streams at once.
void ExpectStreamReadsMatch(Ledger& ledger, const Truth& t) {
  std::vector<absl::string_view> ids;
  std::vector<uint64_t> want_versions;
  for (const auto& [stream, indexes] : t.streams) {
    ids.push_back(stream);
    want_versions.push_back(indexes.size());
    for (uint64_t from = 1; from <= indexes.size() + 1; from += 5) {
      for (size_t limit : {size_t{1}, size_t{4}, size_t{1000}}) {
        absl::StatusOr<std::vector<uint64_t>> got = ledger.StreamIndexes(stream, from, limit);
        ASSERT_TRUE(got.ok()) << got.status();
        std::vector<uint64_t> want(indexes.begin() + std::min<size_t>(from - 1, indexes.size()),
                                   indexes.end());
        if (want.size() > limit) want.resize(limit);
        EXPECT_EQ(*got, want) << stream << " from " << from << " limit " << limit;
      }
    }
  }
  ids.push_back("subject/none");  // a stream with no entries
  want_versions.push_back(0);
  ids.push_back(ids.front());     // a repeat
  want_versions.push_back(want_versions.front());
  absl::StatusOr<std::vector<uint64_t>> versions = ledger.StreamVersions(ids);
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(*versions, want_versions);
}

// Appends `batches` batches of `per_batch` notes over kStreams.
void AppendNotes(LedgerHarness& h, int batches, int per_batch, int tag) {
  for (int b = 0; b < batches; ++b) {
    std::vector<Admitted> batch;
    for (int i = 0; i < per_batch; ++i) {
      batch.push_back(NoteEvent(h.admin, kStreams[(b * per_batch + i) % 3],
                                absl::StrCat(tag, "/", b, "/", i)));
    }
    for (const auto& r : h.ledger->AppendAll(std::move(batch))) ASSERT_TRUE(r.ok()) << r.status();
  }
}

TEST(IndexWritesTest, PendingRowsAnswerEveryLookupWithoutAnIndexWrite) {
  // An interval that never ends: every row stays in memory until the
  // close, and every lookup must be answered from there.
  LedgerHarness h;
  LedgerOptions o;
  o.indexer.write_interval = absl::Hours(1);
  o.indexer.max_write_entries = 1 << 20;
  ASSERT_TRUE(h.Open(o).ok());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  AppendNotes(h, 12, 9, 1);
  const Truth t = TruthFromEntries(*h.ledger);
  ExpectLookupsMatch(*h.ledger, t);
  ExpectStreamReadsMatch(*h.ledger, t);
  EXPECT_EQ(h.ledger->indexer_stats().writes, 0u) << "a lookup forced an index write";
  // Stream versions for the sequencer come from the same rows.
  const uint64_t a = t.streams.at("subject/A").size();
  EXPECT_EQ(h.ledger->Append(NoteEvent(h.admin, "subject/A", "stale", a - 1)).status().code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "subject/A", "next", a)).ok());
  EXPECT_EQ(h.ledger->indexer_stats().writes, 0u);
  const uint64_t size = h.ledger->size();
  h.Shut();
  // The close wrote everything: the store alone answers after a reopen.
  std::unique_ptr<Db> db = h.OpenRaw();
  EXPECT_EQ(**ReadIndexed(*db), size);
  const Truth stored = ReadTruth(*db, size);
  for (const auto& [id, index] : stored.event_ids) {
    absl::StatusOr<std::string> row = db->Get(Cf::kEventIds, id);
    ASSERT_TRUE(row.ok()) << row.status();
    EXPECT_EQ(*row, EncodeBigEndian64(index));
  }
  for (const auto& [stream, indexes] : stored.streams) {
    for (size_t v = 0; v < indexes.size(); ++v) {
      absl::StatusOr<std::string> row = db->Get(Cf::kStreams, StreamKey(stream, v + 1));
      ASSERT_TRUE(row.ok()) << stream << " version " << v + 1 << ": " << row.status();
      EXPECT_EQ(*row, EncodeBigEndian64(indexes[v]));
    }
  }
}

TEST(IndexWritesTest, WrittenAndPendingRowsMergeInEveryRead) {
  // Writes every 40 entries and never by time: the store holds the older
  // rows while newer ones are pending; reads between the batches.
  LedgerHarness h;
  LedgerOptions o;
  o.indexer.write_interval = absl::Hours(1);
  o.indexer.max_write_entries = 40;
  ASSERT_TRUE(h.Open(o).ok());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  for (int round = 0; round < 30; ++round) {
    AppendNotes(h, 1, 5, round);
    if (round % 6 == 5) {
      const Truth t = TruthFromEntries(*h.ledger);
      ExpectLookupsMatch(*h.ledger, t);
      ExpectStreamReadsMatch(*h.ledger, t);
    }
  }
  const Truth t = TruthFromEntries(*h.ledger);
  const IndexerStats stats = h.ledger->indexer_stats();
  EXPECT_GE(stats.writes, 3u);
  EXPECT_GE(stats.rows, 120u);
  EXPECT_LT(stats.rows, h.ledger->size()) << "nothing was pending";
  // Repeats of everything are duplicates, their first copies found in the
  // store or in memory alike.
  std::vector<Admitted> repeats;
  for (uint64_t i = 1; i < h.ledger->size(); ++i) {
    absl::StatusOr<std::string> bytes = h.ledger->ReadEntry(i);
    ASSERT_TRUE(bytes.ok());
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(*bytes);
    ASSERT_TRUE(e.ok());
    Admitted a;
    a.signed_envelope = e->entry.signed_envelope();
    a.envelope = e->envelope;
    a.verified_key = h.admin.key.public_key();
    repeats.push_back(std::move(a));
  }
  const std::vector<absl::StatusOr<AppendResult>> again = h.ledger->AppendAll(std::move(repeats));
  for (size_t k = 0; k < again.size(); ++k) {
    ASSERT_TRUE(again[k].ok()) << again[k].status();
    EXPECT_TRUE(again[k]->duplicate);
    EXPECT_EQ(again[k]->index, k + 1);
  }
  absl::StatusOr<ScrubReport> scrub = h.ledger->Scrub();  // waits for every row
  ASSERT_TRUE(scrub.ok()) << scrub.status();
  EXPECT_TRUE(scrub->ok()) << scrub->ToStatus();
  EXPECT_EQ(h.ledger->indexer_stats().rows, h.ledger->size());
  ExpectLookupsMatch(*h.ledger, t);
  const uint64_t size = h.ledger->size();
  h.Shut();
  std::unique_ptr<Db> db = h.OpenRaw();
  EXPECT_EQ(**ReadIndexed(*db), size);
}

TEST(IndexWritesTest, RowsAreWrittenWithinTheIntervalWithoutAWaiter) {
  LedgerHarness h;
  LedgerOptions o;
  o.indexer.write_interval = absl::Milliseconds(200);
  ASSERT_TRUE(h.Open(o).ok());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  AppendNotes(h, 4, 9, 7);
  const uint64_t size = h.ledger->size();
  // Nobody asks for them: the interval alone gets them written.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (h.ledger->indexer_stats().rows < size && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const IndexerStats stats = h.ledger->indexer_stats();
  EXPECT_EQ(stats.rows, size);
  // Fewer writes than group commits (5): appends within an interval share one.
  EXPECT_LT(stats.writes, 5u);
}

}  // namespace
}  // namespace trialog::storage
