// storage::Ledger end to end: real RocksDB in a temp dir, real Ed25519 keys,
// real principal registry. Receipts, roots and proofs are checked with
// core/note and core/merkle verifiers and against an independent
// recomputation from the stored entry bytes.

#include "storage/ledger.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/crypto/crypto.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/storage/test_util.h"

namespace trialog::storage {
namespace {

using ::testing::HasSubstr;
using namespace ::trialog::storage::testing;  // NOLINT

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const absl::Status assert_ok_status_ = (expr);        \
    ASSERT_TRUE(assert_ok_status_.ok()) << assert_ok_status_; \
  } while (0)

// SHA-256(0x00 || bytes), computed here rather than by core/merkle.
std::string LeafHashOf(absl::string_view bytes) {
  return crypto::Sha256(std::string(1, '\0'), bytes);
}

note::Verifier VerifierOf(const LedgerHarness& h) {
  // Built from the signer's name and public key, not from the ledger.
  absl::StatusOr<note::Verifier> v =
      note::ParseVerifierKey(note::FormatVerifierKey(kOrigin, h.signer.key().public_key()));
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

// Checks a receipt the way an offline client would.
void ExpectReceiptVerifies(const Ledger& ledger, const note::Verifier& verifier,
                           const AppendResult& r) {
  EXPECT_EQ(r.leaf_hash, LeafHashOf(r.entry_bytes));
  absl::StatusOr<note::Checkpoint> cp = note::OpenCheckpoint(r.checkpoint, verifier);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->origin, kOrigin);
  EXPECT_EQ(cp->size, r.checkpoint_size);
  EXPECT_GT(r.checkpoint_size, r.index);
  absl::StatusOr<std::vector<std::string>> proof =
      ledger.InclusionProof(r.index, r.checkpoint_size);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_TRUE(
      merkle::VerifyInclusion(r.index, r.checkpoint_size, r.leaf_hash, *proof, cp->root_hash).ok());
  absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(r.entry_bytes);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->entry.index(), r.index);
  EXPECT_EQ(e->entry.stream_version(), r.stream_version);
  EXPECT_EQ(e->entry.recorded_at_unix_micros(), r.recorded_at_unix_micros);
}

// Replays the whole stored ledger through the core's offline verifier
// (chain, signatures, registry, rules) and compares its root.
void ExpectChainVerifies(const Ledger& ledger) {
  NoteRules rules;
  ledger::ChainVerifier verifier({&rules});
  absl::Status read = ledger.ReadRange(0, ledger.size(), [&](uint64_t i, absl::string_view b) {
    absl::Status s = verifier.Add(b);
    EXPECT_TRUE(s.ok()) << "entry " << i << ": " << s;
    return s.ok();
  });
  ASSERT_OK(read);
  EXPECT_EQ(verifier.size(), ledger.size());
  EXPECT_EQ(verifier.root(), ledger.root());
}

TEST(LedgerTest, NewLedgerStartsEmptyWithSignedCheckpoint) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  EXPECT_EQ(h.ledger->size(), 0u);
  // RFC 6962 empty root: SHA-256("").
  EXPECT_EQ(HexEncode(h.ledger->root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  absl::StatusOr<note::Checkpoint> cp =
      note::OpenCheckpoint(h.ledger->latest_checkpoint(), VerifierOf(h));
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 0u);
  EXPECT_EQ(cp->root_hash, h.ledger->root());
  EXPECT_EQ(h.ledger->verifier_key(),
            note::FormatVerifierKey(kOrigin, h.signer.key().public_key()));
}

