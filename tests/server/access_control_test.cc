// Access control of the real trialogd on loopback with mutual TLS and
// certificates made at test time (openssl): every role x every RPC, every
// role x every event type, impersonation, untrusted certificates, and the
// access log those attempts leave behind.
//
// The expectations are written here from the domain rules (docs/SECURITY.md,
// docs/TRIAL.md, ../shared/research/domain.md), independently of the
// server's tables: the test never calls server/access_policy.h, and walks
// core/trial's PermissionTable only to make sure it covers every row.

#include <signal.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "core/trial/permissions.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/test_support.h"
#include "trialog/v1/admin.grpc.pb.h"
#include "trialog/v1/bulk_import.grpc.pb.h"
#include "client/bulk_import.h"
#include "trialog/v1/service.grpc.pb.h"
#include "trialog/v1/trial_service.grpc.pb.h"

namespace trialog::testing {
namespace {

using ::testing::HasSubstr;
using Code = grpc::StatusCode;

constexpr char kTrial[] = "acl-trial";
constexpr char kSubject[] = "RU-01-0001";
constexpr char kSubjectStream[] = "subject/RU-01-0001";

// ---------------------------------------------------------------------------
// The rules, as the domain states them (written here, not taken from the
// server).

const std::vector<v1::Role>& AllRoles() {
  static const auto* roles = new std::vector<v1::Role>{
      v1::ROLE_SPONSOR_ADMIN, v1::ROLE_INVESTIGATOR,    v1::ROLE_SUB_INVESTIGATOR,
      v1::ROLE_STUDY_COORDINATOR, v1::ROLE_PHARMACIST,  v1::ROLE_DATA_MANAGER,
      v1::ROLE_MONITOR,       v1::ROLE_AUDITOR,         v1::ROLE_REGULATOR,
      v1::ROLE_EXTERNAL_SYSTEM, v1::ROLE_RADIOLOGIST,   v1::ROLE_SAFETY_PHYSICIAN};
  return *roles;
}

enum class Call {
  kAppend, kAppendBatch, kAppendStream, kRead, kSubscribe, kGetCheckpoint, kGetInclusionProof,
  kGetConsistencyProof, kGetEntry, kListTrials, kGetSubject, kListSubjects, kGetSummary,
  kGetSubjectHistory, kCreateBackup, kImportBatch,
};

struct CallSpec {
  Call call;
  std::string method;
  bool subject_data;
};

const std::vector<CallSpec>& AllCalls() {
  static const auto* calls = new std::vector<CallSpec>{
      {Call::kAppend, "/trialog.v1.LedgerService/Append", false},
      {Call::kAppendBatch, "/trialog.v1.LedgerService/AppendBatch", false},
      {Call::kAppendStream, "/trialog.v1.LedgerService/AppendStream", false},
      {Call::kRead, "/trialog.v1.LedgerService/Read", true},
      {Call::kSubscribe, "/trialog.v1.LedgerService/Subscribe", true},
      {Call::kGetCheckpoint, "/trialog.v1.LedgerService/GetCheckpoint", false},
      {Call::kGetInclusionProof, "/trialog.v1.LedgerService/GetInclusionProof", false},
      {Call::kGetConsistencyProof, "/trialog.v1.LedgerService/GetConsistencyProof", false},
      {Call::kGetEntry, "/trialog.v1.LedgerService/GetEntry", true},
      {Call::kListTrials, "/trialog.v1.LedgerService/ListTrials", false},
      {Call::kGetSubject, "/trialog.v1.TrialStateService/GetSubject", true},
      {Call::kListSubjects, "/trialog.v1.TrialStateService/ListSubjects", true},
      {Call::kGetSummary, "/trialog.v1.TrialStateService/GetSummary", false},
      {Call::kGetSubjectHistory, "/trialog.v1.TrialStateService/GetSubjectHistory", true},
      {Call::kCreateBackup, "/trialog.v1.AdminService/CreateBackup", false},
      {Call::kImportBatch, "/trialog.v1.BulkImportService/ImportBatch", false},
  };
  return *calls;
}

// Auditors and regulators only read (domain.md A.1 11.10(g), roles.proto).
bool ReadOnly(v1::Role r) { return r == v1::ROLE_AUDITOR || r == v1::ROLE_REGULATOR; }

// Who may see subject records: everyone who works with, reviews or
// inspects them; not the sponsor administrator (trial set-up and
// principals only) and not external systems (they deliver results).
bool SeesSubjectData(v1::Role r) {
  return r != v1::ROLE_SPONSOR_ADMIN && r != v1::ROLE_EXTERNAL_SYSTEM;
}

bool ExpectAllowed(v1::Role r, Call c) {
  switch (c) {
    case Call::kAppend:
    case Call::kAppendBatch:
    case Call::kAppendStream:
      return !ReadOnly(r);
    case Call::kRead:
    case Call::kSubscribe:
    case Call::kGetEntry:
    case Call::kGetSubject:
    case Call::kListSubjects:
    case Call::kGetSubjectHistory:
      return SeesSubjectData(r);
    case Call::kGetSummary:  // aggregates: every person, no machine
      return r != v1::ROLE_EXTERNAL_SYSTEM;
    case Call::kGetCheckpoint:
    case Call::kGetInclusionProof:
    case Call::kGetConsistencyProof:
    case Call::kListTrials:  // hashes and the caller's own trials: everyone
      return true;
    case Call::kCreateBackup:  // operations: the administrator only
      return r == v1::ROLE_SPONSOR_ADMIN;
    case Call::kImportBatch:  // batch-signed bulk import: system principals only
      return r == v1::ROLE_EXTERNAL_SYSTEM;
  }
  return false;
}

// The role x event rules of docs/TRIAL.md (domain.md D.2/D.4), written out:
// event name -> (TrialEvent field, roles that may append it).
struct EventRule {
  std::string field;
  std::set<v1::Role> roles;
};

const std::map<std::string, EventRule>& EventRules() {
  using R = v1::Role;
  const R admin = v1::ROLE_SPONSOR_ADMIN, inv = v1::ROLE_INVESTIGATOR,
          sub = v1::ROLE_SUB_INVESTIGATOR, coord = v1::ROLE_STUDY_COORDINATOR,
          pharm = v1::ROLE_PHARMACIST, dm = v1::ROLE_DATA_MANAGER, mon = v1::ROLE_MONITOR,
          ext = v1::ROLE_EXTERNAL_SYSTEM, rad = v1::ROLE_RADIOLOGIST,
          safety = v1::ROLE_SAFETY_PHYSICIAN;
  const std::set<R> site = {inv, sub, coord};
  const std::set<R> doctors = {inv, sub};
  static const auto* rules = new std::map<std::string, EventRule>{
      {"Note", {"note", {admin, inv, sub, coord, pharm, dm, mon, ext, rad, safety}}},
      {"ProtocolAmended", {"protocol_amended", {admin}}},
      {"SiteActivated", {"site_activated", {admin}}},
      {"DatabaseLocked", {"database_locked", {admin}}},
      {"DatabaseUnlocked", {"database_unlocked", {admin}}},
      {"SubjectRegistered", {"subject_registered", site}},
      {"GuardianConsentObtained", {"guardian_consent", site}},
      {"AssentObtained", {"assent_obtained", site}},
      {"AssentNotObtained", {"assent_not_obtained", doctors}},
      {"ReconsentObtained", {"reconsent", site}},
      {"ConsentWithdrawn", {"consent_withdrawn", doctors}},
      {"MolecularResultRecorded", {"molecular_result", {inv, sub, coord, ext}}},
      {"EligibilityAssessed", {"eligibility_assessed", site}},
      {"ScreenFailed", {"screen_failed", doctors}},
      {"Enrolled", {"enrolled", site}},
      {"BodyMeasurement", {"body_measurement", site}},
      {"DosePrescribed", {"dose_prescribed", doctors}},
      {"DrugDispensed", {"drug_dispensed", {pharm}}},
      {"DoseAdministered", {"dose_administered", site}},
      {"DoseModified", {"dose_modified", doctors}},
      {"AdverseEventReported", {"ae_reported", site}},
      {"AdverseEventUpdated", {"ae_updated", site}},
      {"AdverseEventResolved", {"ae_resolved", site}},
      {"SaeReportedToSponsor", {"sae_reported", doctors}},
      {"TumourAssessment", {"tumour_assessment", {inv, sub, rad, ext}}},
      {"EndOfTreatment", {"end_of_treatment", doctors}},
      {"EndOfStudy", {"end_of_study", doctors}},
      {"DataCorrected", {"data_corrected", {inv, sub, coord, pharm, rad, ext}}},
      {"EventVoided", {"event_voided", {inv, sub, coord}}},
      {"ESignature/SIG_ELIGIBILITY", {"e_signature", doctors}},
      {"ESignature/SIG_AE_CAUSALITY", {"e_signature", doctors}},
      {"ESignature/SIG_RESPONSE", {"e_signature", doctors}},
      {"ESignature/SIG_CASEBOOK", {"e_signature", {inv}}},
      {"ESignature/SIG_SDV", {"e_signature", {mon}}},
      {"ESignature/SIG_AUTHOR", {"e_signature", {inv, sub, coord, pharm, rad}}},
      {"QueryOpened", {"query_opened", {mon, dm, safety}}},
      {"QueryAnswered", {"query_answered", {inv, sub, coord, pharm, rad}}},
      {"QueryClosed", {"query_closed", {mon, dm, safety}}},
  };
  return *rules;
}

bool TrialLevel(const std::string& name) {
  return name == "ProtocolAmended" || name == "SiteActivated" || name == "DatabaseLocked" ||
         name == "DatabaseUnlocked";
}

// The smallest event of that kind: only the kind (and a signature's
// meaning) is set, which is all the permission check looks at.
v1::TrialEvent MinimalEvent(const std::string& name, const EventRule& rule) {
  v1::TrialEvent e;
  const google::protobuf::FieldDescriptor* f = e.GetDescriptor()->FindFieldByName(rule.field);
  EXPECT_NE(f, nullptr) << rule.field;
  if (f == nullptr) return e;
  e.GetReflection()->MutableMessage(&e, f);
  if (rule.field == "e_signature") {
    v1::SignatureMeaning m = v1::SIGNATURE_MEANING_UNSPECIFIED;
    EXPECT_TRUE(v1::SignatureMeaning_Parse(name.substr(name.find('/') + 1), &m)) << name;
    e.mutable_e_signature()->set_meaning(m);
  }
  return e;
}

// ---------------------------------------------------------------------------
// Certificates, the server and the callers.

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ClientCert {
  std::string cert_pem, key_pem;
};

// A CA, another CA, a server certificate for localhost, and one client
// certificate per entry of `uris`: name -> the URI SANs it carries (may be
// none: then only the subject CN "<name>" names it). "other" is signed by
// the other CA. Made with the openssl CLI.
struct Pki {
  std::string ca_pem, ca_file, server_cert_file, server_key_file;
  std::map<std::string, ClientCert> clients;
};

Pki MakePki(const TempDir& dir, const std::map<std::string, std::vector<std::string>>& uris) {
  std::string script = absl::StrCat(
      "set -e; cd '", dir.path(), "'\n",
      "K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n",
      "for ca in ca otherca; do openssl req -x509 $K -keyout $ca.key -out $ca.pem -days 2 "
      "-subj /CN=acl-test-$ca 2>/dev/null; done\n",
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext\n",
      "openssl req $K -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null\n",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem "
      "-days 2 -extfile server.ext 2>/dev/null\n");
  for (const auto& [name, sans] : uris) {
    const std::string ca = name == "other" ? "otherca" : "ca";
    std::vector<std::string> parts;
    for (const std::string& u : sans) parts.push_back("URI:" + u);
    absl::StrAppend(&script, "openssl req $K -keyout c-", name, ".key -out c-", name,
                    ".csr -subj /CN=", name, " 2>/dev/null\n");
    if (parts.empty()) {
      absl::StrAppend(&script, "openssl x509 -req -in c-", name, ".csr -CA ", ca, ".pem -CAkey ",
                      ca, ".key -CAcreateserial -out c-", name, ".pem -days 2 2>/dev/null\n");
    } else {
      absl::StrAppend(&script, "printf 'subjectAltName=", absl::StrJoin(parts, ","),
                      "\\n' > c-", name, ".ext\n", "openssl x509 -req -in c-", name, ".csr -CA ",
                      ca, ".pem -CAkey ", ca, ".key -CAcreateserial -out c-", name,
                      ".pem -days 2 -extfile c-", name, ".ext 2>/dev/null\n");
    }
  }
  {
    std::ofstream out(dir.File("pki.sh"));
    out << script;
  }
  Pki p;
  EXPECT_EQ(std::system(absl::StrCat("/bin/sh '", dir.File("pki.sh"), "'").c_str()), 0)
      << "openssl failed";
  p.ca_file = dir.File("ca.pem");
  p.ca_pem = Slurp(p.ca_file);
  p.server_cert_file = dir.File("server.pem");
  p.server_key_file = dir.File("server.key");
  for (const auto& entry : uris) {
    const std::string& name = entry.first;
    p.clients[name] = {Slurp(dir.File("c-" + name + ".pem")), Slurp(dir.File("c-" + name + ".key"))};
  }
  return p;
}

std::string PrincipalUri(const std::string& id) { return "trialog:principal/" + id; }

std::string IdFor(v1::Role r) {
  std::string s = v1::Role_Name(r).substr(5);
  for (char& c : s) c = c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return "p-" + s;
}

// One caller: a TLS channel with a client certificate (or none) and stubs.
struct Stubs {
  std::unique_ptr<v1::LedgerService::Stub> ledger;
  std::unique_ptr<v1::TrialStateService::Stub> state;
  std::unique_ptr<v1::AdminService::Stub> admin;
  std::unique_ptr<v1::BulkImportService::Stub> bulk;
};

int channel_counter = 0;

Stubs Connect(const std::string& target, const std::string& ca_pem, const ClientCert* cert) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ca_pem;
  if (cert != nullptr) {
    o.pem_cert_chain = cert->cert_pem;
    o.pem_private_key = cert->key_pem;
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("trialog.acl_test_channel", ++channel_counter);
  auto channel = grpc::CreateCustomChannel(target, grpc::SslCredentials(o), args);
  return {v1::LedgerService::NewStub(channel), v1::TrialStateService::NewStub(channel),
          v1::AdminService::NewStub(channel), v1::BulkImportService::NewStub(channel)};
}

void Deadline(grpc::ClientContext* ctx, int seconds = 10) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

grpc::Status Append(const Stubs& s, const std::string& trial, const v1::SignedEnvelope& se,
                    v1::AppendResponse* out = nullptr) {
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::AppendRequest req;
  req.set_trial_id(trial);
  *req.mutable_signed_envelope() = se;
  v1::AppendResponse resp;
  grpc::Status st = s.ledger->Append(&ctx, req, &resp);
  if (out != nullptr) *out = resp;
  return st;
}

grpc::Status AppendBatch(const Stubs& s, const std::string& trial,
                         const std::vector<v1::SignedEnvelope>& envelopes,
                         v1::AppendBatchResponse* out) {
  grpc::ClientContext ctx;
  Deadline(&ctx);
  v1::AppendBatchRequest req;
  req.set_trial_id(trial);
  for (const auto& e : envelopes) *req.add_signed_envelopes() = e;
  return s.ledger->AppendBatch(&ctx, req, out);
}

// One envelope through AppendStream: the per-envelope result code, or the
// call's status code if it failed as a whole.
int AppendStreamOne(const Stubs& s, const std::string& trial, const v1::SignedEnvelope& se,
                    std::string* message) {
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto stream = s.ledger->AppendStream(&ctx);
  v1::AppendRequest req;
  req.set_trial_id(trial);
  *req.mutable_signed_envelope() = se;
  stream->Write(req);
  stream->WritesDone();
  v1::AppendResult result;
  const bool got = stream->Read(&result);
  grpc::Status st = stream->Finish();
  if (!got) {
    *message = st.error_message();
    return st.error_code();
  }
  *message = result.message();
  return result.code();
}

// ---------------------------------------------------------------------------
// The access log: what the test expects, and what the file holds.

struct LogLine {
  std::string kind, principal, role, method, trial, subjects, event, signer, code;
  auto key() const {
    return std::tie(kind, principal, role, method, trial, subjects, event, signer, code);
  }
  bool operator<(const LogLine& o) const { return key() < o.key(); }
  bool operator==(const LogLine& o) const { return key() == o.key(); }
};

std::ostream& operator<<(std::ostream& os, const LogLine& l) {
  return os << "{" << l.kind << " " << l.principal << " " << l.role << " " << l.method << " "
            << l.trial << " [" << l.subjects << "] " << l.event << " " << l.signer << " " << l.code
            << "}";
}

// Parses every line (each must be a JSON object with the documented
// fields) and checks the fields common to all lines.
std::vector<LogLine> ReadAccessLog(const std::string& path, absl::Time not_before,
                                   std::vector<nlohmann::json>* raw = nullptr) {
  std::vector<LogLine> out;
  std::ifstream in(path);
  std::string line;
  const std::regex time_re("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z$");
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << line;
    if (!j.is_object()) continue;
    for (const char* field :
         {"time", "kind", "peer", "auth", "principal", "role", "method", "trial", "subjects",
          "code", "reason"}) {
      EXPECT_TRUE(j.contains(field)) << field << " missing in " << line;
    }
    if (!j.contains("subjects") || !j["subjects"].is_array()) continue;
    const std::string time = j.value("time", "");
    EXPECT_TRUE(std::regex_match(time, time_re)) << time;
    absl::Time t;
    std::string err;
    EXPECT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", time, &t, &err)) << err;
    EXPECT_GE(t, not_before - absl::Seconds(1)) << line;
    EXPECT_LE(t, absl::Now() + absl::Seconds(1)) << line;
    EXPECT_THAT(j.value("peer", ""), HasSubstr("127.0.0.1")) << line;
    // Never a payload or key material: only the documented fields.
    for (const auto& item : j.items()) {
      static const std::set<std::string> known = {"time",    "kind",     "peer", "auth",
                                                  "principal", "role",   "method", "trial",
                                                  "subjects", "event",   "signer", "code",
                                                  "reason"};
      EXPECT_TRUE(known.count(item.key())) << "unexpected field " << item.key();
    }
    std::vector<std::string> subjects = j["subjects"].get<std::vector<std::string>>();
    LogLine l{j.value("kind", ""),  j.value("principal", ""), j.value("role", ""),
              j.value("method", ""), j.value("trial", ""),   absl::StrJoin(subjects, ","),
              j.value("event", ""), j.value("signer", ""),   j.value("code", "")};
    if (l.kind == "refused") {
      EXPECT_FALSE(j.value("reason", "").empty()) << line;
    } else {
      EXPECT_EQ(l.kind, "subject_read") << line;
      EXPECT_EQ(j.value("reason", "x"), "") << line;
    }
    if (raw != nullptr) raw->push_back(j);
    out.push_back(l);
  }
  return out;
}

void ExpectSameLines(std::vector<LogLine> got, std::vector<LogLine> want) {
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got.size(), want.size());
  std::vector<LogLine> missing, extra;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  for (const LogLine& l : missing) ADD_FAILURE() << "missing from the access log: " << l;
  for (const LogLine& l : extra) ADD_FAILURE() << "unexpected in the access log: " << l;
}

