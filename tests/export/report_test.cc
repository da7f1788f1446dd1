// Tests of the HTML report: self-contained (no fetchable reference, a CSP
// that forbids fetching), every section present, and the SVG plots,
// adverse-event table and audit trail checked against the ledger by an
// independent reader (report_check.py), whose expectations this test
// computes from the signed envelopes themselves: doses, scans, lesion
// measurements (with their corrections applied), adverse events.

#include "tools/export/report.h"

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/trial/field_path.h"
#include "core/trial/recist.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/report_fixture.h"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"

namespace trialog::exporter {
namespace {

using export_test::RunCommand;
using export_test::ShellQuote;

TEST(Report, IsSelfContained) {
  const std::string html = export_test::ReadAll(export_test::SharedReport().html);
  EXPECT_TRUE(absl::StartsWith(html, "<!DOCTYPE html>"));
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  for (const char* banned : {"<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href="}) {
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;
  }
  // The only "http" is the SVG namespace name (an identifier, never fetched).
  size_t pos = 0;
  int http = 0;
  while ((pos = html.find("http", pos)) != std::string::npos) {
    const absl::string_view at = absl::string_view(html).substr(pos);
    if (!absl::StartsWith(at, "http-equiv=")) {
      EXPECT_TRUE(absl::StartsWith(at, "http://www.w3.org/2000/svg\"")) << at.substr(0, 60);
      ++http;
    }
    pos += 4;
  }
  EXPECT_EQ(http, 2);  // two inline <svg> elements
}

TEST(Report, HasEverySection) {
  const std::string html = export_test::ReadAll(export_test::SharedReport().html);
  for (const char* id : {"verification", "summary", "swimmer-plot", "waterfall-plot", "subjects", "adverse-events",
                         "dosing", "signatures", "audit-trail"}) {
    EXPECT_NE(html.find(absl::StrCat("<section id=\"", id, "\"")), std::string::npos) << id;
  }
  EXPECT_NE(html.find(export_test::HtmlEscapedCheckpoint()), std::string::npos);
}

TEST(Report, IndependentReaderChecksPlotsTablesAndTrail) {
  const export_test::ReportFiles& f = export_test::SharedReport();
  export_test::CommandResult r =
      RunCommand(absl::StrCat(export_test::kPython, " ", ShellQuote(export_test::ScriptPath("report_check.py")), " ",
                              ShellQuote(f.html), " ", ShellQuote(f.expected)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(absl::StartsWith(r.output, "ok:")) << r.output;
}

TEST(Report, IndependentReaderCatchesAWrongBar) {
  // A waterfall bar drawn 10 % too short must be caught.
  const export_test::ReportFiles& f = export_test::SharedReport();
  std::string html = export_test::ReadAll(f.html);
  const size_t bar = html.find("class=\"wf-bar\"");
  ASSERT_NE(bar, std::string::npos);
  const size_t hpos = html.find("height=\"", bar) + 8;
  const size_t hend = html.find('"', hpos);
  const double height = std::stod(html.substr(hpos, hend - hpos));
  html.replace(hpos, hend - hpos, absl::StrFormat("%.2f", height * 0.9));
  const std::string wrong = f.dir + "/wrong-bar.html";
  export_test::WriteAll(wrong, html);
  export_test::CommandResult r =
      RunCommand(absl::StrCat(export_test::kPython, " ", ShellQuote(export_test::ScriptPath("report_check.py")), " ",
                              ShellQuote(wrong), " ", ShellQuote(f.expected)));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("waterfall"), std::string::npos) << r.output;
}

TEST(Report, PlotDataMatchesTheEnvelopes) {
  // The plot data, before drawing, against the fixture's recomputation.
  const nlohmann::json expected = nlohmann::json::parse(export_test::ReadAll(export_test::SharedReport().expected));
  std::map<std::string, int64_t> days;
  for (const SwimmerLane& l : SwimmerLanes(export_test::SharedInput())) days[l.subject] = l.days;
  ASSERT_EQ(days.size(), expected["lanes"].size());
  for (const auto& lane : expected["lanes"]) {
    EXPECT_EQ(days[lane["subject"].get<std::string>()], lane["days"].get<int64_t>()) << lane["subject"];
  }
  std::map<std::string, int32_t> best;
  for (const WaterfallBar& b : WaterfallBars(export_test::SharedInput())) best[b.subject] = b.best_change_x10;
  ASSERT_EQ(best.size(), expected["bars"].size());
  for (const auto& b : expected["bars"]) {
    EXPECT_NEAR(best[b["subject"].get<std::string>()] / 10.0, b["best_change"].get<double>(), 0.051) << b["subject"];
  }
}

TEST(Report, AVoidedRecordIsStruckThroughAndSaysSo) {
  const ExportInput& in = export_test::SharedInputWithVoid();
  export_test::ReportFiles f = export_test::MakeReportFiles(in, "report-void");
  export_test::CommandResult r =
      RunCommand(absl::StrCat(export_test::kPython, " ", ShellQuote(export_test::ScriptPath("report_check.py")), " ",
                              ShellQuote(f.html), " ", ShellQuote(f.expected)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::string html = export_test::ReadAll(f.html);
  uint64_t void_index = 0, target_index = 0;
  std::map<std::string, uint64_t> index_of;
  for (const ledger::ParsedEntry& e : in.entries) {
    index_of[e.envelope.event_id()] = e.entry.index();
    if (e.envelope.event().has_trial() && e.envelope.event().trial().has_event_voided()) {
      void_index = e.entry.index();
      target_index = index_of.at(e.envelope.event().trial().event_voided().target_event_id());
    }
  }
  ASSERT_GT(void_index, 0u);
  EXPECT_NE(html.find(absl::StrCat("<tr class=\"entry void\" data-index=\"", target_index, "\">")), std::string::npos);
  EXPECT_NE(html.find(absl::StrCat("Voided by entry ", void_index)), std::string::npos);
  EXPECT_NE(html.find(absl::StrCat("<tr class=\"void-entry\" data-index=\"", void_index, "\">")), std::string::npos);
}

}  // namespace
}  // namespace trialog::exporter
