// Tests of the ODM 1.3.2 export: the synthetic trial's export validates
// against CDISC's XSD with xmllint, and an independent Python reader
// (odm_check.py) finds every entry of the ledger in it with the right leaf
// hash, time stamp and site offset, every correction, void and signature,
// and only defined users, locations, items and codes. (The same file is
// also validated with python3-xmlschema in odm_schema_test.)

#include "tools/export/odm.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/odm_fixture.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle_format.h"

namespace trialog::exporter {
namespace {

using export_test::RunCommand;
using export_test::ShellQuote;

TEST(Odm, ValidatesAgainstTheOdm132Xsd) {
  const export_test::OdmFiles& f = export_test::SharedOdm();
  export_test::CommandResult r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ",
                                                  ShellQuote(export_test::OdmXsd()), " ", ShellQuote(f.odm)));
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 4000);
  EXPECT_NE(r.output.find("validates"), std::string::npos) << r.output.substr(0, 400);
}

TEST(Odm, XmllintRejectsABrokenVariant) {
  // Shows the validation can fail: an AuditRecord without its UserRef.
  const export_test::OdmFiles& f = export_test::SharedOdm();
  std::string xml = export_test::ReadAll(f.odm);
  const size_t at = xml.find("<UserRef ");
  ASSERT_NE(at, std::string::npos);
  xml.erase(at, xml.find("/>", at) + 2 - at);
  const std::string broken = f.dir + "/broken.xml";
  export_test::WriteAll(broken, xml);
  export_test::CommandResult r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ",
                                                  ShellQuote(export_test::OdmXsd()), " ", ShellQuote(broken)));
  EXPECT_EQ(r.exit_code, 3) << r.output.substr(0, 2000);
}

TEST(Odm, IndependentReaderFindsEveryEntry) {
  const export_test::OdmFiles& f = export_test::SharedOdm();
  export_test::CommandResult r =
      RunCommand(absl::StrCat(export_test::kPython, " ", ShellQuote(export_test::ScriptPath("odm_check.py")), " ",
                       ShellQuote(f.odm), " ", ShellQuote(f.entries), " ", ShellQuote(f.expected)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "ok: 20 subjects")) << r.output;
}