TEST(LedgerTest, AppendsGiveReceiptsThatVerifyOffline) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  const note::Verifier verifier = VerifierOf(h);
  Person inv = MakePerson("inv-1", v1::ROLE_INVESTIGATOR, "ru01");

  absl::StatusOr<AppendResult> g = h.ledger->Append(Genesis(h.admin));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->index, 0u);
  EXPECT_FALSE(g->duplicate);
  ExpectReceiptVerifies(*h.ledger, verifier, *g);
  absl::StatusOr<AppendResult> reg = h.ledger->Append(Register(h.admin, inv));
  ASSERT_TRUE(reg.ok()) << reg.status();
  EXPECT_EQ(reg->stream_version, 2u);  // second entry of "principals"

  int64_t last_recorded = 0;
  std::map<std::string, uint64_t> versions;
  for (int i = 0; i < 30; ++i) {
    const std::string stream = absl::StrCat("subject/RU-01-000", i % 3);
    absl::StatusOr<AppendResult> r =
        h.ledger->Append(NoteEvent(inv, stream, absl::StrCat("visit ", i)));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->index, 2u + i);
    EXPECT_EQ(r->stream_version, ++versions[stream]);
    EXPECT_GE(r->recorded_at_unix_micros, last_recorded);
    last_recorded = r->recorded_at_unix_micros;
    ExpectReceiptVerifies(*h.ledger, verifier, *r);
    absl::StatusOr<std::string> stored = h.ledger->ReadEntry(r->index);
    ASSERT_TRUE(stored.ok());
    EXPECT_EQ(*stored, r->entry_bytes);
  }
  EXPECT_EQ(h.ledger->size(), 32u);
  EXPECT_EQ(h.rules->applied(), 32u);
  EXPECT_EQ(h.registry->size(), 2u);
  ExpectChainVerifies(*h.ledger);
}

TEST(LedgerTest, RestartMidStreamAndContinue) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  Person inv = MakePerson("inv-1", v1::ROLE_INVESTIGATOR, "ru01");
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  ASSERT_TRUE(h.ledger->Append(Register(h.admin, inv)).ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(h.ledger->Append(NoteEvent(inv, "subject/A", absl::StrCat("a", i))).ok());
  }
  const uint64_t size = h.ledger->size();
  const std::string root = h.ledger->root();
  const std::string checkpoint = h.ledger->latest_checkpoint();
  const std::string digest = h.rules->digest();
  absl::StatusOr<std::string> last = h.ledger->ReadEntry(size - 1);
  ASSERT_TRUE(last.ok());
  absl::StatusOr<ledger::ParsedEntry> last_entry = ledger::ParseEntry(*last);
  ASSERT_TRUE(last_entry.ok());

  ASSERT_OK(h.Open());  // a fresh registry and rules, rebuilt by replay
  EXPECT_EQ(h.ledger->size(), size);
  EXPECT_EQ(h.ledger->root(), root);
  EXPECT_EQ(h.ledger->latest_checkpoint(), checkpoint);
  EXPECT_EQ(h.rules->digest(), digest);
  EXPECT_EQ(h.rules->applied(), size);
  ASSERT_TRUE(h.registry->Find("inv-1").ok());
  absl::StatusOr<uint64_t> version = h.ledger->StreamVersion("subject/A");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 10u);

  // Continue: the expected version, the chain and recorded_at carry on.
  absl::StatusOr<AppendResult> r =
      h.ledger->Append(NoteEvent(inv, "subject/A", "after restart", /*expected_version=*/10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->index, size);
  EXPECT_EQ(r->stream_version, 11u);
  EXPECT_GE(r->recorded_at_unix_micros, last_entry->entry.recorded_at_unix_micros());
  absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(r->entry_bytes);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->entry.prev_leaf_hash(), LeafHashOf(*last));
  ExpectReceiptVerifies(*h.ledger, VerifierOf(h), *r);
  // The new tree extends the old one.
  absl::StatusOr<std::vector<std::string>> proof = h.ledger->ConsistencyProof(size, size + 1);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(merkle::VerifyConsistency(size, size + 1, *proof, root, h.ledger->root()).ok());
  // A duplicate of an entry from before the restart is still recognised.
  ExpectChainVerifies(*h.ledger);
}

