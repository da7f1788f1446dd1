// Tests of the auditor's review commands: the audit trail (tools/audit/
// trail.h) and entry inspection (tools/audit/inspect.h), in process and
// through the real `trialog` binary on an export bundle. Cross-checks:
// the synthetic plan (what was appended, from core/trial), the ledger's raw
// entries, Python's csv module (RFC 4180 reader) and hashlib (an
// independent RFC 6962 inclusion-proof check).

#include <filesystem>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/merkle/merkle.h"
#include "core/note/checkpoint.h"
#include "core/trial/permissions.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/audit/inspect.h"
#include "tools/audit/trail.h"
#include "tools/export/bundle.h"

namespace trialog::audit {
namespace {

using export_test::CommandResult;
using export_test::RunCommand;
using export_test::ShellQuote;
using export_test::SharedLedgerWithVoid;

std::vector<ledger::ParsedEntry> Parsed(const export_test::TestLedger& l) {
  std::vector<ledger::ParsedEntry> out;
  for (const std::string& b : l.entries) out.push_back(*ledger::ParseEntry(b));
  return out;
}

std::vector<TrailRow> AllRows(const export_test::TestLedger& l) {
  TrailBuilder b;
  std::vector<TrailRow> rows;
  for (const ledger::ParsedEntry& e : Parsed(l)) rows.push_back(b.Add(e));
  return rows;
}

TEST(Trail, Rfc3339KnownAnswers) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339("2025-01-20T06:00:00Z"), 1737352800000000);
  EXPECT_EQ(*ParseRfc3339("2025-01-20T09:00:00+03:00"), 1737352800000000);
  EXPECT_EQ(*ParseRfc3339("2025-01-20T06:00:00.25Z"), 1737352800250000);
  for (const char* bad : {"", "2025-01-20", "2025-01-20 06:00:00", "yesterday", "2025-13-01T00:00:00Z"}) {
    absl::StatusOr<int64_t> t = ParseRfc3339(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(t.status().message(), "RFC 3339")) << t.status();
  }
}

TEST(Trail, RowsSayWhoWhatWhenWhyAsTheEntries) {
  const export_test::TestLedger& l = SharedLedgerWithVoid();
  std::vector<ledger::ParsedEntry> entries = Parsed(l);
  std::vector<TrailRow> rows = AllRows(l);
  ASSERT_EQ(rows.size(), entries.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const TrailRow& r = rows[i];
    const v1::Envelope& env = entries[i].envelope;
    EXPECT_EQ(r.index, i);
    EXPECT_EQ(r.principal_id, env.actor().principal_id());
    EXPECT_EQ(r.printed_name, env.actor().printed_name());
    EXPECT_EQ(r.reason, env.reason());
    EXPECT_FALSE(r.role.empty());
    EXPECT_FALSE(absl::StartsWith(r.role, "role_"));
    EXPECT_TRUE(absl::EndsWith(r.recorded_utc, "Z")) << r.recorded_utc;
    // Local time is the UTC time at the site's offset (the synthetic sites are at +03:00).
    EXPECT_EQ(env.observed_at().utc_offset_minutes(), r.utc_offset_minutes);
    if (r.utc_offset_minutes == 180) {
      EXPECT_TRUE(absl::EndsWith(r.recorded_local, "+03:00")) << r.recorded_local;
    }
  }
}

