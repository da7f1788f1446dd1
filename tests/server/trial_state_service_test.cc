// TrialStateService against the real trialogd binary on loopback. The
// server's answers are cross-checked against an offline replay
// (core/trial/replay.h) of the entries read back through LedgerService.

#include <signal.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/trial/projection.h"
#include "core/trial/replay.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/server/test_support.h"
#include "trialog/v1/trial_service.grpc.pb.h"

namespace trialog::testing {
namespace {

constexpr char kLedgerName[] = "trialog.state";

class TrialStateServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(*dir_, kLedgerName);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = new LedgerKey(*key);
    absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(
        *dir_, {"--data_dir=" + dir_->File("data"), "--listen=127.0.0.1:0", "--plaintext",
                "--accept_new_trials", "--ledger_key_file=" + key_->key_file,
                "--ledger_key_passphrase_file=" + key_->passphrase_file});
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = d->release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();
    }
    delete server_;
    delete key_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ledger_stub_ = PlainStub(server_->target());
    state_stub_ = v1::TrialStateService::NewStub(
        grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
  }
  static std::string Origin(const std::string& trial) { return absl::StrCat(kLedgerName, "/", trial); }

  std::string NewTrial(const Principal& admin) {
    const std::string trial = absl::StrCat("s", ++counter_, "-", getpid());
    grpc::ClientContext ctx;
    v1::AppendRequest req;
    req.set_trial_id(trial);
    *req.mutable_signed_envelope() = Genesis(trial, Origin(trial), admin);
    v1::AppendResponse resp;
    grpc::Status s = ledger_stub_->Append(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return trial;
  }
  std::vector<ledger::ParsedEntry> ReadAll(const std::string& trial) {
    grpc::ClientContext ctx;
    v1::ReadRequest req;
    req.set_trial_id(trial);
    auto reader = ledger_stub_->Read(&ctx, req);
    std::vector<ledger::ParsedEntry> out;
    v1::ReadResponse resp;
    while (reader->Read(&resp)) {
      absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(resp.entry());
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(*std::move(e));
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }

  static TempDir* dir_;
  static LedgerKey* key_;
  static Trialogd* server_;
  static std::atomic<int> counter_;
  std::unique_ptr<v1::LedgerService::Stub> ledger_stub_;
  std::unique_ptr<v1::TrialStateService::Stub> state_stub_;
};

TempDir* TrialStateServiceTest::dir_ = nullptr;
LedgerKey* TrialStateServiceTest::key_ = nullptr;
Trialogd* TrialStateServiceTest::server_ = nullptr;
std::atomic<int> TrialStateServiceTest::counter_{0};

TEST_F(TrialStateServiceTest, UnknownTrialIsNotFound) {
  grpc::ClientContext ctx;
  v1::GetSummaryRequest req;
  req.set_trial_id("no-such-trial");
  v1::GetSummaryResponse resp;
  EXPECT_EQ(state_stub_->GetSummary(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(TrialStateServiceTest, BothAsOfFieldsAreInvalidArgument) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  grpc::ClientContext ctx;
  v1::ListSubjectsRequest req;
  req.set_trial_id(trial);
  req.mutable_as_of()->set_as_of_index(0);
  req.mutable_as_of()->set_as_of_time_unix_micros(1);
  v1::ListSubjectsResponse resp;
  grpc::Status s = state_stub_->ListSubjects(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
}

TEST_F(TrialStateServiceTest, IndexPastEndIsOutOfRangeAndUnknownSubjectNotFound) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  {
    grpc::ClientContext ctx;
    v1::GetSummaryRequest req;
    req.set_trial_id(trial);
    req.mutable_as_of()->set_as_of_index(1);
    v1::GetSummaryResponse resp;
    EXPECT_EQ(state_stub_->GetSummary(&ctx, req, &resp).error_code(),
              grpc::StatusCode::OUT_OF_RANGE);
  }
  {
    grpc::ClientContext ctx;
    v1::GetSubjectRequest req;
    req.set_trial_id(trial);
    req.set_subject_id("S-404");
    v1::GetSubjectResponse resp;
    EXPECT_EQ(state_stub_->GetSubject(&ctx, req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    // Before the genesis was recorded: nothing to replay.
    grpc::ClientContext ctx;
    v1::GetSummaryRequest req;
    req.set_trial_id(trial);
    req.mutable_as_of()->set_as_of_time_unix_micros(1);
    v1::GetSummaryResponse resp;
    EXPECT_EQ(state_stub_->GetSummary(&ctx, req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(TrialStateServiceTest, SummaryEqualsOfflineReplayByteForByte) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  std::vector<ledger::ParsedEntry> entries = ReadAll(trial);
  ASSERT_EQ(entries.size(), 1u);
  trial::VectorEntrySource source(&entries);
  absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> offline =
      trial::StateAsOfEntry(source, entries.size() - 1);
  ASSERT_TRUE(offline.ok()) << offline.status();

  grpc::ClientContext ctx;
  v1::GetSummaryRequest req;
  req.set_trial_id(trial);
  v1::GetSummaryResponse resp;
  grpc::Status s = state_stub_->GetSummary(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.last_index(), entries.size() - 1);
  EXPECT_EQ(trial::DeterministicBytes(resp.summary()),
            trial::DeterministicBytes((*offline)->Summary()));

  grpc::ClientContext ctx2;
  v1::ListSubjectsRequest lreq;
  lreq.set_trial_id(trial);
  v1::ListSubjectsResponse lresp;
  ASSERT_TRUE(state_stub_->ListSubjects(&ctx2, lreq, &lresp).ok());
  EXPECT_EQ(static_cast<size_t>(lresp.subject_ids_size()), (*offline)->SubjectIds().size());
}

}  // namespace
}  // namespace trialog::testing
