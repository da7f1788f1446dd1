// TrialStateService against the real trialogd binary on loopback. The
// server's answers (served from its live state machine) are cross-checked
// against offline replays (core/trial/replay.h) of the entries, read back
// through LedgerService or straight from the data directory after the
// server stopped.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/trial/projection.h"
#include "core/trial/replay.h"
#include "core/note/keys.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "rocksdb/iterator.h"
#include "storage/schema.h"
#include "tests/server/synthetic_driver.h"
#include "tests/server/test_support.h"
#include "trialog/v1/trial_service.grpc.pb.h"

namespace trialog::testing {
namespace {

constexpr char kLedgerName[] = "trialog.state";

class TrialStateServiceTest : public SuiteTrialogdTest<TrialStateServiceTest> {
 protected:
  static void SetUpTestSuite() { StartSuiteTrialogd(kLedgerName); }
  static void TearDownTestSuite() { StopSuiteTrialogd(); }
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
    return ReadLedgerEntries(*ledger_stub_, trial);
  }

  static std::atomic<int> counter_;
  std::unique_ptr<v1::LedgerService::Stub> ledger_stub_;
  std::unique_ptr<v1::TrialStateService::Stub> state_stub_;
};

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

// The live view follows appends: each answer after an append includes it
// and equals an offline replay of the entries read back.
TEST_F(TrialStateServiceTest, LiveAnswersFollowAppends) {
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN);
  const std::string trial = NewTrial(admin);
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    v1::GetSummaryRequest req;
    req.set_trial_id(trial);
    v1::GetSummaryResponse resp;
    ASSERT_TRUE(state_stub_->GetSummary(&ctx, req, &resp).ok());
    std::vector<ledger::ParsedEntry> entries = ReadAll(trial);
    ASSERT_EQ(entries.size(), static_cast<size_t>(i + 1));
    EXPECT_EQ(resp.last_index(), entries.size() - 1);
    trial::VectorEntrySource source(&entries);
    absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> offline =
        trial::StateAsOfEntry(source, entries.size() - 1);
    ASSERT_TRUE(offline.ok()) << offline.status();
    EXPECT_EQ(trial::DeterministicBytes(resp.summary()),
              trial::DeterministicBytes((*offline)->Summary()));
    // One more entry (a principal registration) before the next round.
    Principal p = MakePrincipal(absl::StrCat("coord-", i), v1::ROLE_STUDY_COORDINATOR, "RU-01");
    grpc::ClientContext actx;
    v1::AppendRequest areq;
    areq.set_trial_id(trial);
    *areq.mutable_signed_envelope() = Register(trial, admin, p);
    v1::AppendResponse aresp;
    grpc::Status s = ledger_stub_->Append(&actx, areq, &aresp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
}

}  // namespace
}  // namespace trialog::testing

namespace trialog::testing {
namespace {

constexpr char kSyntheticLedger[] = "trialog.synth";
constexpr char kSyntheticTrial[] = "IMT-SYNTH";

// Entries straight from a stopped server's data directory (RocksDB opened
// read-only): the independent side of the byte-for-byte comparisons.
class DataDirSource : public trial::EntrySource {
 public:
  static absl::StatusOr<std::unique_ptr<DataDirSource>> Open(const std::string& dir) {
    storage::DbOptions options;
    options.dir = dir;
    options.read_only = true;
    options.create_if_missing = false;
    absl::StatusOr<std::unique_ptr<storage::Db>> db = storage::Db::Open(options);
    if (!db.ok()) return db.status();
    auto source = std::unique_ptr<DataDirSource>(new DataDirSource(*std::move(db)));
    std::unique_ptr<rocksdb::Iterator> it = source->db_->NewIterator(storage::Cf::kEntries);
    it->SeekToLast();
    if (it->Valid()) {
      absl::StatusOr<uint64_t> last =
          storage::DecodeEntryKey(absl::string_view(it->key().data(), it->key().size()));
      if (!last.ok()) return last.status();
      source->size_ = *last + 1;
    }
    return source;
  }
  uint64_t size() const override { return size_; }
  absl::StatusOr<ledger::ParsedEntry> Read(uint64_t index) const override {
    absl::StatusOr<std::string> bytes = db_->Get(storage::Cf::kEntries, storage::EntryKey(index));
    if (!bytes.ok()) return bytes.status();
    return ledger::ParseEntry(*bytes);
  }

