// The real trialog-witness binary (the same command as `trialog witness`):
// three witness processes on loopback ports cosign a ledger, are stopped
// with SIGTERM and restarted on their directories, and then refuse a fork
// of the ledger (same key, different history) from their durable state.

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/crypto/crypto.h"
#include "core/crypto/key_file.h"
#include "core/note/cosignature.h"
#include "core/note/note.h"
#include "core/util/bytes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/witness/subprocess.h"
#include "tests/witness/test_ledger.h"
#include "tests/witness/test_util.h"
#include "witness/client.h"

namespace trialog::witness {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::Subprocess;
using testing::TestLedger;

constexpr char kLedgerName[] = "trialog.example/imt-crizotinib-01";
constexpr char kPassphrase[] = "witness passphrase for tests";

std::string Binary() { return std::string(TRIALOG_BINARY_DIR) + "/tools/witness/trialog-witness"; }

class WitnessBinaryTest : public ::testing::Test {
 protected:
  struct Node {
    std::string name, key_file, dir, stderr_path, url, vkey;
    std::string public_key;
    std::unique_ptr<Subprocess> process;
    std::unique_ptr<WitnessClient> client;
  };

  WitnessBinaryTest() : ledger_(note::NoteSigner(kLedgerName, crypto::SigningKey::Generate())) {}

  void SetUp() override {
    testing::WriteFileOrDie(dir_ / "pass", std::string(kPassphrase) + "\n");
    for (int i = 0; i < 3; ++i) {
      Node n;
      n.name = absl::StrCat("witness", i, ".regulator.example");
      n.key_file = dir_ / absl::StrCat("w", i, ".key");
      n.dir = dir_ / absl::StrCat("state", i);
      n.stderr_path = dir_ / absl::StrCat("w", i, ".stderr");
      const crypto::SigningKey key = crypto::SigningKey::Generate();
      n.public_key = key.public_key();
      ASSERT_TRUE(crypto::WriteKeyFile(n.key_file, n.name, key, kPassphrase,
                                       crypto::kKeyFileTestParams)
                      .ok());
      nodes_.push_back(std::move(n));
    }
  }

  std::vector<std::string> Args(const Node& n) {
    return {Binary(),        "--listen",          "127.0.0.1:0",      "--dir",
            n.dir,           "--key-file",        n.key_file,         "--passphrase-file",
            dir_ / "pass",   "--log",             ledger_.signer().verifier_key()};
  }

  // Starts the witness process of node `i` and waits until it listens.
  void Start(int i) {
    Node& n = nodes_[i];
    n.process = Subprocess::Spawn(Args(n), n.stderr_path);
    ASSERT_NE(n.process, nullptr);
    const std::string key_line = n.process->ReadLineContaining("cosigner key ");
    ASSERT_FALSE(key_line.empty()) << testing::ReadFileOrDie(n.stderr_path);
    n.vkey = key_line.substr(key_line.rfind(' ') + 1);
    const std::string listen_line = n.process->ReadLineContaining("listening on ");
    ASSERT_FALSE(listen_line.empty()) << testing::ReadFileOrDie(n.stderr_path);
    const size_t at = listen_line.find("http://");
    n.url = listen_line.substr(at, listen_line.find(' ', at) - at);
    absl::StatusOr<std::unique_ptr<WitnessClient>> c = WitnessClient::Create(n.url);
    ASSERT_TRUE(c.ok()) << c.status();
    n.client = *std::move(c);
  }

  // SIGTERM, expecting a clean exit.
  void Stop(int i) {
    nodes_[i].client.reset();
    nodes_[i].process->Signal(SIGTERM);
    EXPECT_EQ(nodes_[i].process->Wait(), 0) << testing::ReadFileOrDie(nodes_[i].stderr_path);
    nodes_[i].process.reset();
  }

