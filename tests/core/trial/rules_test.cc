// Table-driven tests of every rule TrialStateMachine::Check enforces: for
// each rule, from the same state, one accepted case and one refused case
// whose message names the rule.

#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/trial/field_path.h"
#include "tests/core/trial/harness.h"

namespace trialog::trial::testing {
namespace {

using Code = absl::StatusCode;
constexpr Code FP = Code::kFailedPrecondition;
constexpr Code PD = Code::kPermissionDenied;

struct Ctx {
  Ids s1, s2;
  std::map<std::string, std::string> id;
};

struct RuleCase {
  const char* rule;
  Code code;
  std::function<void(Harness&, Ctx&)> setup;
  std::function<Attempt(Harness&, Ctx&)> good;
  std::function<Attempt(Harness&, Ctx&)> bad;
};

const std::string kS1 = "S1", kS2 = "S2";
const std::string kBogusId(16, '\x7f');

Attempt Mol(const std::string& sid) {
  return {kLab, S(sid), Molecular("ALK", v1::MOLECULAR_ALTERATION_REARRANGEMENT, "EML4")};
}
Attempt WithReason(Attempt a, const std::string& reason) {
  a.reason = reason;
  return a;
}
Attempt At(Attempt a, int64_t observed) {
  a.observed = observed;
  return a;
}

std::vector<RuleCase> Cases() {
  using H = Harness;
  return {
      // --- registration and sites
      {"site.not_active", FP, [](H&, Ctx&) {},
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Registered("RU-01", 10)}; },
       [](H&, Ctx&) { return Attempt{kCoord3, S(kS1), Registered("RU-03", 10)}; }},
      {"site.mismatch", PD, [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Consent()}; },
       [](H&, Ctx&) { return Attempt{kInv2, S(kS1), Consent()}; }},
      {"subject.already_registered", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS2), Registered("RU-01", 10)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Registered("RU-01", 10)}; }},
      {"subject.not_registered", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Consent()}; },
       [](H&, Ctx&) { return Attempt{kInv, S("S9"), Consent()}; }},
      // --- consent and assent
      {"consent.required", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); Bring(h, kS2, Stage::kConsented, 5); },
       [](H&, Ctx&) { return Mol(kS2); }, [](H&, Ctx&) { return Mol(kS1); }},
      {"consent.icf_not_current", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Consent("ICF-1.0")}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Consent("ICF-0.9")}; }},
      {"consent.icf_not_approved", FP,
       [](H& h, Ctx&) {
         h.Must({kAdmin, "trial", SiteActivated("RU-03", {"ICF-0.5"})});
         h.Must({kCoord3, S("S3"), Registered("RU-03", 10)});
         Bring(h, kS1, Stage::kRegistered);
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Consent()}; },
       [](H&, Ctx&) { return Attempt{A("inv3", v1::ROLE_INVESTIGATOR, "RU-03"), S("S3"), Consent()}; }},
      {"consent.already_consented", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kConsented); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Reconsent("ICF-1.0")}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Consent()}; }},
      {"assent.required", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kRegistered, 10);
         h.Must({kInv, S(kS1), Consent()});
         Bring(h, kS2, Stage::kConsented, 5);
       },
       [](H&, Ctx&) { return Mol(kS2); }, [](H&, Ctx&) { return Mol(kS1); }},
      {"assent.declined", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kRegistered, 10);
         h.Must({kInv, S(kS1), Consent()});
         h.Must({kInv, S(kS1), NoAssent(v1::ASSENT_NOT_OBTAINED_REASON_DECLINED)});
         Bring(h, kS2, Stage::kConsented, 10);
       },
       [](H&, Ctx&) { return Mol(kS2); }, [](H&, Ctx&) { return Mol(kS1); }},
      {"assent.age_rule", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kRegistered, 10);
         h.Must({kInv, S(kS1), Consent()});
         Bring(h, kS2, Stage::kRegistered, 6);
         h.Must({kInv, S(kS2), Consent()});
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), NoAssent(v1::ASSENT_NOT_OBTAINED_REASON_BELOW_ASSENT_AGE)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), NoAssent(v1::ASSENT_NOT_OBTAINED_REASON_BELOW_ASSENT_AGE)}; }},
      {"assent.form_not_current", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered, 10); h.Must({kInv, S(kS1), Consent()}); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Assent()}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Assent("ASSENT-0.9")}; }},
      {"consent.withdrawn", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kConsented);
         h.Must({kInv, S(kS1), Withdrawn(v1::WITHDRAWAL_SCOPE_ALL)});
         Bring(h, kS2, Stage::kConsented);
       },
       [](H&, Ctx&) { return Mol(kS2); }, [](H&, Ctx&) { return Mol(kS1); }},
      {"consent.reconsent_required", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kConsented);
         h.Must({kAdmin, "trial", Amended(ImtCrizotinibProtocolV2())});
         h.Must({kAdmin, "trial", SiteActivated("RU-01", {"ICF-2.0"})});
         Bring(h, kS2, Stage::kRegistered);
         h.Must({kInv, S(kS2), Consent("ICF-2.0")});
         h.Must({kInv, S(kS2), Assent()});
       },
       [](H&, Ctx&) { return Mol(kS2); }, [](H&, Ctx&) { return Mol(kS1); }},
      {"reconsent.not_consented", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); Bring(h, kS2, Stage::kConsented); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Reconsent("ICF-1.0")}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Reconsent("ICF-1.0")}; }},
      {"withdrawal.not_consented", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); Bring(h, kS2, Stage::kConsented); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Withdrawn(v1::WITHDRAWAL_SCOPE_ALL)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Withdrawn(v1::WITHDRAWAL_SCOPE_ALL)}; }},
      // --- eligibility and enrolment
      {"eligibility.incomplete", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kMolecular); },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Eligibility()}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Eligibility("", "EXC02")}; }},
      {"eligibility.criteria_not_met", FP,
       [](H& h, Ctx& c) {
         Bring(h, kS1, Stage::kMolecular);
         c.id["a1"] = h.Must({kCoord, S(kS1), Eligibility()});
         c.id["a2"] = h.Must({kCoord, S(kS1), Eligibility("INC03")});
       },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.id["a1"]}); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.id["a2"]}); }},
      {"eligibility.molecular", FP,
       [](H& h, Ctx& c) {
         c.s1 = Bring(h, kS1, Stage::kAssessed);
         Bring(h, kS2, Stage::kConsented);
         h.Must({kLab, S(kS2), Molecular("ALK", v1::MOLECULAR_ALTERATION_NEGATIVE)});
         h.Must({kLab, S(kS2), Molecular("ROS1", v1::MOLECULAR_ALTERATION_NEGATIVE)});
         h.Must({kLab, S(kS2), Molecular("PDGFRB", v1::MOLECULAR_ALTERATION_FUSION, "NAB2")});
         c.id["a2"] = h.Must({kCoord, S(kS2), Eligibility()});
       },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.assessment}); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS2, v1::SIG_ELIGIBILITY, {c.id["a2"]}); }},
      {"eligibility.age_limit", FP,
       [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kAssessed, 17); c.s2 = Bring(h, kS2, Stage::kAssessed, 18); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.assessment}); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS2, v1::SIG_ELIGIBILITY, {c.s2.assessment}); }},
      {"enrolment.eligibility_not_signed", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kSigned); Bring(h, kS2, Stage::kAssessed); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Enrolled()}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Enrolled()}; }},
      {"enrolment.already_enrolled", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); Bring(h, kS2, Stage::kSigned); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Enrolled()}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Enrolled()}; }},
      {"eligibility.already_enrolled", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); Bring(h, kS2, Stage::kMolecular); },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS2), Eligibility()}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Eligibility()}; }},
      {"screen_failure.already_enrolled", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); Bring(h, kS2, Stage::kAssessed); },
       [](H&, Ctx&) { v1::TrialEvent e; e.mutable_screen_failed()->add_failed_criteria("INC03");
                      return Attempt{kInv, S(kS2), e}; },
       [](H&, Ctx&) { v1::TrialEvent e; e.mutable_screen_failed()->add_failed_criteria("INC03");
                      return Attempt{kInv, S(kS1), e}; }},
      {"subject.off_study", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kAssessed);
         v1::TrialEvent e;
         e.mutable_screen_failed()->add_failed_criteria("INC03");
         h.Must({kInv, S(kS1), e});
         Bring(h, kS2, Stage::kAssessed);
       },
       [](H&, Ctx&) { return Mol(kS2); }, [](H&, Ctx&) { return Mol(kS1); }},
      // --- dosing
      {"dose.not_enrolled", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kMeasured);
         Bring(h, kS2, Stage::kSigned);
         h.Must({kCoord, S(kS2), Measure(kHeight, kWeight)});
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Prescribe(kDose, kBsa)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Prescribe(kDose, kBsa)}; }},
      {"dose.no_bsa", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kMeasured); Bring(h, kS2, Stage::kBaseline); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Prescribe(kDose, kBsa)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Prescribe(kDose, kBsa)}; }},
      {"dose.bsa_not_latest", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kMeasured);
         h.Must({kCoord, S(kS1), Measure(1500, 26000)});  // sqrt(150 x 26 / 3600) = 1.0408
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Prescribe(kDose, 104)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Prescribe(kDose, 100)}; }},
      // BSA 1.00: the label band gives 300 mg, the 560 mg/m2/day cap 280 mg.
      {"dose.cap", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Prescribe(280, kBsa)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Prescribe(300, kBsa)}; }},
      // Administration after the BSA fell to 0.91 m2: cap 254 mg, band 250 mg.
      {"dose.cap", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kDosed);
         h.Must({kCoord, S(kS1), Measure(1500, 20000)});
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(250)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(280)}; }},
      {"dose.no_label_dose", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kMeasured);
         Bring(h, kS2, Stage::kBaseline);
         h.Must({kCoord, S(kS2), Measure(600, 6000)});  // BSA 0.32
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Prescribe(kDose, kBsa)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Prescribe(100, 32)}; }},
      {"dose.no_prescription", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kPrescribed); Bring(h, kS2, Stage::kMeasured); },
       [](H&, Ctx&) { return Attempt{kPharm, S(kS1), Dispense()}; },
       [](H&, Ctx&) { return Attempt{kPharm, S(kS2), Dispense()}; }},
      {"dose.interrupted", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kDosed);
         h.Must(WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_INTERRUPTED)}, "grade 3 ALT increase"));
         Bring(h, kS2, Stage::kDosed);
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS2), Administer(kDose)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(kDose)}; }},
      {"dose.above_prescription", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kDosed); },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(kDose)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(kDose + 10)}; }},
      {"dose.baseline_required", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kPrescribed);
         Bring(h, kS2, Stage::kEnrolled);
         h.Must({kCoord, S(kS2), Measure(kHeight, kWeight)});
         h.Must({kInv, S(kS2), Prescribe(kDose, kBsa)});
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(kDose)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS2), Administer(kDose)}; }},
      {"dose.after_withdrawal", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kDosed);
         h.Must({kInv, S(kS1), Withdrawn(v1::WITHDRAWAL_SCOPE_TREATMENT_ONLY)});
         Bring(h, kS2, Stage::kDosed);
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS2), Administer(kDose)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(kDose)}; }},
      {"dose.after_end_of_treatment", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kDosed);
         h.Must({kInv, S(kS1), Eot(v1::DISPOSITION_REASON_PHYSICIAN_DECISION)});
         Bring(h, kS2, Stage::kDosed);
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS2), Administer(kDose)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(kDose)}; }},
      {"dose.subject_deceased", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kDosed);
         h.Must({kCoord, S(kS1), AeReported("AE1", 5, {v1::SERIOUSNESS_CRITERION_DEATH}, v1::AE_OUTCOME_FATAL)});
         Bring(h, kS2, Stage::kDosed);
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS2), Administer(kDose)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), Administer(kDose)}; }},
      {"dose_modification.reason_required", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kDosed); },
       [](H&, Ctx&) { return WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_INTERRUPTED)}, "grade 3 AE"); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Modify(v1::DOSE_ACTION_INTERRUPTED)}; }},
      {"dose_modification.already_interrupted", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kDosed);
         h.Must(WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_INTERRUPTED)}, "AE"));
         Bring(h, kS2, Stage::kDosed);
       },
       [](H&, Ctx&) { return WithReason({kInv, S(kS2), Modify(v1::DOSE_ACTION_INTERRUPTED)}, "AE"); },
       [](H&, Ctx&) { return WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_INTERRUPTED)}, "AE"); }},
      {"dose_modification.not_interrupted", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kDosed);
         h.Must(WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_INTERRUPTED)}, "AE"));
         Bring(h, kS2, Stage::kDosed);
       },
       [](H&, Ctx&) { return WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_RESUMED)}, "AE resolved"); },
       [](H&, Ctx&) { return WithReason({kInv, S(kS2), Modify(v1::DOSE_ACTION_RESUMED)}, "AE resolved"); }},
      {"dose_modification.not_a_reduction", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kDosed); },
       [](H&, Ctx&) { return WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_REDUCED, 200)}, "AE"); },
       [](H&, Ctx&) { return WithReason({kInv, S(kS1), Modify(v1::DOSE_ACTION_REDUCED, kDose)}, "AE"); }},
      {"dose_modification.unknown_trigger", FP,
       [](H& h, Ctx& c) {
         Bring(h, kS1, Stage::kDosed);
         c.id["ae"] = h.Must({kCoord, S(kS1), AeReported("AE1", 3)});
       },
       [](H&, Ctx& c) {
         v1::TrialEvent e = Modify(v1::DOSE_ACTION_INTERRUPTED);
         e.mutable_dose_modified()->add_trigger_event_ids(c.id["ae"]);
         return WithReason({kInv, S(kS1), e}, "AE1");
       },
       [](H&, Ctx&) {
         v1::TrialEvent e = Modify(v1::DOSE_ACTION_INTERRUPTED);
         e.mutable_dose_modified()->add_trigger_event_ids(kBogusId);
         return WithReason({kInv, S(kS1), e}, "AE1");
       }},
      // --- adverse events
      {"ae.duplicate_id", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); h.Must({kCoord, S(kS1), AeReported("AE1", 1)}); },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), AeReported("AE2", 1)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), AeReported("AE1", 1)}; }},
      {"ae.grade5_fatal", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); },
       [](H&, Ctx&) {
         return Attempt{kCoord, S(kS1), AeReported("AE1", 5, {v1::SERIOUSNESS_CRITERION_DEATH}, v1::AE_OUTCOME_FATAL)};
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), AeReported("AE1", 5)}; }},
      {"ae.unknown", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); h.Must({kCoord, S(kS1), AeReported("AE1", 1)}); },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), AeUpdated("AE1", 2)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), AeUpdated("AE9", 2)}; }},
      {"ae.closed", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kEnrolled);
         h.Must({kCoord, S(kS1), AeReported("AE1", 1)});
         h.Must({kCoord, S(kS1), AeResolved("AE1")});
         h.Must({kCoord, S(kS1), AeReported("AE2", 1)});
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), AeUpdated("AE2", 2)}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), AeUpdated("AE1", 2)}; }},
      {"ae.not_serious", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kEnrolled);
         h.Must({kCoord, S(kS1), AeReported("AE1", 3, {v1::SERIOUSNESS_CRITERION_HOSPITALIZATION})});
         h.Must({kCoord, S(kS1), AeReported("AE2", 2)});
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), SaeReported("AE1", T(1, 20))}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), SaeReported("AE2", T(1, 20))}; }},
      {"ae.sae_already_reported", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kEnrolled);
         h.Must({kCoord, S(kS1), AeReported("AE1", 3, {v1::SERIOUSNESS_CRITERION_HOSPITALIZATION})});
         h.Must({kCoord, S(kS1), AeReported("AE2", 3, {v1::SERIOUSNESS_CRITERION_HOSPITALIZATION})});
         h.Must({kInv, S(kS1), SaeReported("AE1", T(1, 20))});
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), SaeReported("AE2", T(1, 20))}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), SaeReported("AE1", T(1, 21))}; }},
      // --- RECIST
      {"recist.baseline_exists", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kBaseline); Bring(h, kS2, Stage::kEnrolled); },
       [](H&, Ctx&) { return Attempt{kRad, S(kS2), Tumour(true, {{"T1", 200}})}; },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {{"T1", 200}})}; }},
      {"recist.baseline_after_first_dose", FP,
       [](H& h, Ctx& c) {
         c.s1 = Bring(h, kS1, Stage::kDosed);
         h.Must(WithReason({kCoord, S(kS1), Void(c.s1.baseline)}, "scan of another patient"));
         Bring(h, kS2, Stage::kEnrolled);
       },
       [](H&, Ctx&) { return Attempt{kRad, S(kS2), Tumour(true, {{"T1", 200}})}; },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {{"T1", 200}})}; }},
      {"recist.no_target", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {{"T1", 200}})}; },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {})}; }},
      {"recist.too_many_targets", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {{"A", 200}, {"B", 200}, {"C", 200}, {"D", 200}, {"E", 200}})}; },
       [](H&, Ctx&) {
         return Attempt{kRad, S(kS1), Tumour(true, {{"A", 200}, {"B", 200}, {"C", 200}, {"D", 200}, {"E", 200}, {"F", 200}})};
       }},
      {"recist.too_many_per_organ", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {{"A", 200, false, "liver"}, {"B", 200, false, "liver"}})}; },
       [](H&, Ctx&) {
         return Attempt{kRad, S(kS1),
                        Tumour(true, {{"A", 200, false, "liver"}, {"B", 200, false, "liver"}, {"C", 200, false, "liver"}})};
       }},
      {"recist.target_not_measurable", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {{"A", 100}, {"N", 150, true}})}; },
       [](H&, Ctx&) { return Attempt{kRad, S(kS1), Tumour(true, {{"A", 100}, {"N", 140, true}})}; }},
      {"recist.no_baseline", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kBaseline); Bring(h, kS2, Stage::kEnrolled); },
       [](H&, Ctx&) { return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T2", 300}})}, T(60)); },
       [](H&, Ctx&) { return At({kRad, S(kS2), Tumour(false, {{"T1", 400}, {"T2", 300}})}, T(60)); }},
      {"recist.before_baseline", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kBaseline); },
       [](H&, Ctx&) { return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T2", 300}})}, T(60)); },
       [](H&, Ctx&) { return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T2", 300}})}, T(0, 8)); }},
      {"recist.unknown_lesion", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kBaseline); },
       [](H&, Ctx&) { return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T2", 300}})}, T(60)); },
       [](H&, Ctx&) { return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T9", 300}})}, T(60)); }},
      {"recist.missing_lesion", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kBaseline); },
       [](H&, Ctx&) {
         return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T2", 0, false, "", v1::LESION_STATE_NOT_EVALUATED}})}, T(60));
       },
       [](H&, Ctx&) { return At({kRad, S(kS1), Tumour(false, {{"T1", 400}})}, T(60)); }},
      {"recist.non_target_mismatch", FP, [](H& h, Ctx&) { Bring(h, kS1, Stage::kBaseline); },
       [](H&, Ctx&) { return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T2", 300}})}, T(60)); },
       [](H&, Ctx&) {
         return At({kRad, S(kS1), Tumour(false, {{"T1", 400}, {"T2", 300}}, v1::NON_TARGET_STATUS_NON_CR_NON_PD)}, T(60));
       }},
      // --- disposition
      {"end_of_treatment.not_enrolled", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kEnrolled); Bring(h, kS2, Stage::kSigned); },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Eot(v1::DISPOSITION_REASON_COMPLETED)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Eot(v1::DISPOSITION_REASON_COMPLETED)}; }},
      {"end_of_treatment.already_ended", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kEnrolled);
         h.Must({kInv, S(kS1), Eot(v1::DISPOSITION_REASON_COMPLETED)});
         Bring(h, kS2, Stage::kEnrolled);
       },
       [](H&, Ctx&) { return Attempt{kInv, S(kS2), Eot(v1::DISPOSITION_REASON_COMPLETED)}; },
       [](H&, Ctx&) { return Attempt{kInv, S(kS1), Eot(v1::DISPOSITION_REASON_COMPLETED)}; }},
      // --- corrections
      {"correction.reason_required", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       },
       [](H&, Ctx& c) {
         return Attempt{kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")};
       }},
      {"correction.unknown_target", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       },
       [](H&, Ctx&) { return WithReason({kCoord, S(kS1), Correct(kBogusId, "body_measurement.weight_g", "24000", "24500")}, "typo"); }},
      {"correction.target_voided", FP,
       [](H& h, Ctx& c) {
         c.s1 = Bring(h, kS1, Stage::kMeasured);
         c.id["m2"] = h.Must({kCoord, S(kS1), Measure(1510, 25000)});
         h.Must(WithReason({kCoord, S(kS1), Void(c.id["m2"])}, "entered in error"));
       },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.id["m2"], "body_measurement.weight_g", "25000", "24500")}, "typo");
       }},
      {"correction.not_correctable", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kSigned); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.molecular, "molecular_result.fusion_partner", "TPM3", "TPM4")}, "report");
       },
       [](H&, Ctx& c) {
         return WithReason({kInv, S(kS1), Correct(c.s1.signature, "e_signature.printed_name", "Name of inv", "X")}, "typo");
       }},
      {"correction.author_role", PD, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       },
       [](H&, Ctx& c) {
         return WithReason({kPharm, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       }},
      {"correction.key_field", FP,
       [](H& h, Ctx& c) {
         Bring(h, kS1, Stage::kEnrolled);
         c.id["ae"] = h.Must({kCoord, S(kS1), AeReported("AE1", 1)});
       },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Correct(c.id["ae"], "ae_reported.grade", "1", "2")}, "source"); },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Correct(c.id["ae"], "ae_reported.ae_id", "AE1", "AE2")}, "source"); }},
      {"correction.bad_field_path", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "ae_reported.grade", "0", "2")}, "typo");
       }},
      {"correction.old_value_mismatch", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "25000", "24500")}, "typo");
       }},
      {"correction.no_change", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24000")}, "typo");
       }},
      {"correction.invalid_result", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "2400")}, "typo");
       },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "240")}, "typo");
       }},
      // --- voids
      {"void.reason_required", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Void(c.s1.measurement)}, "wrong patient"); },
       [](H&, Ctx& c) { return Attempt{kCoord, S(kS1), Void(c.s1.measurement)}; }},
      {"void.unknown_target", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Void(c.s1.measurement)}, "wrong patient"); },
       [](H&, Ctx&) { return WithReason({kCoord, S(kS1), Void(kBogusId)}, "wrong patient"); }},
      {"void.already_voided", FP,
       [](H& h, Ctx& c) {
         c.s1 = Bring(h, kS1, Stage::kMeasured);
         c.id["m2"] = h.Must({kCoord, S(kS1), Measure(1510, 25000)});
         h.Must(WithReason({kCoord, S(kS1), Void(c.id["m2"])}, "entered in error"));
       },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Void(c.s1.measurement)}, "wrong patient"); },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Void(c.id["m2"])}, "wrong patient"); }},
      {"void.not_voidable", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Void(c.s1.measurement)}, "wrong patient"); },
       [](H&, Ctx& c) { return WithReason({kCoord, S(kS1), Void(c.s1.consent)}, "wrong patient"); }},
      // --- signatures
      {"signature.printed_name", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kAssessed); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.assessment}); },
       [](H& h, Ctx& c) {
         Attempt a = h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.assessment});
         a.event.mutable_e_signature()->set_printed_name("Dr Someone Else");
         return a;
       }},
      {"signature.meaning_text", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kAssessed); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.assessment}); },
       [](H& h, Ctx& c) {
         Attempt a = h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.assessment});
         a.event.mutable_e_signature()->set_meaning_text("OK");
         return a;
       }},
      {"signature.unknown_record", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H& h, Ctx& c) { return h.SignAttempt(kCoord, kS1, v1::SIG_AUTHOR, {c.s1.measurement}); },
       [](H& h, Ctx& c) {
         Attempt a = h.SignAttempt(kCoord, kS1, v1::SIG_AUTHOR, {c.s1.measurement});
         a.event.mutable_e_signature()->mutable_records(0)->set_event_id(kBogusId);
         return a;
       }},
      {"signature.voided_record", FP,
       [](H& h, Ctx& c) {
         c.s1 = Bring(h, kS1, Stage::kMeasured);
         c.id["m2"] = h.Must({kCoord, S(kS1), Measure(1510, 25000)});
         h.Must(WithReason({kCoord, S(kS1), Void(c.id["m2"])}, "entered in error"));
       },
       [](H& h, Ctx& c) { return h.SignAttempt(kCoord, kS1, v1::SIG_AUTHOR, {c.s1.measurement}); },
       [](H& h, Ctx& c) { return h.SignAttempt(kCoord, kS1, v1::SIG_AUTHOR, {c.id["m2"]}); }},
      {"signature.stale_record", FP,
       [](H& h, Ctx& c) {
         c.s1 = Bring(h, kS1, Stage::kMeasured);
         c.id["old_hash"] = *h.sm.RecordHash(S(kS1), c.s1.measurement);
         h.Must(WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo"));
       },
       [](H& h, Ctx& c) { return h.SignAttempt(kCoord, kS1, v1::SIG_AUTHOR, {c.s1.measurement}); },
       [](H& h, Ctx& c) {
         Attempt a = h.SignAttempt(kCoord, kS1, v1::SIG_AUTHOR, {c.s1.measurement});
         a.event.mutable_e_signature()->mutable_records(0)->set_record_hash(c.id["old_hash"]);
         return a;
       }},
      {"signature.wrong_record_kind", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kMeasured); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.assessment}); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_ELIGIBILITY, {c.s1.measurement}); }},
      {"signature.casebook_not_head", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kEnrolled); },
       [](H& h, Ctx&) { return h.SignAttempt(kInv, kS1, v1::SIG_CASEBOOK, {}); },
       [](H& h, Ctx& c) { return h.SignAttempt(kInv, kS1, v1::SIG_CASEBOOK, {c.s1.consent}); }},
      // --- queries
      {"query.duplicate_id", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); h.Must({kMon, S(kS1), QueryOpened("Q1")}); },
       [](H&, Ctx&) { return Attempt{kMon, S(kS1), QueryOpened("Q2")}; },
       [](H&, Ctx&) { return Attempt{kMon, S(kS1), QueryOpened("Q1")}; }},
      {"query.unknown_target", FP, [](H& h, Ctx& c) { c.s1 = Bring(h, kS1, Stage::kRegistered); },
       [](H&, Ctx& c) { return Attempt{kMon, S(kS1), QueryOpened("Q1", c.s1.reg)}; },
       [](H&, Ctx&) { return Attempt{kMon, S(kS1), QueryOpened("Q1", kBogusId)}; }},
      {"query.unknown", FP,
       [](H& h, Ctx&) { Bring(h, kS1, Stage::kRegistered); h.Must({kMon, S(kS1), QueryOpened("Q1")}); },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), QueryAnswered("Q1")}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), QueryAnswered("Q9")}; }},
      {"query.closed", FP,
       [](H& h, Ctx&) {
         Bring(h, kS1, Stage::kRegistered);
         h.Must({kMon, S(kS1), QueryOpened("Q1")});
         h.Must({kMon, S(kS1), QueryClosed("Q1")});
         h.Must({kMon, S(kS1), QueryOpened("Q2")});
       },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), QueryAnswered("Q2")}; },
       [](H&, Ctx&) { return Attempt{kCoord, S(kS1), QueryAnswered("Q1")}; }},
      // --- lock
      {"lock.database_locked", FP,
       [](H& h, Ctx& c) {
         c.s1 = Bring(h, kS1, Stage::kMeasured);
         h.Must({kAdmin, "trial", Locked()});
       },
       [](H&, Ctx&) { return WithReason({kAdmin, "trial", Unlocked()}, "late lab data"); },
       [](H&, Ctx& c) {
         return WithReason({kCoord, S(kS1), Correct(c.s1.measurement, "body_measurement.weight_g", "24000", "24500")}, "typo");
       }},
      {"lock.already_locked", FP, [](H& h, Ctx&) { h.Must({kAdmin, "trial", Locked()}); },
       [](H&, Ctx&) { return WithReason({kAdmin, "trial", Unlocked()}, "late lab data"); },
       [](H&, Ctx&) { return Attempt{kAdmin, "trial", Locked()}; }},
      {"lock.not_locked", FP, [](H&, Ctx&) {},
       [](H&, Ctx&) { return Attempt{kAdmin, "trial", Locked()}; },
       [](H&, Ctx&) { return WithReason({kAdmin, "trial", Unlocked()}, "late lab data"); }},
      {"lock.unlock_reason_required", FP, [](H& h, Ctx&) { h.Must({kAdmin, "trial", Locked()}); },
       [](H&, Ctx&) { return WithReason({kAdmin, "trial", Unlocked()}, "late lab data"); },
       [](H&, Ctx&) { return Attempt{kAdmin, "trial", Unlocked()}; }},
      // --- amendments
      {"amendment.protocol_id", FP, [](H&, Ctx&) {},
       [](H&, Ctx&) { return Attempt{kAdmin, "trial", Amended(ImtCrizotinibProtocolV2())}; },
       [](H&, Ctx&) {
         v1::ProtocolDefinition p = ImtCrizotinibProtocolV2();
         p.set_protocol_id("OTHER-01");
         return Attempt{kAdmin, "trial", Amended(p)};
       }},
      {"amendment.version", FP, [](H&, Ctx&) {},
       [](H&, Ctx&) { return Attempt{kAdmin, "trial", Amended(ImtCrizotinibProtocolV2())}; },
       [](H&, Ctx&) {
         v1::ProtocolDefinition p = ImtCrizotinibProtocolV2();
         p.set_version(3);
         return Attempt{kAdmin, "trial", Amended(p)};
       }},
  };
}

