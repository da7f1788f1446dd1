// Integration tests of trialogd: the real binary on a loopback port, real
// keys made at test time, real RocksDB underneath. Receipts are checked with
// core/ledger/receipt (independent of the server code) and whole ledgers
// with the offline ChainVerifier.

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/client.h"
#include "client/metrics_scrape.h"
#include "core/crypto/crypto.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/ledger/receipt.h"
#include "core/merkle/merkle.h"
#include "core/note/keys.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "tests/server/test_support.h"

namespace trialog::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLedgerName[] = "trialog.test";

class ServerTest : public SuiteTrialogdTest<ServerTest> {
 protected:
  static void SetUpTestSuite() { StartSuiteTrialogd(kLedgerName, {"--metrics_listen=127.0.0.1:0"}); }
  static void TearDownTestSuite() { StopSuiteTrialogd(); }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    stub_ = PlainStub(server_->target());
  }

  static std::string Origin(const std::string& trial) { return absl::StrCat(kLedgerName, "/", trial); }
  static note::Verifier VerifierFor(const std::string& trial) {
    absl::StatusOr<note::Verifier> v =
        note::ParseVerifierKey(note::FormatVerifierKey(Origin(trial), key_->public_key));
    EXPECT_TRUE(v.ok());
    return *v;
  }
  std::string NewTrialId() { return absl::StrCat("t", ++trial_counter_, "-", getpid()); }

  grpc::Status AppendRaw(const std::string& trial, const v1::SignedEnvelope& se,
                         v1::AppendResponse* response = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::AppendRequest req;
    req.set_trial_id(trial);
    *req.mutable_signed_envelope() = se;
    v1::AppendResponse local;
    return stub_->Append(&ctx, req, response ? response : &local);
  }
  // Creates a trial with `admin` as first administrator.
  std::string NewTrial(const Principal& admin) {
    const std::string trial = NewTrialId();
    v1::AppendResponse r;
    grpc::Status s = AppendRaw(trial, Genesis(trial, Origin(trial), admin), &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.index(), 0u);
    return trial;
  }
  uint64_t Size(const std::string& trial) {
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial);
    v1::GetCheckpointResponse resp;
    grpc::Status s = stub_->GetCheckpoint(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tree_size();
  }
  // All entry bytes of a trial via Read.
  std::vector<std::string> ReadAll(const std::string& trial) {
    grpc::ClientContext ctx;
    v1::ReadRequest req;
    req.set_trial_id(trial);
    auto reader = stub_->Read(&ctx, req);
    std::vector<std::string> out;
    v1::ReadResponse resp;
    while (reader->Read(&resp)) {
      EXPECT_EQ(resp.index(), out.size());
      out.push_back(resp.entry());
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }
  // Re-verifies a whole trial offline (hash chain, signatures under the
  // registry as of each entry, Merkle root == signed checkpoint's root).
  void VerifyWholeLedger(const std::string& trial) {
    std::vector<std::string> entries = ReadAll(trial);
    ledger::ChainVerifier verifier;
    for (const std::string& e : entries) ASSERT_TRUE(verifier.Add(e).ok()) << verifier.size();
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial);
    v1::GetCheckpointResponse resp;
    ASSERT_TRUE(stub_->GetCheckpoint(&ctx, req, &resp).ok());
    absl::StatusOr<note::Checkpoint> cp =
        ledger::OpenLedgerCheckpoint(resp.checkpoint(), VerifierFor(trial));
    ASSERT_TRUE(cp.ok()) << cp.status();
    ASSERT_EQ(cp->size, verifier.size());
    EXPECT_EQ(cp->root_hash, verifier.root());
  }
  std::unique_ptr<client::LedgerClient> Client(const std::string& trial, int connections = 1) {
    client::ChannelOptions co;
    co.target = server_->target();
    co.plaintext = true;
    co.connections = connections;
    auto channels = client::MakeChannels(co);
    EXPECT_TRUE(channels.ok());
    auto c = client::LedgerClient::Create(*channels, trial,
                                          note::FormatVerifierKey(Origin(trial), key_->public_key));
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  static std::atomic<int> trial_counter_;
  std::unique_ptr<v1::LedgerService::Stub> stub_;
};

std::atomic<int> ServerTest::trial_counter_{0};

TEST_F(ServerTest, GenesisCreatesTrialWithOfflineVerifiableReceipt) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrialId();
  v1::SignedEnvelope genesis = Genesis(trial, Origin(trial), admin);
  v1::AppendResponse r;
  ASSERT_TRUE(AppendRaw(trial, genesis, &r).ok());
  EXPECT_EQ(r.index(), 0u);
  EXPECT_EQ(r.stream_version(), 1u);
  EXPECT_FALSE(r.duplicate());
  absl::StatusOr<ledger::VerifiedReceipt> v = ledger::VerifyReceipt(r.receipt(), VerifierFor(trial));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->checkpoint.origin, Origin(trial));
  EXPECT_EQ(v->entry.entry.signed_envelope().envelope(), genesis.envelope());
  EXPECT_EQ(v->entry.leaf_hash, r.leaf_hash());
  EXPECT_EQ(v->entry.entry.recorded_at_unix_micros(), r.recorded_at_unix_micros());

  // The receipt does not verify under another key.
  Principal other = MakePrincipal("x", v1::ROLE_SPONSOR_ADMIN);
  absl::StatusOr<note::Verifier> wrong =
      note::ParseVerifierKey(note::FormatVerifierKey(Origin(trial), other.key.public_key()));
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(ledger::VerifyReceipt(r.receipt(), *wrong).ok());

  grpc::ClientContext ctx;
  v1::ListTrialsResponse list;
  ASSERT_TRUE(stub_->ListTrials(&ctx, v1::ListTrialsRequest(), &list).ok());
  bool found = false;
  for (const auto& t : list.trials()) {
    if (t.trial_id() == trial) {
      found = true;
      EXPECT_EQ(t.origin(), Origin(trial));
      EXPECT_EQ(t.size(), 1u);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ServerTest, PrintVerifierKeyVerifiesReceipts) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrialId();
  v1::AppendResponse r;
  ASSERT_TRUE(AppendRaw(trial, Genesis(trial, Origin(trial), admin), &r).ok());
  RunResult run = RunTrialogd(*dir_, {"--print_verifier_key", "--trial_id=" + trial,
                                      "--ledger_key_file=" + key_->key_file});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::string vkey = run.output.substr(0, run.output.find('\n'));
  absl::StatusOr<note::Verifier> v = note::ParseVerifierKey(vkey);
  ASSERT_TRUE(v.ok()) << v.status() << " in " << run.output;
  EXPECT_EQ(v->name, Origin(trial));
  EXPECT_TRUE(ledger::VerifyReceipt(r.receipt(), *v).ok());
}

