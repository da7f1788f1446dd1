// tools/witness/witness: the tlog-witness v1.0.0 rules, in process (no
// HTTP), over a real fsynced store in a scratch directory. Ledgers are built
// with core/merkle and signed with core/note; cosignatures are checked with
// core/note's verifier (tested against PyNaCl-made vectors) and by hand
// against the spec's message format.

#include "tools/witness/witness.h"

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/crypto/crypto.h"
#include "core/note/checkpoint.h"
#include "core/note/cosignature.h"
#include "core/note/note.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/witness/test_ledger.h"
#include "tests/witness/test_util.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::TestLedger;

constexpr char kLedgerName[] = "trialog.example/imt-crizotinib-01";
constexpr char kWitnessName[] = "witness.regulator.example/w1";

class WitnessTest : public ::testing::Test {
 protected:
  WitnessTest()
      : ledger_(note::NoteSigner(kLedgerName, crypto::SigningKey::Generate())),
        witness_key_(crypto::SigningKey::Generate()) {}

  void SetUp() override { ASSERT_TRUE(Reopen().ok()); }

  WitnessOptions Options() {
    WitnessOptions o;
    o.dir = dir_ / "witness";
    o.name = kWitnessName;
    o.logs = {LogConfig{kLedgerName, {ledger_.signer().verifier()}}};
    o.clock = [this] { return now_.load(); };
    o.log = [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      events_.emplace_back(line);
    };
    return o;
  }

  absl::Status Reopen() {
    witness_.reset();
    absl::StatusOr<std::unique_ptr<Witness>> w = Witness::Open(Options(), witness_key_);
    if (!w.ok()) return w.status();
    witness_ = *std::move(w);
    return absl::OkStatus();
  }

  // The cosigner as a verifier knows it: name and public key, key id from
  // the spec's formula SHA-256(name || "\n" || 0x04 || pub)[:4].
  note::Cosigner cosigner() const {
    const std::string pub = witness_key_.public_key();
    const std::string id =
        crypto::Sha256(absl::StrCat(kWitnessName, "\n", std::string(1, '\x04'), pub));
    return note::Cosigner{kWitnessName,
                          static_cast<uint32_t>(DecodeBigEndian64(std::string(4, '\0') + id.substr(0, 4))),
                          pub};
  }

  // Verifies that `line` is this witness's valid cosignature of the signed
  // checkpoint `note`; returns its timestamp.
  absl::StatusOr<uint64_t> CheckCosignature(const std::string& note, const std::string& line) {
    absl::StatusOr<note::OpenedNote> opened =
        note::OpenNote(note + line, {ledger_.signer().verifier()});
    if (!opened.ok()) return opened.status();
    absl::StatusOr<std::vector<note::Cosignature>> cosigs =
        note::VerifyCosignatures(*opened, {cosigner()});
    if (!cosigs.ok()) return cosigs.status();
    if (cosigs->size() != 1) return absl::NotFoundError("no cosignature by the witness");
    return (*cosigs)[0].timestamp;
  }

  // Submits the ledger's current checkpoint from `old_size`; expects a
  // valid cosignature.
  void ExpectCosigned(const TestLedger& ledger, uint64_t old_size) {
    AddCheckpointRequest request = ledger.Request(old_size);
    absl::StatusOr<std::string> line = witness_->AddCheckpoint(request);
    ASSERT_TRUE(line.ok()) << "old " << old_size << " -> " << ledger.size() << ": "
                           << line.status();
    absl::StatusOr<uint64_t> ts = CheckCosignature(request.checkpoint, *line);
    ASSERT_TRUE(ts.ok()) << ts.status();
    EXPECT_EQ(*ts, now_.load());
  }

  // The size the witness reports in a 409 for a request from old size 0.
  uint64_t WitnessSize(const TestLedger& ledger) {
    HttpReply reply =
        witness_->HandleAddCheckpoint(FormatAddCheckpointRequest(ledger.Request(0)));
    if (reply.status == 200) return 0;
    EXPECT_EQ(reply.status, 409) << reply.body;
    EXPECT_EQ(reply.content_type, "text/x.tlog.size");
    absl::StatusOr<uint64_t> size = ParseSizeBody(reply.body);
    EXPECT_TRUE(size.ok()) << reply.body;
    return size.ok() ? *size : ~uint64_t{0};
  }