TEST(Rules, EachRuleAcceptsOneCaseAndRefusesOneNamingTheRule) {
  int n = 0;
  for (const RuleCase& rc : Cases()) {
    SCOPED_TRACE(rc.rule);
    Harness h;
    Sites(h);
    Ctx c;
    rc.setup(h, c);
    Attempt good = rc.good(h, c);
    Attempt bad = rc.bad(h, c);
    absl::Status ok = h.Check(good);
    EXPECT_TRUE(ok.ok()) << rc.rule << " accepted case refused: " << ok;
    absl::Status refused = h.Check(bad);
    EXPECT_EQ(refused.code(), rc.code) << rc.rule << ": " << refused;
    EXPECT_NE(refused.message().find(absl::StrCat("rule ", rc.rule, ":")), std::string::npos)
        << rc.rule << ": " << refused;
    ++n;
  }
  EXPECT_GE(n, 80);
}

TEST(Rules, NothingButNotesWithoutAProtocol) {
  Harness h(ImtCrizotinibProtocol(), /*genesis=*/false);
  absl::Status s = h.Check({kAdmin, "trial", SiteActivated("RU-01", {"ICF-1.0"})});
  EXPECT_EQ(s.code(), FP);
  EXPECT_NE(s.message().find("rule protocol.none"), std::string::npos) << s;
  v1::TrialEvent note;
  note.mutable_note()->set_text("hello");
  EXPECT_TRUE(h.Check({kAdmin, "trial", note}).ok());
}