// Corrections, voids and signatures name the entries they act on: the
// entry at that index carries the target event id.
TEST(Trail, CorrectionsVoidsAndSignaturesPointAtTheirTargets) {
  const export_test::TestLedger& l = SharedLedgerWithVoid();
  std::vector<ledger::ParsedEntry> entries = Parsed(l);
  std::vector<TrailRow> rows = AllRows(l);
  size_t corrections = 0, voids = 0, signatures = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const TrailRow& r = rows[i];
    if (!entries[i].envelope.event().has_trial()) continue;
    const v1::TrialEvent& t = entries[i].envelope.event().trial();
    if (t.has_data_corrected()) {
      ++corrections;
      ASSERT_TRUE(r.correction.has_value());
      ASSERT_TRUE(r.correction->target_index.has_value());
      ASSERT_LT(*r.correction->target_index, i);
      EXPECT_EQ(entries[*r.correction->target_index].envelope.event_id(), t.data_corrected().target_event_id());
      EXPECT_FALSE(r.correction->field_path.empty());
      EXPECT_NE(r.correction->old_value, r.correction->new_value);
      EXPECT_FALSE(r.reason.empty()) << "a correction carries its reason";
    }
    if (t.has_event_voided()) {
      ++voids;
      ASSERT_TRUE(r.voided_index.has_value());
      EXPECT_EQ(entries[*r.voided_index].envelope.event_id(), t.event_voided().target_event_id());
      EXPECT_EQ(r.reason, "dispensing entered twice");
    }
    if (t.has_e_signature()) {
      ++signatures;
      ASSERT_TRUE(r.signature.has_value());
      EXPECT_EQ(r.signature->printed_name, entries[i].envelope.actor().printed_name());
      EXPECT_EQ(r.signature->time_utc, r.recorded_utc);
      const trial::SignatureDef* def = trial::FindSignatureDef(t.e_signature().meaning());
      ASSERT_NE(def, nullptr);
      EXPECT_EQ(r.signature->meaning_text, std::string(def->legal_text.data(), def->legal_text.size()));
      EXPECT_FALSE(r.signature->meaning_word.empty());
      ASSERT_EQ(r.signature->signed_indexes.size(), static_cast<size_t>(t.e_signature().records_size()));
      for (int k = 0; k < t.e_signature().records_size(); ++k) {
        EXPECT_EQ(entries[r.signature->signed_indexes[k]].envelope.event_id(), t.e_signature().records(k).event_id());
      }
    } else {
      EXPECT_FALSE(r.signature.has_value());
    }
  }
  // As many as the synthetic plan made (the planted violation is no correction).
  size_t planned_corrections = 0, planned_signatures = 0;
  for (const trial::SyntheticStep& s : l.plan.steps) {
    planned_corrections += s.event.trial().has_data_corrected() && !s.expect_refused;
    planned_signatures += s.event.trial().has_e_signature() && !s.expect_refused;
  }
  EXPECT_GT(corrections, 0u);
  EXPECT_EQ(corrections, planned_corrections);
  EXPECT_EQ(signatures, planned_signatures);
  EXPECT_EQ(voids, 1u);
}

TEST(Trail, FiltersKeepExactlyTheMatchingEntries) {
  const export_test::TestLedger& l = SharedLedgerWithVoid();
  std::vector<ledger::ParsedEntry> entries = Parsed(l);
  std::vector<TrailRow> rows = AllRows(l);
  auto count = [&](const TrailFilter& f) {
    size_t n = 0;
    for (const TrailRow& r : rows) n += f.Matches(r);
    return n;
  };
  // Subject: the entries of its stream.
  TrailFilter by_subject;
  by_subject.subject = "RU-01-0001";
  size_t want = 0;
  for (const auto& e : entries) want += e.envelope.stream_id() == "subject/RU-01-0001";
  EXPECT_GT(want, 5u);
  EXPECT_EQ(count(by_subject), want);
  by_subject.subject = "subject/RU-01-0001";
  EXPECT_EQ(count(by_subject), want);
  // Role, both spellings, and user.
  TrailFilter by_role;
  by_role.role = "ROLE_PHARMACIST";
  want = 0;
  for (const auto& e : entries) want += e.envelope.actor().role() == v1::ROLE_PHARMACIST;
  EXPECT_GT(want, 0u);
  EXPECT_EQ(count(by_role), want);
  by_role.role = "pharmacist";
  EXPECT_EQ(count(by_role), want);
  TrailFilter by_user;
  by_user.user = entries[5].envelope.actor().principal_id();
  want = 0;
  for (const auto& e : entries) want += e.envelope.actor().principal_id() == by_user.user;
  EXPECT_EQ(count(by_user), want);
  by_user.user = entries[5].envelope.actor().printed_name();
  EXPECT_EQ(count(by_user), want);
  // Event types, with or without "trial.".
  TrailFilter by_type;
  by_type.event_types = {"data_corrected", "trial.event_voided"};
  want = 0;
  for (const auto& e : entries) {
    want += e.envelope.event().trial().has_data_corrected() || e.envelope.event().trial().has_event_voided();
  }
  EXPECT_EQ(count(by_type), want);
  // Time range (inclusive) on recorded_at, then on observed_at.
  const int64_t from = entries[entries.size() / 3].entry.recorded_at_unix_micros();
  const int64_t to = entries[2 * entries.size() / 3].entry.recorded_at_unix_micros();
  TrailFilter by_time;
  by_time.from = from;
  by_time.to = to;
  want = 0;
  for (const auto& e : entries) want += e.entry.recorded_at_unix_micros() >= from && e.entry.recorded_at_unix_micros() <= to;
  EXPECT_GT(want, 0u);
  EXPECT_LT(want, entries.size());
  EXPECT_EQ(count(by_time), want);
  by_time.by_observed_time = true;
  want = 0;
  for (const auto& e : entries) {
    want += e.envelope.observed_at().unix_micros() >= from && e.envelope.observed_at().unix_micros() <= to;
  }
  EXPECT_EQ(count(by_time), want);
}

