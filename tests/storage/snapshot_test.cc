// Projection snapshots (storage/snapshot.h) on a real RocksDB store holding
// the real synthetic trial (core/trial/synthetic_trial.h, signed by real
// keys), replayed into the real principal registry and TrialStateMachine.
//
// The reference state of every comparison is an open with the snapshot
// disabled (every entry replayed and checked from 0); a snapshot open must
// give byte-identical registry and machine states, replaying only the tail
// after the snapshot. Tampered or foreign snapshot rows must be detected
// and fall back to the full replay, never yielding another state.

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/admission.h"
#include "core/ledger/entry.h"
#include "core/ledger/registry.h"
#include "core/trial/state_machine.h"
#include "gtest/gtest.h"
#include "rocksdb/write_batch.h"
#include "storage/ledger.h"
#include "storage/schema.h"
#include "storage/snapshot.h"
#include "tests/export/test_ledger.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using testing::TempDir;

// The synthetic trial's entries as admitted envelopes (the sequencer
// re-sequences them: new recorded_at, so new leaf hashes, same signed
// envelopes; the e-signatures, whose record hashes name the original
// ledger's leaves, are then refused by rule signature.stale_record, as are
// envelopes that depend on them: refusals leave no trace, and what is
// accepted is still a real trial, rules enforced).
std::vector<Admitted> SyntheticEnvelopes(const export_test::TestLedger& t) {
  std::vector<Admitted> out;
  for (const std::string& bytes : t.entries) {
    absl::StatusOr<ledger::ParsedEntry> p = ledger::ParseEntry(bytes);
    EXPECT_TRUE(p.ok()) << p.status();
    Admitted a;
    a.signed_envelope = p->entry.signed_envelope();
    a.envelope = p->envelope;
    const std::string& who = p->envelope.actor().principal_id();
    a.verified_key = t.keys.at(who).public_key();
    out.push_back(std::move(a));
  }
  return out;
}

// Registry + trial machine + ledger, reopenable.
struct Opened {
  std::unique_ptr<ledger::PrincipalRegistry> registry = std::make_unique<ledger::PrincipalRegistry>();
  std::unique_ptr<trial::TrialStateMachine> machine = std::make_unique<trial::TrialStateMachine>();
  std::unique_ptr<Ledger> ledger;

  std::string State() const {
    return ledger->ReadState([&] { return registry->SaveState() + "|" + machine->Snapshot(); });
  }
};

class SnapshotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<export_test::TestLedger> t = export_test::BuildSyntheticLedger(2026, 13);
    ASSERT_TRUE(t.ok()) << t.status();
    synthetic_ = new export_test::TestLedger(*std::move(t));
  }
  static void TearDownTestSuite() {
    delete synthetic_;
    synthetic_ = nullptr;
  }

  SnapshotTest()
      : dir_(tmp_.path() + "/ledger"),
        signer_(synthetic_->origin, synthetic_->ledger_signer.key()) {}

  LedgerOptions Options() const {
    LedgerOptions o;
    o.dir = dir_;
    o.checkpoint_signer = &signer_;
    o.sync = false;
    o.snapshot_every_entries = 0;  // only the explicit ones
    o.snapshot_interval = absl::InfiniteDuration();
    o.snapshot_on_close = false;
    return o;
  }

  std::unique_ptr<Opened> Open(LedgerOptions o) {
    auto out = std::make_unique<Opened>();
    absl::StatusOr<std::unique_ptr<Ledger>> l =
        Ledger::Open(std::move(o), out->registry.get(), {out->machine.get()});
    EXPECT_TRUE(l.ok()) << l.status();
    if (!l.ok()) return nullptr;
    out->ledger = *std::move(l);
    return out;
  }

  // Appends synthetic envelopes [from, to); only rule refusals
  // (FAILED_PRECONDITION / PERMISSION_DENIED) are tolerated.
  void Append(Opened& o, size_t from, size_t to) {
    std::vector<Admitted> all = SyntheticEnvelopes(*synthetic_);
    std::vector<Admitted> part(std::make_move_iterator(all.begin() + static_cast<long>(from)),
                               std::make_move_iterator(all.begin() + static_cast<long>(to)));
    for (auto& r : o.ledger->AppendAll(std::move(part))) {
      if (!r.ok()) {
        ASSERT_TRUE(absl::IsFailedPrecondition(r.status()) || absl::IsPermissionDenied(r.status()))
            << r.status();
      }
    }
  }

  // A store with a snapshot at `half` and `total` entries (the tail after
  // the snapshot not covered by any snapshot).
  void BuildStore(size_t half) {
    const size_t n = synthetic_->entries.size();
    std::unique_ptr<Opened> a = Open(Options());
    ASSERT_NE(a, nullptr);
    Append(*a, 0, half);
    snap_size_ = a->ledger->size();
    ASSERT_TRUE(a->ledger->WriteSnapshotNow(/*sync=*/true).ok());
    EXPECT_EQ(a->ledger->snapshot_stats().last_size, snap_size_);
    Append(*a, half, n);
    total_ = a->ledger->size();
    ASSERT_TRUE(a->ledger->Close().ok());
    a.reset();
    std::unique_ptr<Opened> full = FullReplay();
    ASSERT_NE(full, nullptr);
    reference_ = full->State();
  }

  std::unique_ptr<Opened> FullReplay() {
    LedgerOptions o = Options();
    o.use_snapshot = false;
    std::unique_ptr<Opened> full = Open(o);
    if (full == nullptr) return nullptr;
    EXPECT_FALSE(full->ledger->open_stats().snapshot_used);
    EXPECT_EQ(full->ledger->open_stats().replayed_entries, full->ledger->size());
    return full;
  }

  // Edits the store directly (the ledger must be closed).
  template <typename F>
  void Edit(F&& f) {
    DbOptions d;
    d.dir = dir_;
    d.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<Db>> db = Db::Open(d);
    ASSERT_TRUE(db.ok()) << db.status();
    f(**db);
  }

  v1::SnapshotHeader ReadHeader() {
    v1::SnapshotHeader h;
    Edit([&](Db& db) {
      absl::StatusOr<std::string> row = db.Get(Cf::kMeta, kMetaSnapshot);
      ASSERT_TRUE(row.ok()) << row.status();
      ASSERT_TRUE(h.ParseFromString(*row));
    });
    return h;
  }
  void PutMeta(const std::string& key, const std::string& value) {
    Edit([&](Db& db) {
      rocksdb::WriteBatch w;
      w.Put(db.handle(Cf::kMeta), key, value);
      ASSERT_TRUE(db.Write(&w, true).ok());
    });
  }

  // Opens with snapshots allowed and expects a fallback to the full replay
  // giving the reference state; returns the fallback reason.
  std::string ExpectFallback() {
    std::unique_ptr<Opened> o = Open(Options());
    if (o == nullptr) return "open failed";
    const OpenStats& st = o->ledger->open_stats();
    EXPECT_FALSE(st.snapshot_used);
    EXPECT_EQ(st.replayed_entries, total_);
    EXPECT_EQ(o->State(), reference_);
    return st.snapshot_fallback;
  }

  static export_test::TestLedger* synthetic_;
  TempDir tmp_;
  std::string dir_;
  note::NoteSigner signer_;
  size_t total_ = 0;      // ledger size
  size_t snap_size_ = 0;  // size of the snapshot BuildStore wrote
  std::string reference_;
};

export_test::TestLedger* SnapshotTest::synthetic_ = nullptr;

TEST_F(SnapshotTest, SnapshotOpenEqualsFullReplayAndReplaysOnlyTheTail) {
  const size_t half = synthetic_->entries.size() / 2;
  ASSERT_NO_FATAL_FAILURE(BuildStore(half));
  ASSERT_GT(total_, snap_size_ + 10);
  ASSERT_GT(snap_size_, 100u);
  std::unique_ptr<Opened> o = Open(Options());
  ASSERT_NE(o, nullptr);
  const OpenStats& st = o->ledger->open_stats();
  EXPECT_TRUE(st.snapshot_used) << st.snapshot_fallback;
  EXPECT_EQ(st.snapshot_size, snap_size_);
  EXPECT_EQ(st.replayed_entries, total_ - snap_size_);  // O(tail)
  EXPECT_EQ(o->State(), reference_);
  // The state is a real trial's: subjects with records.
  EXPECT_GE(o->machine->SubjectIds().size(), 13u);
  EXPECT_GT(o->registry->size(), 3u);

  // Independent of the ledger's replay code: fold the stored entries
  // through fresh machines directly.
  ledger::PrincipalRegistry registry;
  trial::TrialStateMachine machine;
  ASSERT_TRUE(o->ledger
                  ->ReadRange(0, total_,
                              [&](uint64_t, absl::string_view bytes) {
                                absl::StatusOr<ledger::ParsedEntry> p = ledger::ParseEntry(bytes);
                                EXPECT_TRUE(p.ok());
                                registry.Apply(*p);
                                machine.Apply(*p);
                                return true;
                              })
                  .ok());
  EXPECT_EQ(registry.SaveState() + "|" + machine.Snapshot(), reference_);

  // Appending after a snapshot open keeps enforcing the same rules: a
  // repeat of the genesis is refused by the restored registry.
  std::vector<Admitted> all = SyntheticEnvelopes(*synthetic_);
  absl::StatusOr<AppendResult> again = o->ledger->Append(all[0]);
  EXPECT_TRUE(again.ok() && again->duplicate) << again.status();
}