TEST(Rules, GenesisProtocolMustMatchTheConfiguredOne) {
  TrialStateMachine sm(ImtCrizotinibProtocol());
  v1::Envelope env;
  env.set_stream_id("principals");
  *env.mutable_event()->mutable_genesis()->mutable_protocol() = ImtCrizotinibProtocol();
  EXPECT_TRUE(sm.Check({env, 0, 1, 1}).ok());
  *env.mutable_event()->mutable_genesis()->mutable_protocol() = ImtCrizotinibProtocolV2();
  absl::Status s = sm.Check({env, 0, 1, 1});
  EXPECT_NE(s.message().find("rule genesis.protocol_mismatch"), std::string::npos) << s;
  env.mutable_event()->mutable_genesis()->mutable_protocol()->clear_dose_bands();
  EXPECT_EQ(sm.Check({env, 0, 1, 1}).code(), Code::kInvalidArgument);
}

// --- malformed payloads: INVALID_ARGUMENT naming the field ----------------------

TEST(Shape, MalformedPayloadsAreInvalidArgument) {
  Harness h;
  Sites(h);
  Ids s1 = Bring(h, kS1, Stage::kDosed);
  const struct {
    Attempt attempt;
    const char* what;
  } cases[] = {
      {{kCoord, S(kS1), Measure(300, 24000)}, "height_mm 300"},
      {{kCoord, S(kS1), Measure(1500, 900)}, "weight_g 900"},
      {{kCoord, S(kS1), AeReported("AE1", 7)}, "grade 7"},
      {{kCoord, S(kS1), AeReported("bad id!", 1)}, "ae_id"},
      {{kCoord, S(kS1), Administer(kDose, 2, 0)}, "period_days"},
      {{kCoord, S(kS1), Administer(kDose, 5, 2)}, "administrations per day"},
      {{kRad, S(kS1), Tumour(false, {{"T1", 100}, {"T1", 100}})}, "listed twice"},
      {{kInv, S(kS1), Prescribe(0, kBsa)}, "dose_mg is 0"},
      {{kCoord, "patient/S1", Measure(kHeight, kWeight)}, "subject/<id>"},
      {{kAdmin, S(kS1), Locked()}, "stream \"trial\""},
      {{kCoord, S(kS1), Eligibility()}, ""},  // placeholder replaced below
  };
  for (const auto& c : cases) {
    if (std::string(c.what).empty()) continue;
    absl::Status s = h.Check(c.attempt);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << c.what << ": " << s;
    EXPECT_NE(s.message().find(c.what), std::string::npos) << c.what << ": " << s;
  }
  v1::TrialEvent unknown;
  unknown.mutable_eligibility_assessed()->add_answers()->set_code("INC99");
  EXPECT_EQ(h.Check({kCoord, S(kS1), unknown}).code(), Code::kInvalidArgument);
  EXPECT_EQ(h.Check({kCoord, S(kS1), v1::TrialEvent()}).code(), Code::kInvalidArgument);
  (void)s1;
}

