// Witnessing end to end with real binaries only: trialogd configured with
// three witnesses, each a `trialog witness` process on a loopback port
// (the CLI subcommand, not the in-process server), quorum 2. The verifier's
// side is the `trialog` CLI: verify with the policy "ledger key plus 2 of
// the 3 witnesses" against the live server, with one witness stopped (still
// 2 of 3), with two stopped (the newest checkpoint lacks cosignatures and
// verify says so), and after a witness restarts on its directory (it kept
// its state and catches up). Exports made under the policy carry the
// cosigned checkpoint, and `trialog verify --bundle` checks it.

#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "core/crypto/crypto.h"
#include "core/crypto/key_file.h"
#include "core/note/checkpoint.h"
#include "core/note/cosignature.h"
#include "core/note/keys.h"
#include "core/note/note.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/test_support.h"
#include "tests/witness/subprocess.h"
#include "tests/witness/test_util.h"
#include "witness/policy.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using trialog::testing::LedgerKey;
using trialog::testing::Principal;
using trialog::testing::TempDir;
using trialog::testing::Trialogd;
using testing::Subprocess;

constexpr char kLedgerName[] = "trialog.e2e.example";
constexpr char kTrial[] = "imt-e2e";
constexpr char kPassphrase[] = "e2e witness passphrase";

std::string Origin() { return absl::StrCat(kLedgerName, "/", kTrial); }
std::string Trialog() { return absl::StrCat(TRIALOG_BINARY_DIR, "/tools/trialog"); }

class WitnessEndToEndTest : public ::testing::Test {
 protected:
  // One `trialog witness` process and what the test knows about it.
  struct Node {
    std::string name, key_file, dir, stderr_path;
    std::string cosigner_key;  // as the process printed it
    int port = 0;              // fixed after the first start, so trialogd's URL stays valid
    std::unique_ptr<Subprocess> process;
  };

  void SetUp() override {
    absl::StatusOr<LedgerKey> key = trialog::testing::MakeLedgerKey(dir_, kLedgerName);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    ledger_vkey_ = note::FormatVerifierKey(Origin(), key_.public_key);
    absl::StatusOr<note::Verifier> v = note::ParseVerifierKey(ledger_vkey_);
    ASSERT_TRUE(v.ok()) << v.status();
    ledger_key_ = *v;
    testing::WriteFileOrDie(dir_.File("pass"), std::string(kPassphrase) + "\n");
    for (int i = 0; i < 3; ++i) {
      Node n;
      n.name = absl::StrCat("w", i, ".regulator.example");
      n.key_file = dir_.File(absl::StrCat("w", i, ".key"));
      n.dir = dir_.File(absl::StrCat("w", i, ".state"));
      n.stderr_path = dir_.File(absl::StrCat("w", i, ".stderr"));
      ASSERT_TRUE(crypto::WriteKeyFile(n.key_file, n.name, crypto::SigningKey::Generate(),
                                       kPassphrase, crypto::kKeyFileTestParams)
                      .ok());
      nodes_.push_back(std::move(n));
    }
    // The exporter's key, for bundles.
    ASSERT_TRUE(crypto::WriteKeyFile(dir_.File("exporter.key"), "exports.e2e.example/cro",
                                     crypto::SigningKey::Generate(), kPassphrase,
                                     crypto::kKeyFileTestParams)
                    .ok());
  }

  // Starts `trialog witness` for node i (on its old port after the first
  // start) and waits until it listens.
  void StartWitness(int i) {
    Node& n = nodes_[i];
    std::vector<std::string> argv = {Trialog(), "witness",
                                     "--listen", absl::StrCat("127.0.0.1:", n.port),
                                     "--dir", n.dir,
                                     "--key-file", n.key_file,
                                     "--passphrase-file", dir_.File("pass"),
                                     "--log", ledger_vkey_};
    n.process = Subprocess::Spawn(argv, n.stderr_path);
    ASSERT_NE(n.process, nullptr);
    const std::string key_line = n.process->ReadLineContaining("cosigner key ");
    ASSERT_FALSE(key_line.empty()) << testing::ReadFileOrDie(n.stderr_path);
    n.cosigner_key = key_line.substr(key_line.rfind(' ') + 1);
    const std::string listen_line = n.process->ReadLineContaining("listening on ");
    ASSERT_FALSE(listen_line.empty()) << testing::ReadFileOrDie(n.stderr_path);
    const size_t colon = listen_line.find("127.0.0.1:");
    ASSERT_NE(colon, std::string::npos) << listen_line;
    n.port = std::stoi(listen_line.substr(colon + 10));
  }

