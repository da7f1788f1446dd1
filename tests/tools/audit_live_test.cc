// `trialog audit-trail --server` against the real trialogd on a loopback
// port (issue 5): the synthetic trial is appended through the real client,
// then the test itself appends a correction with a reason (after unlocking
// the database, as a data manager would). The live trail must equal, byte
// for byte, the trail of the same ledger read from the data directory with
// the server stopped, and must say exactly what the entries (read back over
// the Read RPC and parsed here) say: who, what, when, why, old -> new of the
// correction, and the manifestation of an e-signature.

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "core/crypto/crypto.h"
#include "core/ledger/chain_verifier.h"
#include "core/ledger/entry.h"
#include "core/note/keys.h"
#include "core/trial/state_machine.h"
#include "core/trial/synthetic_trial.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tests/server/test_support.h"

namespace trialog::testing {
namespace {

using export_test::CommandResult;
using export_test::RunCommand;
using export_test::ShellQuote;

constexpr char kLedgerName[] = "trialog.live";
constexpr char kTrial[] = "IMT-LIVE";
constexpr char kReason[] = "re-weighed on the calibrated scale (audit_live_test)";

std::string Trialog() { return std::string(TRIALOG_BINARY_DIR) + "/tools/trialog"; }

v1::PrincipalRegistered Registration(const v1::Actor& actor, const crypto::SigningKey& key) {
  v1::PrincipalRegistered r;
  r.set_principal_id(actor.principal_id());
  r.set_printed_name(actor.printed_name());
  r.set_role(actor.role());
  r.set_site_id(actor.site_id());
  r.set_public_key(key.public_key());
  return r;
}

// The synthetic trial driven through the real client, keeping every
// principal's key so the test can append more afterwards.
class LiveTrial {
 public:
  absl::Status Open(const std::string& target, const std::string& vkey) {
    client::ChannelOptions channel_options;
    channel_options.target = target;
    channel_options.plaintext = true;
    absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels = client::MakeChannels(channel_options);
    if (!channels.ok()) return channels.status();
    absl::StatusOr<std::unique_ptr<client::LedgerClient>> c = client::LedgerClient::Create(*channels, kTrial, vkey);
    if (!c.ok()) return c.status();
    client_ = *std::move(c);
    return absl::OkStatus();
  }

  // Appends `envelope` signed by `actor`; returns the entry index.
  absl::StatusOr<uint64_t> Append(const v1::Actor& actor, v1::Envelope envelope) {
    auto it = keys_.find(actor.principal_id());
    if (it == keys_.end()) it = keys_.emplace(actor.principal_id(), crypto::SigningKey::Generate()).first;
    client::Signer signer(actor, it->second);
    absl::StatusOr<client::VerifiedAppend> r = client_->Append(signer.Sign(kTrial, std::move(envelope)));
    if (!r.ok()) return r.status();
    if (absl::Status s = replica_.Add(r->entry.bytes); !s.ok()) return s;
    return r->index;
  }

  absl::Status RunPlan(const trial::SyntheticTrialPlan& plan, const std::string& origin) {
    v1::Envelope genesis;
    genesis.set_stream_id("principals");
    v1::Genesis* g = genesis.mutable_event()->mutable_genesis();
    g->set_ledger_origin(origin);
    g->set_trial_title("synthetic trial (audit_live_test)");
    *g->mutable_first_admin() = Registration(plan.admin, Key(plan.admin.principal_id()));
    *g->mutable_protocol() = plan.protocol;
    if (absl::StatusOr<uint64_t> i = Append(plan.admin, genesis); !i.ok()) return i.status();
    for (const v1::Actor& p : plan.principals) {
      v1::Envelope e;
      e.set_stream_id("principals");
      *e.mutable_event()->mutable_principal_registered() = Registration(p, Key(p.principal_id()));
      if (absl::StatusOr<uint64_t> i = Append(plan.admin, e); !i.ok()) return i.status();
    }
    for (const trial::SyntheticStep& step : plan.steps) {
      v1::Envelope e;
      e.set_stream_id(step.stream_id);
      e.set_event_id(step.event_id);
      *e.mutable_event() = step.event;
      *e.mutable_observed_at() = step.observed_at;
      e.set_reason(step.reason);
      if (step.needs_signature_hashes) {
        absl::Status s = local_.FillSignatureHashes(step.stream_id, e.mutable_event()->mutable_trial()->mutable_e_signature());
        if (!s.ok()) return s;
      }
      absl::StatusOr<uint64_t> i = Append(step.actor, e);
      if (step.expect_refused) {
        if (i.ok()) return absl::InternalError(absl::StrCat("planted violation accepted: ", step.description));
        continue;
      }
      if (!i.ok()) return absl::Status(i.status().code(), absl::StrCat(step.description, ": ", i.status().message()));
    }
    return absl::OkStatus();
  }

