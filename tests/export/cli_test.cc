// End-to-end tests of the `trialog` commands of issue 6, as an operator
// runs them: the synthetic trial is appended to a real trialogd data
// directory through storage::Ledger (admission, sequencer, RocksDB), then
// `trialog export bundle --data` exports it, `trialog verify --bundle`
// verifies it (and fails with the right exit code when one byte changes),
// and odm / report / subject export from the bundle.

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ledger/admission.h"
#include "core/ledger/entry.h"
#include "core/ledger/envelope_signer.h"
#include "core/trial/state_machine.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "storage/ledger.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle_format.h"

namespace trialog::export_test {
namespace {

std::string Trialog() { return std::string(TRIALOG_BINARY_DIR) + "/tools/trialog"; }

struct Env {
  std::string dir, data, bundle, vkey_file, exporter_key, exporter_vkey_file, passphrase_file, trial;
};

// Appends the synthetic plan to <data>/trials/<trial>/ as trialogd would.
absl::Status WriteDataDirectory(const std::string& data, std::string* trial_id) {
  const TestLedger& l = SharedLedger();
  const trial::SyntheticTrialPlan& plan = l.plan;
  *trial_id = plan.trial_id;
  ledger::PrincipalRegistry registry;
  trial::TrialStateMachine sm;
  storage::LedgerOptions options;
  options.dir = absl::StrCat(data, "/trials/", plan.trial_id);
  options.checkpoint_signer = &l.ledger_signer;
  options.sync = false;
  std::filesystem::create_directories(options.dir);
  absl::StatusOr<std::unique_ptr<storage::Ledger>> ledger = storage::Ledger::Open(options, &registry, {&sm});
  if (!ledger.ok()) return ledger.status();
  auto append = [&](const v1::Envelope& env) -> absl::Status {
    v1::SignedEnvelope signed_env = ledger::SignEnvelope(env, l.keys.at(env.actor().principal_id()));
    absl::StatusOr<ledger::AdmittedEnvelope> admitted = ledger::Admit(plan.trial_id, signed_env, registry);
    if (!admitted.ok()) return admitted.status();
    return (*ledger)->Append(*std::move(admitted)).status();
  };
  // The same genesis, registrations and steps as the in-memory ledger.
  for (size_t i = 0; i < 1 + plan.principals.size(); ++i) {
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(l.entries[i]);
    if (absl::Status s = append(e->envelope); !s.ok()) return s;
  }
  for (const trial::SyntheticStep& step : plan.steps) {
    v1::Envelope env;
    env.set_trial_id(plan.trial_id);
    env.set_stream_id(step.stream_id);
    env.set_event_id(step.event_id);
    *env.mutable_observed_at() = step.observed_at;
    *env.mutable_actor() = step.actor;
    env.set_reason(step.reason);
    *env.mutable_event() = step.event;
    if (step.needs_signature_hashes) {
      absl::Status s = sm.FillSignatureHashes(step.stream_id, env.mutable_event()->mutable_trial()->mutable_e_signature());
      if (!s.ok()) return s;
    }
    absl::Status s = append(env);
    if (!s.ok() && !step.expect_refused) return absl::InternalError(absl::StrCat(step.description, ": ", s.message()));
  }
  return absl::OkStatus();
}

const Env& CliSetup() {
  static const Env* env = [] {
    auto* e = new Env;
    e->dir = NewTempDir("cli");
    e->data = e->dir + "/data";
    e->bundle = e->dir + "/bundle";
    e->vkey_file = e->dir + "/ledger.vkey";
    e->exporter_key = e->dir + "/exporter.key";
    e->exporter_vkey_file = e->dir + "/exporter.vkey";
    e->passphrase_file = e->dir + "/passphrase";
    absl::Status s = WriteDataDirectory(e->data, &e->trial);
    EXPECT_TRUE(s.ok()) << s;
    WriteAll(e->vkey_file, SharedLedger().ledger_vkey + "\n");
    WriteAll(e->passphrase_file, "exporter passphrase\n");
    CommandResult r = RunCommand(absl::StrCat(Trialog(), " keygen --weak-kdf --json --name exports.example/cro --out ",
                                              ShellQuote(e->exporter_key), " --passphrase-file ",
                                              ShellQuote(e->passphrase_file)));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
    WriteAll(e->exporter_vkey_file, j.is_object() ? j["verifier_key"].get<std::string>() + "\n" : "");
    return e;
  }();
  return *env;
}

std::string KeyFlags(const Env& e) {
  return absl::StrCat(" --key @", ShellQuote(e.vkey_file), " --exporter-key-file ", ShellQuote(e.exporter_key),
                      " --passphrase-file ", ShellQuote(e.passphrase_file));
}

// `trialog export bundle --data` once; later tests read the bundle.
const Env& WithBundle() {
  static bool done = [] {
    const Env& e = CliSetup();
    CommandResult r = RunCommand(absl::StrCat(Trialog(), " export bundle --data ", ShellQuote(e.data), " --trial ",
                                              e.trial, KeyFlags(e), " --out ", ShellQuote(e.bundle)));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(absl::StartsWith(r.output, "wrote ledger bundle")) << r.output;
    return true;
  }();
  (void)done;
  return CliSetup();
}

CommandResult Verify(const Env& e, const std::string& dir, const std::string& extra = "") {
  return RunCommand(
      absl::StrCat(Trialog(), " verify --bundle ", ShellQuote(dir), " --key @", ShellQuote(e.vkey_file), extra));
}

TEST(Cli, ExportsADataDirectoryAndVerifiesTheBundle) {
  const Env& e = WithBundle();
  absl::StatusOr<std::vector<std::string>> entries = exporter::DecodeEntriesFile(ReadAll(e.bundle + "/entries.bin"));
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), SharedLedger().entries.size());
  CommandResult r = Verify(e, e.bundle);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "OK  bundle ")) << r.output;
  EXPECT_NE(r.output.find("not pinned"), std::string::npos) << r.output;
  r = Verify(e, e.bundle, absl::StrCat(" --exporter-key @", ShellQuote(e.exporter_vkey_file), " --json"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["result"], "ok");
  EXPECT_EQ(j["entries_verified"].get<uint64_t>(), SharedLedger().entries.size());
  // Another exporter key pinned: refused.
  const std::string other = e.dir + "/other.vkey";
  WriteAll(other, note::NoteSigner("exports.example/cro", TestKey("other")).verifier_key() + "\n");
  r = Verify(e, e.bundle, absl::StrCat(" --exporter-key @", ShellQuote(other)));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not the pinned exporter key"), std::string::npos) << r.output;
}