TEST_F(SnapshotTest, CloseWritesASnapshotSoTheNextOpenReplaysNothing) {
  {
    LedgerOptions o = Options();
    o.snapshot_on_close = true;
    std::unique_ptr<Opened> a = Open(o);
    ASSERT_NE(a, nullptr);
    Append(*a, 0, synthetic_->entries.size());
    total_ = a->ledger->size();
    ASSERT_TRUE(a->ledger->Close().ok());
    EXPECT_EQ(a->ledger->snapshot_stats().last_size, total_);
    EXPECT_EQ(a->ledger->snapshot_stats().written, 1u);
  }
  std::unique_ptr<Opened> full = FullReplay();
  ASSERT_NE(full, nullptr);
  reference_ = full->State();
  full.reset();
  std::unique_ptr<Opened> o = Open(Options());
  ASSERT_NE(o, nullptr);
  EXPECT_TRUE(o->ledger->open_stats().snapshot_used) << o->ledger->open_stats().snapshot_fallback;
  EXPECT_EQ(o->ledger->open_stats().replayed_entries, 0u);
  EXPECT_EQ(o->ledger->size(), total_);
  EXPECT_EQ(o->State(), reference_);
}

TEST_F(SnapshotTest, PeriodicSnapshotsBoundTheReplayAfterACrash) {
  const size_t n = synthetic_->entries.size();
  {
    LedgerOptions o = Options();
    o.snapshot_every_entries = 25;
    std::unique_ptr<Opened> a = Open(o);
    ASSERT_NE(a, nullptr);
    for (size_t at = 0; at < n; at += 10) {
      Append(*a, at, std::min(n, at + 10));
      if (at == 100) {
        // Let the writer thread catch up once (it polls every 200 ms).
        for (int i = 0; i < 100 && a->ledger->snapshot_stats().written == 0; ++i) {
          absl::SleepFor(absl::Milliseconds(50));
        }
      }
    }
    ASSERT_GE(a->ledger->snapshot_stats().written, 1u);
    total_ = a->ledger->size();
    // No Close snapshot (snapshot_on_close is off): as after a SIGKILL, the
    // entries after the last periodic snapshot are only in the log.
  }
  std::unique_ptr<Opened> full = FullReplay();
  ASSERT_NE(full, nullptr);
  reference_ = full->State();
  full.reset();
  std::unique_ptr<Opened> o = Open(Options());
  ASSERT_NE(o, nullptr);
  const OpenStats& st = o->ledger->open_stats();
  EXPECT_TRUE(st.snapshot_used) << st.snapshot_fallback;
  EXPECT_GT(st.snapshot_size, 0u);
  EXPECT_EQ(st.replayed_entries, total_ - st.snapshot_size);
  EXPECT_EQ(o->State(), reference_);
}

TEST_F(SnapshotTest, SnapshotsByCountAreSpacedByTheirOwnCost) {
  // Ten entries every 250 ms (the writer thread polls every 200 ms) with a
  // snapshot due every 10 entries: without the duty limit most rounds get
  // one; with a limit of a million times the last snapshot's duration only
  // the first is ever due by count.
  auto snapshots_written = [&](uint32_t duty_factor) -> uint64_t {
    LedgerOptions o = Options();
    o.dir = absl::StrCat(dir_, "-duty", duty_factor);
    o.snapshot_every_entries = 10;
    o.snapshot_duty_factor = duty_factor;
    std::unique_ptr<Opened> a = Open(o);
    if (a == nullptr) return 0;
    for (size_t at = 0; at < 80; at += 10) {
      Append(*a, at, at + 10);
      absl::SleepFor(absl::Milliseconds(250));
    }
    return a->ledger->snapshot_stats().written;
  };
  EXPECT_GE(snapshots_written(0), 4u);
  EXPECT_EQ(snapshots_written(1000000), 1u);
}