TEST(LedgerTest, SixteenConcurrentAppendersGetDenseUniqueIndexes) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  constexpr int kThreads = 16;
  constexpr int kPerThread = 150;
  std::vector<std::vector<Admitted>> work(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      work[t].push_back(NoteEvent(h.admin, absl::StrCat("subject/T", t), absl::StrCat(t, ":", i)));
    }
  }
  std::vector<std::vector<AppendResult>> got(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (Admitted& a : work[t]) {
        absl::StatusOr<AppendResult> r = h.ledger->Append(std::move(a));
        if (!r.ok()) {
          ++failures;
          continue;
        }
        got[t].push_back(*std::move(r));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  std::set<uint64_t> indexes;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) {
      const AppendResult& r = got[t][i];
      EXPECT_TRUE(indexes.insert(r.index).second) << "index " << r.index << " given twice";
      EXPECT_EQ(r.stream_version, static_cast<uint64_t>(i + 1));  // per-thread order kept
      if (i > 0) {
        EXPECT_GT(r.index, got[t][i - 1].index);
      }
      absl::StatusOr<std::string> stored = h.ledger->ReadEntry(r.index);
      ASSERT_TRUE(stored.ok());
      EXPECT_EQ(*stored, r.entry_bytes);
    }
  }
  const uint64_t total = 1 + kThreads * kPerThread;
  EXPECT_EQ(h.ledger->size(), total);
  EXPECT_EQ(indexes.size(), total - 1);
  EXPECT_EQ(*indexes.begin(), 1u);
  EXPECT_EQ(*indexes.rbegin(), total - 1);  // no gap: n distinct values in [1, n]
  ExpectChainVerifies(*h.ledger);
  const SequencerStats st = h.ledger->sequencer_stats();
  std::printf("[ group commit ] %llu entries in %llu synced batches (largest %llu)\n",
              static_cast<unsigned long long>(st.entries_appended),
              static_cast<unsigned long long>(st.batches_written),
              static_cast<unsigned long long>(st.largest_batch));
  EXPECT_EQ(st.entries_appended, total);
}

TEST(LedgerTest, IdempotentRepeatReturnsOriginalReceipt) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  const Admitted note = NoteEvent(h.admin, "subject/A", "first");
  absl::StatusOr<AppendResult> first = h.ledger->Append(note);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "subject/A", "second")).ok());

  absl::StatusOr<AppendResult> again = h.ledger->Append(note);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->index, first->index);
  EXPECT_EQ(again->entry_bytes, first->entry_bytes);
  EXPECT_EQ(again->leaf_hash, first->leaf_hash);
  EXPECT_EQ(again->recorded_at_unix_micros, first->recorded_at_unix_micros);
  EXPECT_EQ(again->stream_version, first->stream_version);
  EXPECT_EQ(h.ledger->size(), 3u);
  ExpectReceiptVerifies(*h.ledger, VerifierOf(h), *again);

  // Inside one batch: the second copy gets the first one's receipt.
  const Admitted twin = NoteEvent(h.admin, "subject/B", "twin");
  std::vector<absl::StatusOr<AppendResult>> both = h.ledger->AppendAll({twin, twin});
  ASSERT_TRUE(both[0].ok() && both[1].ok());
  EXPECT_FALSE(both[0]->duplicate);
  EXPECT_TRUE(both[1]->duplicate);
  EXPECT_EQ(both[1]->index, both[0]->index);
  EXPECT_EQ(both[1]->entry_bytes, both[0]->entry_bytes);
  EXPECT_EQ(h.ledger->size(), 4u);
}

TEST(LedgerTest, SameEventIdWithOtherBytesIsAlreadyExists) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  const Admitted note = NoteEvent(h.admin, "subject/A", "original");
  const std::string& event_id = note.envelope.event_id();
  absl::StatusOr<AppendResult> first = h.ledger->Append(note);
  ASSERT_TRUE(first.ok());

  absl::StatusOr<AppendResult> other =
      h.ledger->Append(NoteEvent(h.admin, "subject/A", "changed text", std::nullopt, event_id));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists) << other.status();
  EXPECT_THAT(other.status().message(), HasSubstr(absl::StrCat("entry ", first->index)));
  EXPECT_THAT(other.status().message(), HasSubstr(HexEncode(event_id)));

  // Same bytes, different signature (another key) is not the same envelope.
  Admitted resigned = note;
  const crypto::SigningKey other_key = crypto::SigningKey::Generate();
  resigned.signed_envelope.set_signature(
      other_key.Sign(ledger::EnvelopeSigningMessage(note.signed_envelope.envelope())));
  resigned.verified_key = other_key.public_key();
  EXPECT_EQ(h.ledger->Append(resigned).status().code(), absl::StatusCode::kAlreadyExists);

  // Inside one batch.
  const Admitted a = NoteEvent(h.admin, "subject/B", "a");
  const Admitted b = NoteEvent(h.admin, "subject/B", "b", std::nullopt, a.envelope.event_id());
  std::vector<absl::StatusOr<AppendResult>> r = h.ledger->AppendAll({a, b});
  ASSERT_TRUE(r[0].ok());
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(r[1].status().message(), HasSubstr(absl::StrCat("entry ", r[0]->index)));
  EXPECT_EQ(h.ledger->size(), 3u);
}

