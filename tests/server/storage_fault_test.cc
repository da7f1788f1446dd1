// Storage faults under the real trialogd (issue 8): I/O errors injected
// below RocksDB by an LD_PRELOAD library (fault_injection.cc), and SST and
// WAL files damaged on disk between runs. Checks that a refused write is
// never acknowledged, that nothing acknowledged is lost, that the operator
// gets a log line, and that `trialog verify` pinpoints damage.

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/note/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/test_support.h"

namespace trialog::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr char kLedgerName[] = "trialog.faults";

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Spit(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Files of `dir` whose name ends in `suffix` and whose bytes contain
// `needle`, with the offset of the first occurrence.
std::map<fs::path, size_t> FilesContaining(const std::string& dir, const std::string& suffix,
                                           const std::string& needle) {
  std::map<fs::path, size_t> found;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() < suffix.size() || name.substr(name.size() - suffix.size()) != suffix) continue;
    const std::string bytes = Slurp(e.path());
    const size_t at = bytes.find(needle);
    if (at != std::string::npos) found[e.path()] = at;
  }
  return found;
}

class StorageFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir_, kLedgerName);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
  }

  std::string DataDir() const { return dir_.File("data"); }
  std::string TrialDir() const { return DataDir() + "/trials/" + trial_; }
  std::string VerifierKey() const {
    return note::FormatVerifierKey(absl::StrCat(kLedgerName, "/", trial_), key_.public_key);
  }

  // trialogd on DataDir(); with `preload`, the fault library is preloaded
  // and armed while dir_/armed exists, for calls of kind `ops`.
  absl::StatusOr<std::unique_ptr<Trialogd>> Start(bool preload, const std::string& ops = "all") {
    std::vector<std::string> env;
    if (preload) {
      // Beside this test in the build tree (CMake's and Bazel's cmake_bin/).
      const std::string library =
          fs::absolute(std::string(TRIALOG_BINARY_DIR) + "/tests/server/libtrialog_fault_injection.so")
              .string();
      env = {"LD_PRELOAD=" + library,
             "TRIALOG_FAULT_DIR=" + DataDir(), "TRIALOG_FAULT_ARMED=" + dir_.File("armed"),
             "TRIALOG_FAULT_OPS=" + ops, "TRIALOG_FAULT_DEBUG=1"};
    }
    return Trialogd::Start(dir_,
                           {"--data_dir=" + DataDir(), "--ledger_key_file=" + key_.key_file,
                            "--ledger_key_passphrase_file=" + key_.passphrase_file, "--plaintext",
                            "--listen=127.0.0.1:0", "--accept_new_trials"},
                           env);
  }
  void Arm() { std::ofstream(dir_.File("armed")) << "1"; }
  void Disarm() { fs::remove(dir_.File("armed")); }

  grpc::Status Append(v1::LedgerService::Stub& stub, const v1::SignedEnvelope& se,
                      v1::AppendResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::AppendRequest req;
    req.set_trial_id(trial_);
    *req.mutable_signed_envelope() = se;
    return stub.Append(&ctx, req, resp);
  }

  // Genesis plus `notes` notes (each padded to about `pad` bytes), every
  // one acknowledged; keeps the receipts.
  void AppendAcknowledged(v1::LedgerService::Stub& stub, int notes, size_t pad = 0) {
    v1::AppendResponse resp;
    if (acknowledged_.empty()) {
      ASSERT_TRUE(Append(stub, Genesis(trial_, absl::StrCat(kLedgerName, "/", trial_), admin_), &resp).ok());
      acknowledged_[resp.index()] = resp.leaf_hash();
    }
    for (int i = 0; i < notes; ++i) {
      std::string text = absl::StrCat("acknowledged note ", i);
      while (text.size() < pad) absl::StrAppend(&text, " visit ", i, "/", text.size());
      v1::SignedEnvelope se = Note(trial_, admin_, "visits", text);
      grpc::Status s = Append(stub, se, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      acknowledged_[resp.index()] = resp.leaf_hash();
      signed_[resp.index()] = se;
    }
  }

  uint64_t TreeSize(v1::LedgerService::Stub& stub) {
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_trial_id(trial_);
    v1::GetCheckpointResponse cp;
    grpc::Status s = stub.GetCheckpoint(&ctx, req, &cp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return cp.tree_size();
  }

  // Every acknowledged receipt's entry is at its index with its hash.
  void ExpectAcknowledgedPresent(v1::LedgerService::Stub& stub) {
    for (const auto& [index, leaf_hash] : acknowledged_) {
      grpc::ClientContext ctx;
      v1::GetEntryRequest req;
      req.set_trial_id(trial_);
      req.set_index(index);
      v1::GetEntryResponse got;
      grpc::Status s = stub.GetEntry(&ctx, req, &got);
      ASSERT_TRUE(s.ok()) << "entry " << index << ": " << s.error_message();
      EXPECT_EQ(got.leaf_hash(), leaf_hash) << "entry " << index;
    }
  }

  nlohmann::json VerifyData(int* exit_code) {
    CliResult r = RunTrialogCli({"verify", "--data", DataDir(), "--trial", trial_, "--key",
                                  VerifierKey(), "--json"});
    *exit_code = r.exit_code;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << "verify printed no JSON: " << r.out;
    return j;
  }

  // The I/O-error scenario for calls of kind `ops` ("write" or "sync").
  void RunIoErrorScenario(const std::string& ops);

  TempDir dir_;
  LedgerKey key_;
  std::string trial_ = "faults";
  Principal admin_ = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  std::map<uint64_t, std::string> acknowledged_;     // index -> leaf hash
  std::map<uint64_t, v1::SignedEnvelope> signed_;    // index -> what was sent
};

void StorageFaultTest::RunIoErrorScenario(const std::string& ops) {
  auto d = Start(/*preload=*/true, ops);
  ASSERT_TRUE(d.ok()) << d.status();
  auto stub = PlainStub((*d)->target());
  AppendAcknowledged(*stub, 20);
  const uint64_t acknowledged_size = TreeSize(*stub);
  ASSERT_EQ(acknowledged_size, 21u);

  // The disk starts failing: every append is refused, none acknowledged.
  Arm();
  std::vector<v1::SignedEnvelope> refused;
  for (int i = 0; i < 5; ++i) {
    v1::SignedEnvelope se = Note(trial_, admin_, "visits", absl::StrCat("refused note ", i));
    v1::AppendResponse resp;
    grpc::Status s = Append(*stub, se, &resp);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << "append " << i << " under injected " << ops << " errors: " << s.error_message();
    refused.push_back(se);
  }
  // Reads still answer, and what they serve is only what was acknowledged.
  EXPECT_EQ(TreeSize(*stub), acknowledged_size);
  ExpectAcknowledgedPresent(*stub);
  // The operator is told, once, with the cause.
  const std::string log = (*d)->Stderr();
  // The first write to fail is either the sequencer's synced batch or the
  // indexer's deferred write of the last acknowledged batch's index rows
  // (storage/indexer.h: it runs after the answers, so it can still be
  // pending when the disk starts failing; more often so on a busy machine).
  // Either way the ledger refuses appends and says why.
  EXPECT_THAT(log, AnyOf(HasSubstr("trial faults: append refused (UNAVAILABLE): ledger write failed"),
                         HasSubstr("trial faults: append refused (UNAVAILABLE): writing the "
                                   "event_ids/streams index failed")));
  EXPECT_THAT(log, HasSubstr("Input/output error"));
  size_t lines = 0;
  for (size_t at = log.find("append refused"); at != std::string::npos;
       at = log.find("append refused", at + 1)) {
    ++lines;
  }
  EXPECT_LE(lines, 2u) << "one line per cause, not one per request:\n" << log;

  // The disk is replaced: the process is killed (its in-memory state may be
  // ahead of the disk) and restarted without faults.
  Disarm();
  EXPECT_EQ((*d)->Stop(SIGKILL), 128 + SIGKILL);
  d = Start(/*preload=*/false);
  ASSERT_TRUE(d.ok()) << d.status();
  stub = PlainStub((*d)->target());
  ExpectAcknowledgedPresent(*stub);
  const uint64_t after_restart = TreeSize(*stub);
  EXPECT_GE(after_restart, acknowledged_size);
  EXPECT_LE(after_restart, acknowledged_size + refused.size());
  if (ops == "write") {
    EXPECT_EQ(after_restart, acknowledged_size) << "no byte of a failed write reached the file";
  }
  // Retrying the refused appends with their event ids succeeds exactly once
  // each: new entries, or (when the bytes reached the disk although the
  // sync failed) the original entry, flagged duplicate.
  for (const v1::SignedEnvelope& se : refused) {
    v1::AppendResponse resp;
    grpc::Status s = Append(*stub, se, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.duplicate(), resp.index() < after_restart) << "index " << resp.index();
    EXPECT_GE(resp.index(), acknowledged_size);
  }
  EXPECT_EQ(TreeSize(*stub), acknowledged_size + refused.size());
  EXPECT_EQ((*d)->Stop(SIGTERM), 0) << (*d)->Stderr();
  int code = -1;
  nlohmann::json report = VerifyData(&code);
  EXPECT_EQ(code, 0) << report.dump();
  EXPECT_EQ(report.value("result", ""), "ok") << report.dump();
}

TEST_F(StorageFaultTest, FailedWritesAreRefusedLoggedAndNeverAcknowledged) {
  RunIoErrorScenario("write");
}

TEST_F(StorageFaultTest, FailedSyncsAreRefusedLoggedAndNeverAcknowledged) {
  RunIoErrorScenario("sync");
}

TEST_F(StorageFaultTest, DamagedSstBlockIsPinpointedByVerify) {
  {
    auto d = Start(/*preload=*/false);
    ASSERT_TRUE(d.ok()) << d.status();
    auto stub = PlainStub((*d)->target());
    // 16 KiB entries: more than the 4 MiB a clean stop flushes (so the
    // entries then live in SSTs), and one entry per 4 KiB data block.
    AppendAcknowledged(*stub, 300, 16 << 10);
    ASSERT_EQ((*d)->Stop(SIGTERM), 0) << (*d)->Stderr();
  }
  // Damage one byte of entry k's envelope signature where the entries
  // column family keeps it. Signatures do not compress, so the bytes appear
  // verbatim inside the (possibly compressed) data block.
  const uint64_t k = 200;
  const std::string signature = signed_.at(k).signature();
  std::map<fs::path, size_t> files = FilesContaining(TrialDir(), ".sst", signature);
  ASSERT_EQ(files.size(), 1u) << "entry " << k << "'s signature should be in exactly one SST";
  const auto& [sst, offset] = *files.begin();
  std::string bytes = Slurp(sst);
  bytes[offset + 10] ^= 0x01;
  Spit(sst, bytes);

  int code = -1;
  nlohmann::json report = VerifyData(&code);
  // The block's checksum no longer matches: entry k is unreadable and
  // verify names it (its block holds no other entry).
  EXPECT_EQ(code, 3) << report.dump();
  EXPECT_EQ(report.value("result", ""), "chain_damage") << report.dump();
  ASSERT_TRUE(report.contains("first_bad_index") && report["first_bad_index"].is_number())
      << report.dump();
  EXPECT_EQ(report["first_bad_index"].get<uint64_t>(), k) << report.dump();
  EXPECT_THAT(report.value("message", ""), HasSubstr("Corruption")) << report.dump();

  // With --full_replay_on_open, trialogd rebuilds the trial's state from
  // every entry when it opens, so it meets the damage too, and refuses to
  // serve the trial, naming the file. (By default it restores the snapshot
  // written at the clean stop and re-reads only the entries after it, so
  // damage below the snapshot is left to verify / the full scrub:
  // docs/FORMAT.md §9.1.)
  RunResult r = RunTrialogd(dir_, {"--data_dir=" + DataDir(), "--ledger_key_file=" + key_.key_file,
                                   "--ledger_key_passphrase_file=" + key_.passphrase_file,
                                   "--plaintext", "--listen=127.0.0.1:0",
                                   "--full_replay_on_open"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Corruption"));
  EXPECT_THAT(r.output, HasSubstr(sst.filename().string()));
}

TEST_F(StorageFaultTest, DamagedWalRefusesToOpenInsteadOfDroppingAcknowledgedEntries) {
  {
    auto d = Start(/*preload=*/false);
    ASSERT_TRUE(d.ok()) << d.status();
    auto stub = PlainStub((*d)->target());
    AppendAcknowledged(*stub, 40);
    // Killed: nothing was flushed, every acknowledged entry lives only in
    // the write-ahead log.
    EXPECT_EQ((*d)->Stop(SIGKILL), 128 + SIGKILL);
  }
  // Damage entry 10's record in the middle of the WAL: 30 acknowledged
  // entries follow it in the same log.
  const std::string signature = signed_.at(10).signature();
  std::map<fs::path, size_t> files = FilesContaining(TrialDir(), ".log", signature);
  ASSERT_EQ(files.size(), 1u) << "entry 10 should be in exactly one WAL file";
  const auto& [wal, offset] = *files.begin();
  std::string bytes = Slurp(wal);
  bytes[offset + 10] ^= 0x01;
  Spit(wal, bytes);

  // trialogd refuses to start, saying why and where, rather than replaying
  // up to the damage and silently serving a shorter ledger.
  RunResult r = RunTrialogd(dir_, {"--data_dir=" + DataDir(), "--ledger_key_file=" + key_.key_file,
                                   "--ledger_key_passphrase_file=" + key_.passphrase_file,
                                   "--plaintext", "--listen=127.0.0.1:0"});
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Corruption"));
  EXPECT_THAT(r.output, HasSubstr("is damaged"));
  EXPECT_THAT(r.output, HasSubstr("trialog restore"));
  // RocksDB's own LOG names the damaged file.
  EXPECT_THAT(Slurp(TrialDir() + "/LOG"), HasSubstr(wal.filename().string()));

  // verify cannot read the store either, and says so with the same cause.
  int code = -1;
  nlohmann::json report = VerifyData(&code);
  EXPECT_EQ(code, 2) << report.dump();
  EXPECT_EQ(report.value("result", ""), "unreadable") << report.dump();
  EXPECT_THAT(report.value("message", ""), HasSubstr("Corruption")) << report.dump();

  // Undo the damage: every acknowledged entry comes back.
  bytes[offset + 10] ^= 0x01;
  Spit(wal, bytes);
  auto d = Start(/*preload=*/false);
  ASSERT_TRUE(d.ok()) << d.status();
  auto stub = PlainStub((*d)->target());
  EXPECT_EQ(TreeSize(*stub), acknowledged_.size());
  ExpectAcknowledgedPresent(*stub);
}

}  // namespace
}  // namespace trialog::testing