// The CSV is RFC 4180 as Python's csv module reads it: same records,
// same fields, commas and quotes inside fields preserved.
TEST(Trail, CsvReadsBackWithAnIndependentReader) {
  std::vector<TrailRow> rows = AllRows(SharedLedgerWithVoid());
  // A field with every character CSV must quote.
  rows[3].reason = "said \"no\", then\r\nyes";
  std::ostringstream csv;
  WriteCsv(rows, csv);
  const std::string path = export_test::NewTempDir("csv") + "/trail.csv";
  export_test::WriteAll(path, csv.str());
  CommandResult r = RunCommand(absl::StrCat(
      export_test::kPython, " -c 'import csv,json,sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline=\"\")))))' ",
      ShellQuote(path)));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.output.substr(0, 500);
  ASSERT_EQ(j.size(), rows.size() + 1);
  EXPECT_EQ(j[0].get<std::vector<std::string>>(), CsvColumns());
  const auto col = [&](const std::string& name) {
    return std::find(CsvColumns().begin(), CsvColumns().end(), name) - CsvColumns().begin();
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(j[i + 1].size(), CsvColumns().size());
    EXPECT_EQ(j[i + 1][col("index")], absl::StrCat(rows[i].index));
    EXPECT_EQ(j[i + 1][col("reason")], rows[i].reason);
    EXPECT_EQ(j[i + 1][col("summary")], rows[i].summary);
    if (rows[i].correction) {
      EXPECT_EQ(j[i + 1][col("old_value")], rows[i].correction->old_value);
      EXPECT_EQ(j[i + 1][col("new_value")], rows[i].correction->new_value);
    }
  }
}

TEST(Trail, TableIsAligned) {
  std::vector<TrailRow> rows = AllRows(SharedLedgerWithVoid());
  rows.resize(40);
  std::ostringstream out;
  WriteTable(rows, out);
  std::vector<std::string> lines = absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 41u);
  // Every line has its "ROLE" column at the header's position.
  const size_t role_col = lines[0].find("ROLE");
  ASSERT_NE(role_col, std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    // Count code points up to the role: the column before it ends with "]".
    size_t cp = 0, byte = 0;
    while (byte < lines[i].size() && cp < role_col) {
      cp += (static_cast<unsigned char>(lines[i][byte]) & 0xC0) != 0x80;
      ++byte;
    }
    while (byte < lines[i].size() && (static_cast<unsigned char>(lines[i][byte]) & 0xC0) == 0x80) ++byte;
    EXPECT_EQ(lines[i].substr(byte, rows[i - 1].role.size()), rows[i - 1].role) << lines[i];
  }
}

// --- inspect ---------------------------------------------------------------

note::Verifier LedgerKey(const export_test::TestLedger& l) { return *note::ParseVerifierKey(l.ledger_vkey); }

TEST(Inspect, ProofsVerifyAndReachTheReferenceRoot) {
  const export_test::TestLedger& l = SharedLedgerWithVoid();
  std::vector<std::string> leaves;
  for (const std::string& b : l.entries) leaves.push_back(merkle::HashLeaf(b));
  const std::string reference_root = merkle::RootFromLeafHashes(leaves);
  for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{77}, uint64_t{l.entries.size() / 2},
                         uint64_t{l.entries.size() - 1}}) {
    absl::StatusOr<Inspection> in = InspectEntry(l.Reader(), index, l.checkpoint, LedgerKey(l));
    ASSERT_TRUE(in.ok()) << in.status();
    EXPECT_EQ(in->finding, ledger::Finding::kOk) << in->message;
    EXPECT_EQ(in->entry.bytes, l.entries[index]);
    EXPECT_TRUE(in->chain_link_ok);
    EXPECT_TRUE(in->signature_ok);
    EXPECT_TRUE(in->proof_status.ok()) << in->proof_status;
    absl::StatusOr<std::string> root = merkle::RootFromInclusionProof(index, l.entries.size(), leaves[index], in->proof);
    ASSERT_TRUE(root.ok());
    EXPECT_EQ(*root, reference_root);
    // The signer's key is the one the appender signed with.
    const std::string who = in->entry.envelope.actor().principal_id();
    EXPECT_EQ(in->signer_key, l.keys.at(who).public_key()) << who;
    EXPECT_NE(in->envelope_json.find(who), std::string::npos);
  }
}

