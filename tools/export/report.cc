#include "tools/export/report.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/trial/permissions.h"
#include "core/trial/recist.h"
#include "core/util/bytes.h"
#include "tools/export/event_fields.h"
#include "tools/export/timestamps.h"

namespace trialog::exporter {
namespace {

constexpr char kStyle[] = R"css(
body{font:14px/1.4 "DejaVu Sans",Arial,sans-serif;color:#222;margin:24px;max-width:1180px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:2px solid #345;padding-bottom:3px;margin-top:28px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef2f6}td.n{text-align:right}.meta{color:#555}
.ok{background:#e3f4e1;border:1px solid #5aae61;padding:8px}.bad{background:#fde0dc;border:1px solid #d73027;padding:8px}
pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;word-break:break-all}
#audit-trail td{font-size:12px}tr.correction td{background:#fff3c4}tr.void td{background:#fde0dc;text-decoration:line-through}
tr.void td.keep{text-decoration:none}tr.signature td{background:#e8f0fb}tr.admin td{color:#555}
.changed{color:#8a5a00;font-weight:bold}.sig{display:block;color:#234;font-size:11px}.outdated{color:#b00}
.old{text-decoration:line-through;color:#a00}.new{color:#070;font-weight:bold}svg text{font:11px "DejaVu Sans",Arial,sans-serif}
)css";

std::string Pct(uint32_t bp) { return absl::StrFormat("%.1f%%", bp / 100.0); }

std::string Local(int64_t micros, int32_t offset) {
  // Seconds are enough for people; the exact microseconds are in the bundle.
  std::string t = LocalTimestamp(micros, offset);
  return absl::StrCat(t.substr(0, 10), " ", t.substr(11, 8), " ", t.substr(t.size() - 6));
}

int32_t SubjectOffset(const ExportInput& in, const std::string& subject) {
  const std::string stream = absl::StrCat("subject/", subject);
  for (const ledger::ParsedEntry& e : in.entries) {
    if (e.envelope.stream_id() == stream) return e.envelope.observed_at().utc_offset_minutes();
  }
  return 0;
}

std::vector<v1::SubjectState> Subjects(const ExportInput& in) {
  std::vector<v1::SubjectState> out;
  for (const std::string& id : in.state->SubjectIds()) {
    absl::StatusOr<v1::SubjectState> s = in.state->Subject(id);
    if (s.ok()) out.push_back(*std::move(s));
  }
  return out;
}

std::string RoleName(v1::Role role) {
  std::string name = v1::Role_Name(role);
  if (name.rfind("ROLE_", 0) == 0) name = name.substr(5);
  return name;
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::vector<SwimmerLane> SwimmerLanes(const ExportInput& in) {
  std::vector<SwimmerLane> lanes;
  for (const v1::SubjectState& s : Subjects(in)) {
    const v1::DosingState& d = s.dosing();
    if (d.days_on_treatment() == 0) continue;  // never dosed
    const int32_t offset = SubjectOffset(in, s.subject_id());
    const int64_t first_day =
        trial::LocalDay(d.last_dose_unix_micros(), offset) - static_cast<int64_t>(d.days_on_treatment()) + 1;
    SwimmerLane lane;
    lane.subject = s.subject_id();
    lane.days = d.days_on_treatment();
    lane.ongoing = !s.treatment_ended() && !s.study_ended();
    lane.bor = s.recist().bor().response();
    lane.confirmed = s.recist().bor().confirmed();
    for (const v1::TimepointResponse& t : s.recist().timepoints()) {
      lane.responses.push_back({trial::LocalDay(t.scan_unix_micros(), offset) - first_day, t.overall(), 0, false});
    }
    for (const v1::AdverseEventState& ae : s.adverse_events()) {
      const int64_t day = trial::LocalDay(ae.onset_unix_micros(), offset) - first_day;
      if (day < 0) continue;  // before the first dose: not treatment-emergent
      lane.adverse_events.push_back({day, v1::RESPONSE_UNSPECIFIED, ae.worst_grade(), ae.serious()});
    }
    lanes.push_back(std::move(lane));
  }
  return lanes;
}

std::vector<WaterfallBar> WaterfallBars(const ExportInput& in) {
  std::vector<WaterfallBar> bars;
  for (const v1::SubjectState& s : Subjects(in)) {
    bool any = false;
    int32_t best = 0;
    for (const v1::TimepointResponse& t : s.recist().timepoints()) {
      if (!t.all_targets_evaluated()) continue;
      best = any ? std::min(best, t.change_from_baseline_x10()) : t.change_from_baseline_x10();
      any = true;
    }
    if (!any) continue;
    bars.push_back({s.subject_id(), best, s.recist().bor().response(), s.recist().bor().confirmed()});
  }
  return bars;
}

absl::StatusOr<std::string> WriteHtmlReport(const ExportInput& in, const ReportOptions& options) {
  const int64_t generated =
      options.generated_unix_micros != 0 ? options.generated_unix_micros : absl::ToUnixMicros(absl::Now());
  const v1::TrialSummary sum = in.state->Summary();
  const v1::ProtocolDefinition* protocol = in.state->protocol();
  const std::vector<v1::SubjectState> subjects = Subjects(in);
  std::string h;
  auto row = [&h](const std::vector<std::string>& cells, bool header = false) {
    h += "<tr>";
    for (const std::string& c : cells) absl::StrAppend(&h, header ? "<th>" : "<td>", c, header ? "</th>" : "</td>");
    h += "</tr>\n";
  };

  absl::StrAppend(
      &h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
      "<title>Trial report: ", HtmlEscape(in.trial_id), "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n",
      "<header><h1>", HtmlEscape(in.trial_title.empty() ? in.trial_id : in.trial_title), "</h1>\n<p class=\"meta\">",
      "Trial <b>", HtmlEscape(in.trial_id), "</b>; protocol ",
      HtmlEscape(protocol != nullptr ? protocol->protocol_id() : ""), " version ",
      protocol != nullptr ? protocol->version() : 0, "; ledger ", HtmlEscape(in.checkpoint.origin),
      ". Report generated ", HtmlEscape(UtcTimestamp(generated).substr(0, 19)), "Z",
      options.source.empty() ? "" : absl::StrCat(" from ", HtmlEscape(options.source)),
      ". This report renders the signed ledger entries; the export bundle holding them is the "
      "electronic record.</p></header>\n");

  // Verification.
  const VerificationSummary& v = in.verification;
  absl::StrAppend(&h, "<section id=\"verification\"><h2>Verification</h2>\n<div class=\"",
                  v.finding == "ok" ? "ok" : "bad", "\" data-finding=\"", HtmlEscape(v.finding), "\"><b>",
                  v.finding == "ok" ? "Verified" : "NOT verified", "</b>: ", HtmlEscape(v.message), ". ",
                  v.entries_verified, " entries verified (hash chain, Merkle root), ", v.signatures_checked,
                  " envelope signatures checked against the ledger's own principal registry",
                  v.rules_replayed ? ", every protocol rule replayed" : "",
                  absl::StrFormat(" in %.2f s.", v.seconds), "</div>\n",
                  "<p>Checkpoint (C2SP signed note) this report was built from: size <b>", in.checkpoint.size,
                  "</b>, root <code>", Base64Encode(in.checkpoint.root_hash), "</code></p>\n<pre id=\"checkpoint\">",
                  HtmlEscape(in.checkpoint_note), "</pre>\n<p>Ledger verifier key: <code>", HtmlEscape(in.ledger_vkey),
                  "</code></p></section>\n");

  // Summary.
  auto ci = [](const v1::ProportionCi& p) {
    return absl::StrCat(p.numerator(), "/", p.denominator(), " = ", Pct(p.estimate_bp()), " (95% CI ",
                        Pct(p.ci_lower_bp()), " to ", Pct(p.ci_upper_bp()), ", exact Clopper-Pearson)");
  };
  absl::StrAppend(&h, "<section id=\"summary\"><h2>Trial summary</h2>\n<table>\n");
  row({"Objective response rate (confirmed CR + PR / evaluable)",
       absl::StrCat("<span id=\"orr\">", ci(sum.orr()), "</span>")});
  row({"Disease control rate (CR + PR + SD)", ci(sum.disease_control())});
  row({"Best overall response", absl::StrCat("CR ", sum.bor_cr(), ", PR ", sum.bor_pr(), ", SD ", sum.bor_sd(),
                                             ", PD ", sum.bor_pd(), ", NE ", sum.bor_ne())});
  row({"Subjects", absl::StrCat(sum.registered(), " registered, ", sum.consented(), " consented, ",
                                sum.screen_failures(), " screen failures, ", sum.enrolled(), " enrolled, ",
                                sum.treated(), " treated, ", sum.evaluable(), " evaluable, ", sum.on_treatment(),
                                " on treatment, ", sum.withdrawn(), " withdrawn, ", sum.deaths(), " deaths")});
  std::vector<std::string> by_grade;
  for (int g = 0; g < sum.ae_events_by_grade_size(); ++g) {
    by_grade.push_back(absl::StrCat("grade ", g + 1, ": ", sum.ae_events_by_grade(g)));
  }
  row({"Adverse events", absl::StrCat(sum.ae_events(), " events (", absl::StrJoin(by_grade, ", "), "); ",
                                      sum.ae_grade_ge3_events(), " of grade 3 or more in ",
                                      sum.subjects_with_grade_ge3(), " subjects; ", sum.serious_ae_events(),
                                      " serious (", sum.sae_reports_late(), " reported late, ",
                                      sum.sae_reports_pending(), " pending)")});
  row({"Mean relative dose intensity", Pct(sum.mean_relative_dose_intensity_bp())});
  row({"Record keeping", absl::StrCat(sum.corrections(), " corrections, ", sum.outdated_signatures(),
                                      " outdated signatures, ", sum.open_queries(), " open queries; database ",
                                      sum.locked() ? "locked" : "open")});
  h += "</table></section>\n";

  // Plots first after the summary (they are what a reader looks at).
  absl::StrAppend(&h, "<section id=\"swimmer-plot\"><h2>Time on treatment (swimmer plot)</h2>\n",
                  "<p class=\"meta\">One lane per treated subject from the first dose (day 0) to the last dose, "
                  "coloured by confirmed best overall response; circles are RECIST timepoint responses, "
                  "triangles treatment-emergent adverse events by worst grade (black outline: serious); an "
                  "arrow marks treatment still ongoing.</p>\n",
                  SwimmerSvg(SwimmerLanes(in)), "</section>\n");
  absl::StrAppend(&h, "<section id=\"waterfall-plot\"><h2>Best change in target lesions (waterfall plot)</h2>\n",
                  "<p class=\"meta\">Best (lowest) % change of the sum of target-lesion diameters from baseline, "
                  "per subject with a post-baseline assessment of every target lesion, coloured by confirmed "
                  "best overall response. Dashed lines: +20% and -30% (RECIST 1.1).</p>\n",
                  WaterfallSvg(WaterfallBars(in)), "</section>\n");

  // Subjects.
  h += "<section id=\"subjects\"><h2>Subjects</h2>\n<table>\n";
  row({"Subject", "Site", "Age", "Phase", "Consent (ICF)", "Assent", "Finding", "Best overall response",
       "Worst AE grade", "E-signatures"},
      true);
  for (const v1::SubjectState& s : subjects) {
    row({HtmlEscape(s.subject_id()), HtmlEscape(s.site_id()),
         absl::StrCat(s.age_months() / 12, " y ", s.age_months() % 12, " m"), v1::SubjectPhase_Name(s.phase()),
         HtmlEscape(s.consent().icf_version()), v1::AssentStatus_Name(s.consent().assent()),
         HtmlEscape(absl::StrCat(s.eligibility().eligible_gene(),
                                 s.eligibility().fusion_partner().empty() ? "" : "-",
                                 s.eligibility().fusion_partner())),
         absl::StrCat(ResponseLabel(s.recist().bor().response()), s.recist().bor().confirmed() ? " (confirmed)" : ""),
         absl::StrCat(s.worst_ae_grade()),
         absl::StrCat(s.signatures_size(), s.outdated_signatures() ? absl::StrCat(" (", s.outdated_signatures(),
                                                                                  " outdated)")
                                                                   : "")});
  }
  h += "</table></section>\n";

  // Adverse events by term and grade (worst grade per event).
  std::map<std::string, std::array<int, 6>> by_term;  // [1..5] grades, [0] serious
  std::map<std::string, std::set<std::string>> term_subjects;
  for (const v1::SubjectState& s : subjects) {
    for (const v1::AdverseEventState& ae : s.adverse_events()) {
      auto& counts = by_term[ae.ctcae_term()];
      if (ae.worst_grade() >= 1 && ae.worst_grade() <= 5) counts[ae.worst_grade()]++;
      if (ae.serious()) counts[0]++;
      term_subjects[ae.ctcae_term()].insert(s.subject_id());
    }
  }
  h += "<section id=\"adverse-events\"><h2>Adverse events by CTCAE term and worst grade</h2>\n<table>\n";
  row({"Term", "Grade 1", "Grade 2", "Grade 3", "Grade 4", "Grade 5", "Events", "Serious", "Subjects"}, true);
  for (const auto& [term, c] : by_term) {
    const int total = c[1] + c[2] + c[3] + c[4] + c[5];
    absl::StrAppend(&h, "<tr class=\"ae-term\" data-term=\"", HtmlEscape(term), "\"><td>", HtmlEscape(term), "</td>");
    for (int g = 1; g <= 5; ++g) absl::StrAppend(&h, "<td class=\"n\" data-grade=\"", g, "\">", c[g], "</td>");
    absl::StrAppend(&h, "<td class=\"n\">", total, "</td><td class=\"n\">", c[0], "</td><td class=\"n\">",
                    term_subjects[term].size(), "</td></tr>\n");
  }
  h += "</table></section>\n";

  // Dosing.
  h += "<section id=\"dosing\"><h2>Dosing per subject</h2>\n<table>\n";
  row({"Subject", "BSA (m²)", "Prescribed dose", "mg/m² per dose", "Administrations (missed)", "Cumulative mg",
       "Cumulative mg/m²", "Days on treatment", "Relative dose intensity", "Reductions", "Interrupted"},
      true);
  for (const v1::SubjectState& s : subjects) {
    const v1::DosingState& d = s.dosing();
    if (d.administrations() == 0 && d.prescribed_dose_mg() == 0) continue;
    row({HtmlEscape(s.subject_id()), absl::StrFormat("%.2f", s.bsa().bsa_m2_x100() / 100.0),
         absl::StrCat(d.prescribed_dose_mg(), " mg"), absl::StrFormat("%.1f", d.prescribed_mg_per_m2_x10() / 10.0),
         absl::StrCat(d.administrations(), " (", d.missed(), ")"), absl::StrCat(d.cumulative_mg()),
         absl::StrFormat("%.1f", d.cumulative_mg_per_m2_x10() / 10.0), absl::StrCat(d.days_on_treatment()),
         Pct(d.relative_dose_intensity_bp()), absl::StrCat(d.reductions()), d.interrupted() ? "yes" : "no"});
  }
  h += "</table></section>\n";

  // Signature status, corrections and voids by record.
  std::map<std::string, const v1::SignatureState*> sig_state;  // signature entry's event id
  for (const v1::SubjectState& s : subjects) {
    for (const v1::SignatureState& sig : s.signatures()) sig_state[sig.event_id()] = &sig;
  }
  std::map<std::string, uint64_t> index_of;              // event id -> entry index
  std::map<std::string, std::vector<std::string>> notes;  // record event id -> annotations
  auto manifestation = [&](const ledger::ParsedEntry& e) {
    const v1::ESignature& sig = e.envelope.event().trial().e_signature();
    const trial::SignatureDef* def = trial::FindSignatureDef(sig.meaning());
    std::string status;
    auto it = sig_state.find(e.envelope.event_id());
    if (it != sig_state.end() && it->second->status() == v1::SIGNATURE_STATUS_OUTDATED) {
      status = absl::StrCat(" <span class=\"outdated\">OUTDATED by entry ", it->second->outdated_by_index(),
                            "</span>");
    } else if (it != sig_state.end()) {
      status = " (valid)";
    }
    return absl::StrCat("Signed by <b>", HtmlEscape(sig.printed_name()), "</b> on ",
                        HtmlEscape(Local(e.entry.recorded_at_unix_micros(), e.envelope.observed_at().utc_offset_minutes())),
                        " &mdash; meaning: <b>", HtmlEscape(def != nullptr ? def->meaning_word : "?"), "</b> (",
                        HtmlEscape(def != nullptr ? def->oid : ""), ") &ldquo;", HtmlEscape(sig.meaning_text()),
                        "&rdquo;", status);
  };
  for (const ledger::ParsedEntry& e : in.entries) {
    index_of[e.envelope.event_id()] = e.entry.index();
    if (!e.envelope.event().has_trial()) continue;
    const v1::TrialEvent& t = e.envelope.event().trial();
    if (t.has_data_corrected()) {
      const v1::DataCorrected& c = t.data_corrected();
      notes[c.target_event_id()].push_back(absl::StrCat(
          "<span class=\"changed\">Changed by entry ", e.entry.index(), ": ", HtmlEscape(c.field_path()),
          " <span class=\"old\">", HtmlEscape(c.old_value()), "</span> &rarr; <span class=\"new\">",
          HtmlEscape(c.new_value()), "</span></span>"));
    } else if (t.has_event_voided()) {
      notes[t.event_voided().target_event_id()].push_back(
          absl::StrCat("<span class=\"changed\">Voided by entry ", e.entry.index(), "</span>"));
    } else if (t.has_e_signature()) {
      for (const v1::SignedRecord& r : t.e_signature().records()) {
        notes[r.event_id()].push_back(absl::StrCat("<span class=\"sig\">&#9998; ", manifestation(e), " (entry ",
                                                   e.entry.index(), ")</span>"));
      }
    }
  }

  // E-signature manifestations.
  h += "<section id=\"signatures\"><h2>Electronic signatures (21 CFR 11.50 manifestations)</h2>\n<table>\n";
  row({"Entry", "Subject", "Signer", "Date and time (site)", "Meaning", "Statement", "Records", "Status"}, true);
  for (const ledger::ParsedEntry& e : in.entries) {
    if (!e.envelope.event().has_trial() || !e.envelope.event().trial().has_e_signature()) continue;
    const v1::ESignature& sig = e.envelope.event().trial().e_signature();
    const trial::SignatureDef* def = trial::FindSignatureDef(sig.meaning());
    std::vector<std::string> records;
    for (const v1::SignedRecord& r : sig.records()) {
      auto it = index_of.find(r.event_id());
      records.push_back(it == index_of.end() ? "?" : absl::StrCat(it->second));
    }
    auto st = sig_state.find(e.envelope.event_id());
    std::string status = st == sig_state.end()                                       ? "-"
                         : st->second->status() == v1::SIGNATURE_STATUS_OUTDATED ? absl::StrCat(
                                                                                       "<span class=\"outdated\">outdated by entry ",
                                                                                       st->second->outdated_by_index(), "</span>")
                                                                                 : "valid";
    absl::StrAppend(&h, "<tr class=\"manifestation\" data-index=\"", e.entry.index(), "\">");
    for (const std::string& c :
         {absl::StrCat(e.entry.index()), HtmlEscape(SubjectOfStream(e.envelope.stream_id())),
          absl::StrCat(HtmlEscape(sig.printed_name()), " <span class=\"meta\">(", HtmlEscape(e.envelope.actor().principal_id()),
                       ", ", RoleName(e.envelope.actor().role()), ")</span>"),
          HtmlEscape(Local(e.entry.recorded_at_unix_micros(), e.envelope.observed_at().utc_offset_minutes())),
          HtmlEscape(def != nullptr ? absl::StrCat(def->meaning_word, " (", def->oid, ")") : "?"),
          HtmlEscape(sig.meaning_text()), absl::StrJoin(records, ", "), status}) {
      absl::StrAppend(&h, "<td>", c, "</td>");
    }
    h += "</tr>\n";
  }
  h += "</table></section>\n";

  // Audit trail.
  absl::StrAppend(&h, "<section id=\"audit-trail\"><h2>Audit trail (every ledger entry)</h2>\n",
                  "<p class=\"meta\">Recorded: the server's time of the entry; observed: the clinical time; both in "
                  "the site's local time with its UTC offset. Corrections (yellow) show the old and new value and "
                  "the reason; the records they change say so; voided records are struck through; signatures "
                  "(blue) are shown on the records they sign.</p>\n<table>\n");
  row({"#", "Recorded", "Observed", "Stream", "By", "Event", "Details", "Reason"}, true);
  for (const ledger::ParsedEntry& e : in.entries) {
    const v1::Envelope& env = e.envelope;
    const int32_t off = env.observed_at().utc_offset_minutes();
    std::string cls = "entry";
    std::string details;
    if (env.event().has_trial() && env.event().trial().has_data_corrected()) {
      const v1::DataCorrected& c = env.event().trial().data_corrected();
      auto it = index_of.find(c.target_event_id());
      cls = "correction";
      details = absl::StrCat("Correction of entry ", it == index_of.end() ? std::string("?") : absl::StrCat(it->second),
                             ": ", HtmlEscape(c.field_path()), " <span class=\"old\">", HtmlEscape(c.old_value()),
                             "</span> &rarr; <span class=\"new\">", HtmlEscape(c.new_value()), "</span> (",
                             v1::CorrectionReason_Name(c.reason_code()), ")");
    } else if (env.event().has_trial() && env.event().trial().has_event_voided()) {
      auto it = index_of.find(env.event().trial().event_voided().target_event_id());
      cls = "void-entry";
      details = absl::StrCat("Voids entry ", it == index_of.end() ? std::string("?") : absl::StrCat(it->second));
    } else if (env.event().has_trial() && env.event().trial().has_e_signature()) {
      cls = "signature";
      details = manifestation(e);
    } else {
      if (IsAdministrative(e)) cls = "admin";
      details = HtmlEscape(EventSummary(env.event()));
    }
    bool voided = false;
    if (auto it = notes.find(env.event_id()); it != notes.end()) {
      for (const std::string& n : it->second) {
        absl::StrAppend(&details, "<br>", n);
        voided = voided || n.find("Voided by entry") != std::string::npos;
      }
    }
    if (voided) cls += " void";
    absl::StrAppend(&h, "<tr class=\"", cls, "\" data-index=\"", e.entry.index(), "\"><td class=\"n keep\">",
                    e.entry.index(), "</td><td>", HtmlEscape(Local(e.entry.recorded_at_unix_micros(), off)),
                    "</td><td>", HtmlEscape(Local(env.observed_at().unix_micros(), off)), "</td><td>",
                    HtmlEscape(env.stream_id()), "</td><td>", HtmlEscape(env.actor().printed_name()),
                    "<br><span class=\"meta\">", RoleName(env.actor().role()),
                    env.actor().site_id().empty() ? "" : absl::StrCat(", ", HtmlEscape(env.actor().site_id())),
                    "</span></td><td>", HtmlEscape(EventKind(env.event())), "</td><td class=\"keep\">", details,
                    "</td><td>", HtmlEscape(env.reason()), "</td></tr>\n");
  }
  absl::StrAppend(&h, "</table></section>\n<footer class=\"meta\"><p>Generated by trialog from ",
                  in.entries.size(), " verified ledger entries. Times are the sites' local times with their UTC "
                  "offsets.</p></footer>\n</body>\n</html>\n");
  return h;
}

}  // namespace trialog::exporter