// ---------------------------------------------------------------------------
// The fixture: trialogd with mutual TLS and an access log, a trial whose
// registry holds one principal per role, each with its own certificate.

class AccessControlTest : public ::testing::Test {
 protected:
  void StartServer(const std::map<std::string, std::vector<std::string>>& extra_certs = {}) {
    absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir_, "trialog.life");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    std::map<std::string, std::vector<std::string>> certs = extra_certs;
    for (v1::Role r : AllRoles()) certs[IdFor(r)] = {PrincipalUri(IdFor(r))};
    pki_ = MakePki(dir_, certs);
    ASSERT_FALSE(pki_.ca_pem.empty());
    access_log_ = dir_.File("access.jsonl");
    backup_dir_ = dir_.File("backups");
    ASSERT_EQ(std::system(("mkdir -p '" + backup_dir_ + "'").c_str()), 0);
    args_ = {"--data_dir=" + dir_.File("data"),
             "--ledger_key_file=" + key_.key_file,
             "--ledger_key_passphrase_file=" + key_.passphrase_file,
             "--listen=127.0.0.1:0",
             "--accept_new_trials",
             "--tls_cert_file=" + pki_.server_cert_file,
             "--tls_key_file=" + pki_.server_key_file,
             "--tls_client_ca_file=" + pki_.ca_file,
             "--access_log=" + access_log_,
             "--backup_dir=" + backup_dir_};
    Restart();
  }

  void Restart() {
    if (d_ != nullptr) {
      ASSERT_EQ(d_->Stop(SIGTERM), 0) << d_->Stderr();
    }
    absl::StatusOr<std::unique_ptr<Trialogd>> d = Trialogd::Start(dir_, args_);
    ASSERT_TRUE(d.ok()) << d.status();
    d_ = *std::move(d);
    stubs_.clear();
  }

  const Stubs& As(const std::string& cert_name) {
    auto it = stubs_.find(cert_name);
    if (it == stubs_.end()) {
      const ClientCert* cert = nullptr;
      if (cert_name != "none") cert = &pki_.clients.at(cert_name);
      it = stubs_.emplace(cert_name, Connect(d_->target(), pki_.ca_pem, cert)).first;
    }
    return it->second;
  }
  const Stubs& As(v1::Role r) { return As(IdFor(r)); }

  // Genesis by the administrator, then every other role registered.
  void MakeTrial() {
    for (v1::Role r : AllRoles()) principals_.emplace(r, MakePrincipal(IdFor(r), r, ""));
    const Principal& admin = principals_.at(v1::ROLE_SPONSOR_ADMIN);
    const Stubs& s = As(v1::ROLE_SPONSOR_ADMIN);
    grpc::Status st = Append(s, kTrial, Genesis(kTrial, std::string("trialog.life/") + kTrial, admin));
    ASSERT_TRUE(st.ok()) << st.error_message() << "\n" << d_->Stderr();
    for (v1::Role r : AllRoles()) {
      if (r == v1::ROLE_SPONSOR_ADMIN) continue;
      st = Append(s, kTrial, Register(kTrial, admin, principals_.at(r)));
      ASSERT_TRUE(st.ok()) << v1::Role_Name(r) << ": " << st.error_message();
    }
    // One entry about a subject (a note on its stream), to read back.
    v1::AppendResponse resp;
    st = Append(As(v1::ROLE_INVESTIGATOR), kTrial,
                Note(kTrial, principals_.at(v1::ROLE_INVESTIGATOR), kSubjectStream, "seen"), &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    subject_entry_ = resp.index();
  }

  // The trial's size, as the administrator sees it.
  uint64_t Size(const std::string& trial = kTrial) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::ListTrialsResponse resp;
    grpc::Status st = As(v1::ROLE_SPONSOR_ADMIN).ledger->ListTrials(&ctx, {}, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    for (const auto& t : resp.trials()) {
      if (t.trial_id() == trial) return t.size();
    }
    return 0;
  }

  LogLine Refused(const std::string& principal, v1::Role role, const std::string& method,
                  std::vector<std::string> subjects = {}, std::string event = "",
                  std::string signer = "") {
    return {"refused",
            principal,
            role == v1::ROLE_UNSPECIFIED ? "" : v1::Role_Name(role),
            method,
            kTrial,
            absl::StrJoin(subjects, ","),
            std::move(event),
            std::move(signer),
            "PERMISSION_DENIED"};
  }
  LogLine Read(v1::Role role, const std::string& method, std::vector<std::string> subjects) {
    return {"subject_read", IdFor(role), v1::Role_Name(role), method, kTrial,
            absl::StrJoin(subjects, ","), "", "", "OK"};
  }

  TempDir dir_;
  LedgerKey key_;
  Pki pki_;
  std::string access_log_, backup_dir_;
  std::vector<std::string> args_;
  std::unique_ptr<Trialogd> d_;
  std::map<std::string, Stubs> stubs_;
  std::map<v1::Role, Principal> principals_;
  uint64_t subject_entry_ = 0;
  absl::Time start_ = absl::Now();
};