  std::vector<std::string> Events() {
    absl::MutexLock lock(&mu_);
    return events_;
  }

  ScratchDir dir_;
  TestLedger ledger_;
  crypto::SigningKey witness_key_;
  std::atomic<uint64_t> now_{1700000000};
  std::unique_ptr<Witness> witness_;
  absl::Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

TEST_F(WitnessTest, CosignsAFirstCheckpointFromSizeZeroThenEveryExtension) {
  ledger_.Append(5);
  ExpectCosigned(ledger_, 0);
  uint64_t cosigned = 5;
  for (uint64_t grow : {7u, 1u, 1u, 50u, 64u, 1000u}) {
    ledger_.Append(grow);
    now_ += 3;
    ExpectCosigned(ledger_, cosigned);
    cosigned = ledger_.size();
  }
  EXPECT_EQ(WitnessSize(ledger_), cosigned);
}

TEST_F(WitnessTest, CosignatureFollowsTheSpecMessageByteForByte) {
  ledger_.Append(8);
  const std::string note = ledger_.Checkpoint();
  absl::StatusOr<std::string> line = witness_->AddCheckpoint(ledger_.Request(0));
  ASSERT_TRUE(line.ok()) << line.status();
  // "— <name> base64(key id (4) || timestamp (8, big-endian) || Ed25519 sig (64))\n"
  const std::string prefix = absl::StrCat("\xE2\x80\x94 ", kWitnessName, " ");
  ASSERT_EQ(line->substr(0, prefix.size()), prefix);
  ASSERT_EQ(line->back(), '\n');
  absl::StatusOr<std::string> raw =
      Base64Decode(line->substr(prefix.size(), line->size() - prefix.size() - 1));
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw->size(), 76u);
  EXPECT_EQ(DecodeBigEndian64(std::string(4, '\0') + raw->substr(0, 4)), cosigner().key_id);
  EXPECT_EQ(DecodeBigEndian64(raw->substr(4, 8)), 1700000000u);
  const std::string text = note.substr(0, note.rfind("\n\n") + 1);
  EXPECT_TRUE(crypto::Verify(witness_key_.public_key(),
                             absl::StrCat("cosignature/v1\ntime 1700000000\n", text),
                             raw->substr(12)));
  EXPECT_FALSE(crypto::Verify(witness_key_.public_key(),
                              absl::StrCat("cosignature/v1\ntime 1700000001\n", text),
                              raw->substr(12)));
}

TEST_F(WitnessTest, StaleOldSizeGets409WithTheCosignedSize) {
  ledger_.Append(12);
  ExpectCosigned(ledger_, 0);
  TestLedger later = ledger_;
  later.Append(8);
  for (uint64_t stale : {0u, 5u, 11u, 13u}) {
    absl::StatusOr<std::string> r = witness_->AddCheckpoint(later.Request(stale));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << stale;
    ASSERT_TRUE(ConflictSize(r.status()).has_value());
    EXPECT_EQ(*ConflictSize(r.status()), 12u);
  }
  // The same over the HTTP handler: the spec's body and Content-Type.
  HttpReply reply = witness_->HandleAddCheckpoint(FormatAddCheckpointRequest(later.Request(5)));
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.content_type, "text/x.tlog.size");
  EXPECT_EQ(reply.body, "12\n");
  // A client that learnt the size from the 409 then succeeds.
  ExpectCosigned(later, 12);
}

TEST_F(WitnessTest, ForkWithTheSameSizeIsRefusedAndKeptAsEvidence) {
  ledger_.Append(10);
  TestLedger fork = ledger_;  // same key, same first 10 entries
  ledger_.Append(6, "honest");
  fork.Append(6, "rewritten");
  ASSERT_NE(ledger_.root(), fork.root());
  ExpectCosigned(ledger_, 0);

  const std::string body = FormatAddCheckpointRequest(fork.Request(16));
  HttpReply reply = witness_->HandleAddCheckpoint(body);
  EXPECT_EQ(reply.status, 409);
  EXPECT_EQ(reply.body, "16\n");
  // The validly signed conflicting checkpoint is kept verbatim and reported.
  std::vector<std::string> kept;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "witness/evidence")) {
    if (e.is_regular_file()) kept.push_back(testing::ReadFileOrDie(e.path().string()));
  }
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0], body);
  bool reported = false;
  for (const std::string& e : Events()) reported |= e.find("REFUSED") != std::string::npos &&
                                                   e.find("forked") != std::string::npos;
  EXPECT_TRUE(reported);
  // The honest ledger is unaffected.
  ledger_.Append(1);
  ExpectCosigned(ledger_, 16);
}