 private:
  const crypto::SigningKey& Key(const std::string& id) {
    auto it = keys_.find(id);
    if (it == keys_.end()) it = keys_.emplace(id, crypto::SigningKey::Generate()).first;
    return it->second;
  }

  std::unique_ptr<client::LedgerClient> client_;
  std::map<std::string, crypto::SigningKey> keys_;
  trial::TrialStateMachine local_;
  ledger::ChainVerifier replica_{{&local_}, /*check_signatures=*/false};
};

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << line;
    out.push_back(j);
  }
  return out;
}

// RFC 3339 UTC text of µs since the epoch, computed here with absl (not
// with the trail's formatter), to the second.
std::string UtcSeconds(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixMicros(micros), absl::UTCTimeZone());
}

class AuditTrailLiveTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(*dir_, kLedgerName);
    ASSERT_TRUE(key.ok()) << key.status();
    vkey_ = note::FormatVerifierKey(absl::StrCat(kLedgerName, "/", kTrial), key->public_key);
    vkey_file_ = dir_->File("ledger.vkey");
    export_test::WriteAll(vkey_file_, vkey_ + "\n");
    absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(
        *dir_, PlainTrialogdArgs(*dir_, *key, {"--sync=false"}));
    ASSERT_TRUE(d.ok()) << d.status();
    server_ = d->release();

    absl::StatusOr<trial::SyntheticTrialPlan> plan = trial::SyntheticTrial(7, 13);
    ASSERT_TRUE(plan.ok()) << plan.status();
    LiveTrial live;
    ASSERT_TRUE(live.Open(server_->target(), vkey_).ok());
    absl::Status ran = live.RunPlan(*plan, absl::StrCat(kLedgerName, "/", kTrial));
    ASSERT_TRUE(ran.ok()) << ran;

    // A checkpoint the auditor saves now, to check later ones against.
    early_cp_ = dir_->File("early.cp");
    CommandResult saved = RunCommand(absl::StrCat(Trialog(), " checkpoint --server ", server_->target(),
                                                  " --plaintext --trial ", kTrial, " --key @", ShellQuote(vkey_file_),
                                                  " --save ", ShellQuote(early_cp_), " --json 2>&1"));
    ASSERT_EQ(saved.exit_code, 0) << saved.output;

    // The plan's weight correction: correct that record once more.
    const trial::SyntheticStep* weight = nullptr;
    for (const trial::SyntheticStep& s : plan->steps) {
      if (s.event.trial().has_data_corrected() &&
          s.event.trial().data_corrected().field_path() == "body_measurement.weight_g") {
        weight = &s;
        break;
      }
    }
    ASSERT_NE(weight, nullptr);
    const v1::DataCorrected& before = weight->event.trial().data_corrected();
    old_value_ = before.new_value();
    new_value_ = absl::StrCat(std::stoll(old_value_) + 250);
    coordinator_ = weight->actor;
    subject_stream_ = weight->stream_id;

    v1::Envelope unlock;
    unlock.set_stream_id("trial");
    unlock.mutable_event()->mutable_trial()->mutable_database_unlocked()->set_scope("all");
    unlock.set_reason("late correction of a body measurement");
    absl::StatusOr<uint64_t> u = live.Append(plan->admin, unlock);
    ASSERT_TRUE(u.ok()) << u.status();

    v1::Envelope corr;
    corr.set_stream_id(subject_stream_);
    v1::DataCorrected* dc = corr.mutable_event()->mutable_trial()->mutable_data_corrected();
    dc->set_target_event_id(before.target_event_id());
    dc->set_field_path("body_measurement.weight_g");
    dc->set_old_value(old_value_);
    dc->set_new_value(new_value_);
    dc->set_reason_code(v1::CORRECTION_REASON_TRANSCRIPTION_ERROR);
    corr.set_reason(kReason);
    absl::StatusOr<uint64_t> c = live.Append(coordinator_, corr);
    ASSERT_TRUE(c.ok()) << c.status();
    correction_index_ = *c;
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
  }

  // Every entry, read back over the Read RPC.
  static std::vector<ledger::ParsedEntry> ReadEntries() {
    std::unique_ptr<v1::LedgerService::Stub> stub = PlainStub(server_->target());
    return ReadLedgerEntries(*stub, kTrial);
  }

  static std::string Live(const std::string& args) {
    return absl::StrCat(Trialog(), " audit-trail --server ", server_->target(), " --plaintext --trial ", kTrial,
                        " --key @", ShellQuote(vkey_file_), " ", args);
  }
  static std::string Offline(const std::string& args) {
    return absl::StrCat(Trialog(), " audit-trail --data ", ShellQuote(dir_->File("data")), " --trial ", kTrial,
                        " --key @", ShellQuote(vkey_file_), " ", args);
  }

  static TempDir* dir_;
  static Trialogd* server_;
  static std::string vkey_, vkey_file_, early_cp_, old_value_, new_value_, subject_stream_;
  static v1::Actor coordinator_;
  static uint64_t correction_index_;
};