TEST(Inspect, ReportsDamageAndBadInput) {
  const export_test::TestLedger& l = SharedLedgerWithVoid();
  const uint64_t k = l.entries.size() / 2;
  std::vector<std::string> damaged = l.entries;
  damaged[k].back() ^= 0x01;  // a bit of the envelope signature
  ledger::EntryReader reader = [&](uint64_t from, const std::function<bool(absl::string_view)>& sink) {
    for (uint64_t i = from; i < damaged.size(); ++i) {
      if (!sink(damaged[i])) break;
    }
    return absl::OkStatus();
  };
  absl::StatusOr<Inspection> in = InspectEntry(reader, k, l.checkpoint, LedgerKey(l));
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_FALSE(in->signature_ok);
  // The leaf changed, so the signed root no longer covers it either.
  EXPECT_FALSE(in->proof_status.ok());
  EXPECT_EQ(in->finding, ledger::Finding::kChainDamage) << in->message;
  in = InspectEntry(reader, k + 1, l.checkpoint, LedgerKey(l));
  ASSERT_TRUE(in.ok());
  EXPECT_FALSE(in->chain_link_ok);
  EXPECT_EQ(in->finding, ledger::Finding::kChainDamage);

  absl::StatusOr<Inspection> out_of_range = InspectEntry(l.Reader(), l.entries.size(), l.checkpoint, LedgerKey(l));
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(absl::StrContains(out_of_range.status().message(), absl::StrCat(l.entries.size()))) << out_of_range.status();
  note::Verifier other = *note::ParseVerifierKey(
      note::NoteSigner(l.origin, export_test::TestKey("someone else")).verifier_key());
  EXPECT_EQ(InspectEntry(l.Reader(), 0, l.checkpoint, other).status().code(), absl::StatusCode::kUnauthenticated);
}

// --- the binary on a bundle ------------------------------------------------------

std::string Trialog() { return std::string(TRIALOG_BINARY_DIR) + "/tools/trialog"; }

struct BundleEnv {
  std::string dir, bundle, vkey;
};
const BundleEnv& Bundle() {
  static const BundleEnv* env = [] {
    auto* e = new BundleEnv;
    e->dir = export_test::NewTempDir("audit_cli");
    e->bundle = e->dir + "/bundle";
    e->vkey = e->dir + "/ledger.vkey";
    absl::Status s = exporter::WriteLedgerBundle(export_test::SharedInputWithVoid(), export_test::Exporter(), e->bundle);
    EXPECT_TRUE(s.ok()) << s;
    export_test::WriteAll(e->vkey, SharedLedgerWithVoid().ledger_vkey + "\n");
    return e;
  }();
  return *env;
}

std::string Src(const BundleEnv& e) {
  return absl::StrCat(" --bundle ", ShellQuote(e.bundle), " --key @", ShellQuote(e.vkey));
}

TEST(AuditTrailCli, JsonLinesCsvAndTable) {
  const BundleEnv& e = Bundle();
  const export_test::TestLedger& l = SharedLedgerWithVoid();
  size_t want = 0;
  for (const std::string& b : l.entries) want += ledger::ParseEntry(b)->envelope.stream_id() == "subject/RU-01-0001";
  CommandResult r = RunCommand(absl::StrCat(Trialog(), " audit-trail", Src(e), " --subject RU-01-0001 --json 2>/dev/null"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), want);
  std::set<uint64_t> seen;
  for (const std::string& line : lines) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_EQ(j["subject_id"], "RU-01-0001");
    const uint64_t index = j["index"].get<uint64_t>();
    seen.insert(index);
    EXPECT_EQ(j["principal_id"], ledger::ParseEntry(l.entries[index])->envelope.actor().principal_id());
  }
  EXPECT_EQ(seen.size(), want);

  r = RunCommand(absl::StrCat(Trialog(), " audit-trail", Src(e), " --type data_corrected --csv 2>/dev/null"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "index,recorded_at_utc,")) << r.output.substr(0, 200);
  EXPECT_NE(r.output.find("\r\n"), std::string::npos);
  size_t corrections = 0;
  for (const std::string& b : l.entries) corrections += ledger::ParseEntry(b)->envelope.event().trial().has_data_corrected();
  // Records = header + one per correction (no field holds a line break here).
  std::vector<std::string> records = absl::StrSplit(r.output, "\r\n", absl::SkipEmpty());
  EXPECT_EQ(records.size(), corrections + 1);

  r = RunCommand(absl::StrCat(Trialog(), " audit-trail", Src(e), " --type e_signature"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("signed by "), std::string::npos);
  EXPECT_NE(r.output.find("SITE LOCAL TIME"), std::string::npos);

  // Usage errors.
  r = RunCommand(absl::StrCat(Trialog(), " audit-trail", Src(e), " --from 2025-01-01"));
  EXPECT_EQ(r.exit_code, 64) << r.output;
  EXPECT_NE(r.output.find("RFC 3339"), std::string::npos) << r.output;
  r = RunCommand(absl::StrCat(Trialog(), " audit-trail", Src(e), " --json --csv"));
  EXPECT_EQ(r.exit_code, 64) << r.output;
}

