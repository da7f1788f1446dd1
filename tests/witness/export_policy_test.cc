// Exports carry the cosigned checkpoint, offline: the synthetic trial of
// tests/export (a real signed ledger with subjects) is bundled with a
// checkpoint cosigned by 2 of 3 witnesses (tlog-cosignature v1 lines made
// with core/note), then the `trialog` binary applies a verifier policy to
// that bundle, exports a subject disclosure from it under the policy (the
// disclosure's checkpoint.note is the cosigned note) and verifies the
// disclosure under 2-of-3 (ok) and 3-of-3 (exit 8) policies; a forged
// cosignature is exit 5, and an export whose policy is not met writes
// nothing.

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/crypto/crypto.h"
#include "core/note/cosignature.h"
#include "core/note/note.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle.h"
#include "tools/export/export_input.h"

namespace trialog::export_test {
namespace {

using ::testing::HasSubstr;

constexpr char kSubject[] = "RU-02-0012";  // a subject of the synthetic plan (tests/export/cli_test.cc)

std::string Trialog() { return std::string(TRIALOG_BINARY_DIR) + "/tools/trialog"; }

class ExportPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("witness-export");
    const TestLedger& l = SharedLedger();
    WriteAll(dir_ + "/ledger.vkey", l.ledger_vkey + "\n");
    WriteAll(dir_ + "/pass", "exporter passphrase\n");
    CommandResult r = RunCommand(absl::StrCat(Trialog(), " keygen --weak-kdf --name exports.example/cro --out ",
                                              ShellQuote(dir_ + "/exporter.key"), " --passphrase-file ",
                                              ShellQuote(dir_ + "/pass")));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (int i = 0; i < 3; ++i) {
      names_.push_back(absl::StrCat("w", i, ".regulator.example"));
      keys_.push_back(crypto::SigningKey::Generate());
      cosigner_keys_.push_back(note::FormatCosignerKey(names_.back(), keys_.back().public_key()));
    }
  }

  // The ledger's signed checkpoint plus cosignature lines by witnesses
  // `who` (indexes into keys_).
  std::string Cosigned(const std::vector<int>& who) {
    const std::string& note = SharedLedger().checkpoint;
    const std::string text = note.substr(0, note.find("\n\n") + 1);
    std::string out = note;
    for (int i : who) {
      absl::StatusOr<std::string> line = note::CosignCheckpoint(text, names_[i], keys_[i], 1767225600 + i);
      EXPECT_TRUE(line.ok()) << line.status();
      out += line.ok() ? *line : "";
    }
    return out;
  }

  // A ledger bundle of the synthetic trial whose checkpoint.note is `note`.
  std::string Bundle(const std::string& name, const std::string& note) {
    const TestLedger& l = SharedLedger();
    absl::StatusOr<std::unique_ptr<exporter::ExportInput>> in =
        exporter::LoadExportInput(l.Reader(), l.entries.size(), note, l.ledger_vkey);
    EXPECT_TRUE(in.ok()) << in.status();
    const std::string out = dir_ + "/" + name;
    if (in.ok()) {
      absl::Status s = exporter::WriteLedgerBundle(**in, Exporter(), out);
      EXPECT_TRUE(s.ok()) << s;
    }
    return out;
  }

  std::string Policy(int k) {
    std::string flags;
    for (const std::string& w : cosigner_keys_) absl::StrAppend(&flags, " --witness ", ShellQuote(w));
    return absl::StrCat(flags, " --min-witnesses ", k);
  }

  CommandResult Verify(const std::string& dir, const std::string& extra) {
    return RunCommand(absl::StrCat(Trialog(), " verify --bundle ", ShellQuote(dir), " --key @",
                                   ShellQuote(dir_ + "/ledger.vkey"), extra));
  }

