// The synthetic trial's HTML report written once per test process, and the
// expectations an independent reader checks it against, recomputed here
// from the signed envelopes (corrections applied to the records they
// change, voided records dropped) rather than taken from the projections:
// days on treatment from the dosing diaries, scan days, adverse events with
// their worst grade, best % change of the target-lesion sums.

#ifndef TRIALOG_TESTS_EXPORT_REPORT_FIXTURE_H_
#define TRIALOG_TESTS_EXPORT_REPORT_FIXTURE_H_

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/trial/field_path.h"
#include "core/trial/recist.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/export/test_ledger.h"
#include "tests/export/test_util.h"
#include "tools/export/export_input.h"
#include "tools/export/report.h"

namespace trialog::export_test {

struct ReportFiles {
  std::string dir, html, expected;
};

inline std::string HtmlEscapedCheckpoint() { return exporter::HtmlEscape(SharedInput().checkpoint_note); }

struct Record {
  v1::TrialEvent event;
  int64_t observed = 0;
  int32_t offset = 0;
  bool voided = false;
};

// subject -> records in index order (corrections applied, voids marked).
inline std::map<std::string, std::vector<Record>> RecordsBySubject(const exporter::ExportInput& in) {
  std::map<std::string, std::vector<Record>> out;
  std::map<std::string, std::pair<std::string, size_t>> where;  // event id -> (subject, position)
  for (const ledger::ParsedEntry& e : in.entries) {
    const std::string subject = exporter::SubjectOfStream(e.envelope.stream_id());
    if (subject.empty() || !e.envelope.event().has_trial()) continue;
    const v1::TrialEvent& t = e.envelope.event().trial();
    if (t.has_data_corrected()) {
      const auto& [s, pos] = where.at(t.data_corrected().target_event_id());
      absl::Status st = trial::SetFieldText(&out[s][pos].event, t.data_corrected().field_path(),
                                            t.data_corrected().new_value());
      EXPECT_TRUE(st.ok()) << st;
    } else if (t.has_event_voided()) {
      const auto& [s, pos] = where.at(t.event_voided().target_event_id());
      out[s][pos].voided = true;
    } else if (!t.has_e_signature()) {
      where[e.envelope.event_id()] = {subject, out[subject].size()};
      out[subject].push_back(
          {t, e.envelope.observed_at().unix_micros(), e.envelope.observed_at().utc_offset_minutes(), false});
    }
  }
  return out;
}

// Writes the report of `in` and the checker's expectations to a new directory.
inline ReportFiles MakeReportFiles(const exporter::ExportInput& in, const std::string& name) {
  ReportFiles files;
  ReportFiles* f = &files;
  {
    f->dir = NewTempDir(name);
    f->html = f->dir + "/report.html";
    f->expected = f->dir + "/expected.json";
    exporter::ReportOptions options;
    options.generated_unix_micros = in.entries.back().entry.recorded_at_unix_micros() + 3600LL * 1000000;
    options.source = "synthetic test ledger";
    absl::StatusOr<std::string> html = exporter::WriteHtmlReport(in, options);
    EXPECT_TRUE(html.ok()) << html.status();
    WriteAll(f->html, html.ok() ? *html : "");

    const uint32_t too_small = in.state->protocol()->recist().too_small_mm_x10();
    nlohmann::json x;
    x["lanes"] = nlohmann::json::array();
    x["bars"] = nlohmann::json::array();
    std::map<std::string, std::array<int, 6>> terms;  // [0] serious, [1..5] by worst grade
    for (const auto& [subject, records] : RecordsBySubject(in)) {
      std::optional<int64_t> first, last;
      for (const Record& r : records) {
        if (r.voided || !r.event.has_dose_administered() || r.event.dose_administered().administrations() == 0) continue;
        const int64_t end = trial::LocalDay(r.observed, r.offset);
        const int64_t start = end - std::max<int64_t>(r.event.dose_administered().period_days(), 1) + 1;
        first = first ? std::min(*first, start) : start;
        last = last ? std::max(*last, end) : end;
      }
      // Adverse events: worst grade over the report and its updates.
      std::map<std::string, nlohmann::json> aes;
      for (const Record& r : records) {
        if (r.voided) continue;
        if (r.event.has_ae_reported()) {
          const v1::AdverseEventReported& a = r.event.ae_reported();
          aes[a.ae_id()] = {{"term", a.ctcae_term()}, {"grade", a.grade()}, {"serious", a.serious_criteria_size() > 0},
                            {"onset_day", trial::LocalDay(r.observed, r.offset)}};
        } else if (r.event.has_ae_updated() && aes.count(r.event.ae_updated().ae_id())) {
          nlohmann::json& a = aes[r.event.ae_updated().ae_id()];
          a["grade"] = std::max(a["grade"].get<uint32_t>(), r.event.ae_updated().grade());
          if (r.event.ae_updated().add_serious_criteria_size() > 0) a["serious"] = true;
        }
      }
      for (const auto& [id, a] : aes) {
        std::array<int, 6>& c = terms[a["term"].get<std::string>()];
        c[a["grade"].get<uint32_t>()]++;
        if (a["serious"].get<bool>()) c[0]++;
      }
      absl::StatusOr<v1::SubjectState> state = in.state->Subject(subject);
      const std::string bor = v1::Response_Name(state->recist().bor().response());
      if (first) {
        nlohmann::json lane = {{"subject", subject}, {"days", *last - *first + 1}, {"bor", bor}};
        lane["responses"] = nlohmann::json::array();
        lane["aes"] = nlohmann::json::array();
        for (const Record& r : records) {
          if (!r.voided && r.event.has_tumour_assessment() && !r.event.tumour_assessment().baseline()) {
            lane["responses"].push_back(trial::LocalDay(r.observed, r.offset) - *first);
          }
        }
        for (const auto& [id, a] : aes) {
          const int64_t day = a["onset_day"].get<int64_t>() - *first;
          if (day >= 0) lane["aes"].push_back({{"day", day}, {"grade", a["grade"]}});
        }
        x["lanes"].push_back(lane);
      }
      // Waterfall: best % change of the target-lesion sum from baseline.
      std::optional<double> base, best;
      for (const Record& r : records) {
        if (r.voided || !r.event.has_tumour_assessment()) continue;
        const v1::TumourAssessment& t = r.event.tumour_assessment();
        double sum = 0;
        bool all = true;
        for (const v1::TargetLesion& l : t.target_lesions()) {
          if (l.state() == v1::LESION_STATE_MEASURED) sum += l.diameter_mm_x10();
          else if (l.state() == v1::LESION_STATE_TOO_SMALL) sum += too_small;
          else if (l.state() != v1::LESION_STATE_DISAPPEARED) all = false;
        }
        if (t.baseline()) {
          base = sum;
        } else if (base && all && *base > 0) {
          const double change = 100.0 * (sum - *base) / *base;
          best = best ? std::min(*best, change) : change;
        }
      }
      if (best) x["bars"].push_back({{"subject", subject}, {"best_change", *best}, {"bor", bor}});
    }
    x["ae_terms"] = nlohmann::json::object();
    for (const auto& [term, c] : terms) x["ae_terms"][term] = c;
    int corrections = 0, signatures = 0, voids = 0;
    for (const ledger::ParsedEntry& e : in.entries) {
      if (!e.envelope.event().has_trial()) continue;
      corrections += e.envelope.event().trial().has_data_corrected();
      signatures += e.envelope.event().trial().has_e_signature();
      voids += e.envelope.event().trial().has_event_voided();
    }
    x["entries"] = in.entries.size();
    x["corrections"] = corrections;
    x["signatures"] = signatures;
    x["voids"] = voids;
    const v1::TrialSummary sum = in.state->Summary();
    x["evaluable"] = sum.evaluable();
    x["checkpoint_root"] = Base64Encode(in.checkpoint.root_hash);
    WriteAll(f->expected, x.dump(1));
  }
  return files;
}

inline const ReportFiles& SharedReport() {
  static const ReportFiles* files = new ReportFiles(MakeReportFiles(SharedInput(), "report"));
  return *files;
}

}  // namespace trialog::export_test

#endif  // TRIALOG_TESTS_EXPORT_REPORT_FIXTURE_H_