TEST_F(ServerTest, UnknownTrialIsNotFound) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrialId();
  grpc::Status s = AppendRaw(trial, Note(trial, admin, "trial", "hello"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(trial));

  grpc::ClientContext ctx;
  v1::GetCheckpointRequest req;
  req.set_trial_id(trial);
  v1::GetCheckpointResponse resp;
  EXPECT_EQ(stub_->GetCheckpoint(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext ctx2;
  v1::ReadRequest rr;
  rr.set_trial_id(trial);
  auto reader = stub_->Read(&ctx2, rr);
  v1::ReadResponse entry;
  EXPECT_FALSE(reader->Read(&entry));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerTest, MalformedEnvelopesAreInvalidArgumentAndLeaveNoTrace) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  v1::SignedEnvelope garbage;
  garbage.set_envelope("\xff\xff\xff not a protobuf");
  garbage.set_signature(std::string(64, 'x'));
  grpc::Status s = AppendRaw(trial, garbage);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  v1::SignedEnvelope short_sig = Note(trial, admin, "trial", "x");
  short_sig.set_signature("short");
  s = AppendRaw(trial, short_sig);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("64 bytes"));

  // Signed for another trial, sent to this one.
  const std::string other = NewTrialId();
  s = AppendRaw(trial, Note(other, admin, "trial", "x"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr(other));

  EXPECT_EQ(Size(trial), 1u);
}

TEST_F(ServerTest, TamperedBytesAreUnauthenticated) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  v1::SignedEnvelope se = Note(trial, admin, "trial", "dose 280 mg/m2");
  v1::SignedEnvelope tampered = se;
  std::string bytes = tampered.envelope();
  // Found by the whole phrase: the trial id holds the test's pid, which
  // may contain "280" too (this test failed once in a full ctest run).
  const size_t at = bytes.find("dose 280");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] = '9';  // still parses, says 980
  tampered.set_envelope(bytes);
  grpc::Status s = AppendRaw(trial, tampered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("does not verify"));

  v1::SignedEnvelope bad_sig = se;
  std::string sig = bad_sig.signature();
  sig[10] ^= 0x01;
  bad_sig.set_signature(sig);
  EXPECT_EQ(AppendRaw(trial, bad_sig).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Size(trial), 1u);
  // The untampered envelope still goes in.
  EXPECT_TRUE(AppendRaw(trial, se).ok());
  EXPECT_EQ(Size(trial), 2u);
}

TEST_F(ServerTest, UnknownPrincipalRoleAndRegistryRules) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  Principal stranger = MakePrincipal("stranger", v1::ROLE_INVESTIGATOR, "site-1");
  grpc::Status s = AppendRaw(trial, Note(trial, stranger, "trial", "hi"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("stranger"));

  Principal inv = MakePrincipal("inv", v1::ROLE_INVESTIGATOR, "site-1");
  ASSERT_TRUE(AppendRaw(trial, Register(trial, admin, inv)).ok());
  // Claims a role it does not have.
  Principal liar = inv;
  liar.actor.set_role(v1::ROLE_SPONSOR_ADMIN);
  s = AppendRaw(trial, Note(trial, liar, "trial", "hi"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("ROLE_INVESTIGATOR"));
  // A non-admin may not register principals.
  Principal other = MakePrincipal("other", v1::ROLE_MONITOR);
  s = AppendRaw(trial, Register(trial, inv, other));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The trial domain's role table: an auditor is read-only.
  Principal auditor = MakePrincipal("aud", v1::ROLE_AUDITOR);
  ASSERT_TRUE(AppendRaw(trial, Register(trial, admin, auditor)).ok());
  s = AppendRaw(trial, Note(trial, auditor, "trial", "may I?"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // Protocol rule: one genesis per ledger.
  s = AppendRaw(trial, Genesis(trial, Origin(trial), admin));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("genesis"));
  // Registering the same id twice breaks a registry rule.
  s = AppendRaw(trial, Register(trial, admin, inv));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Size(trial), 3u);
}

TEST_F(ServerTest, GenesisNamingAnotherOriginCreatesNothing) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrialId();
  grpc::Status s = AppendRaw(trial, Genesis(trial, "elsewhere.example/" + trial, admin));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr(Origin(trial)));
  s = AppendRaw(trial, Note(trial, admin, "trial", "x"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  // And the trial can then be created properly.
  EXPECT_TRUE(AppendRaw(trial, Genesis(trial, Origin(trial), admin)).ok());
}

TEST_F(ServerTest, ExpectedVersionMismatchIsAbortedWithCurrentVersion) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  v1::AppendResponse r;
  ASSERT_TRUE(AppendRaw(trial, Note(trial, admin, "subject/S-1", "a", 0), &r).ok());
  EXPECT_EQ(r.stream_version(), 1u);
  ASSERT_TRUE(AppendRaw(trial, Note(trial, admin, "subject/S-1", "b", 1), &r).ok());
  EXPECT_EQ(r.stream_version(), 2u);
  grpc::Status s = AppendRaw(trial, Note(trial, admin, "subject/S-1", "c", 1));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("2"));
  s = AppendRaw(trial, Note(trial, admin, "subject/S-2", "c", 5));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_EQ(Size(trial), 3u);
}

TEST_F(ServerTest, SizeLimitsAreResourceExhausted) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  grpc::Status s = AppendRaw(trial, Note(trial, admin, "trial", std::string(300 * 1024, 'a')));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("limit"));

  grpc::ClientContext ctx;
  v1::AppendBatchRequest batch;
  batch.set_trial_id(trial);
  v1::SignedEnvelope one = Note(trial, admin, "trial", "x");
  for (int i = 0; i < 1025; ++i) *batch.add_signed_envelopes() = one;
  v1::AppendBatchResponse resp;
  s = stub_->AppendBatch(&ctx, batch, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("1024"));
  EXPECT_EQ(Size(trial), 1u);
}