// Makes call `c` as `role`; returns its status. Allowed appends append a
// note signed by the caller itself.
grpc::Status MakeCall(const Stubs& s, Call c, const Principal& self, uint64_t subject_entry,
                      int* backups) {
  grpc::ClientContext ctx;
  Deadline(&ctx);
  switch (c) {
    case Call::kAppend:
      return Append(s, kTrial, Note(kTrial, self, "notes", "append"));
    case Call::kAppendBatch: {
      v1::AppendBatchResponse resp;
      grpc::Status st = AppendBatch(s, kTrial, {Note(kTrial, self, "notes", "batch")}, &resp);
      if (st.ok() && (resp.results_size() != 1 || resp.results(0).code() != 0)) {
        return grpc::Status(Code::INTERNAL, "batch result " + resp.DebugString());
      }
      return st;
    }
    case Call::kAppendStream: {
      std::string message;
      const int code = AppendStreamOne(s, kTrial, Note(kTrial, self, "notes", "stream"), &message);
      return grpc::Status(static_cast<Code>(code), message);
    }
    case Call::kRead: {
      v1::ReadRequest req;
      req.set_trial_id(kTrial);
      req.set_stream_id(kSubjectStream);
      auto reader = s.ledger->Read(&ctx, req);
      v1::ReadResponse r;
      int n = 0;
      while (reader->Read(&r)) ++n;
      grpc::Status st = reader->Finish();
      if (st.ok() && n != 1) return grpc::Status(Code::INTERNAL, absl::StrCat(n, " entries read"));
      return st;
    }
    case Call::kSubscribe: {
      v1::SubscribeRequest req;
      req.set_trial_id(kTrial);
      auto reader = s.ledger->Subscribe(&ctx, req);
      v1::ReadResponse r;
      const bool got = reader->Read(&r);
      if (got) ctx.TryCancel();
      grpc::Status st = reader->Finish();
      return got ? grpc::Status::OK : st;
    }
    case Call::kGetCheckpoint: {
      v1::GetCheckpointRequest req;
      req.set_trial_id(kTrial);
      v1::GetCheckpointResponse resp;
      return s.ledger->GetCheckpoint(&ctx, req, &resp);
    }
    case Call::kGetInclusionProof: {
      v1::GetInclusionProofRequest req;
      req.set_trial_id(kTrial);
      req.set_index(0);
      v1::GetInclusionProofResponse resp;
      return s.ledger->GetInclusionProof(&ctx, req, &resp);
    }
    case Call::kGetConsistencyProof: {
      v1::GetConsistencyProofRequest req;
      req.set_trial_id(kTrial);
      req.set_old_size(1);
      v1::GetConsistencyProofResponse resp;
      return s.ledger->GetConsistencyProof(&ctx, req, &resp);
    }
    case Call::kGetEntry: {
      v1::GetEntryRequest req;
      req.set_trial_id(kTrial);
      req.set_index(subject_entry);
      v1::GetEntryResponse resp;
      return s.ledger->GetEntry(&ctx, req, &resp);
    }
    case Call::kListTrials: {
      v1::ListTrialsResponse resp;
      grpc::Status st = s.ledger->ListTrials(&ctx, {}, &resp);
      if (st.ok() && (resp.trials_size() != 1 || resp.trials(0).trial_id() != kTrial)) {
        return grpc::Status(Code::INTERNAL, "ListTrials: " + resp.DebugString());
      }
      return st;
    }
    case Call::kGetSubject: {
      v1::GetSubjectRequest req;
      req.set_trial_id(kTrial);
      req.set_subject_id(kSubject);
      v1::GetSubjectResponse resp;
      return s.state->GetSubject(&ctx, req, &resp);
    }
    case Call::kListSubjects: {
      v1::ListSubjectsRequest req;
      req.set_trial_id(kTrial);
      v1::ListSubjectsResponse resp;
      return s.state->ListSubjects(&ctx, req, &resp);
    }
    case Call::kGetSummary: {
      v1::GetSummaryRequest req;
      req.set_trial_id(kTrial);
      v1::GetSummaryResponse resp;
      return s.state->GetSummary(&ctx, req, &resp);
    }
    case Call::kGetSubjectHistory: {
      v1::GetSubjectHistoryRequest req;
      req.set_trial_id(kTrial);
      req.set_subject_id(kSubject);
      v1::GetSubjectHistoryResponse resp;
      return s.state->GetSubjectHistory(&ctx, req, &resp);
    }
    case Call::kCreateBackup: {
      v1::CreateBackupRequest req;
      req.set_name(absl::StrCat("b", ++*backups));
      req.add_trial_ids(kTrial);
      v1::CreateBackupResponse resp;
      return s.admin->CreateBackup(&ctx, req, &resp);
    }
    case Call::kImportBatch: {
      // One note, batch-signed by the caller itself.
      client::Signer signer = self.signer();
      client::BatchBuilder b(signer, kTrial);
      v1::Envelope e;
      e.set_stream_id("notes");
      e.mutable_event()->mutable_trial()->mutable_note()->set_text("imported");
      b.Add(e);
      absl::StatusOr<v1::SignedBatch> batch = b.Finish();
      if (!batch.ok()) return grpc::Status(Code::INTERNAL, std::string(batch.status().message()));
      v1::ImportBatchRequest req;
      req.set_trial_id(kTrial);
      *req.mutable_batch() = *batch;
      v1::ImportBatchResponse resp;
      return s.bulk->ImportBatch(&ctx, req, &resp);
    }
  }
  return grpc::Status(Code::INTERNAL, "unknown call");
}

