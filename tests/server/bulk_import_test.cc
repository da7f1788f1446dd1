// Batch-signed bulk import through the real trialogd on loopback (plaintext),
// with keys made at test time and real RocksDB: round trip, refusals, all-
// or-nothing, duplicates. Each imported entry is checked here with FORMAT.md
// §1.1's rules written out independently of core/ledger (SHA-256 and Ed25519
// from core/crypto, the RFC 9162 §2.1.3.2 path walk coded below).

#include <signal.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/bulk_import.h"
#include "client/client.h"
#include "core/crypto/crypto.h"
#include "core/crypto/key_file.h"
#include "nlohmann/json.hpp"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/ledger/batch.h"
#include "core/note/keys.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/server/test_support.h"
#include "trialog/v1/bulk_import.grpc.pb.h"

namespace trialog::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kLedgerName[] = "trialog.bulk";

std::string Be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

// RFC 9162 §2.1.3.2, written out: the root implied by `path` for leaf
// `index` of a tree of `size` leaves; empty string if the path does not fit.
std::string RootFromPath(uint64_t index, uint64_t size, std::string hash,
                         const std::vector<std::string>& path) {
  if (index >= size) return "";
  uint64_t fn = index, sn = size - 1;
  for (const std::string& p : path) {
    if (sn == 0) return "";
    if ((fn & 1) == 1 || fn == sn) {
      hash = crypto::Sha256(std::string(1, '\x01') + p + hash);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      hash = crypto::Sha256(std::string(1, '\x01') + hash + p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 ? hash : "";
}

// RFC 6962 MTH over leaf hashes, written out.
std::string Mth(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) return leaves[begin];
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return crypto::Sha256(std::string(1, '\x01') + Mth(leaves, begin, begin + k) +
                        Mth(leaves, begin + k, end));
}

class BulkImportTest : public SuiteTrialogdTest<BulkImportTest> {
 protected:
  static void SetUpTestSuite() { StartSuiteTrialogd(kLedgerName); }
  static void TearDownTestSuite() { StopSuiteTrialogd(); }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ledger_ = PlainStub(server_->target());
    bulk_ = v1::BulkImportService::NewStub(
        grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
    trial_ = absl::StrCat("bulk", ++counter_, "-", getpid());
    Append(Genesis(trial_, absl::StrCat(kLedgerName, "/", trial_), admin_));
    Append(Register(trial_, admin_, lab_));
    Append(Register(trial_, admin_, lab2_));
    Append(Register(trial_, admin_, dm_));
  }

  note::Verifier Verifier() const {
    absl::StatusOr<note::Verifier> v = note::ParseVerifierKey(
        note::FormatVerifierKey(absl::StrCat(kLedgerName, "/", trial_), key_->public_key));
    EXPECT_TRUE(v.ok());
    return *v;
  }
  void Append(const v1::SignedEnvelope& se) {
    grpc::ClientContext ctx;
    v1::AppendRequest req;
    req.set_trial_id(trial_);
    *req.mutable_signed_envelope() = se;
    v1::AppendResponse resp;
    grpc::Status s = ledger_->Append(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  uint64_t Size() {
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial_);
    v1::GetCheckpointResponse resp;
    grpc::Status s = ledger_->GetCheckpoint(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tree_size();
  }
  std::vector<std::string> ReadAll() {
    grpc::ClientContext ctx;
    v1::ReadRequest req;
    req.set_trial_id(trial_);
    auto reader = ledger_->Read(&ctx, req);
    std::vector<std::string> out;
    v1::ReadResponse r;
    while (reader->Read(&r)) out.push_back(r.entry());
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  static v1::Envelope NoteEnvelope(const std::string& stream, const std::string& text) {
    v1::Envelope e;
    e.set_stream_id(stream);
    e.mutable_event()->mutable_trial()->mutable_note()->set_text(text);
    return e;
  }
  // A batch of `n` notes by `by` on stream "lab-notes".
  v1::SignedBatch Notes(const Principal& by, int n, const std::string& tag = "r") {
    client::Signer signer = by.signer();
    client::BatchBuilder b(signer, trial_);
    for (int i = 0; i < n; ++i) b.Add(NoteEnvelope("lab-notes", absl::StrCat(tag, i)));
    absl::StatusOr<v1::SignedBatch> batch = b.Finish();
    EXPECT_TRUE(batch.ok()) << batch.status();
    return *batch;
  }
  absl::StatusOr<client::ImportResult> Import(const v1::SignedBatch& batch, bool receipts = false) {
    client::ImportOptions o;
    o.want_receipts = receipts;
    return client::ImportBatch(*bulk_, trial_, batch, Verifier(), o);
  }
  // The key the ledger's own registry holds for `principal_id`, read from
  // its PrincipalRegistered entry.
  std::string RegisteredKey(const std::vector<std::string>& entries, const std::string& id) {
    for (const std::string& bytes : entries) {
      v1::Entry e;
      v1::Envelope env;
      if (!e.ParseFromString(bytes) || !env.ParseFromString(e.signed_envelope().envelope())) continue;
      if (env.event().has_principal_registered() &&
          env.event().principal_registered().principal_id() == id) {
        return env.event().principal_registered().public_key();
      }
    }
    return "";
  }

  static int counter_;
  std::unique_ptr<v1::LedgerService::Stub> ledger_;
  std::unique_ptr<v1::BulkImportService::Stub> bulk_;
  std::string trial_;
  Principal admin_ = MakePrincipal("admin-1", v1::ROLE_SPONSOR_ADMIN);
  Principal lab_ = MakePrincipal("lab-central", v1::ROLE_EXTERNAL_SYSTEM);
  Principal lab2_ = MakePrincipal("lab-other", v1::ROLE_EXTERNAL_SYSTEM);
  Principal dm_ = MakePrincipal("dm-1", v1::ROLE_DATA_MANAGER);
};

int BulkImportTest::counter_ = 0;

TEST_F(BulkImportTest, RoundTripEveryEntryVerifiesAlone) {
  const uint64_t before = Size();
  const int n = 37;  // not a power of two: the last paths are short
  v1::SignedBatch batch = Notes(lab_, n);
  absl::StatusOr<client::ImportResult> r = Import(batch, /*receipts=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->response.first_index(), before);
  EXPECT_EQ(r->response.count(), static_cast<uint64_t>(n));
  EXPECT_FALSE(r->response.duplicate());
  EXPECT_EQ(Size(), before + n);

  const std::vector<std::string> entries = ReadAll();
  ASSERT_EQ(entries.size(), before + n);
  const std::string key = RegisteredKey(entries, "lab-central");
  ASSERT_EQ(key.size(), 32u);
  // The batch root, from the envelopes sent.
  std::vector<std::string> leaves;
  for (const std::string& e : batch.envelopes()) leaves.push_back(crypto::Sha256(std::string(1, '\0') + e));
  const std::string want_root = Mth(leaves, 0, leaves.size());
  for (int i = 0; i < n; ++i) {
    SCOPED_TRACE(absl::StrCat("entry ", before + i));
    v1::Entry e;
    ASSERT_TRUE(e.ParseFromString(entries[before + i]));
    const v1::SignedEnvelope& se = e.signed_envelope();
    EXPECT_TRUE(se.signature().empty());
    ASSERT_TRUE(se.has_batch_proof());
    EXPECT_EQ(se.envelope(), batch.envelopes(i));
    const v1::BatchProof& p = se.batch_proof();
    EXPECT_EQ(p.batch_size(), static_cast<uint64_t>(n));
    EXPECT_EQ(p.position(), static_cast<uint64_t>(i));
    // This entry alone: leaf, path, message, signature under the registry's key.
    const std::string root =
        RootFromPath(p.position(), p.batch_size(), crypto::Sha256(std::string(1, '\0') + se.envelope()),
                     std::vector<std::string>(p.path().begin(), p.path().end()));
    EXPECT_EQ(root, want_root);
    const std::string message =
        absl::StrCat("trialog/v1/batch\n", trial_, "\n", Be64(p.batch_size()), root);
    EXPECT_TRUE(crypto::Verify(key, message, p.signature()));
    // Flip one path node: the root and so the signature no longer fit.
    if (p.path_size() > 0) {
      std::vector<std::string> bad(p.path().begin(), p.path().end());
      bad[0][5] ^= 1;
      EXPECT_FALSE(crypto::Verify(
          key,
          absl::StrCat("trialog/v1/batch\n", trial_, "\n", Be64(p.batch_size()),
                       RootFromPath(p.position(), p.batch_size(),
                                    crypto::Sha256(std::string(1, '\0') + se.envelope()), bad)),
          p.signature()));
    }
    // The receipt the server returned holds these very bytes.
    EXPECT_EQ(r->response.receipts(i).entry(), entries[before + i]);
  }
  // And the production verifier accepts the whole ledger (genesis on).
  ledger::ChainVerifier verifier;
  for (const std::string& bytes : entries) {
    absl::Status s = verifier.Add(bytes);
    ASSERT_TRUE(s.ok()) << s;
  }
}

TEST_F(BulkImportTest, SignerRoleOtherThanExternalSystemIsPermissionDenied) {
  const uint64_t before = Size();
  absl::StatusOr<client::ImportResult> r = Import(Notes(dm_, 3));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("ROLE_EXTERNAL_SYSTEM"));
  EXPECT_EQ(Size(), before);
}

TEST_F(BulkImportTest, EnvelopeNamingAnotherActorIsPermissionDenied) {
  const uint64_t before = Size();
  client::Signer signer = lab_.signer();
  client::Signer other = lab2_.signer();
  client::BatchBuilder b(signer, trial_);
  b.Add(NoteEnvelope("lab-notes", "mine"));
  // Envelope 1 claims lab-other as its actor, in a batch lab-central signs.
  client::BatchBuilder o(other, trial_);
  o.Add(NoteEnvelope("lab-notes", "theirs"));
  absl::StatusOr<v1::SignedBatch> ob = o.Finish();
  ASSERT_TRUE(ob.ok());
  b.AddBytes(ob->envelopes(0));
  b.Add(NoteEnvelope("lab-notes", "mine again"));
  absl::StatusOr<v1::SignedBatch> batch = b.Finish();
  ASSERT_TRUE(batch.ok());
  absl::StatusOr<client::ImportResult> r = Import(*batch);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("envelope 1"));
  EXPECT_THAT(r.status().message(), HasSubstr("lab-other"));
  EXPECT_EQ(Size(), before);
}

TEST_F(BulkImportTest, BadBatchSignatureIsUnauthenticated) {
  const uint64_t before = Size();
  v1::SignedBatch batch = Notes(lab_, 5);
  v1::SignedBatch flipped = batch;
  (*flipped.mutable_signature())[10] ^= 0x04;
  absl::StatusOr<client::ImportResult> r = Import(flipped);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  // Signed by lab-other's key while every envelope names lab-central.
  absl::StatusOr<v1::SignedBatch> wrong_key = ledger::SignBatch(
      trial_, std::vector<std::string>(batch.envelopes().begin(), batch.envelopes().end()),
      lab2_.key);
  ASSERT_TRUE(wrong_key.ok());
  r = Import(*wrong_key);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  // An envelope changed after signing.
  v1::SignedBatch changed = batch;
  (*changed.mutable_envelopes(2)).back() ^= 0x01;
  r = Import(changed);
  EXPECT_TRUE(r.status().code() == absl::StatusCode::kUnauthenticated ||
              r.status().code() == absl::StatusCode::kInvalidArgument)
      << r.status();
  EXPECT_EQ(Size(), before);
  // The untouched batch still goes in.
  EXPECT_TRUE(Import(batch).ok());
  EXPECT_EQ(Size(), before + 5);
}

TEST_F(BulkImportTest, ProtocolRuleBrokenMidBatchAppendsNothing) {
  const uint64_t before = Size();
  client::Signer signer = lab_.signer();
  client::BatchBuilder b(signer, trial_);
  for (int i = 0; i < 3; ++i) b.Add(NoteEnvelope("lab-notes", absl::StrCat("ok", i)));
  // A molecular result (EXTERNAL_SYSTEM may record those) in a trial whose
  // genesis carried no protocol: rule protocol.none.
  v1::Envelope result;
  result.set_stream_id("subject/RU-01-0001");
  result.mutable_event()->mutable_trial()->mutable_molecular_result();
  b.Add(result);
  for (int i = 0; i < 3; ++i) b.Add(NoteEnvelope("lab-notes", absl::StrCat("after", i)));
  absl::StatusOr<v1::SignedBatch> batch = b.Finish();
  ASSERT_TRUE(batch.ok());
  absl::StatusOr<client::ImportResult> r = Import(*batch);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("envelope 3: "));
  EXPECT_THAT(r.status().message(), HasSubstr("protocol"));
  EXPECT_EQ(Size(), before) << "a refused batch appended something";
}

TEST_F(BulkImportTest, DuplicateEventIds) {
  const uint64_t before = Size();
  // Twice in one batch: refused, nothing appended.
  client::Signer signer = lab_.signer();
  client::BatchBuilder b(signer, trial_);
  v1::Envelope e = NoteEnvelope("lab-notes", "x");
  e.set_event_id(ledger::NewEventId());
  b.Add(e);
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("y");
  b.Add(e);
  absl::StatusOr<v1::SignedBatch> twice = b.Finish();
  ASSERT_TRUE(twice.ok());
  absl::StatusOr<client::ImportResult> r = Import(*twice);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("envelope 1"));
  EXPECT_EQ(Size(), before);

  // A retried batch: answered as a duplicate with the same indexes.
  v1::SignedBatch batch = Notes(lab_, 4);
  absl::StatusOr<client::ImportResult> first = Import(batch);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<client::ImportResult> again = Import(batch);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->response.duplicate());
  EXPECT_EQ(again->response.first_index(), first->response.first_index());
  EXPECT_EQ(Size(), before + 4);

  // An earlier entry's event id in a new batch (other bytes): refused.
  v1::Envelope reused;
  ASSERT_TRUE(reused.ParseFromString(batch.envelopes(2)));
  reused.mutable_event()->mutable_trial()->mutable_note()->set_text("changed");
  client::BatchBuilder c(signer, trial_);
  c.Add(NoteEnvelope("lab-notes", "fresh"));
  c.Add(reused);
  absl::StatusOr<v1::SignedBatch> clash = c.Finish();
  ASSERT_TRUE(clash.ok());
  r = Import(*clash);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("envelope 1"));
  EXPECT_EQ(Size(), before + 4);
}

TEST_F(BulkImportTest, UnaryAppendCannotCarryABatchProof) {
  v1::SignedBatch batch = Notes(lab_, 2);
  v1::SignedEnvelope se;
  se.set_envelope(batch.envelopes(0));
  se.mutable_batch_proof()->set_batch_size(2);
  se.mutable_batch_proof()->set_signature(batch.signature());
  grpc::ClientContext ctx;
  v1::AppendRequest req;
  req.set_trial_id(trial_);
  *req.mutable_signed_envelope() = se;
  v1::AppendResponse resp;
  grpc::Status s = ledger_->Append(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
}

// The CLI: `trialog import` of a .jsonl file with a key file made here.
TEST_F(BulkImportTest, CliImportsAJsonlFileAndRefusesAMalformedOne) {
  const uint64_t before = Size();
  const std::string key_file = dir_->File(absl::StrCat(trial_, "-lab.key"));
  const std::string pass_file = dir_->File(absl::StrCat(trial_, "-lab.pass"));
  ASSERT_TRUE(crypto::WriteKeyFile(key_file, "lab-central", lab_.key, "lab passphrase",
                                   crypto::kKeyFileTestParams)
                  .ok());
  std::ofstream(pass_file) << "lab passphrase\n";
  const std::string vkey =
      note::FormatVerifierKey(absl::StrCat(kLedgerName, "/", trial_), key_->public_key);
  const std::string events = dir_->File(absl::StrCat(trial_, "-events.jsonl"));
  {
    std::ofstream out(events);
    for (int i = 0; i < 7; ++i) {
      out << "{\"streamId\":\"lab-notes\",\"event\":{\"trial\":{\"note\":{\"text\":\"cli " << i
          << "\"}}}}\n";
    }
  }
  const std::vector<std::string> base = {"import", "--server", server_->target(), "--plaintext",
                                         "--key", vkey, "--signer-key", key_file,
                                         "--passphrase-file", pass_file, "--principal", "lab-central",
                                         "--batch-size", "3", "--json"};
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--in", events});
  CliResult r = RunTrialogCli(args);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j.value("imported", 0), 7);
  EXPECT_EQ(j.value("batches", 0), 3);
  EXPECT_EQ(Size(), before + 7);

  const std::string bad = dir_->File(absl::StrCat(trial_, "-bad.jsonl"));
  std::ofstream(bad) << "{\"streamId\":\"lab-notes\"}\nnot json\n";
  args = base;
  args.insert(args.end(), {"--in", bad});
  r = RunTrialogCli(args);
  EXPECT_EQ(r.exit_code, 65) << r.out;
  EXPECT_EQ(Size(), before + 7);
}

}  // namespace
}  // namespace trialog::testing