TEST_F(WitnessTest, ForkWithItsOwnConsistencyProofGets422) {
  ledger_.Append(10);
  TestLedger fork = ledger_;
  ledger_.Append(3, "honest");
  fork.Append(3, "rewritten");
  ExpectCosigned(ledger_, 0);  // witness holds the honest size 13
  fork.Append(20, "more");
  // The fork proves consistency with ITS size-13 tree, not the cosigned one.
  absl::StatusOr<std::string> r = witness_->AddCheckpoint(fork.Request(13));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("does not verify"));
  EXPECT_EQ(HttpStatusFor(r.status()), 422);
  EXPECT_EQ(WitnessSize(ledger_), 13u);
}

TEST_F(WitnessTest, DamagedProofsGet422) {
  ledger_.Append(7);
  ExpectCosigned(ledger_, 0);
  ledger_.Append(30);
  const AddCheckpointRequest good = ledger_.Request(7);
  ASSERT_GE(good.proof.size(), 2u);
  AddCheckpointRequest flipped = good;
  flipped.proof[1][5] ^= 0x01;
  AddCheckpointRequest shorter = good;
  shorter.proof.pop_back();
  AddCheckpointRequest longer = good;
  longer.proof.push_back(std::string(32, '\0'));
  AddCheckpointRequest none = good;
  none.proof.clear();
  for (const AddCheckpointRequest* r : {&flipped, &shorter, &longer, &none}) {
    absl::StatusOr<std::string> got = witness_->AddCheckpoint(*r);
    EXPECT_EQ(HttpStatusFor(got.status()), 422) << got.status();
  }
  EXPECT_EQ(WitnessSize(ledger_), 7u);
  ExpectCosigned(ledger_, 7);
}

TEST_F(WitnessTest, BadRequestsGet400) {
  ledger_.Append(4);
  ExpectCosigned(ledger_, 0);
  ledger_.Append(4);
  // Old size above the checkpoint size.
  absl::StatusOr<std::string> r = witness_->AddCheckpoint(ledger_.Request(9));
  EXPECT_EQ(HttpStatusFor(r.status()), 400);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("larger than the checkpoint size"));
  // A proof from size 0 must be empty.
  AddCheckpointRequest zero = ledger_.Request(0);
  zero.proof.push_back(std::string(32, 'x'));
  EXPECT_EQ(HttpStatusFor(witness_->AddCheckpoint(zero).status()), 400);
  // Malformed bodies and notes.
  EXPECT_EQ(witness_->HandleAddCheckpoint("old 4\n").status, 400);
  EXPECT_EQ(witness_->HandleAddCheckpoint("old 4\n\n" + ledger_.CheckpointText()).status, 400);
  std::string crlf = ledger_.Checkpoint();
  crlf.insert(crlf.find('\n', crlf.find('\n') + 1), "\r");  // CRLF after the size line
  HttpReply reply = witness_->HandleAddCheckpoint("old 4\n\n" + crlf);
  EXPECT_EQ(reply.status, 400) << reply.body;
  EXPECT_THAT(reply.body, HasSubstr("CR"));
  // Text that is not a checkpoint, signed by the ledger key.
  absl::StatusOr<std::string> junk = note::SignNote(
      absl::StrCat(kLedgerName, "\nnot-a-size\nxyz\n"), {&ledger_.signer()});
  ASSERT_TRUE(junk.ok());
  reply = witness_->HandleAddCheckpoint("old 4\n\n" + *junk);
  EXPECT_EQ(reply.status, 400);
  EXPECT_THAT(reply.body, HasSubstr("malformed checkpoint"));
  EXPECT_EQ(WitnessSize(ledger_), 4u);
}