TempDir* AuditTrailLiveTest::dir_ = nullptr;
Trialogd* AuditTrailLiveTest::server_ = nullptr;
std::string AuditTrailLiveTest::vkey_, AuditTrailLiveTest::vkey_file_, AuditTrailLiveTest::early_cp_,
    AuditTrailLiveTest::old_value_,
    AuditTrailLiveTest::new_value_, AuditTrailLiveTest::subject_stream_;
v1::Actor AuditTrailLiveTest::coordinator_;
uint64_t AuditTrailLiveTest::correction_index_ = 0;

TEST_F(AuditTrailLiveTest, LiveTrailSaysWhatTheEntriesSayAndEqualsTheDataDirectoryTrail) {
  ASSERT_NE(server_, nullptr);
  const std::vector<ledger::ParsedEntry> entries = ReadEntries();
  ASSERT_GT(entries.size(), correction_index_);
  ASSERT_GT(entries.size(), 300u);

  // The whole trail, live.
  CommandResult all = RunCommand(Live("--json 2>/dev/null"));
  ASSERT_EQ(all.exit_code, 0) << all.output;
  std::vector<nlohmann::json> rows = JsonLines(all.output);
  ASSERT_EQ(rows.size(), entries.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const ledger::ParsedEntry& e = entries[i];
    ASSERT_EQ(rows[i]["index"].get<uint64_t>(), i);
    EXPECT_EQ(rows[i]["principal_id"], e.envelope.actor().principal_id()) << i;
    EXPECT_EQ(rows[i]["printed_name"], e.envelope.actor().printed_name()) << i;
    EXPECT_EQ(rows[i]["site_id"], e.envelope.actor().site_id()) << i;
    EXPECT_EQ(rows[i]["stream_id"], e.envelope.stream_id()) << i;
    EXPECT_EQ(rows[i]["reason"], e.envelope.reason()) << i;
    EXPECT_TRUE(absl::StartsWith(rows[i]["recorded_at_utc"].get<std::string>(),
                                 UtcSeconds(e.entry.recorded_at_unix_micros())))
        << i << " " << rows[i]["recorded_at_utc"];
    EXPECT_TRUE(absl::StartsWith(rows[i]["observed_at_utc"].get<std::string>(),
                                 UtcSeconds(e.envelope.observed_at().unix_micros())))
        << i;
  }

  // The correction this test appended: who, what, when (UTC and the site's
  // offset), why, old -> new, and the record it corrects.
  const ledger::ParsedEntry& ce = entries[correction_index_];
  const nlohmann::json& c = rows[correction_index_];
  EXPECT_EQ(c["principal_id"], coordinator_.principal_id());
  EXPECT_EQ(c["printed_name"], coordinator_.printed_name());
  EXPECT_EQ(c["role"], "study_coordinator");
  EXPECT_EQ(c["reason"], kReason);
  EXPECT_EQ(c["event_type"], "trial.data_corrected");
  ASSERT_TRUE(c["correction"].is_object()) << c.dump();
  EXPECT_EQ(c["correction"]["old_value"], old_value_);
  EXPECT_EQ(c["correction"]["new_value"], new_value_);
  EXPECT_EQ(c["correction"]["field_path"], "body_measurement.weight_g");
  const std::string target = ce.envelope.event().trial().data_corrected().target_event_id();
  uint64_t target_index = 0;
  for (const ledger::ParsedEntry& e : entries) {
    if (e.envelope.event_id() == target) target_index = e.entry.index();
  }
  ASSERT_GT(target_index, 0u);
  EXPECT_EQ(c["correction"]["corrected_index"], target_index);
  const int32_t offset = ce.envelope.observed_at().utc_offset_minutes();
  const std::string local =
      absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixMicros(ce.entry.recorded_at_unix_micros()),
                       absl::FixedTimeZone(offset * 60));
  EXPECT_TRUE(absl::StartsWith(c["recorded_at_local"].get<std::string>(), local)) << c.dump() << " want " << local;

  // Filtered live: the subject's corrections include it, and nothing else.
  CommandResult filtered = RunCommand(Live(absl::StrCat("--subject ", subject_stream_, " --type data_corrected --json 2>/dev/null")));
  ASSERT_EQ(filtered.exit_code, 0) << filtered.output;
  std::vector<nlohmann::json> corrections = JsonLines(filtered.output);
  bool found = false;
  for (const nlohmann::json& r : corrections) {
    EXPECT_EQ(r["event_type"], "trial.data_corrected");
    EXPECT_EQ(r["stream_id"], subject_stream_);
    found |= r["index"].get<uint64_t>() == correction_index_;
  }
  EXPECT_TRUE(found);

  // An e-signature's manifestation: printed name, time, meaning, as the entry.
  CommandResult sigs = RunCommand(Live("--type e_signature --json 2>/dev/null"));
  ASSERT_EQ(sigs.exit_code, 0) << sigs.output;
  std::vector<nlohmann::json> sig_rows = JsonLines(sigs.output);
  ASSERT_FALSE(sig_rows.empty());
  for (const nlohmann::json& r : sig_rows) {
    const ledger::ParsedEntry& e = entries[r["index"].get<uint64_t>()];
    ASSERT_TRUE(e.envelope.event().trial().has_e_signature());
    ASSERT_TRUE(r["signature"].is_object()) << r.dump();
    EXPECT_EQ(r["signature"]["printed_name"], e.envelope.actor().printed_name());
    EXPECT_EQ(r["signature"]["meaning"], v1::SignatureMeaning_Name(e.envelope.event().trial().e_signature().meaning()));
    EXPECT_EQ(r["signature"]["time_utc"], r["recorded_at_utc"]);
  }

  // Table and CSV from the live server work too.
  CommandResult table = RunCommand(Live("--type data_corrected"));
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find(kReason), std::string::npos) << table.output;
  EXPECT_NE(table.output.find(absl::StrCat("\"", old_value_, "\" \u2192 \"", new_value_, "\"")), std::string::npos)
      << table.output;

  // The latest checkpoint extends the one saved before the correction: a
  // consistency proof from the server now, roots recomputed from the data
  // directory below.
  CommandResult live_cp = RunCommand(absl::StrCat(Trialog(), " checkpoint --server ", server_->target(),
                                                  " --plaintext --trial ", kTrial, " --key @", ShellQuote(vkey_file_),
                                                  " --trusted @", ShellQuote(early_cp_), " --json 2>&1"));
  ASSERT_EQ(live_cp.exit_code, 0) << live_cp.output;
  nlohmann::json live_cp_json = nlohmann::json::parse(live_cp.output, nullptr, false);
  ASSERT_TRUE(live_cp_json.is_object()) << live_cp.output;
  const uint64_t latest_size = live_cp_json["size"].get<uint64_t>();

  // Stop the server; the data directory's trail (opened read-only) must be
  // the same bytes as the live one.
  EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();
  CommandResult offline = RunCommand(Offline("--json 2>/dev/null"));
  ASSERT_EQ(offline.exit_code, 0) << offline.output;
  EXPECT_EQ(offline.output, all.output);
  CommandResult offline_sigs = RunCommand(Offline("--type e_signature --json 2>/dev/null"));
  EXPECT_EQ(offline_sigs.output, sigs.output);
  CommandResult offline_filtered =
      RunCommand(Offline(absl::StrCat("--subject ", subject_stream_, " --type data_corrected --json 2>/dev/null")));
  EXPECT_EQ(offline_filtered.output, filtered.output);

  // Offline: the saved checkpoint is extended (roots recomputed from the
  // entries), and the full and chain-only verifications agree on the root.
  CommandResult data_cp = RunCommand(absl::StrCat(Trialog(), " checkpoint --data ", ShellQuote(dir_->File("data")),
                                                  " --trial ", kTrial, " --key @", ShellQuote(vkey_file_),
                                                  " --trusted @", ShellQuote(early_cp_), " --json 2>&1"));
  ASSERT_EQ(data_cp.exit_code, 0) << data_cp.output;
  nlohmann::json data_cp_json = nlohmann::json::parse(data_cp.output, nullptr, false);
  ASSERT_TRUE(data_cp_json.is_object()) << data_cp.output;
  EXPECT_EQ(data_cp_json["size"], latest_size);
  EXPECT_EQ(data_cp_json["root"], live_cp_json["root"]);
  // The correction (and the unlock before it) came after the saved checkpoint.
  EXPECT_TRUE(absl::StrContains(live_cp_json["consistency"].get<std::string>(), "consistency proof"))
      << live_cp.output;
  EXPECT_TRUE(absl::StrContains(data_cp_json["consistency"].get<std::string>(), "recomputed")) << data_cp.output;
  for (const char* mode : {"", " --chain-only"}) {
    CommandResult v = RunCommand(absl::StrCat(Trialog(), " verify --data ", ShellQuote(dir_->File("data")), " --trial ",
                                              kTrial, " --key @", ShellQuote(vkey_file_), " --trusted @",
                                              ShellQuote(early_cp_), " --json", mode, " 2>/dev/null"));
    ASSERT_EQ(v.exit_code, 0) << mode << v.output;
    nlohmann::json j = nlohmann::json::parse(v.output, nullptr, false);
    ASSERT_TRUE(j.is_object()) << v.output;
    EXPECT_EQ(j["checkpoint"]["root"], live_cp_json["root"]) << mode;
    EXPECT_EQ(j["entries_verified"], entries.size()) << mode;
    EXPECT_EQ(j["mode"], *mode ? "chain_only" : "full");
  }
}

}  // namespace
}  // namespace trialog::testing