// --- the permission table ----------------------------------------------------------

std::vector<v1::Role> AllRoles() {
  std::vector<v1::Role> roles;
  for (int r = v1::Role_MIN; r <= v1::Role_MAX; ++r) {
    if (v1::Role_IsValid(r)) roles.push_back(static_cast<v1::Role>(r));
  }
  return roles;
}

v1::TrialEvent EventFor(Action a) {
  v1::TrialEvent e;
  auto sig = [&](v1::SignatureMeaning m) {
    e.mutable_e_signature()->set_meaning(m);
    e.mutable_e_signature()->add_records()->set_event_id(kBogusId);
    e.mutable_e_signature()->mutable_records(0)->set_record_hash(std::string(32, 'h'));
  };
  switch (a) {
    case Action::kNote: e.mutable_note()->set_text("n"); break;
    case Action::kProtocolAmended: return Amended(ImtCrizotinibProtocolV2());
    case Action::kSiteActivated: return SiteActivated("RU-09", {"ICF-1.0"});
    case Action::kDatabaseLocked: return Locked();
    case Action::kDatabaseUnlocked: return Unlocked();
    case Action::kSubjectRegistered: return Registered("RU-01", 10);
    case Action::kGuardianConsent: return Consent();
    case Action::kAssentObtained: return Assent();
    case Action::kAssentNotObtained: return NoAssent(v1::ASSENT_NOT_OBTAINED_REASON_NOT_CAPABLE);
    case Action::kReconsent: return Reconsent("ICF-1.0");
    case Action::kConsentWithdrawn: return Withdrawn(v1::WITHDRAWAL_SCOPE_ALL);
    case Action::kMolecularResult: return Molecular("ALK", v1::MOLECULAR_ALTERATION_REARRANGEMENT);
    case Action::kEligibilityAssessed: return Eligibility();
    case Action::kScreenFailed: e.mutable_screen_failed(); break;
    case Action::kEnrolled: return Enrolled();
    case Action::kBodyMeasurement: return Measure(kHeight, kWeight);
    case Action::kDosePrescribed: return Prescribe(kDose, kBsa);
    case Action::kDrugDispensed: return Dispense();
    case Action::kDoseAdministered: return Administer(kDose);
    case Action::kDoseModified: return Modify(v1::DOSE_ACTION_INTERRUPTED);
    case Action::kAeReported: return AeReported("AE1", 1);
    case Action::kAeUpdated: return AeUpdated("AE1", 2);
    case Action::kAeResolved: return AeResolved("AE1");
    case Action::kSaeReported: return SaeReported("AE1", T(1));
    case Action::kTumourAssessment: return Tumour(true, {{"T1", 200}});
    case Action::kEndOfTreatment: return Eot(v1::DISPOSITION_REASON_COMPLETED);
    case Action::kEndOfStudy: return Eos(v1::DISPOSITION_REASON_COMPLETED);
    case Action::kDataCorrected: return Correct(kBogusId, "body_measurement.weight_g", "1", "2");
    case Action::kEventVoided: return Void(kBogusId);
    case Action::kSignEligibility: sig(v1::SIG_ELIGIBILITY); break;
    case Action::kSignAeCausality: sig(v1::SIG_AE_CAUSALITY); break;
    case Action::kSignResponse: sig(v1::SIG_RESPONSE); break;
    case Action::kSignCasebook: sig(v1::SIG_CASEBOOK); break;
    case Action::kSignSdv: sig(v1::SIG_SDV); break;
    case Action::kSignAuthor: sig(v1::SIG_AUTHOR); break;
    case Action::kQueryOpened: return QueryOpened("Q1");
    case Action::kQueryAnswered: return QueryAnswered("Q1");
    case Action::kQueryClosed: return QueryClosed("Q1");
  }
  return e;
}