  void StopWitness(int i) {
    nodes_[i].process->Signal(SIGTERM);
    EXPECT_EQ(nodes_[i].process->Wait(), 0) << testing::ReadFileOrDie(nodes_[i].stderr_path);
    nodes_[i].process.reset();
  }

  void StartServer(const std::string& data = "data") {
    std::vector<std::string> specs;
    for (const Node& n : nodes_) {
      specs.push_back(absl::StrCat(n.cosigner_key, "@http://127.0.0.1:", n.port));
    }
    absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(
        dir_, PlainTrialogdArgs(dir_, key_,
                                {"--metrics_listen=127.0.0.1:0",
                                 "--witness=" + absl::StrJoin(specs, ","), "--witness_quorum=2"},
                                data));
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = *std::move(d);
    client::ChannelOptions co;
    co.target = server_->target();
    co.plaintext = true;
    auto channels = client::MakeChannels(co);
    ASSERT_TRUE(channels.ok()) << channels.status();
    auto c = client::LedgerClient::Create(*channels, kTrial, ledger_vkey_);  // ledger key alone
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }

  // Appends `n` notes; returns the ledger's size after them.
  uint64_t Append(int n) {
    uint64_t size = 0;
    for (int i = 0; i < n; ++i) {
      auto r = client_->Append(
          trialog::testing::Note(kTrial, admin_, "trial", absl::StrCat("note ", ++notes_)));
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) size = r->index + 1;
    }
    return size;
  }

  // Policy flags: every witness, at least `k` of them.
  std::vector<std::string> Policy(int k) {
    std::vector<std::string> args;
    for (const Node& n : nodes_) args.insert(args.end(), {"--witness", n.cosigner_key});
    args.insert(args.end(), {"--min-witnesses", absl::StrCat(k)});
    return args;
  }

  // Runs `trialog ARGS` with the ledger key; returns the exit code, output
  // (stdout and stderr) in *out.
  int Run(const std::string& command, const std::vector<std::string>& args, std::string* out) {
    std::string cmd = absl::StrCat("'", Trialog(), "' ", command, " --key '", ledger_vkey_, "'");
    for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
    return testing::RunCommand(cmd + " 2>&1", out);
  }
  int VerifyServer(std::vector<std::string> extra, std::string* out) {
    std::vector<std::string> args = {"--server", server_->target(), "--plaintext", "--trial", kTrial};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run("verify", args, out);
  }

  // The size of the newest cosigned checkpoint the server serves, as
  // `trialog verify --json` with the policy 2 of 3 reports it (0 if none).
  uint64_t CosignedSize() {
    std::string out;
    std::vector<std::string> args = Policy(2);
    args.push_back("--json");
    if (VerifyServer(args, &out) != 0) return 0;
    nlohmann::json j = nlohmann::json::parse(out.substr(out.find('{')), nullptr, false);
    if (j.is_discarded()) return 0;
    return j["checkpoint"]["size"].get<uint64_t>();
  }
  // Waits until the server serves a cosigned checkpoint of `size` entries.
  bool WaitCosigned(uint64_t size) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (CosignedSize() >= size) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // The checkpoint witness i keeps on disk for the ledger (its
  // logs/<sha256(origin)>.checkpoint), opened under the ledger key and the
  // witness's own cosignature; size 0 if it has none (yet).
  note::Checkpoint Stored(int i) {
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(nodes_[i].dir + "/logs", ec)) {
      // The witness writes a .tmp file and renames it: only the renamed
      // file is its state (a .tmp may be caught half written).
      if (f.path().extension() == ".tmp") continue;
      auto own = MakeWitnessPolicy({nodes_[i].cosigner_key}, 1);
      absl::StatusOr<CosignedCheckpoint> cp =
          OpenCosignedCheckpoint(testing::ReadFileOrDie(f.path().string()), ledger_key_, *own);
      EXPECT_TRUE(cp.ok()) << f.path() << ": " << cp.status();
      if (cp.ok()) return cp->checkpoint;
    }
    return note::Checkpoint{};
  }
  bool WaitStored(int i, uint64_t size) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      if (Stored(i).size >= size) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }
  // The files witness i kept as evidence of refused, validly signed requests.
  std::vector<std::string> Evidence(int i) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& f : std::filesystem::recursive_directory_iterator(nodes_[i].dir + "/evidence", ec)) {
      if (f.is_regular_file()) out.push_back(f.path().string());
    }
    return out;
  }

  TempDir dir_;
  LedgerKey key_;
  std::string ledger_vkey_;
  note::Verifier ledger_key_;
  std::vector<Node> nodes_;
  std::unique_ptr<Trialogd> server_;
  std::unique_ptr<client::LedgerClient> client_;
  Principal admin_ = trialog::testing::MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  int notes_ = 0;
};