TEST(LedgerTest, ExpectedStreamVersionConflictIsAborted) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "subject/A", "v1", 0)).ok());
  ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "subject/A", "v2", 1)).ok());

  absl::StatusOr<AppendResult> stale = h.ledger->Append(NoteEvent(h.admin, "subject/A", "x", 1));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted) << stale.status();
  EXPECT_EQ(stale.status().message(), "stream subject/A is at version 2, expected 1");
  absl::StatusOr<AppendResult> fresh = h.ledger->Append(NoteEvent(h.admin, "subject/New", "x", 3));
  EXPECT_EQ(fresh.status().message(), "stream subject/New is at version 0, expected 3");

  // Two in one batch expecting the same version: the first wins.
  std::vector<absl::StatusOr<AppendResult>> race = h.ledger->AppendAll(
      {NoteEvent(h.admin, "subject/A", "p", 2), NoteEvent(h.admin, "subject/A", "q", 2)});
  ASSERT_TRUE(race[0].ok());
  EXPECT_EQ(race[0]->stream_version, 3u);
  EXPECT_EQ(race[1].status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(race[1].status().message(), "stream subject/A is at version 3, expected 2");
  EXPECT_EQ(h.ledger->size(), 4u);
}

TEST(LedgerTest, RejectedEnvelopeConsumesNoIndex) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  std::vector<absl::StatusOr<AppendResult>> r = h.ledger->AppendAll(
      {NoteEvent(h.admin, "subject/A", "ok 1"), NoteEvent(h.admin, "subject/A", "reject: no"),
       NoteEvent(h.admin, "subject/A", "ok 2")});
  ASSERT_TRUE(r[0].ok() && r[2].ok());
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r[1].status().message(), "note rule: \"reject: no\" is refused at entry 2");
  EXPECT_EQ(r[0]->index, 1u);
  EXPECT_EQ(r[2]->index, 2u);
  EXPECT_EQ(r[2]->stream_version, 2u);
  absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(r[2]->entry_bytes);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->entry.prev_leaf_hash(), r[0]->leaf_hash);
  EXPECT_EQ(h.ledger->size(), 3u);
  EXPECT_EQ(h.rules->applied(), 3u);

  // The registry's own rules come back as they are, too.
  Person inv = MakePerson("inv-1", v1::ROLE_INVESTIGATOR, "ru01");
  Person other = MakePerson("inv-2", v1::ROLE_INVESTIGATOR, "ru01");
  ASSERT_TRUE(h.ledger->Append(Register(h.admin, inv)).ok());
  absl::StatusOr<AppendResult> not_admin = h.ledger->Append(Register(inv, other));
  EXPECT_EQ(not_admin.status().code(), absl::StatusCode::kPermissionDenied) << not_admin.status();
  EXPECT_THAT(not_admin.status().message(), HasSubstr("ROLE_SPONSOR_ADMIN"));
  // An unregistered signer is refused by the key re-check.
  absl::StatusOr<AppendResult> stranger = h.ledger->Append(NoteEvent(other, "subject/A", "x"));
  EXPECT_EQ(stranger.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(h.ledger->size(), 4u);
  ExpectChainVerifies(*h.ledger);
}