bool TrialLevel(Action a) {
  return a == Action::kProtocolAmended || a == Action::kSiteActivated || a == Action::kDatabaseLocked ||
         a == Action::kDatabaseUnlocked;
}

absl::Status CheckAs(Harness& h, v1::Role role, Action a) {
  return h.Check({A("p", role, ""), TrialLevel(a) ? "trial" : S(kS1), EventFor(a), 0, "reason"});
}

// Every (role, action): PERMISSION_DENIED exactly when the table has no
// such row, and the event kind maps to the row's action.
TEST(Permissions, TableIsEnforcedForEveryRoleAndAction) {
  Harness h;
  Sites(h);
  Bring(h, kS1, Stage::kRegistered);
  ASSERT_EQ(PermissionTable().size(), static_cast<size_t>(Action::kQueryClosed) + 1);
  for (size_t i = 0; i < PermissionTable().size(); ++i) {
    const PermissionRow& row = PermissionTable()[i];
    ASSERT_EQ(static_cast<size_t>(row.action), i) << row.name;
    ASSERT_EQ(*ActionFor(EventFor(row.action)), row.action) << row.name;
    for (v1::Role role : AllRoles()) {
      absl::Status s = CheckAs(h, role, row.action);
      if (IsPermitted(role, row.action)) {
        EXPECT_NE(s.code(), PD) << v1::Role_Name(role) << " " << row.name << ": " << s;
      } else {
        EXPECT_EQ(s.code(), PD) << v1::Role_Name(role) << " " << row.name << ": " << s;
        EXPECT_NE(s.message().find(absl::StrCat("may not append ", row.name)), std::string::npos) << s;
      }
    }
  }
}