// The subjects a granted or refused call names in the access log.
std::vector<std::string> LoggedSubjects(Call c) {
  switch (c) {
    case Call::kRead:
    case Call::kGetEntry:
    case Call::kGetSubject:
    case Call::kGetSubjectHistory:
      return {kSubject};
    case Call::kSubscribe:
    case Call::kListSubjects:
      return {"*"};
    default:
      return {};
  }
}

TEST_F(AccessControlTest, EveryRoleTimesEveryRpc) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(MakeTrial());
  std::vector<LogLine> want;
  // MakeTrial's only subject-data traffic was an append: nothing logged yet.
  int backups = 0, rows = 0, refused = 0;
  for (const CallSpec& spec : AllCalls()) {
    for (v1::Role role : AllRoles()) {
      SCOPED_TRACE(absl::StrCat(v1::Role_Name(role), " ", spec.method));
      ++rows;
      const uint64_t before = Size();
      grpc::Status st = MakeCall(As(role), spec.call, principals_.at(role), subject_entry_, &backups);
      const bool append = spec.call == Call::kAppend || spec.call == Call::kAppendBatch ||
                          spec.call == Call::kAppendStream || spec.call == Call::kImportBatch;
      if (ExpectAllowed(role, spec.call)) {
        EXPECT_NE(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
        EXPECT_NE(st.error_code(), Code::UNAUTHENTICATED) << st.error_message();
        if (append) {
          EXPECT_TRUE(st.ok()) << st.error_message();
          EXPECT_EQ(Size(), before + 1);
        }
        if (spec.subject_data) want.push_back(Read(role, spec.method, LoggedSubjects(spec.call)));
      } else {
        ++refused;
        EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
        EXPECT_THAT(st.error_message(), HasSubstr(IdFor(role)));
        EXPECT_THAT(st.error_message(), HasSubstr(v1::Role_Name(role)));
        EXPECT_THAT(st.error_message(), HasSubstr(spec.method));
        EXPECT_THAT(st.error_message(), HasSubstr("rule "));
        EXPECT_EQ(Size(), before) << "a refused call changed the ledger";
        // Single appends are logged with their envelope's event and signer.
        const bool single = spec.call == Call::kAppend || spec.call == Call::kAppendStream;
        // A refused GetEntry is never read, so its subject is not known.
        want.push_back(Refused(IdFor(role), role, spec.method,
                               spec.call == Call::kGetEntry ? std::vector<std::string>{}
                                                            : LoggedSubjects(spec.call),
                               single ? "Note" : "", single ? IdFor(role) : ""));
      }
    }
  }
  EXPECT_EQ(rows, 16 * 12);
  EXPECT_GT(refused, 0);
  std::cout << "access_control_test: " << rows << " role x RPC rows, " << refused << " refused\n";
  ExpectSameLines(ReadAccessLog(access_log_, start_), want);
}