TEST(LedgerTest, KeyChangedBeforeSequencingIsUnauthenticated) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  Person inv = MakePerson("inv-1", v1::ROLE_INVESTIGATOR, "ru01");
  Person other = MakePerson("inv-2", v1::ROLE_INVESTIGATOR, "ru01");
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  ASSERT_TRUE(h.ledger->Append(Register(h.admin, inv)).ok());
  ASSERT_TRUE(h.ledger->Append(Register(h.admin, other)).ok());

  // Verified (by admission) under inv's current key, but a rotation is
  // sequenced first in the same batch.
  const crypto::SigningKey new_key = crypto::SigningKey::Generate();
  std::vector<absl::StatusOr<AppendResult>> r =
      h.ledger->AppendAll({RotateKey(h.admin, inv, new_key.public_key()),
                           NoteEvent(inv, "subject/A", "signed with the old key")});
  ASSERT_TRUE(r[0].ok()) << r[0].status();
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(r[1].status().message(),
              HasSubstr("key of principal inv-1 changed/revoked before sequencing"));

  // Revoked before sequencing.
  r = h.ledger->AppendAll({Revoke(h.admin, other), NoteEvent(other, "subject/A", "too late")});
  ASSERT_TRUE(r[0].ok()) << r[0].status();
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(r[1].status().message(),
              HasSubstr("key of principal inv-2 changed/revoked before sequencing"));

  // A caller that verified under some other key is refused too.
  Admitted forged = NoteEvent(h.admin, "subject/A", "x");
  forged.verified_key = new_key.public_key();
  EXPECT_EQ(h.ledger->Append(forged).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(h.ledger->size(), 5u);
}

TEST(LedgerTest, GenesisMustBeSignedWithItsFirstAdminKeyAndName) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  Admitted g = Genesis(h.admin);
  Admitted wrong_key = g;
  wrong_key.verified_key = crypto::SigningKey::Generate().public_key();
  absl::StatusOr<AppendResult> r = h.ledger->Append(wrong_key);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("first admin"));

  absl::StatusOr<AppendResult> other_origin =
      h.ledger->Append(Genesis(h.admin, "trialog.test/another-trial"));
  EXPECT_EQ(other_origin.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other_origin.status().message(), HasSubstr("trialog.test/another-trial"));

  // Entry 0 must be a genesis (the registry's rule).
  EXPECT_EQ(h.ledger->Append(NoteEvent(h.admin, "subject/A", "x")).status().code(),
            absl::StatusCode::kUnauthenticated);  // admin is not registered yet
  EXPECT_EQ(h.ledger->size(), 0u);
  ASSERT_TRUE(h.ledger->Append(g).ok());
  EXPECT_EQ(h.ledger->Append(Genesis(h.admin)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(LedgerTest, EnvelopeForAnotherTrialIsInvalidArgument) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  v1::Envelope e = BaseEnvelope(h.admin, "subject/A");
  e.set_trial_id("other-trial");
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("x");
  absl::StatusOr<AppendResult> r = h.ledger->Append(SignAndAdmit(e, h.admin.key));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("other-trial"));
}