// What the brief and domain.md D.2/D.4 say, written out independently of
// the table.
TEST(Permissions, MatchTheSpecification) {
  Harness h;
  Sites(h);
  Bring(h, kS1, Stage::kRegistered);
  auto allowed = [&](v1::Role r, Action a) { return CheckAs(h, r, a).code() != PD; };
  for (v1::Role ro : {v1::ROLE_AUDITOR, v1::ROLE_REGULATOR, v1::ROLE_UNSPECIFIED}) {
    for (const PermissionRow& row : PermissionTable()) EXPECT_FALSE(allowed(ro, row.action)) << row.name;
  }
  EXPECT_TRUE(allowed(v1::ROLE_PHARMACIST, Action::kDrugDispensed));
  EXPECT_FALSE(allowed(v1::ROLE_INVESTIGATOR, Action::kDrugDispensed));
  EXPECT_FALSE(allowed(v1::ROLE_PHARMACIST, Action::kDosePrescribed));
  EXPECT_FALSE(allowed(v1::ROLE_PHARMACIST, Action::kAeReported));
  for (v1::Role r : {v1::ROLE_INVESTIGATOR, v1::ROLE_SUB_INVESTIGATOR}) {
    EXPECT_TRUE(allowed(r, Action::kSignEligibility));
    EXPECT_TRUE(allowed(r, Action::kDosePrescribed));
  }
  EXPECT_FALSE(allowed(v1::ROLE_STUDY_COORDINATOR, Action::kSignEligibility));
  EXPECT_FALSE(allowed(v1::ROLE_STUDY_COORDINATOR, Action::kDosePrescribed));
  EXPECT_TRUE(allowed(v1::ROLE_INVESTIGATOR, Action::kSignCasebook));
  EXPECT_FALSE(allowed(v1::ROLE_SUB_INVESTIGATOR, Action::kSignCasebook));
  // Monitors: queries and source-data verification, nothing clinical.
  for (const PermissionRow& row : PermissionTable()) {
    const bool want = row.action == Action::kQueryOpened || row.action == Action::kQueryClosed ||
                      row.action == Action::kSignSdv || row.action == Action::kNote;
    EXPECT_EQ(allowed(v1::ROLE_MONITOR, row.action), want) << row.name;
  }
  EXPECT_TRUE(allowed(v1::ROLE_SPONSOR_ADMIN, Action::kProtocolAmended));
  EXPECT_TRUE(allowed(v1::ROLE_SPONSOR_ADMIN, Action::kDatabaseLocked));
  EXPECT_FALSE(allowed(v1::ROLE_SPONSOR_ADMIN, Action::kDosePrescribed));
  EXPECT_FALSE(allowed(v1::ROLE_INVESTIGATOR, Action::kDatabaseLocked));
}