TEST(AuditTrailCli, PrintsNothingForALedgerThatDoesNotVerify) {
  const BundleEnv& e = Bundle();
  const std::string copy = e.dir + "/damaged";
  std::filesystem::remove_all(copy);
  std::filesystem::copy(e.bundle, copy);
  std::string bin = export_test::ReadAll(copy + "/entries.bin");
  bin[bin.size() - 1] ^= 0x01;  // the last entry's signature
  export_test::WriteAll(copy + "/entries.bin", bin);
  CommandResult r = RunCommand(absl::StrCat(Trialog(), " audit-trail --bundle ", ShellQuote(copy), " --key @",
                                            ShellQuote(e.vkey), " --json 2>/dev/null"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  // (RunCommand captures stderr too: the only output is the refusal.)
  EXPECT_EQ(r.output.find("{\"index\""), std::string::npos) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "trialog audit-trail: the ledger does not verify (envelope_signature)"))
      << r.output;
  EXPECT_NE(r.output.find("No audit trail printed"), std::string::npos) << r.output;
}

TEST(InspectCli, ProofChecksOutWithPythonHashlib) {
  const BundleEnv& e = Bundle();
  const uint64_t index = 123;
  CommandResult r = RunCommand(absl::StrCat(Trialog(), " inspect", Src(e), " --index ", index, " --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["result"], "ok");
  EXPECT_EQ(j["index"], index);
  EXPECT_EQ(j["inclusion_proof"]["verified"], true);
  EXPECT_EQ(j["signer"]["signature_ok"], true);
  EXPECT_EQ(j["envelope"]["actor"]["principal_id"],
            ledger::ParseEntry(SharedLedgerWithVoid().entries[index])->envelope.actor().principal_id());
  // RFC 9162 §2.1.3.2 in Python, from the JSON alone, to the checkpoint root.
  const std::string json_path = e.dir + "/inspect.json";
  export_test::WriteAll(json_path, r.output);
  const char* kCheck = R"PY(
import base64, hashlib, json, sys
j = json.load(open(sys.argv[1]))
fn, sn = j["index"], j["inclusion_proof"]["tree_size"] - 1
r = bytes.fromhex(j["leaf_hash"])
for p in j["inclusion_proof"]["hashes"]:
    p = bytes.fromhex(p)
    if sn == 0: sys.exit("proof too long")
    if fn % 2 == 1 or fn == sn:
        r = hashlib.sha256(b"\x01" + p + r).digest()
        if fn % 2 == 0:
            while fn % 2 == 0 and fn != 0:
                fn >>= 1; sn >>= 1
    else:
        r = hashlib.sha256(b"\x01" + r + p).digest()
    fn >>= 1; sn >>= 1
assert sn == 0, "proof too short"
assert r == base64.b64decode(j["checkpoint"]["root"]), "root differs"
print("ok")
)PY";
  const std::string script = e.dir + "/check.py";
  export_test::WriteAll(script, kCheck);
  CommandResult py = RunCommand(absl::StrCat(export_test::kPython, " ", ShellQuote(script), " ", ShellQuote(json_path)));
  EXPECT_EQ(py.exit_code, 0) << py.output;
  EXPECT_EQ(py.output, "ok\n");
  // The leaf hash is SHA-256(0x00 || entry bytes) of the ledger's entry.
  EXPECT_EQ(j["leaf_hash"], HexEncode(merkle::HashLeaf(SharedLedgerWithVoid().entries[index])));

  r = RunCommand(absl::StrCat(Trialog(), " inspect", Src(e), " --index 100000"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not covered by the checkpoint"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trialog::audit