TEST(LedgerTest, StreamAndEventIdIndexes) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  std::vector<uint64_t> a_indexes;
  std::string third_event;
  for (int i = 0; i < 9; ++i) {
    const bool on_a = i % 3 != 1;
    Admitted n = NoteEvent(h.admin, on_a ? "subject/A" : "subject/B", absl::StrCat(i));
    if (i == 3) third_event = n.envelope.event_id();
    absl::StatusOr<AppendResult> r = h.ledger->Append(std::move(n));
    ASSERT_TRUE(r.ok());
    if (on_a) a_indexes.push_back(r->index);
  }
  absl::StatusOr<std::vector<uint64_t>> all = h.ledger->StreamIndexes("subject/A", 0);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, a_indexes);
  absl::StatusOr<std::vector<uint64_t>> tail = h.ledger->StreamIndexes("subject/A", 4);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, std::vector<uint64_t>(a_indexes.begin() + 3, a_indexes.end()));
  absl::StatusOr<std::vector<uint64_t>> limited = h.ledger->StreamIndexes("subject/A", 2, 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(*limited, std::vector<uint64_t>(a_indexes.begin() + 1, a_indexes.begin() + 3));
  EXPECT_TRUE(h.ledger->StreamIndexes("subject/Nobody", 0)->empty());
  // "subject/A" must not pick up "subject/AB"'s rows.
  ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "subject/AB", "x")).ok());
  EXPECT_EQ(h.ledger->StreamIndexes("subject/A", 0)->size(), a_indexes.size());

  EXPECT_EQ(*h.ledger->StreamVersion("subject/A"), a_indexes.size());
  EXPECT_EQ(*h.ledger->StreamVersion("subject/B"), 3u);
  EXPECT_EQ(*h.ledger->StreamVersion("subject/Nobody"), 0u);
  EXPECT_EQ(h.ledger->StreamVersion("").status().code(), absl::StatusCode::kInvalidArgument);
  // Many streams through one iterator: seeks back and forth, a repeat, a
  // stream whose id extends another's, one with no entries.
  absl::StatusOr<std::vector<uint64_t>> many = h.ledger->StreamVersions(
      {"subject/B", "subject/Nobody", "subject/AB", "subject/A", "subject/B"});
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_EQ(*many, (std::vector<uint64_t>{3, 0, 1, a_indexes.size(), 3}));
  EXPECT_TRUE(h.ledger->StreamVersions({})->empty());
  absl::StatusOr<std::vector<uint64_t>> bad =
      h.ledger->StreamVersions({"subject/A", absl::string_view("sub\0ject", 8)});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("stream ids[1]"));

  absl::StatusOr<uint64_t> found = h.ledger->FindEventId(third_event);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, 4u);
  EXPECT_EQ(h.ledger->FindEventId(std::string(16, 'x')).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(h.ledger->FindEventId("short").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LedgerTest, ReadsAreBoundedByTheDurableSize) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "s/A", "x")).ok());
  EXPECT_EQ(h.ledger->ReadEntry(5).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(h.ledger->InclusionProof(0, 6).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(h.ledger->InclusionProof(5, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.ledger->ConsistencyProof(0, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(h.ledger->ConsistencyProof(2, 9).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(h.ledger->ReadRange(6, 1, [](uint64_t, absl::string_view) { return true; }).code(),
            absl::StatusCode::kOutOfRange);
  std::vector<uint64_t> seen;
  ASSERT_OK(h.ledger->ReadRange(2, 100, [&](uint64_t i, absl::string_view) {
    seen.push_back(i);
    return true;
  }));
  EXPECT_EQ(seen, (std::vector<uint64_t>{2, 3, 4}));
  seen.clear();
  ASSERT_OK(h.ledger->ReadRange(0, 100, [&](uint64_t i, absl::string_view) {
    seen.push_back(i);
    return i < 1;
  }));
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1}));
  ASSERT_OK(h.ledger->ReadRange(5, 10, [](uint64_t, absl::string_view) { return true; }));
}

TEST(LedgerTest, WaitForSizeWakesOnAppend) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  EXPECT_FALSE(h.ledger->WaitForSize(1, absl::Milliseconds(20)));
  std::atomic<bool> woke{false};
  std::thread tail([&] { woke = h.ledger->WaitForSize(2, absl::Seconds(20)); });
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  ASSERT_TRUE(h.ledger->Append(NoteEvent(h.admin, "s/A", "x")).ok());
  tail.join();
  EXPECT_TRUE(woke);
  EXPECT_TRUE(h.ledger->WaitForSize(2, absl::ZeroDuration()));
  // Close wakes waiters.
  std::thread late([&] { woke = h.ledger->WaitForSize(100, absl::Seconds(20)); });
  absl::SleepFor(absl::Milliseconds(20));
  ASSERT_OK(h.ledger->Close());
  late.join();
  EXPECT_FALSE(woke);
}

TEST(LedgerTest, ReadStateSeesOnlyDurableEntries) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  std::atomic<bool> done{false};
  std::atomic<int> mismatches{0}, reads{0};
  std::thread reader([&] {
    while (!done) {
      h.ledger->ReadState([&] {
        if (h.rules->applied() != h.ledger->size()) ++mismatches;
        ++reads;
      });
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(h.ledger->Append(NoteEvent(h.admin, absl::StrCat("s/", t), "x")).ok());
      }
    });
  }
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(h.ledger->ReadState([&] { return h.rules->applied(); }), 201u);
}