// --- field paths (corrections) ----------------------------------------------------------

TEST(FieldPath, ReadsAndWritesCanonicalText) {
  v1::TrialEvent e = Tumour(false, {{"T1", 400}, {"T2", 0}}, v1::NON_TARGET_STATUS_UNSPECIFIED, true);
  EXPECT_EQ(*GetFieldText(e, "tumour_assessment.target_lesions[0].diameter_mm_x10"), "400");
  EXPECT_EQ(*GetFieldText(e, "tumour_assessment.target_lesions[1].state"), "LESION_STATE_DISAPPEARED");
  EXPECT_EQ(*GetFieldText(e, "tumour_assessment.new_lesions"), "true");
  ASSERT_TRUE(SetFieldText(&e, "tumour_assessment.target_lesions[1].state", "LESION_STATE_MEASURED").ok());
  ASSERT_TRUE(SetFieldText(&e, "tumour_assessment.target_lesions[1].diameter_mm_x10", "55").ok());
  EXPECT_EQ(e.tumour_assessment().target_lesions(1).diameter_mm_x10(), 55u);
  v1::TrialEvent m = Molecular("ALK", v1::MOLECULAR_ALTERATION_REARRANGEMENT);
  m.mutable_molecular_result()->set_report_sha256(std::string("\x01\xab", 2));
  EXPECT_EQ(*GetFieldText(m, "molecular_result.report_sha256"), "01ab");
}

