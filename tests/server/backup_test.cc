// Online backup (AdminService.CreateBackup, `trialog backup`) and restore
// (`trialog restore`) against the real trialogd and trialog binaries.
//
// The backup is taken while four clients keep appending. The checks compare
// three independent views: the receipts the clients were given while
// appending, the backup's own signed checkpoint, and what a second trialogd
// started on the restored data directory serves.

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "core/util/bytes.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/test_support.h"
#include "trialog/v1/admin.grpc.pb.h"

namespace trialog::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kLedgerName[] = "trialog.backup";

std::string Origin(const std::string& trial) { return absl::StrCat(kLedgerName, "/", trial); }

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir_, kLedgerName);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    fs::create_directories(dir_.File("backups"));
  }

  absl::StatusOr<std::unique_ptr<Trialogd>> StartServer(const std::string& data,
                                                        bool with_backups = true) {
    std::vector<std::string> args = {"--data_dir=" + data, "--listen=127.0.0.1:0", "--plaintext",
                                     "--accept_new_trials", "--ledger_key_file=" + key_.key_file,
                                     "--ledger_key_passphrase_file=" + key_.passphrase_file};
    if (with_backups) args.push_back("--backup_dir=" + dir_.File("backups"));
    return Trialogd::Start(dir_, args);
  }

  std::string VerifierKey(const std::string& trial) const {
    return note::FormatVerifierKey(Origin(trial), key_.public_key);
  }

  static grpc::Status Append(v1::LedgerService::Stub* stub, const std::string& trial,
                             const v1::SignedEnvelope& se, v1::AppendResponse* response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::AppendRequest req;
    req.set_trial_id(trial);
    *req.mutable_signed_envelope() = se;
    return stub->Append(&ctx, req, response);
  }

  static grpc::Status Backup(const Trialogd& server, const std::string& name,
                             const std::vector<std::string>& trials,
                             v1::CreateBackupResponse* response) {
    auto stub = v1::AdminService::NewStub(
        grpc::CreateChannel(server.target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v1::CreateBackupRequest req;
    req.set_name(name);
    for (const std::string& t : trials) req.add_trial_ids(t);
    return stub->CreateBackup(&ctx, req, response);
  }

  static v1::GetCheckpointResponse Checkpoint(v1::LedgerService::Stub* stub,
                                              const std::string& trial) {
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial);
    v1::GetCheckpointResponse resp;
    grpc::Status s = stub->GetCheckpoint(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  TempDir dir_;
  LedgerKey key_;
};

TEST_F(BackupTest, OnlineBackupRestoresToTheSameRootAndSize) {
  absl::StatusOr<std::unique_ptr<Trialogd>> server = StartServer(dir_.File("data"));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = PlainStub((*server)->target());
  const std::string trial = "imt-backup";
  Principal admin = MakePrincipal("admin-1", v1::ROLE_SPONSOR_ADMIN);
  v1::AppendResponse genesis;
  ASSERT_TRUE(Append(stub.get(), trial, Genesis(trial, Origin(trial), admin), &genesis).ok());

  // Four clients append until told to stop; every acknowledged receipt is kept.
  std::mutex mu;
  std::map<uint64_t, std::string> acked;  // index -> leaf hash
  acked[0] = genesis.leaf_hash();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      auto own = PlainStub((*server)->target());
      for (int i = 0; !stop.load(); ++i) {
        v1::AppendResponse r;
        grpc::Status s = Append(own.get(), trial,
                                Note(trial, admin, absl::StrCat("load-", c), absl::StrCat("n", i)), &r);
        if (!s.ok()) {
          failures.fetch_add(1);
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        acked[r.index()] = r.leaf_hash();
      }
    });
  }
  auto acked_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acked.size();
  };
  while (acked_count() < 300) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  uint64_t acked_before_backup;
  {
    std::lock_guard<std::mutex> lock(mu);
    acked_before_backup = acked.rbegin()->first + 1;
  }
  v1::CreateBackupResponse backup;
  grpc::Status s = Backup(**server, "b1", {}, &backup);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const size_t at_backup_end = acked_count();
  while (acked_count() < at_backup_end + 200) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);

  // The answer: one trial, whose copy's checkpoint verifies under the
  // ledger key and covers every append acknowledged before the call.
  ASSERT_EQ(backup.trials_size(), 1);
  const v1::TrialBackup& tb = backup.trials(0);
  EXPECT_EQ(tb.trial_id(), trial);
  EXPECT_EQ(tb.directory(), dir_.File("backups") + "/b1/trials/" + trial);
  absl::StatusOr<note::Verifier> verifier = note::ParseVerifierKey(VerifierKey(trial));
  ASSERT_TRUE(verifier.ok());
  absl::StatusOr<note::Checkpoint> cp = note::OpenCheckpoint(tb.checkpoint_note(), *verifier);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, tb.entries());
  EXPECT_GE(cp->size, acked_before_backup);
  // Appends went on during and after the backup: the live ledger is longer.
  const uint64_t live_size = Checkpoint(stub.get(), trial).tree_size();
  EXPECT_GT(live_size, cp->size);
  ASSERT_EQ((*server)->Stop(SIGTERM), 0) << (*server)->Stderr();

  // Restore into a fresh data directory; the CLI verifies before keeping.
  const std::string vkey_file = dir_.File("trial.vkey");
  std::ofstream(vkey_file) << VerifierKey(trial) << "\n";
  CliResult restore =
      RunTrialogCli({"restore", "--from", tb.directory() + "/../..", "--data", dir_.File("restored"),
                  "--trial", trial, "--key", "@" + vkey_file, "--json"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out;
  nlohmann::json j = nlohmann::json::parse(restore.out);
  EXPECT_EQ(j["result"], "ok");
  EXPECT_EQ(j["checkpoint"]["size"].get<uint64_t>(), cp->size);
  EXPECT_EQ(j["checkpoint"]["root"].get<std::string>(), Base64Encode(cp->root_hash));
  EXPECT_EQ(j["entries_verified"].get<uint64_t>(), cp->size);

  // A trialogd on the restored directory serves exactly the backup's state,
  // and every receipt given before the backup point still holds.
  absl::StatusOr<std::unique_ptr<Trialogd>> restored = StartServer(dir_.File("restored"));
  ASSERT_TRUE(restored.ok()) << restored.status();
  auto rstub = PlainStub((*restored)->target());
  v1::GetCheckpointResponse served = Checkpoint(rstub.get(), trial);
  EXPECT_EQ(served.tree_size(), cp->size);
  EXPECT_EQ(served.root_hash(), cp->root_hash);
  uint64_t compared = 0;
  for (const auto& [index, leaf] : acked) {
    grpc::ClientContext ctx;
    v1::GetEntryRequest req;
    req.set_trial_id(trial);
    req.set_index(index);
    v1::GetEntryResponse resp;
    grpc::Status gs = rstub->GetEntry(&ctx, req, &resp);
    if (index < cp->size) {
      ASSERT_TRUE(gs.ok()) << "index " << index << ": " << gs.error_message();
      EXPECT_EQ(resp.leaf_hash(), leaf) << "index " << index;
      ++compared;
    } else {
      EXPECT_EQ(gs.error_code(), grpc::StatusCode::OUT_OF_RANGE) << "index " << index;
    }
  }
  EXPECT_GE(compared, acked_before_backup);
  // The restored ledger takes new appends after the backup's last entry.
  v1::AppendResponse next;
  ASSERT_TRUE(Append(rstub.get(), trial, Note(trial, admin, "after-restore", "x"), &next).ok());
  EXPECT_EQ(next.index(), cp->size);
  EXPECT_EQ((*restored)->Stop(SIGTERM), 0) << (*restored)->Stderr();
}

TEST_F(BackupTest, RefusalsSayWhyAndLeaveNothing) {
  absl::StatusOr<std::unique_ptr<Trialogd>> server = StartServer(dir_.File("data"));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = PlainStub((*server)->target());
  const std::string trial = "imt-refusals";
  Principal admin = MakePrincipal("admin-1", v1::ROLE_SPONSOR_ADMIN);
  v1::AppendResponse r;
  ASSERT_TRUE(Append(stub.get(), trial, Genesis(trial, Origin(trial), admin), &r).ok());

  v1::CreateBackupResponse resp;
  grpc::Status s = Backup(**server, "../escape", {}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("backup name"), std::string::npos) << s.error_message();
  s = Backup(**server, "b-unknown", {"no-such-trial"}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_TRUE(fs::is_empty(dir_.File("backups")));

  ASSERT_TRUE(Backup(**server, "once", {trial}, &resp).ok());
  s = Backup(**server, "once", {trial}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();

  // The CLI: verifies the copy's checkpoint under the trial's key.
  CliResult cli = RunTrialogCli({"backup", "--server", (*server)->target(), "--plaintext", "--name",
                                  "cli", "--trial", trial, "--key", VerifierKey(trial), "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.out;
  nlohmann::json j = nlohmann::json::parse(cli.out);
  ASSERT_EQ(j["trials"].size(), 1u);
  EXPECT_EQ(j["trials"][0]["verified"], true);
  EXPECT_EQ(j["trials"][0]["size"].get<uint64_t>(), j["trials"][0]["entries"].get<uint64_t>());
  EXPECT_EQ(j["trials"][0]["size"].get<uint64_t>(), Checkpoint(stub.get(), trial).tree_size());
  CliResult reused = RunTrialogCli({"backup", "--server", (*server)->target(), "--plaintext",
                                     "--name", "cli"});
  EXPECT_EQ(reused.exit_code, 1) << reused.out;

  // Without --backup_dir the server refuses, naming the flag.
  absl::StatusOr<std::unique_ptr<Trialogd>> plain =
      StartServer(dir_.File("data-plain"), /*with_backups=*/false);
  ASSERT_TRUE(plain.ok()) << plain.status();
  s = Backup(**plain, "b2", {}, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("--backup_dir"), std::string::npos) << s.error_message();
  EXPECT_EQ((*plain)->Stop(SIGTERM), 0);
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);

  // Restore under the wrong key: refused as a checkpoint-signature failure
  // (exit 5) and nothing is left in the data directory.
  TempDir other_dir;
  absl::StatusOr<LedgerKey> other = MakeLedgerKey(other_dir, kLedgerName);
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string wrong = note::FormatVerifierKey(Origin(trial), other->public_key);
  CliResult bad = RunTrialogCli({"restore", "--from", dir_.File("backups/once"), "--data",
                                  dir_.File("restored"), "--trial", trial, "--key", wrong, "--json"});
  EXPECT_EQ(bad.exit_code, 5) << bad.out;
  EXPECT_FALSE(fs::exists(dir_.File("restored/trials/" + trial)));

  // Restore never overwrites: the live trial directory is left as it was.
  const std::string live = dir_.File("data/trials/" + trial);
  const auto before = fs::last_write_time(live);
  CliResult over = RunTrialogCli({"restore", "--from", dir_.File("backups/once"), "--data",
                                   dir_.File("data"), "--trial", trial, "--key",
                                   VerifierKey(trial), "--json"});
  EXPECT_EQ(over.exit_code, 2) << over.out;
  EXPECT_NE(over.out.find("already exists"), std::string::npos) << over.out;
  EXPECT_EQ(fs::last_write_time(live), before);

  // A missing backup is unreadable input (exit 2).
  CliResult missing = RunTrialogCli({"restore", "--from", dir_.File("backups/nope"), "--data",
                                      dir_.File("restored"), "--trial", trial, "--key",
                                      VerifierKey(trial)});
  EXPECT_EQ(missing.exit_code, 2);
}

}  // namespace
}  // namespace trialog::testing