TEST(LedgerTest, PipelinedBatchesStayOrderedDurableAndIdempotent) {
  // Batches queued back to back: the next is sequenced while the previous
  // one is written. Answers come in order; every answered entry is durable
  // (readable, size covers it) when its callback runs; a repeat of an event
  // in the batch being written is answered as a duplicate, one with other
  // bytes as ALREADY_EXISTS; ReadState never sees an Apply ahead of size().
  LedgerHarness h;
  LedgerOptions o;
  o.max_batch = 8;
  ASSERT_OK(h.Open(o));
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  constexpr int kChunks = 24;
  std::vector<std::vector<Admitted>> chunks(kChunks);
  std::vector<Admitted> originals;
  for (int c = 0; c < kChunks; ++c) {
    for (int k = 0; k < 7; ++k) {
      chunks[c].push_back(NoteEvent(h.admin, absl::StrCat("subject/", k % 3), absl::StrCat(c, "/", k)));
    }
    originals.push_back(chunks[c][3]);
    if (c == 0) {
      chunks[c].push_back(NoteEvent(h.admin, "subject/x", "eighth"));  // 8 per chunk = batch
    } else {
      // The 8th request repeats the previous chunk's 4th, alternately
      // identical and with other bytes under the same event id.
      const Admitted& prev = originals[c - 1];
      chunks[c].push_back(c % 2 ? prev
                                : NoteEvent(h.admin, "subject/0", "other",
                                            std::nullopt, prev.envelope.event_id()));
    }
  }
  std::atomic<bool> done{false};
  std::atomic<int> mismatches{0};
  std::thread reader([&] {
    while (!done) {
      h.ledger->ReadState([&] {
        if (h.rules->applied() != h.ledger->size()) ++mismatches;
      });
    }
  });
  absl::Mutex mu;
  std::vector<std::vector<absl::StatusOr<AppendResult>>> results(kChunks);
  std::vector<int> answer_order;
  int not_durable = 0, answered = 0;
  for (int c = 0; c < kChunks; ++c) {
    results[c].resize(chunks[c].size(), absl::UnknownError("unanswered"));
    h.ledger->AppendAllAsync(chunks[c], [&, c](size_t i, absl::StatusOr<AppendResult> r) {
      absl::MutexLock lock(&mu);
      if (r.ok() && !r->duplicate && r->index >= h.ledger->size()) ++not_durable;
      if (answer_order.empty() || answer_order.back() != c) answer_order.push_back(c);
      results[c][i] = std::move(r);
      ++answered;
    });
  }
  int total = 0;
  for (const auto& c : chunks) total += static_cast<int>(c.size());
  {
    absl::MutexLock lock(&mu);
    auto all = [&] { return answered == total; };
    mu.Await(absl::Condition(&all));
  }
  done = true;
  reader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(not_durable, 0);
  std::vector<int> in_order(kChunks);
  for (int c = 0; c < kChunks; ++c) in_order[c] = c;
  EXPECT_EQ(answer_order, in_order);
  uint64_t next = 1;
  for (int c = 0; c < kChunks; ++c) {
    for (size_t i = 0; i < (c == 0 ? 8u : 7u); ++i) {
      ASSERT_TRUE(results[c][i].ok()) << results[c][i].status();
      EXPECT_EQ(results[c][i]->index, next++);  // dense, in submission order
      EXPECT_FALSE(results[c][i]->duplicate);
    }
    if (c == 0) continue;
    const absl::StatusOr<AppendResult>& repeat = results[c][7];
    const AppendResult& original = *results[c - 1][3];
    if (c % 2) {
      ASSERT_TRUE(repeat.ok()) << repeat.status();
      EXPECT_TRUE(repeat->duplicate);
      EXPECT_EQ(repeat->index, original.index);
      EXPECT_EQ(repeat->entry_bytes, original.entry_bytes);
    } else {
      EXPECT_EQ(repeat.status().code(), absl::StatusCode::kAlreadyExists) << repeat.status();
      EXPECT_THAT(repeat.status().message(), HasSubstr(absl::StrCat("entry ", original.index)));
    }
  }
  EXPECT_EQ(h.ledger->size(), next);
  // Stream versions continued across overlapping batches.
  absl::StatusOr<std::vector<uint64_t>> s0 = h.ledger->StreamIndexes("subject/0", 1);
  ASSERT_TRUE(s0.ok());
  EXPECT_EQ(s0->size(), static_cast<size_t>(kChunks * 3));
  absl::StatusOr<uint64_t> v0 = h.ledger->StreamVersion("subject/0");
  ASSERT_TRUE(v0.ok());
  EXPECT_EQ(*v0, static_cast<uint64_t>(kChunks * 3));
  absl::StatusOr<ScrubReport> scrub = h.ledger->Scrub();
  ASSERT_TRUE(scrub.ok());
  EXPECT_TRUE(scrub->ok()) << scrub->ToStatus();
  // And the store reopens at exactly that state.
  const std::string root = h.ledger->root();
  ASSERT_OK(h.Open());
  EXPECT_EQ(h.ledger->size(), next);
  EXPECT_EQ(h.ledger->root(), root);
  EXPECT_EQ(h.ledger->ReadState([&] { return h.rules->applied(); }), next);
}

