// Witnessing end to end: the real trialogd configured with three witnesses
// (tools/witness servers on loopback ports, in this process) submits every
// trial's checkpoints in the background; appends never wait on witnesses;
// the client and `trialog verify` apply a verifier policy (the ledger key
// plus K of the 3 witnesses) and report a checkpoint lacking the required
// cosignatures as such; the cosigned checkpoint survives a restart.

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "core/ledger/receipt.h"
#include "core/note/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/test_support.h"
#include "tests/witness/local_witness.h"
#include "tests/witness/test_util.h"
#include "witness/policy.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;
using trialog::testing::LedgerKey;
using trialog::testing::Principal;
using trialog::testing::TempDir;
using trialog::testing::Trialogd;

constexpr char kLedgerName[] = "trialog.test";
constexpr char kTrial[] = "imt-01";

std::string Origin() { return absl::StrCat(kLedgerName, "/", kTrial); }

class TrialogdWitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LedgerKey> key = trialog::testing::MakeLedgerKey(dir_, kLedgerName);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    absl::StatusOr<note::Verifier> v =
        note::ParseVerifierKey(note::FormatVerifierKey(Origin(), key_.public_key));
    ASSERT_TRUE(v.ok());
    ledger_key_ = *v;
    for (int i = 0; i < 3; ++i) {
      witnesses_.push_back(std::make_unique<testing::LocalWitness>(
          absl::StrCat("w", i, ".regulator.example"), dir_.File(absl::StrCat("w", i)),
          ledger_key_));
      ASSERT_NO_FATAL_FAILURE(witnesses_.back()->Start());
    }
  }

  std::vector<std::string> ServerArgs(int quorum) {
    std::vector<std::string> specs;
    for (auto& w : witnesses_) specs.push_back(absl::StrCat(w->cosigner_key(), "@", w->url()));
    return {"--data_dir=" + dir_.File("data"), "--listen=127.0.0.1:0", "--plaintext",
            "--metrics_listen=127.0.0.1:0", "--accept_new_trials",
            "--ledger_key_file=" + key_.key_file,
            "--ledger_key_passphrase_file=" + key_.passphrase_file,
            "--witness=" + absl::StrJoin(specs, ","),
            absl::StrCat("--witness_quorum=", quorum)};
  }

  void StartServer(int quorum) {
    absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(dir_, ServerArgs(quorum));
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = *std::move(d);
  }

  // A client pinning the ledger key, with the policy "K of the 3 witnesses".
  std::unique_ptr<client::LedgerClient> Client(size_t quorum) {
    client::ChannelOptions co;
    co.target = server_->target();
    co.plaintext = true;
    auto channels = client::MakeChannels(co);
    EXPECT_TRUE(channels.ok());
    client::ClientOptions options;
    std::vector<std::string> keys;
    for (auto& w : witnesses_) keys.push_back(w->cosigner_key());
    absl::StatusOr<WitnessPolicy> policy = MakeWitnessPolicy(keys, quorum);
    EXPECT_TRUE(policy.ok()) << policy.status();
    options.witness_policy = *policy;
    auto c = client::LedgerClient::Create(*channels, kTrial,
                                          note::FormatVerifierKey(Origin(), key_.public_key),
                                          options);
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  // Polls until the server serves a cosigned checkpoint of size >= `size`
  // that satisfies the client's policy.
  absl::StatusOr<CosignedCheckpoint> WaitCosigned(client::LedgerClient& c, uint64_t size) {
    absl::StatusOr<CosignedCheckpoint> cp = absl::DeadlineExceededError("not tried");
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      cp = c.RefreshCosignedCheckpoint();
      if (cp.ok() && cp->checkpoint.size >= size) return cp;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return cp.ok() ? absl::DeadlineExceededError("cosigned checkpoint stayed too small")
                   : cp.status();
  }

  // Runs the trialog CLI; returns its exit code and output.
  int Verify(const std::vector<std::string>& args, std::string* out) {
    std::string cmd = absl::StrCat("'", TRIALOG_BINARY_DIR, "/tools/trialog' verify --key '",
                                   note::FormatVerifierKey(Origin(), key_.public_key), "'");
    for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
    return testing::RunCommand(cmd + " 2>&1", out);
  }

  TempDir dir_;
  LedgerKey key_;
  note::Verifier ledger_key_;
  std::vector<std::unique_ptr<testing::LocalWitness>> witnesses_;
  std::unique_ptr<Trialogd> server_;
};