TEST_F(WitnessEndToEndTest, TrialogdAndThreeWitnessProcessesUnderATwoOfThreePolicy) {
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StartWitness(i));
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_TRUE(client_->Append(trialog::testing::Genesis(kTrial, Origin(), admin_)).ok());
  uint64_t size = Append(15);
  ASSERT_EQ(size, 16u);

  // All three witnesses up: the newest checkpoint gets cosigned.
  ASSERT_TRUE(WaitCosigned(size)) << server_->Stderr();
  std::string out;
  std::vector<std::string> latest = Policy(2);
  latest.push_back("--witness-latest");
  EXPECT_EQ(VerifyServer(latest, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("OK  server"));
  EXPECT_THAT(out, HasSubstr("of 3 witnesses"));
  EXPECT_THAT(out, Not(HasSubstr("NOT YET WITNESSED")));

  // The cosigned checkpoint, checked here with core/note directly: the
  // ledger's signature and a cosignature/v1 line by each witness that
  // cosigned, under the keys the witness processes printed.
  {
    auto policy = MakeWitnessPolicy({nodes_[0].cosigner_key, nodes_[1].cosigner_key,
                                     nodes_[2].cosigner_key},
                                    2);
    ASSERT_TRUE(policy.ok()) << policy.status();
    client::ClientOptions co;
    co.witness_policy = *policy;
    client::ChannelOptions ch;
    ch.target = server_->target();
    ch.plaintext = true;
    auto c = client::LedgerClient::Create(*client::MakeChannels(ch), kTrial, ledger_vkey_, co);
    ASSERT_TRUE(c.ok()) << c.status();
    absl::StatusOr<CosignedCheckpoint> cp = (*c)->RefreshCosignedCheckpoint();
    ASSERT_TRUE(cp.ok()) << cp.status();
    EXPECT_EQ(cp->checkpoint.size, size);
    EXPECT_GE(cp->cosignatures.size(), 2u);
    for (const note::Cosignature& s : cp->cosignatures) {
      EXPECT_THAT(s.name, HasSubstr(".regulator.example"));
      EXPECT_GT(s.timestamp, 1600000000u) << "a POSIX time in seconds";
    }
  }

  // One witness stopped: 2 of 3 still cosign every new checkpoint.
  ASSERT_NO_FATAL_FAILURE(StopWitness(0));
  size = Append(5);
  ASSERT_TRUE(WaitCosigned(size)) << server_->Stderr();
  EXPECT_EQ(VerifyServer(latest, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("cosigned by 2 of 3 witnesses (w1.regulator.example, w2.regulator.example)"));
  // A stricter verifier (3 of 3) refuses that checkpoint, and says why.
  EXPECT_EQ(VerifyServer(Policy(3), &out), 8) << out;
  EXPECT_THAT(out, HasSubstr("FAILED (witness_policy)"));
  EXPECT_THAT(out, HasSubstr("cosigned by 2 of 3 policy witnesses"));
  EXPECT_THAT(out, HasSubstr("the policy needs 3"));

  // An export under the policy carries the cosigned checkpoint; verify
  // --bundle applies the policy to it.
  const std::string bundle = dir_.File("bundle");
  auto export_args = [&](const std::string& out_dir, bool policy) {
    std::vector<std::string> args = {"--server", server_->target(), "--plaintext", "--trial", kTrial,
                                     "--exporter-key-file", dir_.File("exporter.key"),
                                     "--passphrase-file", dir_.File("pass"), "--out", out_dir};
    if (policy) {
      for (const std::string& a : Policy(2)) args.push_back(a);
    }
    return args;
  };
  std::vector<std::string> with_policy = export_args(bundle, true);
  ASSERT_EQ(Run("export bundle", with_policy, &out), 0) << out;
  const std::string bundled = testing::ReadFileOrDie(bundle + "/checkpoint.note");
  auto policy2 = MakeWitnessPolicy({nodes_[0].cosigner_key, nodes_[1].cosigner_key,
                                    nodes_[2].cosigner_key},
                                   2);
  absl::StatusOr<CosignedCheckpoint> in_bundle =
      OpenCosignedCheckpoint(bundled, ledger_key_, *policy2);
  ASSERT_TRUE(in_bundle.ok()) << in_bundle.status() << "\n" << bundled;
  EXPECT_EQ(in_bundle->checkpoint.size, size);
  EXPECT_EQ(Run("verify", {"--bundle", bundle, "--witness", nodes_[0].cosigner_key, "--witness",
                           nodes_[1].cosigner_key, "--witness", nodes_[2].cosigner_key,
                           "--min-witnesses", "2"},
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("cosigned by 2 of 3 witnesses"));
  EXPECT_EQ(Run("verify", {"--bundle", bundle}, &out), 0) << out;  // the ledger key alone
  EXPECT_EQ(Run("verify", {"--bundle", bundle, "--witness", nodes_[0].cosigner_key, "--witness",
                           nodes_[1].cosigner_key, "--witness", nodes_[2].cosigner_key},
                &out),
            8)
      << out;
  EXPECT_THAT(out, HasSubstr("the policy needs 3"));
  // An export made without the policy holds the ledger's checkpoint only:
  // a verifier with a policy reports its missing cosignatures.
  const std::string plain = dir_.File("plain-bundle");
  ASSERT_EQ(Run("export bundle", export_args(plain, false), &out), 0) << out;
  std::vector<std::string> verify_plain = {"--bundle", plain};
  for (const std::string& a : Policy(2)) verify_plain.push_back(a);
  EXPECT_EQ(Run("verify", verify_plain, &out), 8) << out;
  EXPECT_THAT(out, HasSubstr("cosigned by 0 of 3 policy witnesses"));

  // Two witnesses stopped: no quorum for anything new. The server keeps
  // serving the older cosigned checkpoint; the ledger's newest one lacks
  // the cosignatures, and verify says so.
  ASSERT_NO_FATAL_FAILURE(StopWitness(1));
  const uint64_t witnessed = size;
  size = Append(4);
  absl::SleepFor(absl::Seconds(1));  // time enough for a round with one witness
  EXPECT_EQ(CosignedSize(), witnessed);
  EXPECT_EQ(VerifyServer(Policy(2), &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(absl::StrCat("NOT YET WITNESSED: the ledger's newest checkpoint, size ",
                                          size, ", lacks the required cosignatures; entries ",
                                          witnessed, "..", size - 1, " were not verified")));
  EXPECT_EQ(VerifyServer(latest, &out), 8) << out;
  EXPECT_THAT(out, HasSubstr("FAILED (witness_policy)"));
  EXPECT_THAT(out, HasSubstr(absl::StrCat("the ledger's newest checkpoint, size ", size,
                                          ", lacks the required cosignatures")));
  // An export under the policy holds the newest *cosigned* checkpoint and
  // the entries it covers, not the unwitnessed ones after it.
  const std::string older = dir_.File("older-bundle");
  ASSERT_EQ(Run("export bundle", export_args(older, true), &out), 0) << out;
  absl::StatusOr<note::Checkpoint> older_cp =
      note::OpenCheckpoint(testing::ReadFileOrDie(older + "/checkpoint.note"), ledger_key_);
  ASSERT_TRUE(older_cp.ok()) << older_cp.status();
  EXPECT_EQ(older_cp->size, witnessed);

  // Witness 1 restarts on its directory: it kept its last cosigned
  // checkpoint (it answers trialogd with its old size and a proof from it),
  // and the quorum is back for the newest checkpoint.
  {
    // What it kept on disk (docs/WITNESS.md, "The state directory"): the
    // ledger's note of the last checkpoint it cosigned, with its own line.
    std::vector<std::string> kept;
    for (const auto& f : std::filesystem::directory_iterator(nodes_[1].dir + "/logs")) {
      kept.push_back(f.path().string());
    }
    ASSERT_EQ(kept.size(), 1u);
    auto own = MakeWitnessPolicy({nodes_[1].cosigner_key}, 1);
    absl::StatusOr<CosignedCheckpoint> state =
        OpenCosignedCheckpoint(testing::ReadFileOrDie(kept[0]), ledger_key_, *own);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->checkpoint.size, witnessed);
  }
  ASSERT_NO_FATAL_FAILURE(StartWitness(1));
  ASSERT_TRUE(WaitCosigned(size)) << server_->Stderr() << "\n"
                                  << testing::ReadFileOrDie(nodes_[1].stderr_path);
  EXPECT_EQ(VerifyServer(latest, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("cosigned by 2 of 3 witnesses (w1.regulator.example, w2.regulator.example)"));
  EXPECT_THAT(testing::ReadFileOrDie(nodes_[1].stderr_path), HasSubstr("COSIGNED"));

  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();
  for (int i = 1; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StopWitness(i));
}

TEST_F(WitnessEndToEndTest, ForkedLedgerIsRefusedByEveryWitness) {
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StartWitness(i));
  ASSERT_NO_FATAL_FAILURE(StartServer("data"));
  ASSERT_TRUE(client_->Append(trialog::testing::Genesis(kTrial, Origin(), admin_)).ok());
  const uint64_t size = Append(10);
  ASSERT_EQ(size, 11u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitStored(i, size)) << "witness " << i << "\n" << server_->Stderr();
  const note::Checkpoint witnessed = Stored(0);
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();

  // The same ledger key, another data directory: a different history of the
  // same trial (another admin, other notes), longer than the witnessed one.
  ASSERT_NO_FATAL_FAILURE(StartServer("fork-data"));
  admin_ = trialog::testing::MakePrincipal("other-admin", v1::ROLE_SPONSOR_ADMIN);
  ASSERT_TRUE(client_->Append(trialog::testing::Genesis(kTrial, Origin(), admin_)).ok());
  const uint64_t fork_size = Append(15);
  ASSERT_EQ(fork_size, 16u);

  // Every witness refuses it and keeps the request as evidence; trialogd
  // raises the alarm for every witness (it logs after the answer arrives).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  auto all_refused = [&] {
    for (int i = 0; i < 3; ++i) {
      if (Evidence(i).empty()) return false;
      if (server_->Stderr().find(absl::StrCat("FORK? witness ", nodes_[i].name)) ==
          std::string::npos) {
        return false;
      }
    }
    return true;
  };
  while (!all_refused() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  for (int i = 0; i < 3; ++i) {
    const std::string log = testing::ReadFileOrDie(nodes_[i].stderr_path);
    EXPECT_THAT(log, HasSubstr("REFUSED " + Origin())) << "witness " << i;
    EXPECT_THAT(log, Not(HasSubstr(absl::StrCat("COSIGNED ", Origin(), " size ", fork_size))));
    // What it holds is still the first history's checkpoint.
    const note::Checkpoint kept = Stored(i);
    EXPECT_EQ(kept.size, witnessed.size);
    EXPECT_EQ(kept.root_hash, witnessed.root_hash);
    // The evidence holds the fork's checkpoint, signed by the same ledger
    // key: with the kept one, self-contained proof of the fork.
    std::vector<std::string> evidence = Evidence(i);
    ASSERT_FALSE(evidence.empty()) << "witness " << i;
    const std::string request = testing::ReadFileOrDie(evidence[0]);
    const size_t blank = request.find("\n\n");
    ASSERT_NE(blank, std::string::npos) << request;
    absl::StatusOr<note::Checkpoint> forked = note::OpenCheckpoint(request.substr(blank + 2), ledger_key_);
    ASSERT_TRUE(forked.ok()) << forked.status() << "\n" << request;
    // (Larger with a proof that fails, or the same size with another root,
    // depending on which fork checkpoint reached the witness first.)
    EXPECT_GE(forked->size, witnessed.size);
    EXPECT_TRUE(forked->size != witnessed.size || forked->root_hash != witnessed.root_hash);
  }
  // trialogd raised the alarm for every witness and has nothing cosigned
  // to serve; a verifier with a policy is told so.
  for (const Node& n : nodes_) {
    EXPECT_THAT(server_->Stderr(), HasSubstr(absl::StrCat("FORK? witness ", n.name)))
        << server_->Stderr();
  }
  std::string out;
  EXPECT_EQ(VerifyServer(Policy(1), &out), 8) << out;
  EXPECT_THAT(out, HasSubstr("witness policy not met"));
  // The ledger key alone cannot tell: the fork verifies on its own.
  EXPECT_EQ(VerifyServer({}, &out), 0) << out;

  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(StopWitness(i));
}

}  // namespace
}  // namespace trialog::witness