TEST_F(AccessControlTest, EveryRoleTimesEveryEventType) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(MakeTrial());
  // The test's own rules cover exactly core/trial's rows.
  std::set<std::string> table_names;
  for (const trial::PermissionRow& row : trial::PermissionTable()) {
    table_names.insert(std::string(row.name));
  }
  std::set<std::string> rule_names;
  for (const auto& entry : EventRules()) rule_names.insert(entry.first);
  ASSERT_EQ(table_names, rule_names);

  std::vector<LogLine> want;
  int rows = 0, refused = 0;
  for (const trial::PermissionRow& row : trial::PermissionTable()) {
    const std::string name(row.name);
    const EventRule& rule = EventRules().at(name);
    const std::string stream = TrialLevel(name) ? "trial" : kSubjectStream;
    for (v1::Role role : AllRoles()) {
      SCOPED_TRACE(absl::StrCat(v1::Role_Name(role), " appends ", name));
      ++rows;
      const Principal& self = principals_.at(role);
      v1::Envelope e;
      e.set_stream_id(stream);
      e.set_reason("access test");
      *e.mutable_event()->mutable_trial() = MinimalEvent(name, rule);
      const uint64_t before = Size();
      grpc::Status st = Append(As(role), kTrial, self.signer().Sign(kTrial, e));
      const bool allowed = rule.roles.count(role) > 0;
      if (allowed) {
        EXPECT_NE(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
      } else {
        ++refused;
        EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
        EXPECT_EQ(Size(), before) << "a refused append changed the ledger";
        want.push_back(Refused(IdFor(role), role, "/trialog.v1.LedgerService/Append",
                               TrialLevel(name) ? std::vector<std::string>{}
                                                : std::vector<std::string>{kSubject},
                               name, IdFor(role)));
      }
      // Read-only roles may append nothing at all.
      if (ReadOnly(role)) {
        EXPECT_FALSE(allowed);
      }
    }
  }
  EXPECT_EQ(rows, 38 * 12);
  std::cout << "access_control_test: " << rows << " role x event rows, " << refused
            << " refused\n";
  ExpectSameLines(ReadAccessLog(access_log_, start_), want);
}