TEST(FieldPath, RejectsNonCanonicalValuesAndBadPaths) {
  v1::TrialEvent e = Measure(kHeight, kWeight);
  for (const char* v : {"+5", "05", " 5", "5 ", "-5", "5.0", "", "99999999999"}) {
    EXPECT_EQ(SetFieldText(&e, "body_measurement.weight_g", v).code(), Code::kInvalidArgument) << v;
  }
  v1::TrialEvent t = Tumour(true, {{"T1", 400}});
  EXPECT_EQ(SetFieldText(&t, "tumour_assessment.baseline", "TRUE").code(), Code::kInvalidArgument);
  EXPECT_EQ(SetFieldText(&t, "tumour_assessment.method", "MRI").code(), Code::kInvalidArgument);
  v1::TrialEvent m = Molecular("ALK", v1::MOLECULAR_ALTERATION_REARRANGEMENT);
  EXPECT_EQ(SetFieldText(&m, "molecular_result.report_sha256", "01AB").code(), Code::kInvalidArgument);
  EXPECT_EQ(GetFieldText(e, "body_measurement.weight").status().code(), Code::kNotFound);
  EXPECT_EQ(GetFieldText(e, "body_measurement").status().code(), Code::kNotFound);
  EXPECT_EQ(GetFieldText(t, "tumour_assessment.target_lesions[3].lesion_id").status().code(), Code::kNotFound);
  EXPECT_EQ(GetFieldText(t, "tumour_assessment.target_lesions.lesion_id").status().code(), Code::kNotFound);
  for (const char* p : {"", ".", "a..b", "Body.x", "a[01].b", "a[x]", "a[1", "a]"}) {
    EXPECT_EQ(GetFieldText(e, p).status().code(), Code::kInvalidArgument) << p;
  }
}

}  // namespace
}  // namespace trialog::trial::testing

namespace trialog::trial::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> RuleIdsInSource() {
  std::set<std::string> ids;
  const std::regex re("(?:Rule\\(\"|rule )([a-z_0-9]+\\.[a-z_0-9]+)");
  for (const char* f : {"state_machine.cc", "dosing.cc", "recist.cc", "projection.cc"}) {
    const std::string src = ReadFile(std::string(TRIALOG_SOURCE_DIR) + "/core/trial/" + f);
    for (auto it = std::sregex_iterator(src.begin(), src.end(), re); it != std::sregex_iterator(); ++it) {
      ids.insert((*it)[1]);
    }
  }
  return ids;
}

// Every rule the code can refuse with has a table-driven case (or its own
// test) and is listed in docs/TRIAL.md.
TEST(Rules, EveryRuleInTheCodeIsTestedAndDocumented) {
  std::set<std::string> tested = {"protocol.none", "genesis.protocol_mismatch",
                                  // need a protocol with a table: dose_reduction_test.cc
                                  "dose.reduction_table", "dose.reduction_exhausted"};
  for (const RuleCase& rc : Cases()) tested.insert(rc.rule);
  const std::string doc = ReadFile(std::string(TRIALOG_SOURCE_DIR) + "/docs/TRIAL.md");
  const std::set<std::string> ids = RuleIdsInSource();
  EXPECT_GT(ids.size(), 80u);
  for (const std::string& id : ids) {
    EXPECT_TRUE(tested.count(id)) << "rule " << id << " has no test case";
    EXPECT_NE(doc.find("`" + id + "`"), std::string::npos) << "rule " << id << " is not in docs/TRIAL.md";
  }
}

// docs/TRIAL.md's permission table is the code's.
TEST(Permissions, DocumentedTableMatchesTheCode) {
  const std::string doc = ReadFile(std::string(TRIALOG_SOURCE_DIR) + "/docs/TRIAL.md");
  const size_t start = doc.find("## Permissions");
  ASSERT_NE(start, std::string::npos);
  std::map<std::string, std::string> rows;
  std::istringstream lines(doc.substr(start, doc.find("\n## ", start + 1) - start));
  std::string line;
  const std::regex row("^\\| ([A-Za-z_/]+) \\| ([A-Z_, ]+) \\|$");
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, row)) rows[m[1]] = m[2];
  }
  ASSERT_EQ(rows.size(), PermissionTable().size());
  for (const PermissionRow& r : PermissionTable()) {
    std::string roles;
    for (v1::Role role : r.roles) {
      absl::StrAppend(&roles, roles.empty() ? "" : ", ", v1::Role_Name(role).substr(5));
    }
    EXPECT_EQ(rows[std::string(r.name)], roles) << r.name;
  }
}

}  // namespace
}  // namespace trialog::trial::testing