TEST_F(TrialogdWitnessTest, CosignedCheckpointsServedVerifiedAndKeptAcrossRestart) {
  ASSERT_NO_FATAL_FAILURE(StartServer(2));
  Principal admin = trialog::testing::MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  std::unique_ptr<client::LedgerClient> c = Client(2);
  ASSERT_TRUE(c->Append(trialog::testing::Genesis(kTrial, Origin(), admin)).ok());
  for (int i = 0; i < 20; ++i) {
    auto r = c->Append(trialog::testing::Note(kTrial, admin, "trial", absl::StrCat("note ", i)));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  absl::StatusOr<CosignedCheckpoint> cp = WaitCosigned(*c, 21);
  ASSERT_TRUE(cp.ok()) << cp.status() << "\n" << server_->Stderr();
  EXPECT_GE(cp->cosignatures.size(), 2u);

  // A receipt under the cosigned checkpoint verifies offline with the ledger
  // key (core/ledger/receipt) and the witness policy.
  absl::StatusOr<v1::Receipt> receipt = c->CosignedReceipt(7);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  ASSERT_TRUE(ledger::VerifyReceipt(*receipt, ledger_key_).ok());
  std::vector<std::string> keys;
  for (auto& w : witnesses_) keys.push_back(w->cosigner_key());
  EXPECT_TRUE(OpenCosignedCheckpoint(receipt->checkpoint(), ledger_key_,
                                     *MakeWitnessPolicy(keys, 2))
                  .ok());

  // trialog verify with the policy 2 of 3 against the live server.
  std::vector<std::string> policy_args;
  for (auto& w : witnesses_) {
    policy_args.push_back("--witness");
    policy_args.push_back(w->cosigner_key());
  }
  std::vector<std::string> live = {"--server", server_->target(), "--plaintext", "--trial", kTrial};
  std::vector<std::string> args = live;
  args.insert(args.end(), policy_args.begin(), policy_args.end());
  args.insert(args.end(), {"--witness-quorum", "2"});
  std::string out;
  EXPECT_EQ(Verify(args, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("cosigned by"));

  // Restart the server: the cosigned checkpoint is served at once.
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();
  for (auto& w : witnesses_) w->Stop();  // nobody can cosign anything new now
  ASSERT_NO_FATAL_FAILURE(StartServer(2));
  c = Client(2);
  absl::StatusOr<CosignedCheckpoint> again = c->RefreshCosignedCheckpoint();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->checkpoint.size, 21u);

  // Appends do not wait for the (dead) witnesses.
  const absl::Time start = absl::Now();
  ASSERT_TRUE(c->Append(trialog::testing::Note(kTrial, admin, "trial", "while witnesses are down")).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();

  // Offline: trialog verify --data checks the kept cosigned checkpoint.
  std::vector<std::string> offline = {"--data", dir_.File("data"), "--trial", kTrial};
  offline.insert(offline.end(), policy_args.begin(), policy_args.end());
  offline.insert(offline.end(), {"--witness-quorum", "2"});
  EXPECT_EQ(Verify(offline, &out), 0) << out;
}

TEST_F(TrialogdWitnessTest, CheckpointLackingRequiredCosignaturesIsReportedAsSuch) {
  witnesses_[2]->Stop();  // one witness down: a 2-of-3 server still gets cosignatures
  ASSERT_NO_FATAL_FAILURE(StartServer(2));
  Principal admin = trialog::testing::MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  std::unique_ptr<client::LedgerClient> lenient = Client(2);
  ASSERT_TRUE(lenient->Append(trialog::testing::Genesis(kTrial, Origin(), admin)).ok());
  ASSERT_TRUE(lenient->Append(trialog::testing::Note(kTrial, admin, "trial", "x")).ok());
  absl::StatusOr<CosignedCheckpoint> cp = WaitCosigned(*lenient, 2);
  ASSERT_TRUE(cp.ok()) << cp.status() << "\n" << server_->Stderr();
  EXPECT_EQ(cp->cosignatures.size(), 2u);

  // A verifier whose policy is 3 of 3 refuses it, and says why.
  std::unique_ptr<client::LedgerClient> strict = Client(3);
  absl::StatusOr<CosignedCheckpoint> refused = strict->RefreshCosignedCheckpoint();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("cosigned by 2 of 3 policy witnesses"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("the policy needs 3"));
  // trialog verify: exit 8, "witness policy not met".
  std::vector<std::string> args = {"--server", server_->target(), "--plaintext", "--trial", kTrial};
  for (auto& w : witnesses_) args.insert(args.end(), {"--witness", w->cosigner_key()});
  std::string out;
  EXPECT_EQ(Verify(args, &out), 8) << out;
  EXPECT_THAT(out, HasSubstr("witness policy not met"));
  // The witness log names the one that failed.
  EXPECT_THAT(server_->Stderr(), HasSubstr("w2.regulator.example"));
}

TEST_F(TrialogdWitnessTest, ServerWithoutWitnessesHasNoCosignedCheckpoints) {
  std::vector<std::string> args = ServerArgs(0);
  args.pop_back();  // --witness_quorum
  args.pop_back();  // --witness
  absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(dir_, args);
  ASSERT_TRUE(d.ok()) << d.status();
  server_ = *std::move(d);
  Principal admin = trialog::testing::MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  std::unique_ptr<client::LedgerClient> c = Client(1);
  ASSERT_TRUE(c->Append(trialog::testing::Genesis(kTrial, Origin(), admin)).ok());
  absl::StatusOr<CosignedCheckpoint> cp = c->RefreshCosignedCheckpoint();
  EXPECT_EQ(cp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(cp.status().message()), HasSubstr("no witnesses configured"));
}

TEST_F(TrialogdWitnessTest, BadWitnessConfigurationIsRefusedAtStart) {
  std::vector<std::string> args = ServerArgs(4);  // quorum above the 3 witnesses
  trialog::testing::RunResult r = trialog::testing::RunTrialogd(dir_, args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("witness quorum 4"));
  args = ServerArgs(1);
  args[args.size() - 2] = "--witness=not-a-key@http://127.0.0.1:1";
  r = trialog::testing::RunTrialogd(dir_, args);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("bad cosigner key"));
}

}  // namespace
}  // namespace trialog::witness