TEST_F(SnapshotTest, StoreWithoutSnapshotRowsOpensByFullReplay) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(40));
  Edit([&](Db& db) {
    rocksdb::WriteBatch w;
    w.DeleteRange(db.handle(Cf::kMeta), std::string(kMetaSnapshot), "snapshot0");
    ASSERT_TRUE(db.Write(&w, true).ok());
  });
  EXPECT_EQ(ExpectFallback(), "no snapshot row");
}

TEST_F(SnapshotTest, ChangedBodyByteIsDetected) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  Edit([&](Db& db) {
    absl::StatusOr<std::string> chunk = db.Get(Cf::kMeta, SnapshotChunkKey(0));
    ASSERT_TRUE(chunk.ok());
    std::string bad = *chunk;
    bad[bad.size() / 2] ^= 0x01;
    rocksdb::WriteBatch w;
    w.Put(db.handle(Cf::kMeta), SnapshotChunkKey(0), bad);
    ASSERT_TRUE(db.Write(&w, true).ok());
  });
  EXPECT_NE(ExpectFallback().find("does not hash to the signed digest"), std::string::npos);
}

TEST_F(SnapshotTest, ChangedSignatureIsDetected) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  v1::SnapshotHeader h = ReadHeader();
  h.mutable_signature()->at(5) ^= 0x40;
  PutMeta(std::string(kMetaSnapshot), h.SerializeAsString());
  EXPECT_NE(ExpectFallback().find("does not verify"), std::string::npos);
}

TEST_F(SnapshotTest, ChangedSizeOrRootInTheHeaderIsDetected) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  const v1::SnapshotHeader h = ReadHeader();
  v1::SnapshotHeader size_changed = h;
  size_changed.set_tree_size(h.tree_size() + 1);
  PutMeta(std::string(kMetaSnapshot), size_changed.SerializeAsString());
  EXPECT_NE(ExpectFallback().find("does not verify"), std::string::npos);
  v1::SnapshotHeader root_changed = h;
  root_changed.mutable_root()->at(0) ^= 0x01;
  PutMeta(std::string(kMetaSnapshot), root_changed.SerializeAsString());
  EXPECT_NE(ExpectFallback().find("does not verify"), std::string::npos);
}

TEST_F(SnapshotTest, SnapshotSignedByAnotherKeyIsRefused) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  // A well-formed snapshot of this very state, but signed by someone else.
  const note::NoteSigner other(synthetic_->origin, crypto::SigningKey::Generate());
  std::unique_ptr<Opened> o = Open(Options());
  ASSERT_NE(o, nullptr);
  const std::string body = o->ledger->ReadState([&] {
    return CaptureProjections(Projections{o->registry.get(), {o->machine.get()}}, o->ledger->size(),
                              o->ledger->root(), synthetic_->trial_id);
  });
  const uint64_t size = o->ledger->size();
  const std::string root = o->ledger->root();
  o.reset();
  Edit([&](Db& db) { ASSERT_TRUE(WriteSnapshot(db, other, size, root, body, true).ok()); });
  EXPECT_NE(ExpectFallback().find("does not verify under the ledger key"), std::string::npos);
}

TEST_F(SnapshotTest, SignedSnapshotWithAWrongRootOrBeyondTheCheckpointIsRefused) {
  // Signed with the real key (as a bug, not an attacker, could): the tree
  // checks still refuse it.
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  std::string body;
  std::string root_at_60;
  {
    std::unique_ptr<Opened> o = Open(Options());
    ASSERT_NE(o, nullptr);
    body = o->ledger->ReadState([&] {
      return CaptureProjections(Projections{o->registry.get(), {o->machine.get()}},
                                o->ledger->size(), o->ledger->root(), synthetic_->trial_id);
    });
    absl::StatusOr<std::string> r = o->ledger->RootAt(60);
    ASSERT_TRUE(r.ok());
    root_at_60 = *r;
  }
  // The final state claimed at size 60 with size 60's root: the root
  // matches, but the body's own size/root disagree with the header.
  Edit([&](Db& db) { ASSERT_TRUE(WriteSnapshot(db, signer_, 60, root_at_60, body, true).ok()); });
  EXPECT_NE(ExpectFallback().find("differs from its header"), std::string::npos);
  // A root that is not the tree's at that size.
  std::string wrong_root = root_at_60;
  wrong_root[31] ^= 0x01;
  v1::LedgerSnapshot parsed;
  ASSERT_TRUE(parsed.ParseFromString(body));
  parsed.set_tree_size(60);
  parsed.set_root(wrong_root);
  Edit([&](Db& db) {
    ASSERT_TRUE(WriteSnapshot(db, signer_, 60, wrong_root, parsed.SerializeAsString(), true).ok());
  });
  EXPECT_NE(ExpectFallback().find("is not the tree's root"), std::string::npos);
  // Beyond the signed checkpoint.
  parsed.set_tree_size(total_ + 5);
  parsed.set_root(root_at_60);
  Edit([&](Db& db) {
    ASSERT_TRUE(
        WriteSnapshot(db, signer_, total_ + 5, root_at_60, parsed.SerializeAsString(), true).ok());
  });
  EXPECT_NE(ExpectFallback().find("beyond the signed checkpoint"), std::string::npos);
}