TEST(LedgerTest, CloseFinishesQueuedAppendsThenRefuses) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());
  std::vector<Admitted> notes;
  for (int i = 0; i < 200; ++i) notes.push_back(NoteEvent(h.admin, "s/A", absl::StrCat(i)));
  std::atomic<int> ok{0}, answered{0};
  for (Admitted& n : notes) {
    h.ledger->AppendAsync(std::move(n), [&](absl::StatusOr<AppendResult> r) {
      ok += r.ok();
      ++answered;
    });
  }
  ASSERT_OK(h.ledger->Close());
  EXPECT_EQ(answered.load(), 200);
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(h.ledger->size(), 201u);
  absl::StatusOr<AppendResult> late = h.ledger->Append(NoteEvent(h.admin, "s/A", "late"));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(late.status().message(), HasSubstr("closed"));
  EXPECT_EQ(h.ledger->health().code(), absl::StatusCode::kUnavailable);
  // Reads keep working after Close.
  EXPECT_TRUE(h.ledger->ReadEntry(200).ok());
  ASSERT_OK(h.Open());
  EXPECT_EQ(h.ledger->size(), 201u);
}

TEST(LedgerTest, OpenErrors) {
  LedgerHarness h;
  ASSERT_OK(h.Open());
  ASSERT_TRUE(h.ledger->Append(Genesis(h.admin)).ok());

  // The directory is locked while open.
  ledger::PrincipalRegistry registry;
  absl::StatusOr<std::unique_ptr<Ledger>> second = Ledger::Open(h.Options(), &registry, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  h.Shut();

  // Another key under the same name cannot open the stored checkpoint.
  note::NoteSigner impostor(std::string(kOrigin), crypto::SigningKey::Generate());
  LedgerOptions o = h.Options();
  o.checkpoint_signer = &impostor;
  absl::StatusOr<std::unique_ptr<Ledger>> wrong = Ledger::Open(o, &registry, {});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
  EXPECT_THAT(wrong.status().message(), HasSubstr("checkpoint"));
  EXPECT_THAT(wrong.status().message(), HasSubstr(h.dir));

  // Another origin.
  note::NoteSigner renamed("trialog.test/renamed", h.signer.key());
  o.checkpoint_signer = &renamed;
  EXPECT_EQ(Ledger::Open(o, &registry, {}).status().code(), absl::StatusCode::kFailedPrecondition);
  o.checkpoint_signer = &h.signer;
  o.origin = "trialog.test/renamed";
  EXPECT_EQ(Ledger::Open(o, &registry, {}).status().code(), absl::StatusCode::kInvalidArgument);

  LedgerOptions missing = h.Options();
  missing.dir = h.tmp.path() + "/nothing-here";
  missing.create_if_missing = false;
  EXPECT_EQ(Ledger::Open(missing, &registry, {}).status().code(), absl::StatusCode::kNotFound);
  LedgerOptions no_signer;
  no_signer.dir = h.dir;
  EXPECT_EQ(Ledger::Open(no_signer, &registry, {}).status().code(),
            absl::StatusCode::kInvalidArgument);

  // The store is still fine.
  ASSERT_OK(h.Open());
  EXPECT_EQ(h.ledger->size(), 1u);
}

}  // namespace
}  // namespace trialog::storage