TEST(Odm, IndependentReaderCatchesAWrongLeafHash) {
  const export_test::OdmFiles& f = export_test::SharedOdm();
  std::string xml = export_test::ReadAll(f.odm);
  const size_t at = xml.find(";leaf=");
  ASSERT_NE(at, std::string::npos);
  xml[at + 6] = xml[at + 6] == 'a' ? 'b' : 'a';
  const std::string wrong = f.dir + "/wrong-leaf.xml";
  export_test::WriteAll(wrong, xml);
  export_test::CommandResult r =
      RunCommand(absl::StrCat(export_test::kPython, " ", ShellQuote(export_test::ScriptPath("odm_check.py")), " ",
                       ShellQuote(wrong), " ", ShellQuote(f.entries), " ", ShellQuote(f.expected)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("SHA-256(0x00||entry) differs"), std::string::npos) << r.output;
}

TEST(Odm, CarriesTheArchivalAttributesAndSiteOffsets) {
  const std::string xml = export_test::ReadAll(export_test::SharedOdm().odm);
  EXPECT_NE(xml.find("FileType=\"Transactional\""), std::string::npos);
  EXPECT_NE(xml.find("Archival=\"Yes\""), std::string::npos);
  EXPECT_NE(xml.find("ODMVersion=\"1.3.2\""), std::string::npos);
  EXPECT_EQ(xml.find("TransactionType=\"Upsert\""), std::string::npos);  // Archival forbids Upsert
  // Moscow sites: local times with +03:00; the lock/unlock window
  // gives DBAudit edit points.
  EXPECT_NE(xml.find("+03:00</DateTimeStamp>"), std::string::npos);
  EXPECT_NE(xml.find("EditPoint=\"DBAudit\""), std::string::npos);
  EXPECT_NE(xml.find("EditPoint=\"Monitoring\""), std::string::npos);
  EXPECT_NE(xml.find("<SignatureDef OID=\"SIG.ELIGIBILITY\" Methodology=\"Digital\">"), std::string::npos);
  EXPECT_NE(xml.find(absl::StrCat("root ", Base64Encode(export_test::SharedInput().checkpoint.root_hash))),
            std::string::npos);
}

TEST(Odm, SingleSubjectExport) {
  const ExportInput& in = export_test::SharedInput();
  OdmOptions options;
  options.creation_unix_micros = export_test::OdmCreationTime();
  options.subject_id = "RU-01-0003";
  absl::StatusOr<std::string> xml = WriteOdm132(in, options);
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_NE(xml->find("Granularity=\"SingleSubject\""), std::string::npos);
  EXPECT_NE(xml->find("SubjectKey=\"RU-01-0003\""), std::string::npos);
  EXPECT_EQ(xml->find("SubjectKey=\"RU-02-0002\""), std::string::npos);
  const std::string dir = export_test::SharedOdm().dir;
  export_test::WriteAll(dir + "/single.xml", *xml);
  export_test::CommandResult r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ",
                                                  ShellQuote(export_test::OdmXsd()), " ",
                                                  ShellQuote(dir + "/single.xml")));
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);

  options.subject_id = "RU-99-0001";
  EXPECT_EQ(WriteOdm132(in, options).status().code(), absl::StatusCode::kInvalidArgument);
  options.subject_id = "";
  options.creation_unix_micros = in.entries.back().entry.recorded_at_unix_micros() - 1;
  EXPECT_EQ(WriteOdm132(in, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Odm, AVoidIsARemoveWithItsReason) {
  const ExportInput& in = export_test::SharedInputWithVoid();
  ASSERT_FALSE(in.entries.empty());
  export_test::OdmFiles f = export_test::MakeOdmFiles(in, export_test::SharedLedgerWithVoid().entries, "odm-void");
  const std::string xml = export_test::ReadAll(f.odm);
  const size_t remove = xml.find("TransactionType=\"Remove\"");
  ASSERT_NE(remove, std::string::npos);
  EXPECT_NE(xml.find("<ReasonForChange>Entered in error (voided): dispensing entered twice</ReasonForChange>", remove),
            std::string::npos);
  export_test::CommandResult r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ",
                                                         ShellQuote(export_test::OdmXsd()), " ", ShellQuote(f.odm)));
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
  r = RunCommand(absl::StrCat(export_test::kPython, " ", ShellQuote(export_test::ScriptPath("odm_check.py")), " ",
                              ShellQuote(f.odm), " ", ShellQuote(f.entries), " ", ShellQuote(f.expected)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 removes"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace trialog::exporter

namespace trialog::exporter {
namespace {

std::string Odm20Xsd() { return export_test::VectorsDir() + "/odm/odm-2.0/ODM.xsd"; }

TEST(Odm20, ValidatesAgainstTheOdm20Xsd) {
  const ExportInput& in = export_test::SharedInputWithVoid();
  OdmOptions options;
  options.creation_unix_micros = in.entries.back().entry.recorded_at_unix_micros() + 1;
  absl::StatusOr<std::string> xml = WriteOdm20(in, options);
  ASSERT_TRUE(xml.ok()) << xml.status();
  const std::string dir = export_test::NewTempDir("odm20");
  export_test::WriteAll(dir + "/odm20.xml", *xml);
  export_test::CommandResult r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ", ShellQuote(Odm20Xsd()),
                                                         " ", ShellQuote(dir + "/odm20.xml")));
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 4000);
  EXPECT_NE(xml->find("Context=\"Archive\""), std::string::npos);
  EXPECT_NE(xml->find("UsedMethod=\"No\""), std::string::npos);
  EXPECT_EQ(xml->find("Archival="), std::string::npos);
  EXPECT_NE(xml->find("TransactionType=\"Remove\""), std::string::npos);
  EXPECT_NE(xml->find("TransactionType=\"Update\""), std::string::npos);
  // Every entry is named by a SourceID or a Signature ID.
  for (const ledger::ParsedEntry& e : in.entries) {
    const std::string leaf = HexEncode(e.leaf_hash);
    const bool named = xml->find(absl::StrCat(";entry=", e.entry.index(), ";leaf=", leaf)) != std::string::npos ||
                       xml->find(absl::StrCat("ID=\"SG.", e.entry.index(), ".")) != std::string::npos;
    EXPECT_TRUE(named) << "entry " << e.entry.index() << " is not in the ODM 2.0 file";
  }
  // The single-subject form validates too.
  options.subject_id = "RU-01-0001";
  xml = WriteOdm20(in, options);
  ASSERT_TRUE(xml.ok());
  export_test::WriteAll(dir + "/single.xml", *xml);
  r = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ", ShellQuote(Odm20Xsd()), " ",
                              ShellQuote(dir + "/single.xml")));
  EXPECT_EQ(r.exit_code, 0) << r.output.substr(0, 2000);
}

}  // namespace
}  // namespace trialog::exporter