TEST_F(WitnessTest, UnknownOriginGets404AndBadSignaturesGet403) {
  TestLedger other(note::NoteSigner("trialog.example/another-trial", crypto::SigningKey::Generate()));
  other.Append(3);
  absl::StatusOr<std::string> r = witness_->AddCheckpoint(other.Request(0));
  EXPECT_EQ(HttpStatusFor(r.status()), 404);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("another-trial"));

  // Same origin, another key: the impostor's signature is ignored (unknown
  // key), so no trusted signature verifies.
  TestLedger impostor(note::NoteSigner(kLedgerName, crypto::SigningKey::Generate()));
  impostor.Append(3);
  r = witness_->AddCheckpoint(impostor.Request(0));
  EXPECT_EQ(HttpStatusFor(r.status()), 403) << r.status();

  // The right key, but the checkpoint was altered after signing.
  ledger_.Append(3);
  AddCheckpointRequest altered = ledger_.Request(0);
  altered.checkpoint.replace(altered.checkpoint.find("\n3\n"), 3, "\n4\n");
  r = witness_->AddCheckpoint(altered);
  EXPECT_EQ(HttpStatusFor(r.status()), 403) << r.status();
  // Nothing was recorded: the honest checkpoint is still accepted from 0.
  ExpectCosigned(ledger_, 0);
}

TEST_F(WitnessTest, ExtraSignaturesAndExtensionLinesAreFine) {
  ledger_.Append(3);
  note::NoteSigner stranger("someone.else/key", crypto::SigningKey::Generate());
  absl::StatusOr<std::string> two = note::SignNote(ledger_.CheckpointText(),
                                                   {&stranger, &ledger_.signer()});
  ASSERT_TRUE(two.ok());
  absl::StatusOr<std::string> line = witness_->AddCheckpoint({0, {}, *two});
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_TRUE(CheckCosignature(*two, *line).ok());

  ledger_.Append(2);
  const std::string with_ext = ledger_.Checkpoint({"trial-phase: enrolment"});
  line = witness_->AddCheckpoint({3, ledger_.Proof(3), with_ext});
  ASSERT_TRUE(line.ok()) << line.status();
  absl::StatusOr<uint64_t> ts = CheckCosignature(with_ext, *line);
  EXPECT_TRUE(ts.ok()) << ts.status();  // the cosigned message includes the extension
}

TEST_F(WitnessTest, SameCheckpointAgainIsCosignedAgain) {
  ledger_.Append(9);
  ExpectCosigned(ledger_, 0);
  now_ += 60;
  ExpectCosigned(ledger_, 9);  // old == size, same root: fresh timestamp
  EXPECT_EQ(WitnessSize(ledger_), 9u);
}

TEST_F(WitnessTest, RestartKeepsState) {
  ledger_.Append(21);
  ExpectCosigned(ledger_, 0);
  TestLedger fork = ledger_;
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(WitnessSize(ledger_), 21u);
  fork.Append(2, "rewritten");
  ledger_.Append(2, "honest");
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(HttpStatusFor(witness_->AddCheckpoint(fork.Request(0)).status()), 409);
  ExpectCosigned(ledger_, 21);
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(WitnessSize(ledger_), 23u);
  EXPECT_EQ(HttpStatusFor(witness_->AddCheckpoint(fork.Request(21)).status()), 409);
}

TEST_F(WitnessTest, StoredCheckpointIsTheCosignedNote) {
  ledger_.Append(6);
  const std::string note = ledger_.Checkpoint();
  absl::StatusOr<std::string> line = witness_->AddCheckpoint(ledger_.Request(0));
  ASSERT_TRUE(line.ok());
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "witness/logs")) {
    files.push_back(e.path().string());
  }
  ASSERT_EQ(files.size(), 1u);
  // The file name is hex SHA-256 of the origin.
  EXPECT_EQ(std::filesystem::path(files[0]).filename().string(),
            HexEncode(crypto::Sha256(kLedgerName)) + ".checkpoint");
  const std::string stored = testing::ReadFileOrDie(files[0]);
  EXPECT_EQ(stored, note + *line);  // one ledger signature, then the cosignature
  EXPECT_TRUE(CheckCosignature(note, *line).ok());
}