TEST(Cli, VerifyFailsWithTheRightCodeWhenOneByteChanges) {
  const Env& e = WithBundle();
  const std::string copy = e.dir + "/damaged";
  std::filesystem::remove_all(copy);
  std::filesystem::copy(e.bundle, copy);
  const std::string path = copy + "/entries.bin";
  const std::string original = ReadAll(path);
  absl::StatusOr<std::vector<std::string>> entries = exporter::DecodeEntriesFile(original);
  ASSERT_TRUE(entries.ok());
  // A letter of the signer's printed name inside entry 300's envelope: it
  // still parses, its signature no longer verifies.
  size_t offset = exporter::kEntriesMagic.size();
  for (int i = 0; i < 300; ++i) offset += 4 + (*entries)[i].size();
  const std::string signer = ledger::ParseEntry((*entries)[300])->envelope.actor().printed_name();
  const size_t at = (*entries)[300].find(signer);
  ASSERT_NE(at, std::string::npos);
  std::string damaged = original;
  damaged[offset + 4 + at + 1] ^= 0x01;
  WriteAll(path, damaged);
  CommandResult r = Verify(e, copy);
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("first bad entry: 300"), std::string::npos) << r.output;
  // Exports refuse a ledger that does not verify.
  r = RunCommand(absl::StrCat(Trialog(), " report --bundle ", ShellQuote(copy), " --key @", ShellQuote(e.vkey_file),
                              " --out ", ShellQuote(e.dir + "/never.html")));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("nothing exported"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(e.dir + "/never.html"));
  // A byte of the manifest, of the checkpoint, of the rendering.
  WriteAll(path, original);
  for (const char* name : {"manifest.note", "checkpoint.note", "events.jsonl", "README.txt", "ledger.vkey"}) {
    const std::string file = copy + "/" + name;
    const std::string before = ReadAll(file);
    std::string flipped = before;
    flipped[flipped.size() / 2] ^= 0x01;
    WriteAll(file, flipped);
    r = Verify(e, copy);
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.output;
    EXPECT_TRUE(absl::StartsWith(r.output, "FAILED")) << r.output;
    WriteAll(file, before);
  }
  EXPECT_EQ(Verify(e, copy).exit_code, 0);
}