  CommandResult ExportSubject(const std::string& from, const std::string& out, const std::string& extra) {
    return RunCommand(absl::StrCat(Trialog(), " export subject --bundle ", ShellQuote(from), " --key @",
                                   ShellQuote(dir_ + "/ledger.vkey"), " --exporter-key-file ",
                                   ShellQuote(dir_ + "/exporter.key"), " --passphrase-file ",
                                   ShellQuote(dir_ + "/pass"), " --subject ", kSubject, " --out ",
                                   ShellQuote(out), extra));
  }

  std::string dir_;
  std::vector<std::string> names_, cosigner_keys_;
  std::vector<crypto::SigningKey> keys_;
};

TEST_F(ExportPolicyTest, LedgerBundleWithTwoOfThreeCosignatures) {
  const std::string bundle = Bundle("bundle", Cosigned({0, 2}));
  CommandResult r = Verify(bundle, Policy(2));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cosigned by 2 of 3 witnesses (w0.regulator.example, w2.regulator.example)"));
  r = Verify(bundle, Policy(3) + " --json");
  EXPECT_EQ(r.exit_code, 8) << r.output;
  nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["result"], "witness_policy");
  EXPECT_THAT(j["message"].get<std::string>(), HasSubstr("cosigned by 2 of 3 policy witnesses"));
  // The ledger key alone still verifies it: verifiers ignore unknown lines.
  r = Verify(bundle, "");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(ExportPolicyTest, ForgedCosignatureIsACheckpointSignatureFailure) {
  std::string note = Cosigned({0, 1});
  note[note.size() - 6] = note[note.size() - 6] == 'A' ? 'B' : 'A';  // in w1's signature
  const std::string bundle = Bundle("forged", note);
  CommandResult r = Verify(bundle, Policy(1));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_THAT(r.output, HasSubstr("w1.regulator.example"));
}

TEST_F(ExportPolicyTest, SubjectDisclosureCarriesTheCosignedCheckpoint) {
  const std::string cosigned = Cosigned({0, 1});
  const std::string bundle = Bundle("bundle", cosigned);
  const std::string disclosure = dir_ + "/" + kSubject;
  CommandResult r = ExportSubject(bundle, disclosure, Policy(2));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(disclosure + "/checkpoint.note"), cosigned);

  r = Verify(disclosure, Policy(2));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("OK  per-subject disclosure of ", kSubject)));
  EXPECT_THAT(r.output, HasSubstr("witness policy: cosigned by 2 of 3 witnesses"));
  r = Verify(disclosure, Policy(3));
  EXPECT_EQ(r.exit_code, 8) << r.output;
  EXPECT_THAT(r.output, HasSubstr("FAILED (witness_policy)"));
  EXPECT_THAT(r.output, HasSubstr("the policy needs 3"));

  // An export whose policy is not met exports nothing.
  const std::string refused = dir_ + "/refused";
  r = ExportSubject(bundle, refused, Policy(3));
  EXPECT_EQ(r.exit_code, 8) << r.output;
  EXPECT_THAT(r.output, HasSubstr("witness policy not met"));
  EXPECT_FALSE(std::filesystem::exists(refused));
}

TEST_F(ExportPolicyTest, PolicyUsageErrors) {
  const std::string bundle = Bundle("bundle", Cosigned({0}));
  CommandResult r = Verify(bundle, " --min-witnesses 2");  // no --witness
  EXPECT_EQ(r.exit_code, 64) << r.output;
  r = Verify(bundle, Policy(4));
  EXPECT_EQ(r.exit_code, 64) << r.output;
  EXPECT_THAT(r.output, HasSubstr("witness quorum 4 is larger than the 3 witnesses"));
  r = Verify(bundle, " --witness not-a-key");
  EXPECT_EQ(r.exit_code, 64) << r.output;
  r = Verify(bundle, absl::StrCat(" --witness ", ShellQuote(cosigner_keys_[0]), " --witness ",
                                  ShellQuote(cosigner_keys_[0])));
  EXPECT_EQ(r.exit_code, 64) << r.output;
  EXPECT_THAT(r.output, HasSubstr("listed twice"));
}

}  // namespace
}  // namespace trialog::export_test