TEST_F(AccessControlTest, ImpersonationUntrustedCertificatesAndStrangers) {
  // Extra certificates: another CA's; a valid one for a principal the trial
  // does not know; one for a principal that will be revoked; one naming
  // its principal by CN only; one naming two principals; a second admin.
  ASSERT_NO_FATAL_FAILURE(StartServer({{"other", {PrincipalUri("p-investigator")}},
                                       {"p-stranger", {PrincipalUri("p-stranger")}},
                                       {"p-gone", {PrincipalUri("p-gone")}},
                                       {"p-cn-only", {}},
                                       {"two", {PrincipalUri("p-monitor"), PrincipalUri("p-auditor")}},
                                       {"p-admin2", {PrincipalUri("p-admin2")}}}));
  ASSERT_NO_FATAL_FAILURE(MakeTrial());
  std::vector<LogLine> want;
  const Principal& admin = principals_.at(v1::ROLE_SPONSOR_ADMIN);
  const Principal& inv = principals_.at(v1::ROLE_INVESTIGATOR);
  const Principal& coord = principals_.at(v1::ROLE_STUDY_COORDINATOR);
  const std::string append_method = "/trialog.v1.LedgerService/Append";

  // Untrusted or missing client certificates never reach a handler.
  for (const std::string who : {"other", "none"}) {
    SCOPED_TRACE(who);
    grpc::ClientContext ctx;
    Deadline(&ctx, 5);
    v1::ListTrialsResponse resp;
    grpc::Status st = As(who).ledger->ListTrials(&ctx, {}, &resp);
    EXPECT_EQ(st.error_code(), Code::UNAVAILABLE) << st.error_message();
    EXPECT_EQ(Append(As(who), kTrial, Note(kTrial, inv, "notes", "x")).error_code(),
              Code::UNAVAILABLE);
  }

  // Nobody appends as another: the investigator's certificate with the
  // coordinator's (validly signed) envelope, alone, in a batch, in a stream.
  uint64_t before = Size();
  grpc::Status st = Append(As(v1::ROLE_INVESTIGATOR), kTrial, Note(kTrial, coord, kSubjectStream, "x"));
  EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("signed as p-study-coordinator"));
  want.push_back(Refused("p-investigator", v1::ROLE_INVESTIGATOR, append_method, {kSubject},
                         "Note", "p-study-coordinator"));
  v1::AppendBatchResponse batch;
  st = AppendBatch(As(v1::ROLE_INVESTIGATOR), kTrial,
                   {Note(kTrial, inv, "notes", "mine"), Note(kTrial, coord, "notes", "theirs")},
                   &batch);
  EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
  want.push_back(Refused("p-investigator", v1::ROLE_INVESTIGATOR,
                         "/trialog.v1.LedgerService/AppendBatch", {}, "Note",
                         "p-study-coordinator"));
  std::string message;
  EXPECT_EQ(AppendStreamOne(As(v1::ROLE_INVESTIGATOR), kTrial, Note(kTrial, coord, "notes", "s"),
                            &message),
            static_cast<int>(Code::PERMISSION_DENIED))
      << message;
  want.push_back(Refused("p-investigator", v1::ROLE_INVESTIGATOR,
                         "/trialog.v1.LedgerService/AppendStream", {}, "Note",
                         "p-study-coordinator"));
  // Even the administrator may not append as the investigator.
  EXPECT_EQ(Append(As(v1::ROLE_SPONSOR_ADMIN), kTrial, Note(kTrial, inv, "notes", "x")).error_code(),
            Code::PERMISSION_DENIED);
  want.push_back(Refused("p-sponsor-admin", v1::ROLE_SPONSOR_ADMIN, append_method, {}, "Note",
                         "p-investigator"));
  EXPECT_EQ(Size(), before) << "nothing of the refused appends may land";

  // A genesis of a new trial sent by someone other than its signer.
  Principal admin2 = MakePrincipal("p-admin2", v1::ROLE_SPONSOR_ADMIN, "");
  st = Append(As(v1::ROLE_INVESTIGATOR), "acl-two", Genesis("acl-two", "trialog.life/acl-two", admin2));
  EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
  LogLine genesis_refused = Refused("p-investigator", v1::ROLE_UNSPECIFIED, append_method, {},
                                    "genesis", "p-admin2");
  genesis_refused.trial = "acl-two";
  want.push_back(genesis_refused);
  EXPECT_EQ(Size("acl-two"), 0u);
  // Its own signer creates it; then ListTrials shows each caller only its trials.
  st = Append(As("p-admin2"), "acl-two", Genesis("acl-two", "trialog.life/acl-two", admin2));
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (const std::string who : {"p-admin2", "p-investigator"}) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::ListTrialsResponse resp;
    ASSERT_TRUE(As(who).ledger->ListTrials(&ctx, {}, &resp).ok());
    ASSERT_EQ(resp.trials_size(), 1) << who;
    EXPECT_EQ(resp.trials(0).trial_id(), who == "p-admin2" ? "acl-two" : kTrial);
  }

  // A certificate for a principal the trial does not know.
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::GetSummaryRequest req;
    req.set_trial_id(kTrial);
    v1::GetSummaryResponse resp;
    st = As("p-stranger").state->GetSummary(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("not registered in trial acl-trial"));
    want.push_back(Refused("p-stranger", v1::ROLE_UNSPECIFIED,
                           "/trialog.v1.TrialStateService/GetSummary"));
  }
  // A revoked principal.
  Principal gone = MakePrincipal("p-gone", v1::ROLE_MONITOR, "");
  ASSERT_TRUE(Append(As(v1::ROLE_SPONSOR_ADMIN), kTrial, Register(kTrial, admin, gone)).ok());
  ASSERT_TRUE(Append(As(v1::ROLE_SPONSOR_ADMIN), kTrial, Revoke(kTrial, admin, "p-gone")).ok());
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::GetSubjectRequest req;
    req.set_trial_id(kTrial);
    req.set_subject_id(kSubject);
    v1::GetSubjectResponse resp;
    st = As("p-gone").state->GetSubject(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("revoked"));
    want.push_back(Refused("p-gone", v1::ROLE_UNSPECIFIED,
                           "/trialog.v1.TrialStateService/GetSubject", {kSubject}));
  }
  // A certificate naming two principals: no identity at all.
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::GetCheckpointRequest req;
    req.set_trial_id(kTrial);
    v1::GetCheckpointResponse resp;
    st = As("two").ledger->GetCheckpoint(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), Code::UNAUTHENTICATED) << st.error_message();
    LogLine l = Refused("", v1::ROLE_UNSPECIFIED, "/trialog.v1.LedgerService/GetCheckpoint");
    l.code = "UNAUTHENTICATED";
    want.push_back(l);
  }
  // The CN names the principal when there is no principal URI.
  Principal cn_only = MakePrincipal("p-cn-only", v1::ROLE_MONITOR, "");
  ASSERT_TRUE(Append(As(v1::ROLE_SPONSOR_ADMIN), kTrial, Register(kTrial, admin, cn_only)).ok());
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::ListSubjectsRequest req;
    req.set_trial_id(kTrial);
    v1::ListSubjectsResponse resp;
    st = As("p-cn-only").state->ListSubjects(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    want.push_back({"subject_read", "p-cn-only", "ROLE_MONITOR",
                    "/trialog.v1.TrialStateService/ListSubjects", kTrial, "*", "", "", "OK"});
  }
  ExpectSameLines(ReadAccessLog(access_log_, start_), want);

  // A restart reopens the log for appending: old lines stay, new ones follow.
  const std::string before_restart = Slurp(access_log_);
  ASSERT_NO_FATAL_FAILURE(Restart());
  EXPECT_EQ(Append(As(v1::ROLE_AUDITOR), kTrial,
                   Note(kTrial, principals_.at(v1::ROLE_AUDITOR), "notes", "x"))
                .error_code(),
            Code::PERMISSION_DENIED);
  want.push_back(Refused("p-auditor", v1::ROLE_AUDITOR, append_method, {}, "Note", "p-auditor"));
  const std::string after = Slurp(access_log_);
  ASSERT_GT(after.size(), before_restart.size());
  EXPECT_EQ(after.substr(0, before_restart.size()), before_restart);
  ExpectSameLines(ReadAccessLog(access_log_, start_), want);
}