TEST_F(ServerTest, RepeatedEventIdReturnsOriginalReceipt) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  v1::SignedEnvelope se = Note(trial, admin, "trial", "once");
  v1::AppendResponse first, second;
  ASSERT_TRUE(AppendRaw(trial, se, &first).ok());
  ASSERT_TRUE(AppendRaw(trial, Note(trial, admin, "trial", "later")).ok());
  ASSERT_TRUE(AppendRaw(trial, se, &second).ok());
  EXPECT_FALSE(first.duplicate());
  EXPECT_TRUE(second.duplicate());
  EXPECT_EQ(second.index(), first.index());
  EXPECT_EQ(second.leaf_hash(), first.leaf_hash());
  EXPECT_EQ(second.recorded_at_unix_micros(), first.recorded_at_unix_micros());
  EXPECT_TRUE(ledger::VerifyReceipt(second.receipt(), VerifierFor(trial)).ok());
  EXPECT_EQ(Size(trial), 3u);

  // Same event id, different bytes: refused, nothing appended.
  v1::Envelope e;
  ASSERT_TRUE(e.ParseFromString(se.envelope()));
  e.mutable_event()->mutable_trial()->mutable_note()->set_text("changed");
  v1::SignedEnvelope reused = admin.signer().Sign(trial, e);
  grpc::Status s = AppendRaw(trial, reused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_EQ(Size(trial), 3u);

  // Through the client library: a retry gives the same index.
  auto c = Client(trial);
  v1::SignedEnvelope fresh = Note(trial, admin, "trial", "client");
  absl::StatusOr<client::VerifiedAppend> a = c->Append(fresh);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<client::VerifiedAppend> b = c->Append(fresh);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->index, b->index);
  EXPECT_TRUE(b->duplicate);
  VerifyWholeLedger(trial);
}

TEST_F(ServerTest, BatchAnswersEachEnvelopeOnItsOwn) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  v1::SignedEnvelope bad = Note(trial, admin, "trial", "bad");
  std::string sig = bad.signature();
  sig[0] ^= 1;
  bad.set_signature(sig);
  std::vector<v1::SignedEnvelope> envelopes = {
      Note(trial, admin, "s", "a", 0), bad, Note(trial, admin, "s", "b", 1),
      Note(trial, admin, "s", "c", 1),  // conflicts with b
      Note(trial, admin, "s", "d")};
  grpc::ClientContext ctx;
  v1::AppendBatchRequest req;
  req.set_trial_id(trial);
  for (const auto& e : envelopes) *req.add_signed_envelopes() = e;
  v1::AppendBatchResponse resp;
  ASSERT_TRUE(stub_->AppendBatch(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 5);
  EXPECT_EQ(resp.results(0).code(), 0);
  EXPECT_EQ(resp.results(1).code(), static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_EQ(resp.results(2).code(), 0);
  EXPECT_EQ(resp.results(3).code(), static_cast<int>(grpc::StatusCode::ABORTED));
  EXPECT_FALSE(resp.results(3).message().empty());
  EXPECT_EQ(resp.results(4).code(), 0);
  EXPECT_EQ(resp.results(0).response().index(), 1u);
  EXPECT_EQ(resp.results(2).response().index(), 2u);
  EXPECT_EQ(resp.results(4).response().index(), 3u);
  EXPECT_EQ(resp.results(4).response().stream_version(), 3u);
  for (int i : {0, 2, 4}) {
    EXPECT_TRUE(ledger::VerifyReceipt(resp.results(i).response().receipt(), VerifierFor(trial)).ok());
  }
  EXPECT_EQ(Size(trial), 4u);
}

TEST_F(ServerTest, AppendStreamAnswersInOrder) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  constexpr int kN = 300;
  grpc::ClientContext ctx;
  auto stream = stub_->AppendStream(&ctx);
  std::vector<bool> bad(kN, false);
  for (int i = 0; i < kN; ++i) {
    v1::AppendRequest req;
    req.set_trial_id(trial);
    *req.mutable_signed_envelope() = Note(trial, admin, "trial", absl::StrCat("n", i));
    if (i % 50 == 7) {
      bad[i] = true;
      req.mutable_signed_envelope()->mutable_signature()->at(3) ^= 1;
    }
    ASSERT_TRUE(stream->Write(req));
  }
  stream->WritesDone();
  v1::AppendResult r;
  int i = 0;
  uint64_t next_index = 1;
  while (stream->Read(&r)) {
    ASSERT_LT(i, kN);
    if (bad[i]) {
      EXPECT_EQ(r.code(), static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) << i;
    } else {
      ASSERT_EQ(r.code(), 0) << i << ": " << r.message();
      EXPECT_EQ(r.response().index(), next_index++);
    }
    ++i;
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(i, kN);
  EXPECT_EQ(Size(trial), next_index);
  VerifyWholeLedger(trial);
}

TEST_F(ServerTest, SixteenConcurrentClientsNoGapNoDuplicate) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  constexpr int kClients = 16;
  constexpr int kEach = 25;
  std::vector<Principal> people;
  for (int c = 0; c < kClients; ++c) {
    people.push_back(MakePrincipal(absl::StrCat("p", c), v1::ROLE_STUDY_COORDINATOR, "site-1"));
    ASSERT_TRUE(AppendRaw(trial, Register(trial, admin, people.back())).ok());
  }
  const uint64_t base = Size(trial);
  absl::Mutex mu;
  std::map<uint64_t, std::string> index_to_event;  // from verified receipts
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = Client(trial);
      for (int k = 0; k < kEach; ++k) {
        v1::SignedEnvelope se = Note(trial, people[c], absl::StrCat("subject/S-", c), "n");
        absl::StatusOr<client::VerifiedAppend> a = client->Append(se);
        if (!a.ok()) {
          ++failures;
          continue;
        }
        absl::MutexLock lock(&mu);
        if (!index_to_event.emplace(a->index, a->entry.envelope.event_id()).second) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(index_to_event.size(), static_cast<size_t>(kClients * kEach));
  EXPECT_EQ(index_to_event.begin()->first, base);
  EXPECT_EQ(index_to_event.rbegin()->first, base + kClients * kEach - 1);  // no gap
  // Read back verified: every event once, in the positions the receipts said.
  auto c = Client(trial);
  absl::StatusOr<std::vector<ledger::ParsedEntry>> all = c->ReadVerified(0, 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), base + kClients * kEach);
  std::set<std::string> event_ids;
  for (const auto& e : *all) {
    EXPECT_TRUE(event_ids.insert(e.envelope.event_id()).second) << "duplicate at " << e.entry.index();
    auto it = index_to_event.find(e.entry.index());
    if (it != index_to_event.end()) {
      EXPECT_EQ(it->second, e.envelope.event_id());
    }
  }
  VerifyWholeLedger(trial);
}