 private:
  explicit DataDirSource(std::unique_ptr<storage::Db> db) : db_(std::move(db)) {}
  std::unique_ptr<storage::Db> db_;
  uint64_t size_ = 0;
};

// Summary, then every subject's state, deterministically serialised.
std::string MachineBytes(const trial::TrialStateMachine& sm) {
  std::string out = trial::DeterministicBytes(sm.Summary());
  for (const std::string& id : sm.SubjectIds()) {
    absl::StatusOr<v1::SubjectState> s = sm.Subject(id);
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) out += "|" + id + "|" + trial::DeterministicBytes(*s);
  }
  return out;
}

class SyntheticTrialTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(*dir_, kSyntheticLedger);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = new LedgerKey(*key);
    StartServer();
    ASSERT_NE(server_, nullptr);
    const std::string vkey = note::FormatVerifierKey(
        absl::StrCat(kSyntheticLedger, "/", kSyntheticTrial), key_->public_key);
    absl::StatusOr<SyntheticRun> run =
        RunSyntheticTrial(server_->target(), kSyntheticTrial, vkey, 42, 20);
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_EQ(run->refused, 1u);
    entries_ = run->entries;
  }
  static void StartServer() {
    absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(
        *dir_, PlainTrialogdArgs(*dir_, *key_, {"--sync=false"}));
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = d->release();
  }
  static void StopServer() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();
    }
    delete server_;
    server_ = nullptr;
  }
  static void TearDownTestSuite() {
    StopServer();
    delete key_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(entries_, 600u);
    Connect();
  }
  void Connect() {
    ledger_stub_ = PlainStub(server_->target());
    state_stub_ = v1::TrialStateService::NewStub(
        grpc::CreateChannel(server_->target(), grpc::InsecureChannelCredentials()));
  }

  std::vector<ledger::ParsedEntry> ReadAll() { return ReadLedgerEntries(*ledger_stub_, kSyntheticTrial); }
  std::vector<std::string> SubjectIds() {
    grpc::ClientContext ctx;
    v1::ListSubjectsRequest req;
    req.set_trial_id(kSyntheticTrial);
    v1::ListSubjectsResponse resp;
    grpc::Status s = state_stub_->ListSubjects(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.subject_ids().begin(), resp.subject_ids().end()};
  }
  // The server's current state, serialised as MachineBytes does.
  std::string LiveBytes(uint64_t* last_index) {
    grpc::ClientContext ctx;
    v1::GetSummaryRequest req;
    req.set_trial_id(kSyntheticTrial);
    v1::GetSummaryResponse resp;
    grpc::Status s = state_stub_->GetSummary(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    *last_index = resp.last_index();
    std::string out = trial::DeterministicBytes(resp.summary());
    for (const std::string& id : SubjectIds()) {
      grpc::ClientContext sctx;
      v1::GetSubjectRequest sreq;
      sreq.set_trial_id(kSyntheticTrial);
      sreq.set_subject_id(id);
      v1::GetSubjectResponse sresp;
      grpc::Status ss = state_stub_->GetSubject(&sctx, sreq, &sresp);
      EXPECT_TRUE(ss.ok()) << ss.error_message();
      EXPECT_EQ(sresp.last_index(), *last_index);
      out += "|" + id + "|" + trial::DeterministicBytes(sresp.subject());
    }
    return out;
  }
  grpc::Status History(const std::string& subject, uint32_t page_size, const std::string& token,
                       std::optional<uint64_t> as_of_index, v1::GetSubjectHistoryResponse* resp) {
    grpc::ClientContext ctx;
    v1::GetSubjectHistoryRequest req;
    req.set_trial_id(kSyntheticTrial);
    req.set_subject_id(subject);
    req.set_page_size(page_size);
    req.set_page_token(token);
    if (as_of_index.has_value()) req.mutable_as_of()->set_as_of_index(*as_of_index);
    return state_stub_->GetSubjectHistory(&ctx, req, resp);
  }
  std::string SummaryAsOfBytes(uint64_t index) {
    grpc::ClientContext ctx;
    v1::GetSummaryRequest req;
    req.set_trial_id(kSyntheticTrial);
    req.mutable_as_of()->set_as_of_index(index);
    v1::GetSummaryResponse resp;
    grpc::Status s = state_stub_->GetSummary(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.last_index(), index);
    return trial::DeterministicBytes(resp.summary());
  }

  static TempDir* dir_;
  static LedgerKey* key_;
  static Trialogd* server_;
  static uint64_t entries_;
  std::unique_ptr<v1::LedgerService::Stub> ledger_stub_;
  std::unique_ptr<v1::TrialStateService::Stub> state_stub_;
};