TEST_F(WitnessTest, SecondWitnessOnTheSameDirectoryIsRefused) {
  absl::StatusOr<std::unique_ptr<Witness>> second = Witness::Open(Options(), witness_key_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use by another witness"));
  witness_.reset();
  EXPECT_TRUE(Witness::Open(Options(), witness_key_).ok());
}

TEST_F(WitnessTest, DamagedStateStopsTheWitnessFromStarting) {
  ledger_.Append(6);
  ExpectCosigned(ledger_, 0);
  witness_.reset();
  const std::string path =
      dir_ / ("witness/logs/" + HexEncode(crypto::Sha256(kLedgerName)) + ".checkpoint");
  const std::string good = testing::ReadFileOrDie(path);
  // A size rolled back by hand: the ledger's signature no longer verifies.
  std::string rolled_back = good;
  rolled_back.replace(rolled_back.find("\n6\n"), 3, "\n2\n");
  testing::WriteFileOrDie(path, rolled_back);
  absl::StatusOr<std::unique_ptr<Witness>> w = Witness::Open(Options(), witness_key_);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDataLoss) << w.status();
  EXPECT_THAT(std::string(w.status().message()), HasSubstr(path));
  // Truncated.
  testing::WriteFileOrDie(path, good.substr(0, good.size() / 2));
  EXPECT_EQ(Witness::Open(Options(), witness_key_).status().code(), absl::StatusCode::kDataLoss);
  // Restored: starts again, with its state.
  testing::WriteFileOrDie(path, good);
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(WitnessSize(ledger_), 6u);
}

TEST_F(WitnessTest, AcceptsEitherKeyDuringARotation) {
  note::NoteSigner new_key(kLedgerName, crypto::SigningKey::Generate());
  witness_.reset();
  WitnessOptions o = Options();
  o.logs[0].keys.push_back(new_key.verifier());
  absl::StatusOr<std::unique_ptr<Witness>> w = Witness::Open(std::move(o), witness_key_);
  ASSERT_TRUE(w.ok()) << w.status();
  witness_ = *std::move(w);
  ledger_.Append(4);
  ExpectCosigned(ledger_, 0);
  ledger_.Append(4);
  absl::StatusOr<std::string> rotated =
      note::SignCheckpoint({kLedgerName, ledger_.size(), ledger_.root(), {}}, new_key);
  ASSERT_TRUE(rotated.ok());
  absl::StatusOr<std::string> line = witness_->AddCheckpoint({4, ledger_.Proof(4), *rotated});
  EXPECT_TRUE(line.ok()) << line.status();
}

TEST_F(WitnessTest, RefusesBadConfiguration) {
  witness_.reset();
  WitnessOptions o = Options();
  o.name = "bad name";
  EXPECT_EQ(Witness::Open(o, witness_key_).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.logs.clear();
  EXPECT_EQ(Witness::Open(o, witness_key_).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.logs.push_back(o.logs[0]);
  EXPECT_THAT(std::string(Witness::Open(o, witness_key_).status().message()),
              HasSubstr("configured twice"));
  o = Options();
  o.logs[0].keys.clear();
  EXPECT_EQ(Witness::Open(o, witness_key_).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.logs[0].keys[0].key_id ^= 1;
  EXPECT_THAT(std::string(Witness::Open(o, witness_key_).status().message()),
              HasSubstr("wrong key id"));
}

// The spec's race: check and update must be atomic. Many requests from the
// same old size race; exactly one may win, and the stored size must be the
// winner's (never rolled back by a loser).
TEST_F(WitnessTest, ConcurrentExtensionsFromOneSizeHaveOneWinner) {
  ledger_.Append(10);
  ExpectCosigned(ledger_, 0);
  constexpr int kRacers = 8;
  std::vector<AddCheckpointRequest> requests;
  TestLedger grow = ledger_;
  for (int i = 0; i < kRacers; ++i) {
    grow.Append(1);
    requests.push_back(grow.Request(10));
  }
  std::vector<absl::StatusOr<std::string>> results(kRacers, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] { results[i] = witness_->AddCheckpoint(requests[i]); });
  }
  for (std::thread& t : threads) t.join();
  int winners = 0;
  uint64_t winner_size = 0;
  for (int i = 0; i < kRacers; ++i) {
    if (results[i].ok()) {
      ++winners;
      winner_size = 11 + i;
    } else {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kAborted) << results[i].status();
    }
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(WitnessSize(grow), winner_size);
}

}  // namespace
}  // namespace trialog::witness