TEST_F(ServerTest, RevokedKeyIsRejectedButItsEntriesStillVerify) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  Principal inv = MakePrincipal("inv", v1::ROLE_INVESTIGATOR, "site-1");
  ASSERT_TRUE(AppendRaw(trial, Register(trial, admin, inv)).ok());
  v1::SignedEnvelope before = Note(trial, inv, "subject/S-1", "signed before revocation");
  v1::AppendResponse r;
  ASSERT_TRUE(AppendRaw(trial, before, &r).ok());
  ASSERT_TRUE(AppendRaw(trial, Revoke(trial, admin, "inv")).ok());
  grpc::Status s = AppendRaw(trial, Note(trial, inv, "subject/S-1", "after"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(s.error_message(), HasSubstr("revoked"));
  // The old receipt still verifies, and a retry of the old envelope is
  // answered with its original receipt.
  EXPECT_TRUE(ledger::VerifyReceipt(r.receipt(), VerifierFor(trial)).ok());
  v1::AppendResponse again;
  ASSERT_TRUE(AppendRaw(trial, before, &again).ok());
  EXPECT_EQ(again.index(), r.index());
  EXPECT_TRUE(again.duplicate());
  VerifyWholeLedger(trial);
}

TEST_F(ServerTest, RotatedKeyReplacesTheOldOne) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  Principal inv = MakePrincipal("inv", v1::ROLE_INVESTIGATOR, "site-1");
  ASSERT_TRUE(AppendRaw(trial, Register(trial, admin, inv)).ok());
  ASSERT_TRUE(AppendRaw(trial, Note(trial, inv, "trial", "old key")).ok());
  Principal rotated = inv;
  rotated.key = crypto::SigningKey::Generate();
  ASSERT_TRUE(AppendRaw(trial, Rotate(trial, admin, "inv", rotated.key.public_key())).ok());
  grpc::Status s = AppendRaw(trial, Note(trial, inv, "trial", "old key again"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(AppendRaw(trial, Note(trial, rotated, "trial", "new key")).ok());
  VerifyWholeLedger(trial);
}

TEST_F(ServerTest, ReadByStreamAndVerifiedRead) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(AppendRaw(trial, Note(trial, admin, i % 2 ? "subject/odd" : "subject/even",
                                      absl::StrCat(i)))
                    .ok());
  }
  auto c = Client(trial);
  absl::StatusOr<std::vector<ledger::ParsedEntry>> odd = c->ReadVerified(0, 0, "subject/odd");
  ASSERT_TRUE(odd.ok()) << odd.status();
  ASSERT_EQ(odd->size(), 5u);
  for (size_t k = 0; k < odd->size(); ++k) {
    EXPECT_EQ((*odd)[k].entry.stream_version(), k + 1);
    EXPECT_EQ((*odd)[k].entry.index(), 2 + 2 * k);
  }
  absl::StatusOr<std::vector<ledger::ParsedEntry>> some = c->ReadVerified(3, 4);
  ASSERT_TRUE(some.ok()) << some.status();
  ASSERT_EQ(some->size(), 4u);
  EXPECT_EQ(some->front().entry.index(), 3u);
  // GetEntry by event id with a receipt.
  grpc::ClientContext ctx;
  v1::GetEntryRequest req;
  req.set_trial_id(trial);
  req.set_event_id((*some)[1].envelope.event_id());
  req.set_with_proof(true);
  v1::GetEntryResponse resp;
  ASSERT_TRUE(stub_->GetEntry(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.index(), 4u);
  EXPECT_TRUE(ledger::VerifyReceipt(resp.receipt(), VerifierFor(trial)).ok());
  // Out of range.
  grpc::ClientContext ctx2;
  v1::GetEntryRequest past;
  past.set_trial_id(trial);
  past.set_index(999);
  EXPECT_EQ(stub_->GetEntry(&ctx2, past, &resp).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  // Checkpoints move forward consistently.
  absl::StatusOr<note::Checkpoint> cp1 = c->RefreshCheckpoint();
  ASSERT_TRUE(cp1.ok()) << cp1.status();
  ASSERT_TRUE(AppendRaw(trial, Note(trial, admin, "trial", "more")).ok());
  absl::StatusOr<note::Checkpoint> cp2 = c->RefreshCheckpoint();
  ASSERT_TRUE(cp2.ok()) << cp2.status();
  EXPECT_EQ(cp2->size, cp1->size + 1);
}

// GetInclusionProof over gRPC: for every entry of a ledger whose last tile
// is incomplete (37 entries: tiles of 16, 16 and 5), the leaf hash equals
// SHA-256(0x00 || the entry bytes Read returns), hashed here, and the proof
// verifies against the root of the signed checkpoint and, at an older tree
// size, against the root hashed here from those leaves.
TEST_F(ServerTest, InclusionProofsOverGrpcVerifyAgainstTheSignedRoot) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  for (int b = 0; b < 4; ++b) {
    grpc::ClientContext ctx;
    v1::AppendBatchRequest req;
    req.set_trial_id(trial);
    for (int i = 0; i < 9; ++i) {
      *req.add_signed_envelopes() = Note(trial, admin, absl::StrCat("s", i % 3), absl::StrCat(b, "/", i));
    }
    v1::AppendBatchResponse resp;
    ASSERT_TRUE(stub_->AppendBatch(&ctx, req, &resp).ok());
  }
  const std::vector<std::string> entries = ReadAll(trial);
  ASSERT_EQ(entries.size(), 37u);
  std::vector<std::string> leaves;
  for (const std::string& e : entries) leaves.push_back(crypto::Sha256(std::string(1, '\0'), e));
  grpc::ClientContext cctx;
  v1::GetCheckpointRequest creq;
  creq.set_trial_id(trial);
  v1::GetCheckpointResponse cresp;
  ASSERT_TRUE(stub_->GetCheckpoint(&cctx, creq, &cresp).ok());
  absl::StatusOr<note::Checkpoint> cp = ledger::OpenLedgerCheckpoint(cresp.checkpoint(), VerifierFor(trial));
  ASSERT_TRUE(cp.ok()) << cp.status();
  ASSERT_EQ(cp->size, entries.size());
  auto prove = [&](uint64_t index, uint64_t tree_size, v1::GetInclusionProofResponse* resp) {
    grpc::ClientContext ctx;
    v1::GetInclusionProofRequest req;
    req.set_trial_id(trial);
    req.set_index(index);
    req.set_tree_size(tree_size);
    return stub_->GetInclusionProof(&ctx, req, resp);
  };
  for (uint64_t index = 0; index < entries.size(); ++index) {
    for (const uint64_t tree_size : {uint64_t{0}, uint64_t{20}}) {
      if (tree_size != 0 && index >= tree_size) continue;
      v1::GetInclusionProofResponse resp;
      grpc::Status s = prove(index, tree_size, &resp);
      ASSERT_TRUE(s.ok()) << index << ": " << s.error_message();
      EXPECT_EQ(resp.leaf_hash(), leaves[index]) << index;
      const uint64_t size = tree_size == 0 ? cp->size : tree_size;
      EXPECT_EQ(resp.proof().tree_size(), size);
      const std::string root =
          tree_size == 0 ? cp->root_hash
                         : merkle::RootFromLeafHashes({leaves.begin(), leaves.begin() + tree_size});
      std::vector<std::string> hashes(resp.proof().hashes().begin(), resp.proof().hashes().end());
      EXPECT_TRUE(merkle::VerifyInclusion(index, size, leaves[index], hashes, root).ok())
          << index << " in " << size;
    }
  }
  v1::GetInclusionProofResponse resp;
  grpc::Status beyond = prove(entries.size(), 0, &resp);
  EXPECT_EQ(beyond.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(beyond.error_message(), HasSubstr("is not below tree size 37"));
  grpc::Status too_big = prove(3, entries.size() + 1, &resp);
  EXPECT_EQ(too_big.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(too_big.error_message(), HasSubstr("exceeds the ledger size 37"));
}

TEST_F(ServerTest, SubscribeSeesEveryEntryOnceInOrderAcrossReconnect) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendRaw(trial, Note(trial, admin, "trial", "a")).ok());
  std::vector<uint64_t> seen;
  // First connection: catch up, then take 10 live entries, then hang up.
  {
    grpc::ClientContext ctx;
    v1::SubscribeRequest req;
    req.set_trial_id(trial);
    auto reader = stub_->Subscribe(&ctx, req);
    std::thread writer([&] {
      for (int i = 0; i < 10; ++i) AppendRaw(trial, Note(trial, admin, "trial", "live"));
    });
    v1::ReadResponse r;
    while (seen.size() < 31 && reader->Read(&r)) seen.push_back(r.index());
    writer.join();
    ctx.TryCancel();
    reader->Finish();
  }
  // Entries appended while disconnected.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(AppendRaw(trial, Note(trial, admin, "trial", "gap")).ok());
  // Reconnect with the client library from the last index seen + 1.
  auto c = Client(trial);
  const uint64_t total = Size(trial);
  absl::Status s = c->Subscribe(
      seen.back() + 1,
      [&](const ledger::ParsedEntry& e) {
        seen.push_back(e.entry.index());
        return seen.size() < total;
      },
      absl::Seconds(20));
  EXPECT_TRUE(s.ok()) << s;
  ASSERT_EQ(seen.size(), total);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
}

TEST_F(ServerTest, HealthServiceAnswersServing) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(server_->target(), grpc::InsecureChannelCredentials(), args);
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);  // HealthCheckRequest{service: ""} = no bytes
  grpc::ByteBuffer response;
  grpc::Status status;
  auto call = generic.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
  call->StartCall();
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(ServerTest, ClientRefusesReceiptsUnderAnotherLedgerKey) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  client::ChannelOptions co;
  co.target = server_->target();
  co.plaintext = true;
  auto channels = client::MakeChannels(co);
  ASSERT_TRUE(channels.ok());
  crypto::SigningKey impostor = crypto::SigningKey::Generate();
  auto c = client::LedgerClient::Create(*channels, trial,
                                        note::FormatVerifierKey(Origin(trial), impostor.public_key()));
  ASSERT_TRUE(c.ok());
  absl::StatusOr<client::VerifiedAppend> a = (*c)->Append(Note(trial, admin, "trial", "x"));
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnauthenticated) << a.status();
  EXPECT_FALSE((*c)->trusted_checkpoint().has_value());
  EXPECT_FALSE((*c)->RefreshCheckpoint().ok());
}

