// Figures for docs/EXPORT.md §7: how long each export takes and how big it
// is, for the 20-subject synthetic trial and a 200-subject one. Prints a
// table; the assertions only check that every step succeeded.

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/bundle.h"
#include "tools/export/disclosure.h"
#include "tools/export/odm.h"
#include "tools/export/report.h"

namespace trialog::export_test {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.file_size();
  return n;
}

void Measure(int subjects) {
  auto t = std::chrono::steady_clock::now();
  absl::StatusOr<TestLedger> l = BuildSyntheticLedger(7, subjects);
  ASSERT_TRUE(l.ok()) << l.status();
  const double build = Since(t);
  t = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<exporter::ExportInput>> in =
      exporter::LoadExportInput(l->Reader(), l->entries.size(), l->checkpoint, l->ledger_vkey);
  ASSERT_TRUE(in.ok()) << in.status();
  const double load = Since(t);
  const std::string dir = NewTempDir(absl::StrCat("figures-", subjects));
  t = std::chrono::steady_clock::now();
  ASSERT_TRUE(exporter::WriteLedgerBundle(**in, Exporter(), dir + "/bundle").ok());
  const double bundle = Since(t);
  t = std::chrono::steady_clock::now();
  exporter::BundleVerification v = exporter::VerifyLedgerBundle(dir + "/bundle", l->ledger_vkey);
  ASSERT_EQ(v.finding, ledger::Finding::kOk) << v.message;
  const double verify = Since(t);
  t = std::chrono::steady_clock::now();
  exporter::OdmOptions odm_options;
  odm_options.creation_unix_micros = (*in)->entries.back().entry.recorded_at_unix_micros() + 1;
  absl::StatusOr<std::string> odm = exporter::WriteOdm132(**in, odm_options);
  ASSERT_TRUE(odm.ok());
  const double odm_s = Since(t);
  WriteAll(dir + "/odm.xml", *odm);
  t = std::chrono::steady_clock::now();
  CommandResult xl = RunCommand(absl::StrCat("xmllint --noout --nonet --schema ",
                                             ShellQuote(VectorsDir() + "/odm/odm-1.3.2/ODM1-3-2.xsd"), " ",
                                             ShellQuote(dir + "/odm.xml")));
  EXPECT_EQ(xl.exit_code, 0) << xl.output.substr(0, 1000);
  const double xmllint = Since(t);
  t = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> html = exporter::WriteHtmlReport(**in);
  ASSERT_TRUE(html.ok());
  const double report = Since(t);
  const std::string subject = (*in)->state->SubjectIds().front();
  t = std::chrono::steady_clock::now();
  ASSERT_TRUE(exporter::WriteSubjectDisclosure(**in, subject, Exporter(), dir + "/subject").ok());
  const double disclose = Since(t);
  t = std::chrono::steady_clock::now();
  exporter::DisclosureVerification dv = exporter::VerifySubjectDisclosure(dir + "/subject", l->ledger_vkey);
  ASSERT_EQ(dv.finding, ledger::Finding::kOk) << dv.message;
  const double dverify = Since(t);
  std::printf(
      "FIGURES %d subjects, %zu entries: build+sign %.2f s | load (audit) %.2f s | bundle write %.2f s, %.2f MB | "
      "bundle verify %.2f s | ODM %.2f s, %.2f MB, xmllint %.2f s | report %.2f s, %.2f MB | disclosure of %s "
      "(%llu entries) write %.3f s, verify %.3f s\n",
      subjects, l->entries.size(), build, load, bundle, DirBytes(dir + "/bundle") / 1e6, verify, odm_s,
      odm->size() / 1e6, xmllint, report, html->size() / 1e6, subject.c_str(),
      static_cast<unsigned long long>(dv.entries), disclose, dverify);
}

TEST(ExportFigures, TwentySubjects) { Measure(20); }
TEST(ExportFigures, TwoHundredSubjects) { Measure(200); }

}  // namespace
}  // namespace trialog::export_test