TempDir* SyntheticTrialTest::dir_ = nullptr;
LedgerKey* SyntheticTrialTest::key_ = nullptr;
Trialogd* SyntheticTrialTest::server_ = nullptr;
uint64_t SyntheticTrialTest::entries_ = 0;

std::string KindOf(const v1::TrialEvent& e) {
  return e.GetDescriptor()->FindFieldByNumber(e.kind_case())->name();
}

TEST_F(SyntheticTrialTest, HistoryOfASubjectWithACorrectionAnOutdatedSignatureAndAnAeUpdate) {
  // The raw entries, read back through LedgerService: the history must
  // say what they say.
  const std::vector<ledger::ParsedEntry> all = ReadAll();
  ASSERT_EQ(all.size(), entries_);

  // Find a subject whose history has all three.
  std::string subject;
  v1::GetSubjectHistoryResponse full;
  for (const std::string& id : SubjectIds()) {
    v1::GetSubjectHistoryResponse h;
    grpc::Status s = History(id, 1000, "", std::nullopt, &h);
    ASSERT_TRUE(s.ok()) << s.error_message();
    bool corrected = false, outdated = false, ae_updated = false;
    for (const v1::SubjectHistoryEntry& e : h.entries()) {
      corrected |= e.has_correction();
      outdated |= e.signature().status() == v1::SIGNATURE_STATUS_OUTDATED;
      ae_updated |= e.event_type() == "ae_updated";
    }
    if (corrected && outdated && ae_updated) {
      subject = id;
      full = h;
      break;
    }
  }
  ASSERT_FALSE(subject.empty()) << "no subject of the synthetic trial has a correction, an "
                                   "outdated signature and an AE update";
  SCOPED_TRACE(subject);

  std::vector<const ledger::ParsedEntry*> raw;
  std::map<std::string, uint64_t> index_of;  // event id -> index
  for (const ledger::ParsedEntry& e : all) {
    if (e.envelope.stream_id() != "subject/" + subject) continue;
    raw.push_back(&e);
    index_of[e.envelope.event_id()] = e.entry.index();
  }
  ASSERT_EQ(full.entries_size(), static_cast<int>(raw.size()));
  EXPECT_EQ(full.total_entries(), raw.size());
  EXPECT_EQ(full.last_index(), entries_ - 1);
  EXPECT_TRUE(full.next_page_token().empty());
  std::map<uint64_t, const v1::SubjectHistoryEntry*> by_index;
  for (int i = 0; i < full.entries_size(); ++i) {
    const v1::SubjectHistoryEntry& h = full.entries(i);
    const ledger::ParsedEntry& r = *raw[i];
    SCOPED_TRACE(h.index());
    by_index[h.index()] = &h;
    EXPECT_EQ(h.index(), r.entry.index());
    EXPECT_EQ(h.recorded_at_unix_micros(), r.entry.recorded_at_unix_micros());
    EXPECT_EQ(h.observed_at_unix_micros(), r.envelope.observed_at().unix_micros());
    EXPECT_EQ(h.event_id(), r.envelope.event_id());
    EXPECT_EQ(h.leaf_hash(), r.leaf_hash);
    EXPECT_EQ(h.stream_version(), r.entry.stream_version());
    EXPECT_EQ(h.principal_id(), r.envelope.actor().principal_id());
    EXPECT_EQ(h.role(), r.envelope.actor().role());
    EXPECT_EQ(h.printed_name(), r.envelope.actor().printed_name());
    EXPECT_EQ(h.reason(), r.envelope.reason());
    ASSERT_TRUE(r.envelope.event().has_trial());
    EXPECT_EQ(h.event_type(), KindOf(r.envelope.event().trial()));
    EXPECT_EQ(trial::DeterministicBytes(h.event()),
              trial::DeterministicBytes(r.envelope.event().trial()));
    v1::TrialEvent from_json;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(h.event_json(), &from_json).ok())
        << h.event_json();
    EXPECT_EQ(trial::DeterministicBytes(from_json),
              trial::DeterministicBytes(r.envelope.event().trial()));
  }

  // Corrections: old -> new as recorded, the target named by index, and
  // the target listing the correction.
  int corrections = 0;
  for (const v1::SubjectHistoryEntry& h : full.entries()) {
    if (!h.has_correction()) continue;
    ++corrections;
    const v1::DataCorrected& c = h.event().data_corrected();
    EXPECT_EQ(h.correction().old_value(), c.old_value());
    EXPECT_EQ(h.correction().new_value(), c.new_value());
    EXPECT_EQ(h.correction().field_path(), c.field_path());
    EXPECT_FALSE(h.correction().reason().empty());
    ASSERT_TRUE(index_of.count(c.target_event_id()));
    EXPECT_EQ(h.correction().target_index(), index_of[c.target_event_id()]);
    const v1::SubjectHistoryEntry* target = by_index[h.correction().target_index()];
    ASSERT_NE(target, nullptr);
    EXPECT_NE(std::find(target->corrected_by_indexes().begin(),
                        target->corrected_by_indexes().end(), h.index()),
              target->corrected_by_indexes().end());
  }
  EXPECT_GT(corrections, 0);

  // The outdated signature: outdated by a later correction (or void) of one
  // of its records; valid in the history as of just before that entry, and
  // both statuses agree with offline replays of the raw entries.
  trial::VectorEntrySource source(&all);
  int outdated = 0;
  for (const v1::SubjectHistoryEntry& h : full.entries()) {
    if (h.signature().status() != v1::SIGNATURE_STATUS_OUTDATED) continue;
    ++outdated;
    const uint64_t by = h.signature().outdated_by_index();
    ASSERT_GT(by, h.index());
    const v1::SubjectHistoryEntry* change = by_index[by];
    ASSERT_NE(change, nullptr) << "outdated by entry " << by << ", not in the subject's history";
    const std::string& target = change->has_correction() ? change->correction().target_event_id()
                                                         : change->voiding().target_event_id();
    bool signed_target = false;
    for (const v1::SignedRecord& r : h.signature().records()) signed_target |= r.event_id() == target;
    EXPECT_TRUE(signed_target);

    v1::GetSubjectHistoryResponse before;
    grpc::Status s = History(subject, 1000, "", by - 1, &before);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(before.last_index(), by - 1);
    const v1::SubjectHistoryEntry* then = nullptr;
    for (const v1::SubjectHistoryEntry& e : before.entries()) {
      EXPECT_LE(e.index(), by - 1);
      if (e.index() == h.index()) then = &e;
    }
    ASSERT_NE(then, nullptr);
    EXPECT_EQ(then->signature().status(), v1::SIGNATURE_STATUS_VALID);
    for (uint64_t at : {by - 1, by}) {
      absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> offline =
          trial::StateAsOfEntry(source, at);
      ASSERT_TRUE(offline.ok()) << offline.status();
      absl::StatusOr<v1::SubjectState> st = (*offline)->Subject(subject);
      ASSERT_TRUE(st.ok());
      bool found = false;
      for (const v1::SignatureState& sig : st->signatures()) {
        if (sig.event_id() != h.event_id()) continue;
        found = true;
        EXPECT_EQ(sig.status(), at == by ? v1::SIGNATURE_STATUS_OUTDATED : v1::SIGNATURE_STATUS_VALID);
      }
      EXPECT_TRUE(found);
    }
  }
  EXPECT_GT(outdated, 0);

  // The AE update refers to an AE reported earlier in the same history.
  std::set<std::string> reported;
  int updates = 0;
  for (const v1::SubjectHistoryEntry& h : full.entries()) {
    if (h.event_type() == "ae_reported") reported.insert(h.event().ae_reported().ae_id());
    if (h.event_type() == "ae_updated") {
      ++updates;
      EXPECT_TRUE(reported.count(h.event().ae_updated().ae_id())) << h.event_json();
    }
  }
  EXPECT_GT(updates, 0);

  // Pages of 4 concatenate to the whole.
  std::vector<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    v1::GetSubjectHistoryResponse page;
    grpc::Status s = History(subject, 4, token, std::nullopt, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(page.entries_size(), 4);
    EXPECT_EQ(page.last_index(), full.last_index());
    for (const auto& e : page.entries()) paged.push_back(trial::DeterministicBytes(e));
    token = page.next_page_token();
    ASSERT_LT(++pages, 1000);
  } while (!token.empty());
  EXPECT_EQ(pages, (full.entries_size() + 3) / 4);
  ASSERT_EQ(paged.size(), static_cast<size_t>(full.entries_size()));
  for (int i = 0; i < full.entries_size(); ++i) {
    EXPECT_EQ(paged[i], trial::DeterministicBytes(full.entries(i))) << i;
  }

  // A token pins the state of its first page (here: as of an earlier entry).
  {
    const uint64_t at = full.entries(full.entries_size() / 2).index();
    v1::GetSubjectHistoryResponse first;
    ASSERT_TRUE(History(subject, 2, "", at, &first).ok());
    ASSERT_FALSE(first.next_page_token().empty());
    v1::GetSubjectHistoryResponse second;
    ASSERT_TRUE(History(subject, 1000, first.next_page_token(), std::nullopt, &second).ok());
    EXPECT_EQ(second.last_index(), at);
    EXPECT_EQ(static_cast<int>(first.entries_size() + second.entries_size()),
              full.entries_size() / 2 + 1);
    for (const auto& e : second.entries()) EXPECT_LE(e.index(), at);
  }

  // Bad requests.
  v1::GetSubjectHistoryResponse bad;
  EXPECT_EQ(History(subject, 1001, "", std::nullopt, &bad).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(History(subject, 10, "h1.x.2", std::nullopt, &bad).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(History(subject, 10, absl::StrCat("h1.0.", entries_ + 5), std::nullopt, &bad)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(History("bad id!", 10, "", std::nullopt, &bad).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(History("NO-SUCH-9", 10, "", std::nullopt, &bad).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(History(subject, 10, "", full.entries(0).index() - 1, &bad).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// The property of issue 4: the live state equals a replay from genesis,
// byte for byte, across a restart and across snapshots.
TEST_F(SyntheticTrialTest, LiveStateEqualsReplayFromTheDataDirectoryAcrossRestartAndSnapshots) {
  uint64_t live_last = 0;
  const std::string live = LiveBytes(&live_last);
  ASSERT_EQ(live_last, entries_ - 1);
  // A few as-of answers of the first server, kept for after the restart.
  const std::vector<uint64_t> as_of = {0, entries_ / 3, entries_ / 2 + 1, entries_ - 2};
  std::vector<std::string> as_of_before;
  for (uint64_t k : as_of) as_of_before.push_back(SummaryAsOfBytes(k));

  StopServer();
  {
    absl::StatusOr<std::unique_ptr<DataDirSource>> source = DataDirSource::Open(
        (std::filesystem::path(dir_->File("data")) / "trials" / kSyntheticTrial).string());
    ASSERT_TRUE(source.ok()) << source.status();
    ASSERT_EQ((*source)->size(), entries_);
    // From genesis, with the rules on (an auditor's replay): every entry passes.
    trial::ReplayOptions checked;
    checked.check_rules = true;
    std::map<uint64_t, std::string> snapshots;
    checked.snapshots_out = &snapshots;
    checked.snapshot_every = 97;
    absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> genesis =
        trial::StateAsOfEntry(**source, entries_ - 1, checked);
    ASSERT_TRUE(genesis.ok()) << genesis.status();
    EXPECT_EQ(MachineBytes(**genesis), live);
    // From every snapshot: the same state, byte for byte.
    ASSERT_GE(snapshots.size(), 6u);
    for (const auto& [index, bytes] : snapshots) {
      SCOPED_TRACE(index);
      std::map<uint64_t, std::string> one = {{index, bytes}};
      trial::ReplayOptions from;
      from.snapshots = &one;
      absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> resumed =
          trial::StateAsOfEntry(**source, entries_ - 1, from);
      ASSERT_TRUE(resumed.ok()) << resumed.status();
      EXPECT_EQ((*resumed)->Snapshot(), (*genesis)->Snapshot());
      EXPECT_EQ(MachineBytes(**resumed), live);
    }
    for (size_t i = 0; i < as_of.size(); ++i) {
      absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> then =
          trial::StateAsOfEntry(**source, as_of[i]);
      ASSERT_TRUE(then.ok()) << then.status();
      EXPECT_EQ(trial::DeterministicBytes((*then)->Summary()), as_of_before[i]) << as_of[i];
    }
  }

  // After a restart (the live machine rebuilt by the server's own replay at
  // open): the same bytes, and the same as-of answers (twice: the second
  // time from the snapshots the first replays left).
  StartServer();
  ASSERT_NE(server_, nullptr);
  Connect();
  uint64_t restarted_last = 0;
  EXPECT_EQ(LiveBytes(&restarted_last), live);
  EXPECT_EQ(restarted_last, live_last);
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < as_of.size(); ++i) {
      EXPECT_EQ(SummaryAsOfBytes(as_of[i]), as_of_before[i]) << as_of[i] << " round " << round;
    }
  }
}

}  // namespace
}  // namespace trialog::testing