TEST(Cli, ExportsOdmReportAndBundleFromABundle) {
  const Env& e = WithBundle();
  const std::string src = absl::StrCat(" --bundle ", ShellQuote(e.bundle), " --key @", ShellQuote(e.vkey_file));
  CommandResult r = RunCommand(absl::StrCat(Trialog(), " export odm", src, " --out ", ShellQuote(e.dir + "/odm.xml")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ",
                              ShellQuote(VectorsDir() + "/odm/odm-1.3.2/ODM1-3-2.xsd"), " ",
                              ShellQuote(e.dir + "/odm.xml")));
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);

  r = RunCommand(absl::StrCat(Trialog(), " export odm", src, " --odm-version 2.0 --out ", ShellQuote(e.dir + "/odm20.xml")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ", ShellQuote(VectorsDir() + "/odm/odm-2.0/ODM.xsd"),
                              " ", ShellQuote(e.dir + "/odm20.xml")));
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
  r = RunCommand(absl::StrCat(Trialog(), " export odm", src, " --odm-version 3 --out x.xml"));
  EXPECT_EQ(r.exit_code, 64) << r.output;

  r = RunCommand(absl::StrCat(Trialog(), " report", src, " --json --out ", ShellQuote(e.dir + "/report.html")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = ReadAll(e.dir + "/report.html");
  EXPECT_NE(html.find("<b>Verified</b>"), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"swimmer\""), std::string::npos);

  // Re-exporting a bundle gives the same entries and checkpoint.
  r = RunCommand(absl::StrCat(Trialog(), " export bundle --bundle ", ShellQuote(e.bundle), KeyFlags(e), " --out ",
                              ShellQuote(e.dir + "/bundle2")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(e.dir + "/bundle2/entries.bin"), ReadAll(e.bundle + "/entries.bin"));
  EXPECT_EQ(ReadAll(e.dir + "/bundle2/checkpoint.note"), ReadAll(e.bundle + "/checkpoint.note"));
  EXPECT_EQ(Verify(e, e.dir + "/bundle2").exit_code, 0);
}

TEST(Cli, SubjectDisclosureVerifiesAndSaysWhatItCannotCheck) {
  const Env& e = WithBundle();
  const std::string out = e.dir + "/RU-02-0012";
  CommandResult r = RunCommand(absl::StrCat(Trialog(), " export subject --bundle ", ShellQuote(e.bundle), KeyFlags(e),
                                            " --subject RU-02-0012 --out ", ShellQuote(out)));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = Verify(e, out);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "OK  per-subject disclosure of RU-02-0012")) << r.output;
  EXPECT_NE(r.output.find("cannot replay rules for the whole trial"), std::string::npos) << r.output;
  r = Verify(e, out, " --json");
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["form"], "subject-disclosure");
  EXPECT_EQ(j["trial_rules_replayed"], false);
  EXPECT_FALSE(j["not_verified"].empty());
  // A damaged proof: chain damage (exit 3).
  std::string proofs = ReadAll(out + "/proofs.bin");
  proofs[40] ^= 1;
  WriteAll(out + "/proofs.bin", proofs);
  r = Verify(e, out);
  EXPECT_EQ(r.exit_code, 2) << r.output;  // the manifest's hash catches it first
  // Unknown subject: a usage error.
  r = RunCommand(absl::StrCat(Trialog(), " export subject --bundle ", ShellQuote(e.bundle), KeyFlags(e),
                              " --subject XX-99 --out ", ShellQuote(e.dir + "/xx")));
  EXPECT_EQ(r.exit_code, 64) << r.output;
}

TEST(Cli, UsageErrors) {
  const Env& e = CliSetup();
  CommandResult r = RunCommand(absl::StrCat(Trialog(), " export odm --key @", ShellQuote(e.vkey_file), " --out x.xml"));
  EXPECT_EQ(r.exit_code, 64) << r.output;  // no source
  r = RunCommand(absl::StrCat(Trialog(), " report --bundle ", ShellQuote(e.dir), " --key garbage --out x.html"));
  EXPECT_EQ(r.exit_code, 64) << r.output;
  r = RunCommand(absl::StrCat(Trialog(), " report --bundle ", ShellQuote(e.dir + "/nope"), " --key @",
                              ShellQuote(e.vkey_file), " --out x.html"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace trialog::export_test