TEST_F(SnapshotTest, UnknownFormatOrMissingChunkFallsBack) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  const v1::SnapshotHeader h = ReadHeader();
  v1::SnapshotHeader future = h;
  future.set_format(2);
  PutMeta(std::string(kMetaSnapshot), future.SerializeAsString());
  EXPECT_NE(ExpectFallback().find("format 2 is unknown"), std::string::npos);
  PutMeta(std::string(kMetaSnapshot), "not a header");
  EXPECT_NE(ExpectFallback().find("does not parse"), std::string::npos);
  PutMeta(std::string(kMetaSnapshot), h.SerializeAsString());
  Edit([&](Db& db) {
    rocksdb::WriteBatch w;
    w.Delete(db.handle(Cf::kMeta), SnapshotChunkKey(0));
    ASSERT_TRUE(db.Write(&w, true).ok());
  });
  EXPECT_NE(ExpectFallback().find("chunk 0 of 1 is missing"), std::string::npos);
}

TEST_F(SnapshotTest, DamageInTheTailIsNamedAsByAFullReplay) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  // Change one byte of entry 70 (after the snapshot).
  Edit([&](Db& db) {
    absl::StatusOr<std::string> e = db.Get(Cf::kEntries, EntryKey(70));
    ASSERT_TRUE(e.ok());
    std::string bad = *e;
    bad[bad.size() - 3] ^= 0x01;
    rocksdb::WriteBatch w;
    w.Put(db.handle(Cf::kEntries), EntryKey(70), bad);
    ASSERT_TRUE(db.Write(&w, true).ok());
  });
  ledger::PrincipalRegistry registry;
  trial::TrialStateMachine machine;
  absl::StatusOr<std::unique_ptr<Ledger>> l = Ledger::Open(Options(), &registry, {&machine});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(l.status().message().find("at index 70"), std::string::npos) << l.status();
  LedgerOptions no_snap = Options();
  no_snap.use_snapshot = false;
  ledger::PrincipalRegistry registry2;
  trial::TrialStateMachine machine2;
  absl::StatusOr<std::unique_ptr<Ledger>> l2 = Ledger::Open(no_snap, &registry2, {&machine2});
  ASSERT_FALSE(l2.ok());
  EXPECT_EQ(l2.status().message(), l.status().message());
}

TEST_F(SnapshotTest, RegistryStateRoundTripsAndRejectsMalformedState) {
  ASSERT_NO_FATAL_FAILURE(BuildStore(60));
  std::unique_ptr<Opened> o = Open(Options());
  ASSERT_NE(o, nullptr);
  const std::string saved = o->registry->SaveState();
  ledger::PrincipalRegistry copy;
  ASSERT_TRUE(copy.RestoreState(saved).ok());
  EXPECT_EQ(copy.SaveState(), saved);
  EXPECT_EQ(copy.origin(), synthetic_->origin);
  v1::RegistryState bad;
  ASSERT_TRUE(bad.ParseFromString(saved));
  bad.mutable_principals(0)->set_public_key("short");
  absl::Status s = copy.RestoreState(bad.SerializeAsString());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("-byte key"), std::string::npos) << s;
  EXPECT_EQ(copy.SaveState(), saved);  // unchanged on error
  bad.ParseFromString(saved);
  std::swap(*bad.mutable_principals(0), *bad.mutable_principals(1));
  EXPECT_EQ(copy.RestoreState(bad.SerializeAsString()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(copy.RestoreState("\xff\xff").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trialog::storage