  ScratchDir dir_;
  TestLedger ledger_;
  std::vector<Node> nodes_;
};

TEST_F(WitnessBinaryTest, ThreeProcessesCosignRestartAndRefuseAFork) {
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(Start(i));
  std::vector<note::Cosigner> cosigners;
  for (const Node& n : nodes_) {
    // The printed cosigner key is the key file's key, as a type-0x04 vkey.
    absl::StatusOr<note::Cosigner> c = note::ParseCosignerKey(n.vkey);
    ASSERT_TRUE(c.ok()) << n.vkey << ": " << c.status();
    EXPECT_EQ(c->name, n.name);
    EXPECT_EQ(c->public_key, n.public_key);
    cosigners.push_back(*c);
  }

  // Grow the ledger and have it cosigned by all three.
  const uint64_t before = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  ledger_.Append(40);
  TestLedger fork = ledger_;  // same key, same first 40 entries
  for (Node& n : nodes_) ASSERT_TRUE(n.client->AddCheckpoint(ledger_.Request(0)).ok());
  ledger_.Append(9, "honest");
  std::string note = ledger_.Checkpoint();
  for (Node& n : nodes_) {
    absl::StatusOr<std::vector<std::string>> lines = n.client->AddCheckpoint(ledger_.Request(40));
    ASSERT_TRUE(lines.ok()) << lines.status();
    for (const std::string& l : *lines) note += l;
  }
  const uint64_t after = static_cast<uint64_t>(absl::ToUnixSeconds(absl::Now()));
  absl::StatusOr<note::OpenedNote> opened = note::OpenNote(note, {ledger_.signer().verifier()});
  ASSERT_TRUE(opened.ok()) << opened.status();
  absl::StatusOr<std::vector<note::Cosignature>> cosigs =
      note::VerifyCosignatures(*opened, cosigners);
  ASSERT_TRUE(cosigs.ok()) << cosigs.status();
  ASSERT_EQ(cosigs->size(), 3u);
  for (const note::Cosignature& c : *cosigs) {
    EXPECT_GE(c.timestamp, before);  // the witness's wall clock
    EXPECT_LE(c.timestamp, after);
  }

  // Stop every witness cleanly, then restart them on the same directories.
  for (int i = 0; i < 3; ++i) Stop(i);
  for (int i = 0; i < 3; ++i) ASSERT_NO_FATAL_FAILURE(Start(i));

  // The fork, presented every way, is refused by every restarted witness.
  fork.Append(9, "rewritten");
  ASSERT_EQ(fork.size(), ledger_.size());
  for (Node& n : nodes_) {
    SCOPED_TRACE(n.name);
    absl::StatusOr<std::vector<std::string>> r = n.client->AddCheckpoint(fork.Request(49));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
    EXPECT_EQ(ConflictSize(r.status()).value_or(0), 49u);
    r = n.client->AddCheckpoint(fork.Request(0));
    EXPECT_EQ(ConflictSize(r.status()).value_or(0), 49u) << r.status();
  }
  fork.Append(3, "rewritten");
  for (Node& n : nodes_) {
    EXPECT_EQ(n.client->AddCheckpoint(fork.Request(49)).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
  // The honest ledger continues.
  ledger_.Append(3, "honest");
  note = ledger_.Checkpoint();
  for (Node& n : nodes_) {
    absl::StatusOr<std::vector<std::string>> lines = n.client->AddCheckpoint(ledger_.Request(49));
    ASSERT_TRUE(lines.ok()) << lines.status();
    for (const std::string& l : *lines) note += l;
  }
  // PyNaCl agrees with the three cosignatures made by the real binaries.
  testing::WriteFileOrDie(dir_ / "final.note", note);
  std::string cmd = absl::StrCat("/usr/bin/python3 '", TRIALOG_SOURCE_DIR,
                                 "/tests/witness/verify_cosignature.py' '", dir_ / "final.note",
                                 "'");
  for (const Node& n : nodes_) absl::StrAppend(&cmd, " '", n.name, "' ", HexEncode(n.public_key));
  std::string out;
  EXPECT_EQ(testing::RunCommand(cmd, &out), 0) << out;
  for (int i = 0; i < 3; ++i) Stop(i);

  // Each witness logged what it cosigned and the fork it refused.
  for (const Node& n : nodes_) {
    const std::string log = testing::ReadFileOrDie(n.stderr_path);
    EXPECT_THAT(log, HasSubstr(absl::StrCat("COSIGNED ", kLedgerName, " size 52")));
    EXPECT_THAT(log, HasSubstr("REFUSED"));
    EXPECT_THAT(log, HasSubstr("forked"));
  }
}

TEST_F(WitnessBinaryTest, ASecondProcessCannotUseARunningWitnessDirectory) {
  ASSERT_NO_FATAL_FAILURE(Start(0));
  std::unique_ptr<Subprocess> second =
      Subprocess::Spawn(Args(nodes_[0]), dir_ / "second.stderr");
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->Wait(), 1);
  EXPECT_THAT(testing::ReadFileOrDie(dir_ / "second.stderr"), HasSubstr("in use"));
  Stop(0);
}

TEST_F(WitnessBinaryTest, ConfigFileAndPassphraseFromTheEnvironment) {
  const Node& n = nodes_[1];
  testing::WriteFileOrDie(dir_ / "witness.conf",
                          absl::StrCat("# test witness\nlisten = 127.0.0.1:0\ndir = ", n.dir,
                                       "\nkey-file = ", n.key_file, "\nlog = ",
                                       ledger_.signer().verifier_key(), "\n"));
  std::unique_ptr<Subprocess> p = Subprocess::Spawn(
      {Binary(), "--config", dir_ / "witness.conf"}, n.stderr_path,
      {absl::StrCat("TRIALOG_WITNESS_PASSPHRASE=", kPassphrase)});
  ASSERT_NE(p, nullptr);
  const std::string line = p->ReadLineContaining("listening on ");
  ASSERT_FALSE(line.empty()) << testing::ReadFileOrDie(n.stderr_path);
  const size_t at = line.find("http://");
  auto client = WitnessClient::Create(line.substr(at, line.find(' ', at) - at));
  ASSERT_TRUE(client.ok());
  ledger_.Append(2);
  EXPECT_TRUE((*client)->AddCheckpoint(ledger_.Request(0)).ok());
  p->Signal(SIGINT);
  EXPECT_EQ(p->Wait(), 0);
}

TEST_F(WitnessBinaryTest, NewKeyAndPrintKey) {
  const std::string key_file = dir_ / "new.key";
  std::string out;
  ASSERT_EQ(testing::RunCommand(absl::StrCat("'", Binary(), "' --key-file '", key_file,
                                             "' --new-key witness.example/new --passphrase-file '",
                                             dir_ / "pass", "' 2>/dev/null"),
                                &out),
            0);
  absl::StatusOr<note::Cosigner> made = note::ParseCosignerKey(out.substr(0, out.find('\n')));
  ASSERT_TRUE(made.ok()) << out;
  EXPECT_EQ(made->name, "witness.example/new");
  // The key file holds the same public key, and loads with the passphrase.
  absl::StatusOr<crypto::SigningKey> key = crypto::LoadKeyFile(key_file, kPassphrase);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->public_key(), made->public_key);
  std::string printed;
  ASSERT_EQ(testing::RunCommand(
                absl::StrCat("'", Binary(), "' --key-file '", key_file, "' --print-key"), &printed),
            0);
  EXPECT_EQ(printed, out.substr(0, out.find('\n') + 1));
  // Never overwrites a key file.
  EXPECT_EQ(testing::RunCommand(absl::StrCat("'", Binary(), "' --key-file '", key_file,
                                             "' --new-key x --passphrase-file '", dir_ / "pass",
                                             "' 2>&1"),
                                &out),
            1);
  EXPECT_THAT(out, HasSubstr("already exists"));
}

TEST_F(WitnessBinaryTest, UsageErrorsExit64WithAReason) {
  const Node& n = nodes_[2];
  struct {
    std::string args;
    std::string why;
  } cases[] = {
      {absl::StrCat("--key-file '", n.key_file, "' --passphrase-file '", dir_ / "pass",
                    "' --log not-a-key"),
       "--dir is required"},
      {absl::StrCat("--dir '", n.dir, "' --key-file '", n.key_file, "' --passphrase-file '",
                    dir_ / "pass", "' --log not-a-key"),
       "VKEY or ORIGIN=VKEY"},
      {absl::StrCat("--dir '", n.dir, "' --key-file '", n.key_file, "' --passphrase-file '",
                    dir_ / "pass", "'"),
       "no log to witness"},
      {absl::StrCat("--dir '", n.dir, "' --log ", ledger_.signer().verifier_key()),
       "--key-file is required"},
      {absl::StrCat("--dir '", n.dir, "' --key-file '", n.key_file, "' --log ",
                    ledger_.signer().verifier_key(), " --listen 127.0.0.1:0 --passphrase-file '",
                    dir_ / "pass", "' --listen-typo x"),
       "listen-typo"},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(testing::RunCommand(absl::StrCat("env -u TRIALOG_WITNESS_PASSPHRASE '", Binary(),
                                               "' ", c.args, " 2>&1"),
                                  &out),
              64)
        << c.args << "\n"
        << out;
    EXPECT_THAT(out, HasSubstr(c.why)) << c.args;
  }
  // A wrong passphrase is not a usage error: exit 1, and says so.
  testing::WriteFileOrDie(dir_ / "wrong", "not the passphrase\n");
  std::string out;
  EXPECT_EQ(testing::RunCommand(absl::StrCat("'", Binary(), "' --dir '", n.dir, "' --key-file '",
                                             n.key_file, "' --passphrase-file '", dir_ / "wrong",
                                             "' --log ", ledger_.signer().verifier_key(), " 2>&1"),
                                &out),
            1);
  EXPECT_THAT(out, HasSubstr("wrong passphrase"));
  // --help teaches.
  EXPECT_EQ(testing::RunCommand(absl::StrCat("'", Binary(), "' --help"), &out), 0);
  EXPECT_THAT(out, HasSubstr("Set up a witness for one trial"));
  EXPECT_THAT(out, HasSubstr("--log"));
}

}  // namespace
}  // namespace trialog::witness
