// Slower cross-checks of the exports (ctest label "integration"):
// python3-xmlschema validation of the ODM export, an independent Python
// verifier of bundles and disclosures written from docs/EXPORT.md, and a
// denser one-byte-damage sweep over a bundle than the unit test's.

#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "tests/export/odm_fixture.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle.h"
#include "tools/export/disclosure.h"

namespace trialog::export_test {
namespace {

constexpr int64_t kCreated = 1767225600000000;

TEST(OdmSchema, PythonXmlschemaValidatesTheExport) {
  const OdmFiles& f = SharedOdm();
  CommandResult r = RunCommand(absl::StrCat(kPython, " ", ShellQuote(ScriptPath("odm_check.py")), " ", ShellQuote(f.odm),
                                            " ", ShellQuote(f.entries), " ", ShellQuote(f.expected), " --xsd ",
                                            ShellQuote(OdmXsd())));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "ok:")) << r.output;
}

TEST(OdmSchema, PythonXmlschemaRejectsTheInvalidSample) {
  // The shared deliberately invalid sample: the validator can say no.
  const std::string sample = VectorsDir() + "/odm/samples/odm132-INVALID-auditrecord.xml";
  CommandResult r = RunCommand(absl::StrCat(kPython, " -c ",
                                            ShellQuote("import sys, xmlschema; s = xmlschema.XMLSchema(sys.argv[1]); "
                                                       "sys.exit(0 if s.is_valid(sys.argv[2]) else 3)"),
                                            " ", ShellQuote(OdmXsd()), " ", ShellQuote(sample)));
  EXPECT_EQ(r.exit_code, 3) << r.output;
}

TEST(IndependentVerifier, AcceptsABundleAndADisclosure) {
  const std::string dir = NewTempDir("indep");
  ASSERT_TRUE(exporter::WriteLedgerBundle(SharedInput(), Exporter(), dir + "/bundle", {kCreated}).ok());
  ASSERT_TRUE(exporter::WriteSubjectDisclosure(SharedInput(), "RU-01-0011", Exporter(), dir + "/subject", {kCreated})
                  .ok());
  for (const char* which : {"/bundle", "/subject"}) {
    CommandResult r = RunCommand(absl::StrCat(kPython, " ", ShellQuote(ScriptPath("bundle_check.py")), " ",
                                              ShellQuote(dir + which), " ", ShellQuote(SharedInput().ledger_vkey)));
    EXPECT_EQ(r.exit_code, 0) << which << ": " << r.output;
    EXPECT_TRUE(absl::StartsWith(r.output, "ok:")) << r.output;
  }
  // And refuses damage: one byte of the checkpoint, or of an entry with a
  // manifest re-signed to match (what a dishonest exporter could do).
  std::string cp = ReadAll(dir + "/bundle/checkpoint.note");
  cp[2] ^= 1;
  WriteAll(dir + "/bundle/checkpoint.note", cp);
  CommandResult r = RunCommand(absl::StrCat(kPython, " ", ShellQuote(ScriptPath("bundle_check.py")), " ",
                                            ShellQuote(dir + "/bundle"), " ", ShellQuote(SharedInput().ledger_vkey)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  absl::StatusOr<exporter::OpenedBundle> b = exporter::OpenBundle(dir + "/subject");
  ASSERT_TRUE(b.ok());
  std::map<std::string, std::string> files = b->files;
  files["entries.bin"][files["entries.bin"].size() - 100] ^= 1;
  ASSERT_TRUE(exporter::WriteBundleDirectory(dir + "/resigned", b->manifest, files, Exporter()).ok());
  r = RunCommand(absl::StrCat(kPython, " ", ShellQuote(ScriptPath("bundle_check.py")), " ",
                              ShellQuote(dir + "/resigned"), " ", ShellQuote(SharedInput().ledger_vkey)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

TEST(BundleDamage, EveryByteOfTheSmallFilesAndManyOfTheLarge) {
  const std::string dir = NewTempDir("sweep") + "/bundle";
  ASSERT_TRUE(exporter::WriteLedgerBundle(SharedInput(), Exporter(), dir, {kCreated}).ok());
  const std::string vkey = SharedInput().ledger_vkey;
  google::protobuf::SetLogHandler(nullptr);  // damaged strings make protobuf log; the verdict is what counts
  int flips = 0;
  for (const auto& de : std::filesystem::directory_iterator(dir)) {
    const std::string path = de.path().string();
    const std::string name = de.path().filename().string();
    const std::string original = ReadAll(path);
    std::set<size_t> positions;
    if (original.size() <= 4096) {
      for (size_t i = 0; i < original.size(); ++i) positions.insert(i);
    } else {
      const size_t spread = name == "entries.bin" ? 120 : 300;
      for (size_t k = 0; k < spread; ++k) positions.insert(original.size() * k / spread + (k * 7919) % 97);
      for (size_t i = 0; i < 64; ++i) {
        positions.insert(i);
        positions.insert(original.size() - 1 - i);
      }
    }
    for (size_t pos : positions) {
      if (pos >= original.size()) continue;
      for (uint8_t mask : {0x01, 0x80}) {
        if (mask == 0x80 && original.size() > 4096) continue;
        std::string damaged = original;
        damaged[pos] ^= static_cast<char>(mask);
        WriteAll(path, damaged);
        EXPECT_NE(exporter::VerifyLedgerBundle(dir, vkey, {}, 2).finding, ledger::Finding::kOk)
            << name << " byte " << pos << " ^ " << int(mask);
        ++flips;
      }
    }
    WriteAll(path, original);
  }
  std::cout << flips << " one-byte changes, each made verification fail\n";
  EXPECT_GT(flips, 3000);
  EXPECT_EQ(exporter::VerifyLedgerBundle(dir, vkey).finding, ledger::Finding::kOk);
}

}  // namespace
}  // namespace trialog::export_test