// Without client certificates (plaintext on loopback) nothing is
// authenticated, yet the domain's role x event refusals (by envelope
// signature) and subject reads are still logged, marked auth "none".
TEST(AccessLogWithoutCallerAuthentication, LogsRefusalsAndReadsAsUnauthenticated) {
  TempDir dir;
  absl::StatusOr<LedgerKey> key = MakeLedgerKey(dir, "trialog.life");
  ASSERT_TRUE(key.ok()) << key.status();
  const std::string log = dir.File("access.jsonl");
  auto d = Trialogd::Start(dir, {"--data_dir=" + dir.File("data"),
                                 "--ledger_key_file=" + key->key_file,
                                 "--ledger_key_passphrase_file=" + key->passphrase_file,
                                 "--listen=127.0.0.1:0", "--plaintext", "--accept_new_trials",
                                 "--access_log=" + log});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT((*d)->Stderr(), HasSubstr("caller authentication: NONE"));
  const absl::Time start = absl::Now();
  auto stub = PlainStub((*d)->target());
  Principal admin = MakePrincipal("admin", v1::ROLE_SPONSOR_ADMIN, "");
  Principal auditor = MakePrincipal("aud", v1::ROLE_AUDITOR, "");
  auto append = [&](const v1::SignedEnvelope& se) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::AppendRequest req;
    req.set_trial_id(kTrial);
    *req.mutable_signed_envelope() = se;
    v1::AppendResponse resp;
    return stub->Append(&ctx, req, &resp);
  };
  ASSERT_TRUE(append(Genesis(kTrial, std::string("trialog.life/") + kTrial, admin)).ok());
  ASSERT_TRUE(append(Register(kTrial, admin, auditor)).ok());
  grpc::Status st = append(Note(kTrial, auditor, kSubjectStream, "x"));
  EXPECT_EQ(st.error_code(), Code::PERMISSION_DENIED) << st.error_message();
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    v1::ReadRequest req;
    req.set_trial_id(kTrial);
    auto reader = stub->Read(&ctx, req);
    v1::ReadResponse r;
    while (reader->Read(&r)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
  }
  std::vector<nlohmann::json> raw;
  std::vector<LogLine> lines = ReadAccessLog(log, start, &raw);
  ExpectSameLines(lines, {{"refused", "", "", "/trialog.v1.LedgerService/Append", kTrial, kSubject,
                           "Note", "aud", "PERMISSION_DENIED"},
                          {"subject_read", "", "", "/trialog.v1.LedgerService/Read", kTrial, "*",
                           "", "", "OK"}});
  for (const nlohmann::json& j : raw) EXPECT_EQ(j.value("auth", ""), "none");
  EXPECT_EQ((*d)->Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace trialog::testing