TEST_F(ServerTest, ReflectionListsTheLedgerService) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(server_->target(), grpc::InsecureChannelCredentials(), args);
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call =
      generic.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&](intptr_t want) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), want);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  // ServerReflectionRequest{list_services: ""}: field 7, length 0.
  grpc::Slice req_slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer req(&req_slice, 1);
  call->Write(req, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  call->WritesDone(reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(4));
  ASSERT_TRUE(step(4));
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_THAT(bytes, HasSubstr("trialog.v1.LedgerService"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << status.error_message();
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(ServerTest, MetricsCountAppendsAndRejectionsByReason) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  v1::SignedEnvelope bad = Note(trial, admin, "trial", "x");
  bad.mutable_signature()->at(0) ^= 1;
  ASSERT_EQ(AppendRaw(trial, bad).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_EQ(AppendRaw(trial, Note(trial, admin, "s", "x", 7)).error_code(),
            grpc::StatusCode::ABORTED);
  absl::StatusOr<std::string> page = HttpGet(server_->metrics_port(), "/metrics");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(*page, HasSubstr("200 OK"));
  EXPECT_THAT(*page, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(*page, HasSubstr("trialog_appends_total "));
  EXPECT_THAT(*page,
              HasSubstr("trialog_append_rejections_total{code=\"UNAUTHENTICATED\",reason=\"bad_signature\"}"));
  EXPECT_THAT(*page,
              HasSubstr("trialog_append_rejections_total{code=\"ABORTED\",reason=\"version_conflict\"}"));
  EXPECT_THAT(*page, HasSubstr("trialog_append_latency_seconds_bucket{le=\"+Inf\"}"));
  EXPECT_THAT(*page, HasSubstr(absl::StrCat("trialog_ledger_entries{trial=\"", trial, "\"} 1")));
  EXPECT_THAT(*page, HasSubstr("trialog_group_commits_total{trial="));
  // The scraper the benchmark uses reads this exposition: every trial's
  // group commits, at least this trial's two rejections (other tests of the
  // suite may add theirs), and nothing for a mere name prefix.
  absl::StatusOr<double> commits = client::SumMetric(*page, "trialog_group_commits_total");
  ASSERT_TRUE(commits.ok()) << commits.status();
  EXPECT_GE(*commits, 1);
  absl::StatusOr<double> rejections = client::SumMetric(*page, "trialog_append_rejections_total");
  ASSERT_TRUE(rejections.ok()) << rejections.status();
  EXPECT_GE(*rejections, 2);
  EXPECT_EQ(client::SumMetric(*page, "trialog_append").status().code(), absl::StatusCode::kNotFound);
}

// ---- separate servers: startup checks, TLS, restart, shutdown -------------

class ServerLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir_, "trialog.life");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
  }
  std::vector<std::string> BaseArgs() {
    return {"--data_dir=" + dir_.File("data"), "--ledger_key_file=" + key_.key_file,
            "--ledger_key_passphrase_file=" + key_.passphrase_file};
  }
  // A 24 MiB tmpfs mounted at dir_/<name> and lazily unmounted when the
  // guard dies; null when it cannot be mounted (needs root).
  struct Tmpfs {
    std::string path;
    ~Tmpfs() { (void)std::system(absl::StrCat("umount -l '", path, "'").c_str()); }
  };
  std::unique_ptr<Tmpfs> MountSmallTmpfs(const std::string& name) {
    const std::string mnt = dir_.File(name);
    std::filesystem::create_directories(mnt);
    if (std::system(absl::StrCat("mount -t tmpfs -o size=24m tmpfs '", mnt, "' 2>/dev/null").c_str()) !=
        0) {
      return nullptr;
    }
    auto mounted = std::make_unique<Tmpfs>();  // no temporary: its destructor would unmount
    mounted->path = mnt;
    return mounted;
  }
  // trialogd serving `data_dir` on loopback, with a free-space reserve.
  absl::StatusOr<std::unique_ptr<Trialogd>> StartOn(const std::string& data_dir,
                                                    int min_free_disk_mb) {
    return Trialogd::Start(dir_, {"--data_dir=" + data_dir, "--ledger_key_file=" + key_.key_file,
                                  "--ledger_key_passphrase_file=" + key_.passphrase_file,
                                  "--plaintext", "--listen=127.0.0.1:0", "--accept_new_trials",
                                  absl::StrCat("--min_free_disk_mb=", min_free_disk_mb)});
  }
  static grpc::Status AppendTo(v1::LedgerService::Stub& stub, const std::string& trial,
                               const v1::SignedEnvelope& se, v1::AppendResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::AppendRequest req;
    req.set_trial_id(trial);
    *req.mutable_signed_envelope() = se;
    return stub.Append(&ctx, req, resp);
  }

  TempDir dir_;
  LedgerKey key_;
};

TEST_F(ServerLifecycleTest, PlaintextOffLoopbackIsRefused) {
  std::vector<std::string> args = BaseArgs();
  args.push_back("--plaintext");
  args.push_back("--listen=0.0.0.0:0");
  RunResult r = RunTrialogd(dir_, args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("refusing --plaintext on non-loopback address 0.0.0.0:0"));
  // Neither TLS nor plaintext.
  args = BaseArgs();
  args.push_back("--listen=127.0.0.1:0");
  r = RunTrialogd(dir_, args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("no transport security"));
}

TEST_F(ServerLifecycleTest, HelpTeachesAndBadConfigIsExplained) {
  RunResult help = RunTrialogd(dir_, {"--help"});
  EXPECT_THAT(help.output, HasSubstr("--print_verifier_key"));
  EXPECT_THAT(help.output, HasSubstr("-accept_new_trials"));  // the flag list itself
  EXPECT_THAT(help.output, HasSubstr("$TRIALOG_LEDGER_PASSPHRASE"));
  EXPECT_THAT(help.output, HasSubstr("loopback"));
  std::ofstream(dir_.File("bad.textproto")) << "data_dir: \"x\"\nno_such_field: 3\n";
  RunResult bad = RunTrialogd(dir_, {"--config=" + dir_.File("bad.textproto")});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("line 2"));
  // Wrong passphrase.
  std::ofstream(dir_.File("wrong.pass")) << "not the passphrase\n";
  RunResult wrong = RunTrialogd(
      dir_, {"--data_dir=" + dir_.File("data"), "--ledger_key_file=" + key_.key_file,
             "--ledger_key_passphrase_file=" + dir_.File("wrong.pass"), "--plaintext",
             "--listen=127.0.0.1:0"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_THAT(wrong.output, HasSubstr("passphrase"));
}

TEST_F(ServerLifecycleTest, ExampleConfigParses) {
  // The shipped example must be a valid config: it fails later only because
  // its paths do not exist here (the backup directory is checked first, then
  // the key files are opened), never with a parse error.
  RunResult r = RunTrialogd(
      dir_, {"--config=" + std::string(TRIALOG_SOURCE_DIR) + "/server/trialogd.example.textproto"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.output, AnyOf(HasSubstr("backup_dir /var/backups/trialog is not an existing directory"),
                              HasSubstr("/etc/trialog/ledger.pass")))
      << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("is not a valid trialog.server.ServerConfig"))) << r.output;
}

TEST_F(ServerLifecycleTest, ConfigFileWithFlagOverridesAndNoNewTrials) {
  std::ofstream(dir_.File("trialogd.textproto"))
      << "data_dir: \"" << dir_.File("data") << "\"\n"
      << "listen_address: \"0.0.0.0:1\"\n"  // overridden below
      << "ledger_key_file: \"" << key_.key_file << "\"\n"
      << "ledger_key_passphrase_file: \"" << key_.passphrase_file << "\"\n"
      << "plaintext: true\n";
  auto d = Trialogd::Start(dir_, {"--config=" + dir_.File("trialogd.textproto"),
                                  "--listen=127.0.0.1:0"});
  ASSERT_TRUE(d.ok()) << d.status();
  auto stub = PlainStub((*d)->target());
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  grpc::ClientContext ctx;
  v1::AppendRequest req;
  req.set_trial_id("new-trial");
  *req.mutable_signed_envelope() = Genesis("new-trial", "trialog.life/new-trial", admin);
  v1::AppendResponse resp;
  grpc::Status s = stub->Append(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("does not accept new trials"));
  EXPECT_EQ((*d)->Stop(SIGTERM), 0);
}

TEST_F(ServerLifecycleTest, TlsAndMutualTls) {
  absl::StatusOr<Certs> certs = MakeCerts(dir_);
  ASSERT_TRUE(certs.ok()) << certs.status();
  std::vector<std::string> args = BaseArgs();
  args.insert(args.end(), {"--listen=127.0.0.1:0", "--accept_new_trials",
                           "--tls_cert_file=" + certs->server_cert_file,
                           "--tls_key_file=" + certs->server_key_file,
                           "--tls_client_ca_file=" + certs->ca_file});
  auto d = Trialogd::Start(dir_, args);
  ASSERT_TRUE(d.ok()) << d.status();
  // Under mutual TLS the caller is the principal its certificate names (CN
  // "client" here; docs/SECURITY.md), and it must be the envelope's signer.
  Principal admin = MakePrincipal("client", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = "tls-trial";
  const std::string vkey = note::FormatVerifierKey("trialog.life/" + trial, key_.public_key);
  auto append_with = [&](client::ChannelOptions co) -> absl::Status {
    co.target = (*d)->target();
    co.tls_server_name = "localhost";
    auto channels = client::MakeChannels(co);
    if (!channels.ok()) return channels.status();
    client::ClientOptions o;
    o.deadline = absl::Seconds(5);
    o.max_attempts = 1;
    auto c = client::LedgerClient::Create(*channels, trial, vkey, o);
    if (!c.ok()) return c.status();
    return (*c)->Append(Genesis(trial, "trialog.life/" + trial, admin)).status();
  };
  client::ChannelOptions good;
  good.tls_root_ca_pem = certs->ca_pem;
  good.tls_client_cert_pem = certs->client_cert_pem;
  good.tls_client_key_pem = certs->client_key_pem;
  EXPECT_TRUE(append_with(good).ok());
  client::ChannelOptions no_cert;
  no_cert.tls_root_ca_pem = certs->ca_pem;
  EXPECT_EQ(append_with(no_cert).code(), absl::StatusCode::kUnavailable);
  client::ChannelOptions foreign = good;
  foreign.tls_client_cert_pem = certs->other_client_cert_pem;
  foreign.tls_client_key_pem = certs->other_client_key_pem;
  EXPECT_EQ(append_with(foreign).code(), absl::StatusCode::kUnavailable);
  client::ChannelOptions plain;
  plain.plaintext = true;
  EXPECT_EQ(append_with(plain).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*d)->Stop(SIGTERM), 0);
}

TEST_F(ServerLifecycleTest, SigtermFinishesInFlightAppendsAndRestartResumes) {
  std::vector<std::string> args = BaseArgs();
  args.insert(args.end(), {"--plaintext", "--listen=127.0.0.1:0", "--accept_new_trials"});
  auto d = Trialogd::Start(dir_, args);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::string trial = "restart";
  const std::string origin = "trialog.life/" + trial;
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  auto stub = PlainStub((*d)->target());
  {
    grpc::ClientContext ctx;
    v1::AppendRequest req;
    req.set_trial_id(trial);
    *req.mutable_signed_envelope() = Genesis(trial, origin, admin);
    v1::AppendResponse resp;
    ASSERT_TRUE(stub->Append(&ctx, req, &resp).ok());
  }
  // Appenders keep going while SIGTERM arrives.
  absl::Mutex mu;
  std::map<uint64_t, std::string> acknowledged;  // index -> leaf hash
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto s = PlainStub((*d)->target());
      while (!stop.load()) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        v1::AppendRequest req;
        req.set_trial_id(trial);
        *req.mutable_signed_envelope() = Note(trial, admin, "trial", "x");
        v1::AppendResponse resp;
        if (s->Append(&ctx, req, &resp).ok()) {
          absl::MutexLock lock(&mu);
          acknowledged[resp.index()] = resp.leaf_hash();
        } else {
          absl::SleepFor(absl::Milliseconds(5));
        }
      }
    });
  }
  // The first acknowledgement before the signal (under ThreadSanitizer on a
  // busy machine it can take longer than the half second below; bounded
  // by 30 s), then more appends in flight.
  for (int i = 0; i < 600; ++i) {
    {
      absl::MutexLock lock(&mu);
      if (!acknowledged.empty()) break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::SleepFor(absl::Milliseconds(500));
  const int port = (*d)->port();
  EXPECT_EQ((*d)->Stop(SIGTERM), 0) << (*d)->Stderr();
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_GT(acknowledged.size(), 0u);
  // Restart on the same port and data: everything acknowledged is there.
  for (auto& a : args) {
    if (absl::StartsWith(a, "--listen=")) a = absl::StrCat("--listen=127.0.0.1:", port);
  }
  auto d2 = Trialogd::Start(dir_, args);
  ASSERT_TRUE(d2.ok()) << d2.status();
  auto stub2 = PlainStub((*d2)->target());
  for (const auto& [index, leaf] : acknowledged) {
    grpc::ClientContext ctx;
    v1::GetEntryRequest req;
    req.set_trial_id(trial);
    req.set_index(index);
    v1::GetEntryResponse resp;
    ASSERT_TRUE(stub2->GetEntry(&ctx, req, &resp).ok()) << index;
    EXPECT_EQ(resp.leaf_hash(), leaf) << index;
  }
  // And appends continue after the last entry.
  grpc::ClientContext ctx;
  v1::AppendRequest req;
  req.set_trial_id(trial);
  *req.mutable_signed_envelope() = Note(trial, admin, "trial", "after restart");
  v1::AppendResponse resp;
  ASSERT_TRUE(stub2->Append(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.index(), acknowledged.rbegin()->first + 1);
  EXPECT_EQ((*d2)->Stop(SIGINT), 0);
}

// Storage failure: the data directory is a tiny tmpfs that fills up.
TEST_F(ServerLifecycleTest, FullDiskIsUnavailableAndAppendsNothing) {
  std::unique_ptr<Tmpfs> tmpfs = MountSmallTmpfs("small");
  if (tmpfs == nullptr) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string mnt = tmpfs->path;
  // No free-space reserve: this test is about RocksDB meeting ENOSPC itself
  // (the reserve is FullDiskReserveRefusesAndRecoversWithoutRestart).
  auto d = StartOn(mnt, 0);
  ASSERT_TRUE(d.ok()) << d.status();
  auto stub = PlainStub((*d)->target());
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = "full";
  auto append = [&](const v1::SignedEnvelope& se, v1::AppendResponse* resp) {
    return AppendTo(*stub, trial, se, resp);
  };
  v1::AppendResponse resp;
  ASSERT_TRUE(append(Genesis(trial, "trialog.life/" + trial, admin), &resp).ok());
  grpc::Status s;
  uint64_t last_ok = 0;
  for (int i = 0; i < 400; ++i) {  // 200 KiB each: 24 MiB fill up well before 400
    s = append(Note(trial, admin, "trial", std::string(200 * 1024, 'a' + i % 26)), &resp);
    if (!s.ok()) break;
    last_ok = resp.index();
  }
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // RocksDB reports ENOSPC as a status (its info LOG goes through
  // storage/info_log.h, so Debian's assertion-enabled logger cannot abort
  // the process): the client is told why, the server stays up and refuses
  // appends until restarted, and stops cleanly.
  EXPECT_NE(s.error_message().find("ledger write failed"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("No space left on device"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(kill((*d)->pid(), 0), 0) << "trialogd died on a full disk:\n" << (*d)->Stderr();
  s = append(Note(trial, admin, "trial", "small"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE((*d)->Stderr().find("append refused (UNAVAILABLE): ledger write failed"),
            std::string::npos)
      << (*d)->Stderr();
  const int exit_code = (*d)->Stop(SIGTERM);
  EXPECT_EQ(exit_code, 0) << (*d)->Stderr();
  // Give the disk room and reopen: exactly the acknowledged entries are
  // there, they verify, and appends work again.
  ASSERT_EQ(std::system(absl::StrCat("mount -o remount,size=128m '", mnt, "'").c_str()), 0);
  auto d2 = StartOn(mnt, 0);
  ASSERT_TRUE(d2.ok()) << d2.status();
  stub = PlainStub((*d2)->target());
  grpc::ClientContext ctx;
  v1::GetCheckpointRequest req;
  req.set_trial_id(trial);
  v1::GetCheckpointResponse cp;
  grpc::Status got = stub->GetCheckpoint(&ctx, req, &cp);
  ASSERT_TRUE(got.ok()) << got.error_code() << ": " << got.error_message();
  EXPECT_EQ(cp.tree_size(), last_ok + 1);
  ASSERT_TRUE(append(Note(trial, admin, "trial", "after the disk was enlarged"), &resp).ok());
  EXPECT_EQ(resp.index(), last_ok + 1);
  EXPECT_EQ((*d2)->Stop(SIGTERM), 0);
}

// The free-space reserve: below --min_free_disk_mb appends are refused with
// UNAVAILABLE before anything is sequenced; the server stays up, reads keep
// working, and appends resume, at the next index, once space returns.
TEST_F(ServerLifecycleTest, FullDiskReserveRefusesAndRecoversWithoutRestart) {
  std::unique_ptr<Tmpfs> tmpfs = MountSmallTmpfs("reserve");
  if (tmpfs == nullptr) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string mnt = tmpfs->path;
  auto d = StartOn(mnt, 8);
  ASSERT_TRUE(d.ok()) << d.status();
  auto stub = PlainStub((*d)->target());
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = "reserve";
  auto append = [&](const v1::SignedEnvelope& se, v1::AppendResponse* resp) {
    return AppendTo(*stub, trial, se, resp);
  };
  v1::AppendResponse resp;
  ASSERT_TRUE(append(Genesis(trial, "trialog.life/" + trial, admin), &resp).ok());
  grpc::Status s;
  uint64_t last_ok = 0;
  for (int i = 0; i < 400; ++i) {
    s = append(Note(trial, admin, "trial", std::string(200 * 1024, 'a' + i % 26)), &resp);
    if (!s.ok()) break;
    last_ok = resp.index();
  }
  ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_NE(s.error_message().find("MiB free"), std::string::npos) << s.error_message();
  EXPECT_GT(last_ok, 10u);
  // Still serving: the refusal is repeatable and reads answer.
  EXPECT_EQ(kill((*d)->pid(), 0), 0);
  s = append(Note(trial, admin, "trial", "small"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  {
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial);
    v1::GetCheckpointResponse cp;
    ASSERT_TRUE(stub->GetCheckpoint(&ctx, req, &cp).ok());
    EXPECT_EQ(cp.tree_size(), last_ok + 1);  // nothing refused was sequenced
  }
  // Space returns: appends resume at the next index, same process.
  ASSERT_EQ(std::system(absl::StrCat("mount -o remount,size=128m '", mnt, "'").c_str()), 0);
  ASSERT_TRUE(append(Note(trial, admin, "trial", "after the disk was enlarged"), &resp).ok());
  EXPECT_EQ(resp.index(), last_ok + 1);
  EXPECT_EQ((*d)->Stop(SIGTERM), 0) << (*d)->Stderr();
}

}  // namespace
}  // namespace trialog::testing
