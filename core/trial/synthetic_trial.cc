#include "core/trial/synthetic_trial.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/trial/dosing.h"
#include "core/trial/permissions.h"
#include "core/trial/protocol.h"
#include "core/trial/state_machine.h"

namespace trialog::trial {
namespace {

constexpr int32_t kOffsetMinutes = 180;   // Moscow, UTC+3
constexpr int64_t kStartLocalDay = 20101; // 2025-01-13
constexpr int kAmendmentDay = 120;
constexpr int kCycleDays = 28;
constexpr uint32_t kDoseStepMg = 10;      // 20/50/150 mg pellets

int64_t At(int day, int hh, int mm) {
  return ((kStartLocalDay + day) * 86400LL + hh * 3600LL + mm * 60LL - kOffsetMinutes * 60LL) * 1000000LL;
}

// SplitMix64: small, fast and fully determined by the seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  int Between(int lo, int hi) { return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1)); }
  std::string Bytes(size_t n) {
    std::string out;
    while (out.size() < n) {
      uint64_t v = Next();
      for (int i = 0; i < 8 && out.size() < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    return out;
  }

 private:
  uint64_t state_;
};

v1::Actor MakeActor(const std::string& id, const std::string& name, v1::Role role, const std::string& site) {
  v1::Actor a;
  a.set_principal_id(id);
  a.set_printed_name(name);
  a.set_role(role);
  a.set_site_id(site);
  return a;
}

struct Staff {
  v1::Actor inv, sub, coord, pharm, rad;
};

enum class Scenario {
  kCr, kPrYoung, kPrRos1, kSd, kPdSum, kPdNew, kScreenFailMolecular, kScreenFailCriteria,
  kWithdrawal, kPrUnconfirmed, kCrSae, kPrGrade4, kDeath,
};

struct Timed {
  int64_t t;
  uint64_t seq;
  SyntheticStep step;
};

class Plan {
 public:
  explicit Plan(uint64_t seed) : rng_(seed), ids_(seed ^ 0x5ca1ab1e0ddba11ULL) {}

  Rng& rng() { return rng_; }

  std::string Add(const v1::Actor& actor, const std::string& stream, v1::TrialEvent ev, int64_t t,
                  std::string description, std::string reason = "") {
    SyntheticStep s;
    s.actor = actor;
    s.stream_id = stream;
    std::string id = ids_.Bytes(16);
    id[6] = static_cast<char>((id[6] & 0x0f) | 0x40);  // UUID v4 layout
    id[8] = static_cast<char>((id[8] & 0x3f) | 0x80);
    s.event_id = id;
    *s.event.mutable_trial() = std::move(ev);
    s.observed_at.set_unix_micros(t);
    s.observed_at.set_utc_offset_minutes(kOffsetMinutes);
    s.reason = std::move(reason);
    s.needs_signature_hashes = s.event.trial().has_e_signature();
    s.description = std::move(description);
    steps_.push_back({t, seq_++, std::move(s)});
    return id;
  }
  SyntheticStep& last() { return steps_.back().step; }

  std::vector<SyntheticStep> Sorted() {
    std::stable_sort(steps_.begin(), steps_.end(), [](const Timed& a, const Timed& b) {
      return a.t != b.t ? a.t < b.t : a.seq < b.seq;
    });
    std::vector<SyntheticStep> out;
    for (Timed& t : steps_) out.push_back(std::move(t.step));
    return out;
  }

 private:
  Rng rng_;
  Rng ids_;
  uint64_t seq_ = 0;
  std::vector<Timed> steps_;
};

v1::TrialEvent Signature(v1::SignatureMeaning meaning, const v1::Actor& signer,
                         const std::vector<std::string>& records) {
  v1::TrialEvent e;
  v1::ESignature* s = e.mutable_e_signature();
  s->set_meaning(meaning);
  s->set_meaning_text(std::string(FindSignatureDef(meaning)->legal_text));
  s->set_printed_name(signer.printed_name());
  for (const std::string& id : records) s->add_records()->set_event_id(id);
  return e;
}

struct Lesion {
  const char* id;
  const char* organ;
  bool node;
};

// Target lesion values per assessment: >0 measured (mm x 10), 0 disappeared.
struct Trajectory {
  std::vector<Lesion> lesions;
  bool non_target;
  std::vector<std::vector<uint32_t>> values;  // [0] = baseline
  std::vector<bool> new_lesions;              // per follow-up
};

Trajectory TrajectoryFor(Scenario sc) {
  const std::vector<Lesion> two = {{"T01", "abdominal wall", false}, {"T02", "liver", false}};
  const std::vector<Lesion> with_node = {{"T01", "mesentery", false}, {"T02", "lymph node", true}};
  switch (sc) {
    case Scenario::kCr:
    case Scenario::kCrSae:
      return {two, false, {{520, 240}, {300, 200}, {0, 0}, {0, 0}}, {false, false, false}};
    case Scenario::kPrYoung:
    case Scenario::kPrRos1:
    case Scenario::kPrGrade4:
      return {two, true, {{520, 240}, {340, 160}, {320, 150}, {310, 150}}, {false, false, false}};
    case Scenario::kSd:
    case Scenario::kWithdrawal:
    case Scenario::kDeath:
      return {with_node, true, {{480, 200}, {450, 190}, {440, 180}, {460, 190}}, {false, false, false}};
    case Scenario::kPdSum:
      return {two, false, {{500, 260}, {640, 300}}, {false}};
    case Scenario::kPdNew:
      return {two, false, {{500, 260}, {490, 250}}, {true}};
    case Scenario::kPrUnconfirmed:
      return {two, false, {{520, 240}, {340, 160}, {420, 200}}, {false, false}};
    default:
      return {two, false, {{520, 240}}, {}};
  }
}

v1::TrialEvent Assessment(const Trajectory& tr, size_t j) {
  v1::TrialEvent e;
  v1::TumourAssessment* a = e.mutable_tumour_assessment();
  a->set_baseline(j == 0);
  a->set_method(v1::IMAGING_METHOD_MRI);
  for (size_t i = 0; i < tr.lesions.size(); ++i) {
    v1::TargetLesion* l = a->add_target_lesions();
    l->set_lesion_id(tr.lesions[i].id);
    l->set_organ(tr.lesions[i].organ);
    l->set_is_node(tr.lesions[i].node);
    const uint32_t v = tr.values[j][i];
    if (v > 0) {
      l->set_state(v1::LESION_STATE_MEASURED);
      l->set_diameter_mm_x10(v);
    } else {
      l->set_state(v1::LESION_STATE_DISAPPEARED);
    }
  }
  if (j == 0) {
    a->set_non_target(tr.non_target ? v1::NON_TARGET_STATUS_PRESENT : v1::NON_TARGET_STATUS_UNSPECIFIED);
  } else {
    a->set_non_target(tr.non_target ? v1::NON_TARGET_STATUS_NON_CR_NON_PD : v1::NON_TARGET_STATUS_UNSPECIFIED);
    a->set_new_lesions(tr.new_lesions[j - 1]);
  }
  return e;
}

struct SubjectTimes {
  int64_t consent = 0;
  int64_t end = INT64_MAX;   // screen failure, withdrawal or end of study
};

class SubjectGenerator {
 public:
  SubjectGenerator(Plan* plan, const v1::ProtocolDefinition& p1, const Staff& staff, const v1::Actor& lab,
                   const v1::Actor& monitor, int k, Scenario sc, int site_no)
      : plan_(*plan), p_(p1), st_(staff), lab_(lab), monitor_(monitor), k_(k), sc_(sc) {
    sid_ = absl::StrFormat("RU-%02d-%04d", site_no, k + 1);
    stream_ = "subject/" + sid_;
    site_ = absl::StrFormat("RU-%02d", site_no);
  }

  SubjectTimes Generate();

 private:
  std::string Add(const v1::Actor& a, v1::TrialEvent e, int64_t t, std::string d, std::string reason = "") {
    return plan_.Add(a, stream_, std::move(e), t, absl::StrCat(sid_, ": ", d), std::move(reason));
  }
  std::string Ae(int day, int hh, const char* term, uint32_t grade, std::vector<v1::SeriousnessCriterion> serious,
                 v1::AeOutcome outcome, std::string* ae_id_out);
  void Resolve(const std::string& ae_id, int day, v1::AeOutcome outcome);
  void Diary(int end_day, int hh, uint32_t dose, int period);

  Plan& plan_;
  const v1::ProtocolDefinition& p_;
  const Staff& st_;
  const v1::Actor& lab_;
  const v1::Actor& monitor_;
  int k_;
  Scenario sc_;
  std::string sid_, stream_, site_;
  int ae_counter_ = 0;
};

std::string SubjectGenerator::Ae(int day, int hh, const char* term, uint32_t grade,
                                 std::vector<v1::SeriousnessCriterion> serious, v1::AeOutcome outcome,
                                 std::string* ae_id_out) {
  v1::TrialEvent e;
  v1::AdverseEventReported* a = e.mutable_ae_reported();
  const std::string ae_id = absl::StrFormat("AE-%03d", ++ae_counter_);
  a->set_ae_id(ae_id);
  a->set_verbatim_term(absl::AsciiStrToLower(term));
  a->set_ctcae_term(term);
  a->set_grade(grade);
  for (v1::SeriousnessCriterion c : serious) a->add_serious_criteria(c);
  a->set_aware_at_unix_micros(At(day, hh, 0));
  a->set_causality(grade >= 3 ? v1::CAUSALITY_PROBABLE : v1::CAUSALITY_POSSIBLE);
  a->set_action(grade >= 3 ? v1::AE_ACTION_DRUG_INTERRUPTED : v1::AE_ACTION_DOSE_NOT_CHANGED);
  a->set_outcome(outcome);
  a->set_expected(grade < 3);
  if (ae_id_out) *ae_id_out = ae_id;
  return Add(st_.coord, e, At(day, hh, 0),
             absl::StrCat("adverse event ", ae_id, " ", term, " grade ", grade, serious.empty() ? "" : " (serious)"));
}

void SubjectGenerator::Resolve(const std::string& ae_id, int day, v1::AeOutcome outcome) {
  v1::TrialEvent e;
  e.mutable_ae_resolved()->set_ae_id(ae_id);
  e.mutable_ae_resolved()->set_outcome(outcome);
  Add(st_.coord, e, At(day, 11, 0), absl::StrCat("adverse event ", ae_id, " resolved"));
}

void SubjectGenerator::Diary(int end_day, int hh, uint32_t dose, int period) {
  v1::TrialEvent e;
  v1::DoseAdministered* d = e.mutable_dose_administered();
  const int missed = plan_.rng().Between(0, 3);
  d->set_dose_mg(dose);
  d->set_administrations(static_cast<uint32_t>(std::max(1, 2 * period - missed)));
  d->set_missed(static_cast<uint32_t>(std::min(missed, 2 * period - 1)));
  d->set_period_days(static_cast<uint32_t>(period));
  d->set_administered_by(v1::ADMINISTERED_BY_PARENT);
  Add(st_.coord, e, At(end_day, hh, 0),
      absl::StrCat("dosing diary: ", d->administrations(), " x ", dose, " mg over ", period, " days"));
}

SubjectTimes SubjectGenerator::Generate() {
  Rng& rng = plan_.rng();
  SubjectTimes times;
  const int day0 = 7 + 9 * k_;
  int age_years = 3 + rng.Between(0, 13);
  switch (sc_) {
    case Scenario::kCr: age_years = 10; break;
    case Scenario::kPrYoung: age_years = 4; break;
    case Scenario::kPrRos1: age_years = 15; break;
    case Scenario::kSd: age_years = 8; break;
    case Scenario::kPdSum: age_years = 12; break;
    case Scenario::kPdNew: age_years = 6; break;
    case Scenario::kScreenFailMolecular: age_years = 9; break;
    case Scenario::kScreenFailCriteria: age_years = 13; break;
    case Scenario::kWithdrawal: age_years = 16; break;
    case Scenario::kPrUnconfirmed: age_years = 11; break;
    case Scenario::kCrSae: age_years = 7; break;
    case Scenario::kPrGrade4: age_years = 5; break;
    case Scenario::kDeath: age_years = 14; break;
  }
  const uint32_t age_months = static_cast<uint32_t>(age_years * 12 + rng.Between(0, 11));

  // Screening.
  v1::TrialEvent reg;
  reg.mutable_subject_registered()->set_site_id(site_);
  reg.mutable_subject_registered()->set_age_months(age_months);
  reg.mutable_subject_registered()->set_sex(rng.Between(0, 1) ? v1::SEX_FEMALE : v1::SEX_MALE);
  reg.mutable_subject_registered()->set_dob_commitment(rng.Bytes(32));
  Add(st_.coord, reg, At(day0, 9, 0), absl::StrCat("registered for screening, ", age_years, " years"));

  v1::TrialEvent consent;
  v1::GuardianConsentObtained* gc = consent.mutable_guardian_consent();
  gc->set_icf_version(At(day0, 9, 30) > At(kAmendmentDay, 6, 0) ? "ICF-2.0" : "ICF-1.0");
  for (int i = 0; i < (rng.Between(0, 2) == 0 ? 2 : 1); ++i) {
    v1::ConsentSigner* s = gc->add_signers();
    s->set_role(i == 0 ? v1::GUARDIAN_ROLE_MOTHER : v1::GUARDIAN_ROLE_FATHER);
    s->set_signature_kind(rng.Between(0, 3) == 0 ? v1::CONSENT_SIGNATURE_KIND_PEP_ESIA
                                                 : v1::CONSENT_SIGNATURE_KIND_HANDWRITTEN_PAPER);
    s->set_signed_document_sha256(rng.Bytes(32));
  }
  gc->set_method(v1::CONSENT_METHOD_IN_PERSON);
  gc->set_identity_verification("passport checked");
  gc->set_copy_provided(true);
  times.consent = At(day0, 9, 30);
  const std::string consent_id =
      Add(st_.inv, consent, times.consent, absl::StrCat("guardian consent on ", gc->icf_version()));

  if (age_years >= static_cast<int>(p_.assent_min_age_years())) {
    v1::TrialEvent a;
    a.mutable_assent_obtained()->set_assent_form_version(p_.assent_form_version());
    a.mutable_assent_obtained()->set_method(age_years >= 10 ? v1::ASSENT_METHOD_WRITTEN
                                                             : v1::ASSENT_METHOD_VERBAL_DOCUMENTED);
    a.mutable_assent_obtained()->set_child_signed(age_years >= 10);
    a.mutable_assent_obtained()->set_document_sha256(rng.Bytes(32));
    Add(st_.inv, a, At(day0, 9, 45), "child assent obtained");
  } else {
    v1::TrialEvent a;
    a.mutable_assent_not_obtained()->set_reason(v1::ASSENT_NOT_OBTAINED_REASON_BELOW_ASSENT_AGE);
    Add(st_.inv, a, At(day0, 9, 45), "assent not applicable (below the assent age)");
  }

  auto molecular = [&](const char* gene, v1::MolecularAlteration alt, const char* partner,
                       v1::MolecularMethod method, int hh) {
    v1::TrialEvent e;
    v1::MolecularResultRecorded* m = e.mutable_molecular_result();
    m->set_gene(gene);
    m->set_alteration(alt);
    m->set_fusion_partner(partner);
    m->set_method(method);
    m->set_lab("central molecular lab");
    m->set_report_sha256(rng.Bytes(32));
    return Add(lab_, e, At(day0 + 5, hh, 0),
               absl::StrCat("molecular: ", gene, " ", v1::MolecularAlteration_Name(alt), " ", partner));
  };
  static const char* kAlkPartners[] = {"TPM3", "TPM4", "CLTC", "CARS", "RANBP2", "EML4", "TFG"};
  if (sc_ == Scenario::kPrRos1) {
    molecular("ALK", v1::MOLECULAR_ALTERATION_NEGATIVE, "", v1::MOLECULAR_METHOD_IHC, 11);
    molecular("ROS1", v1::MOLECULAR_ALTERATION_REARRANGEMENT, "YWHAE", v1::MOLECULAR_METHOD_NGS_RNA, 12);
  } else if (sc_ == Scenario::kScreenFailMolecular) {
    molecular("ALK", v1::MOLECULAR_ALTERATION_NEGATIVE, "", v1::MOLECULAR_METHOD_IHC, 11);
    molecular("ROS1", v1::MOLECULAR_ALTERATION_NEGATIVE, "", v1::MOLECULAR_METHOD_NGS_RNA, 12);
    molecular("PDGFRB", v1::MOLECULAR_ALTERATION_FUSION, "NAB2", v1::MOLECULAR_METHOD_NGS_RNA, 13);
  } else {
    molecular("ALK", v1::MOLECULAR_ALTERATION_REARRANGEMENT, kAlkPartners[rng.Between(0, 6)],
              v1::MOLECULAR_METHOD_FISH, 11);
  }

  const Trajectory tr = TrajectoryFor(sc_);
  const bool screen_fail = sc_ == Scenario::kScreenFailMolecular || sc_ == Scenario::kScreenFailCriteria;
  std::string baseline_id;
  if (!screen_fail) {
    baseline_id = Add(st_.rad, Assessment(tr, 0), At(day0 + 3, 10, 0), "baseline tumour assessment (MRI)");
  }

  v1::TrialEvent elig;
  for (const v1::EligibilityCriterion& c : p_.criteria()) {
    v1::CriterionAnswer* a = elig.mutable_eligibility_assessed()->add_answers();
    a->set_code(c.code());
    const bool inclusion = c.category() == v1::CRITERION_CATEGORY_INCLUSION;
    bool yes = inclusion;
    if (sc_ == Scenario::kScreenFailCriteria && c.code() == "INC03") yes = false;
    a->set_result(yes ? v1::CRITERION_RESULT_YES : v1::CRITERION_RESULT_NO);
  }
  const std::string elig_id = Add(st_.coord, elig, At(day0 + 8, 10, 0), "eligibility criteria assessed");
  if (screen_fail) {
    v1::TrialEvent sf;
    sf.mutable_screen_failed()->add_failed_criteria(sc_ == Scenario::kScreenFailCriteria ? "INC03" : "MOLECULAR");
    sf.mutable_screen_failed()->set_comment(sc_ == Scenario::kScreenFailCriteria
                                                ? "no measurable disease on screening MRI"
                                                : "ALK- and ROS1-negative (PDGFRB fusion)");
    times.end = At(day0 + 8, 11, 0);
    Add(st_.inv, sf, times.end, "screen failure");
    return times;
  }
  Add(st_.inv, Signature(v1::SIG_ELIGIBILITY, st_.inv, {elig_id}), At(day0 + 8, 11, 0),
      "investigator signs eligibility (SIG.ELIGIBILITY)");
  v1::TrialEvent enrol;
  enrol.mutable_enrolled()->set_treatment_arm("CRIZOTINIB");
  Add(st_.inv, enrol, At(day0 + 9, 10, 0), "enrolled");

  // Treatment cycles.
  const int d0 = day0 + 10;
  int cycles = 6;
  int assessments = 3;
  switch (sc_) {
    case Scenario::kPdSum:
    case Scenario::kPdNew: cycles = 2; assessments = 1; break;
    case Scenario::kWithdrawal: cycles = 3; assessments = 1; break;
    case Scenario::kPrUnconfirmed: cycles = 4; assessments = 2; break;
    case Scenario::kDeath: cycles = 3; assessments = 1; break;
    default: break;
  }
  uint32_t height_mm = static_cast<uint32_t>((75 + 6 * age_years) * 10 + rng.Between(-40, 40));
  double h_m = height_mm / 1000.0;
  uint32_t weight_g = static_cast<uint32_t>(h_m * h_m * 17000.0 * (0.95 + rng.Between(0, 10) / 100.0));
  uint32_t reduced_dose = 0;  // 0 = no reduction in force

  for (int c = 0; c < cycles; ++c) {
    const int cd = d0 + kCycleDays * c;
    const int j = c / 2;  // assessment j at the start of every second cycle
    if (c > 0 && c % 2 == 0 && j <= assessments) {
      const std::string aid = Add(st_.rad, Assessment(tr, static_cast<size_t>(j)), At(cd, 8, 0),
                                  absl::StrCat("tumour assessment week ", 8 * j));
      Add(st_.inv, Signature(v1::SIG_RESPONSE, st_.inv, {aid}), At(cd, 8, 30),
          "investigator reviews the response (SIG.RESPONSE)");
    }
    // Growth and weight changes: BSA moves between cycles.
    if (c > 0) {
      height_mm += static_cast<uint32_t>(rng.Between(3, 6));
      weight_g = static_cast<uint32_t>(weight_g * (1.0 + rng.Between(-3, 4) / 100.0));
    }
    v1::TrialEvent m;
    m.mutable_body_measurement()->set_height_mm(height_mm);
    m.mutable_body_measurement()->set_weight_g(weight_g);
    if (k_ == 0 && c == 1) {
      // A transcription error, corrected with a reason before dosing.
      const uint32_t typo = weight_g + 3000;
      m.mutable_body_measurement()->set_weight_g(typo);
      const std::string mid = Add(st_.coord, m, At(cd, 9, 0), "height and weight (weight mistyped)");
      v1::TrialEvent corr;
      v1::DataCorrected* dc = corr.mutable_data_corrected();
      dc->set_target_event_id(mid);
      dc->set_field_path("body_measurement.weight_g");
      dc->set_old_value(absl::StrCat(typo));
      dc->set_new_value(absl::StrCat(weight_g));
      dc->set_reason_code(v1::CORRECTION_REASON_TRANSCRIPTION_ERROR);
      Add(st_.coord, corr, At(cd, 9, 10), "weight corrected",
          "transcription error: weight copied from the previous visit's scale reading");
    } else {
      const std::string mid = Add(st_.coord, m, At(cd, 9, 0),
                                  absl::StrFormat("height %.1f cm, weight %.1f kg", height_mm / 10.0, weight_g / 1000.0));
      if (sc_ == Scenario::kSd && c == 1) {
        v1::TrialEvent q;
        q.mutable_query_opened()->set_query_id("Q-0001");
        q.mutable_query_opened()->set_target_event_id(mid);
        q.mutable_query_opened()->set_field_path("body_measurement.weight_g");
        q.mutable_query_opened()->set_text("Weight differs from the previous visit; please confirm against source.");
        Add(monitor_, q, At(cd + 2, 10, 0), "monitor opens query Q-0001");
        v1::TrialEvent qa;
        qa.mutable_query_answered()->set_query_id("Q-0001");
        qa.mutable_query_answered()->set_text("Confirmed against the clinic scale print-out.");
        Add(st_.coord, qa, At(cd + 3, 10, 0), "site answers query Q-0001");
        v1::TrialEvent qc;
        qc.mutable_query_closed()->set_query_id("Q-0001");
        Add(monitor_, qc, At(cd + 4, 10, 0), "monitor closes query Q-0001");
      }
    }
    const uint32_t bsa = MostellerBsaX100(height_mm, weight_g);
    uint32_t dose = RecommendedDoseMg(p_, bsa, kDoseStepMg).value_or(0);
    if (reduced_dose != 0) dose = std::min(dose, reduced_dose);
    if (k_ == 3 && c == 2) {
      // The planted violation: the band dose plus 100 mg, above the cap.
      v1::TrialEvent bad;
      bad.mutable_dose_prescribed()->set_dose_mg(BandFor(p_, bsa).value().dose_mg() + 100);
      bad.mutable_dose_prescribed()->set_bsa_m2_x100(bsa);
      bad.mutable_dose_prescribed()->set_formulation("pellets");
      Add(st_.inv, bad, At(cd, 9, 20), "PLANTED VIOLATION: dose above the protocol cap");
      plan_.last().expect_refused = true;
      plan_.last().expected_rule = "dose.cap";
    }
    v1::TrialEvent rx;
    rx.mutable_dose_prescribed()->set_dose_mg(dose);
    rx.mutable_dose_prescribed()->set_bsa_m2_x100(bsa);
    rx.mutable_dose_prescribed()->set_formulation("crizotinib pellets / capsules per label table");
    if (reduced_dose != 0) rx.mutable_dose_prescribed()->set_override_reason("dose level -1 after toxicity");
    Add(st_.inv, rx, At(cd, 9, 30),
        absl::StrFormat("prescribed %u mg BID at BSA %u.%02u m2", dose, bsa / 100, bsa % 100));
    v1::TrialEvent disp;
    disp.mutable_drug_dispensed()->set_lot(absl::StrFormat("LOT-25%03d", 100 + c));
    disp.mutable_drug_dispensed()->set_formulation("pellets");
    disp.mutable_drug_dispensed()->set_quantity_mg(dose * 2 * kCycleDays);
    Add(st_.pharm, disp, At(cd, 10, 0), "drug dispensed");

    // Background toxicity.
    if (c == 0) {
      std::string ae;
      Ae(cd + 3, 10, "Nausea", 1, {}, v1::AE_OUTCOME_NOT_RECOVERED, &ae);
      Resolve(ae, cd + 6, v1::AE_OUTCOME_RECOVERED);
    }
    if (c == 1 && k_ % 3 == 1) {
      std::string ae;
      Ae(cd + 5, 10, "Blurred vision", 2, {}, v1::AE_OUTCOME_NOT_RECOVERED, &ae);
      Resolve(ae, cd + 20, v1::AE_OUTCOME_RECOVERED);
    }

    // Scenario events inside the cycle.
    if (sc_ == Scenario::kCrSae && c == 2) {
      Diary(cd + 9, 20, dose, 10);
      std::string ae;
      const std::string ae_rec = Ae(cd + 10, 8, "Lung infection", 3, {v1::SERIOUSNESS_CRITERION_HOSPITALIZATION},
                                    v1::AE_OUTCOME_NOT_RECOVERED, &ae);
      v1::TrialEvent stop;
      stop.mutable_dose_modified()->set_action(v1::DOSE_ACTION_INTERRUPTED);
      stop.mutable_dose_modified()->add_trigger_event_ids(ae_rec);
      Add(st_.inv, stop, At(cd + 10, 9, 0), "dosing interrupted", "grade 3 lung infection, hospitalised");
      v1::TrialEvent sae;
      sae.mutable_sae_reported()->set_ae_id(ae);
      sae.mutable_sae_reported()->set_sent_at_unix_micros(At(cd + 11, 4, 0));
      sae.mutable_sae_reported()->set_channel("EDC SAE form");
      sae.mutable_sae_reported()->set_report_sha256(rng.Bytes(32));
      Add(st_.inv, sae, At(cd + 11, 4, 0), "SAE reported to the sponsor (20 h after awareness)");
      Add(st_.inv, Signature(v1::SIG_AE_CAUSALITY, st_.inv, {ae_rec}), At(cd + 11, 10, 0),
          "investigator signs causality (SIG.AE_CAUSALITY)");
      v1::TrialEvent corr;
      v1::DataCorrected* dc = corr.mutable_data_corrected();
      dc->set_target_event_id(ae_rec);
      dc->set_field_path("ae_reported.verbatim_term");
      dc->set_old_value("lung infection");
      dc->set_new_value("community-acquired pneumonia, right lower lobe");
      dc->set_reason_code(v1::CORRECTION_REASON_SOURCE_CLARIFIED);
      Add(st_.coord, corr, At(cd + 12, 9, 0), "AE verbatim term corrected (outdates the causality signature)",
          "source clarified: discharge summary");
      Add(st_.inv, Signature(v1::SIG_AE_CAUSALITY, st_.inv, {ae_rec}), At(cd + 12, 10, 0),
          "investigator re-signs causality on the corrected record");
      v1::TrialEvent upd;
      upd.mutable_ae_updated()->set_ae_id(ae);
      upd.mutable_ae_updated()->set_grade(2);
      upd.mutable_ae_updated()->set_outcome(v1::AE_OUTCOME_RECOVERING);
      Add(st_.coord, upd, At(cd + 14, 10, 0), "AE improved to grade 2");
      reduced_dose = std::max<uint32_t>(kDoseStepMg, dose * 3 / 4 / kDoseStepMg * kDoseStepMg);
      v1::TrialEvent red;
      red.mutable_dose_modified()->set_action(v1::DOSE_ACTION_REDUCED);
      red.mutable_dose_modified()->set_new_dose_mg(reduced_dose);
      red.mutable_dose_modified()->add_trigger_event_ids(ae_rec);
      Add(st_.inv, red, At(cd + 16, 9, 0), absl::StrCat("dose reduced to ", reduced_dose, " mg"),
          "dose level -1 after grade 3 infection");
      v1::TrialEvent res;
      res.mutable_dose_modified()->set_action(v1::DOSE_ACTION_RESUMED);
      Add(st_.inv, res, At(cd + 16, 9, 5), "dosing resumed", "infection improved to grade 2");
      Resolve(ae, cd + 21, v1::AE_OUTCOME_RECOVERED);
      Diary(cd + 27, 18, reduced_dose, 12);
      continue;
    }
    if (sc_ == Scenario::kPrGrade4 && c == 3) {
      Diary(cd + 11, 20, dose, 12);
      std::string ae;
      const std::string ae_rec =
          Ae(cd + 12, 8, "Neutrophil count decreased", 4, {}, v1::AE_OUTCOME_NOT_RECOVERED, &ae);
      v1::TrialEvent stop;
      stop.mutable_dose_modified()->set_action(v1::DOSE_ACTION_INTERRUPTED);
      stop.mutable_dose_modified()->add_trigger_event_ids(ae_rec);
      Add(st_.inv, stop, At(cd + 12, 9, 0), "dosing interrupted", "grade 4 neutropenia");
      Add(st_.inv, Signature(v1::SIG_AE_CAUSALITY, st_.inv, {ae_rec}), At(cd + 12, 11, 0),
          "investigator signs causality (SIG.AE_CAUSALITY)");
      v1::TrialEvent upd;
      upd.mutable_ae_updated()->set_ae_id(ae);
      upd.mutable_ae_updated()->set_grade(2);
      upd.mutable_ae_updated()->set_outcome(v1::AE_OUTCOME_RECOVERING);
      Add(st_.coord, upd, At(cd + 19, 8, 0), "neutropenia improved to grade 2");
      reduced_dose = std::max<uint32_t>(kDoseStepMg, dose * 3 / 4 / kDoseStepMg * kDoseStepMg);
      v1::TrialEvent red;
      red.mutable_dose_modified()->set_action(v1::DOSE_ACTION_REDUCED);
      red.mutable_dose_modified()->set_new_dose_mg(reduced_dose);
      Add(st_.inv, red, At(cd + 19, 9, 0), absl::StrCat("dose reduced to ", reduced_dose, " mg"),
          "dose level -1 after grade 4 neutropenia");
      v1::TrialEvent res;
      res.mutable_dose_modified()->set_action(v1::DOSE_ACTION_RESUMED);
      Add(st_.inv, res, At(cd + 19, 9, 5), "dosing resumed", "ANC recovered to grade 2");
      Resolve(ae, cd + 26, v1::AE_OUTCOME_RECOVERED);
      Diary(cd + 27, 18, reduced_dose, 9);
      continue;
    }
    if (sc_ == Scenario::kDeath && c == 2) {
      Diary(cd + 11, 20, dose, 12);
      std::string ae;
      const std::string ae_rec = Ae(cd + 12, 8, "Sepsis", 3, {v1::SERIOUSNESS_CRITERION_HOSPITALIZATION},
                                    v1::AE_OUTCOME_NOT_RECOVERED, &ae);
      v1::TrialEvent stop;
      stop.mutable_dose_modified()->set_action(v1::DOSE_ACTION_INTERRUPTED);
      stop.mutable_dose_modified()->add_trigger_event_ids(ae_rec);
      Add(st_.inv, stop, At(cd + 12, 9, 0), "dosing interrupted", "grade 3 sepsis, hospitalised");
      v1::TrialEvent sae;
      sae.mutable_sae_reported()->set_ae_id(ae);
      sae.mutable_sae_reported()->set_sent_at_unix_micros(At(cd + 13, 14, 0));
      sae.mutable_sae_reported()->set_channel("EDC SAE form");
      sae.mutable_sae_reported()->set_report_sha256(rng.Bytes(32));
      Add(st_.inv, sae, At(cd + 13, 14, 0), "SAE reported to the sponsor (30 h after awareness: late)");
      Add(st_.inv, Signature(v1::SIG_AE_CAUSALITY, st_.inv, {ae_rec}), At(cd + 13, 15, 0),
          "investigator signs causality (SIG.AE_CAUSALITY)");
      v1::TrialEvent upd;
      upd.mutable_ae_updated()->set_ae_id(ae);
      upd.mutable_ae_updated()->set_grade(5);
      upd.mutable_ae_updated()->add_add_serious_criteria(v1::SERIOUSNESS_CRITERION_DEATH);
      upd.mutable_ae_updated()->set_outcome(v1::AE_OUTCOME_FATAL);
      Add(st_.coord, upd, At(cd + 15, 7, 0), "sepsis fatal (grade 5)");
      v1::TrialEvent eos;
      eos.mutable_end_of_study()->set_reason(v1::DISPOSITION_REASON_DEATH);
      times.end = At(cd + 15, 12, 0);
      Add(st_.inv, eos, times.end, "end of study: death");
      Add(st_.inv, Signature(v1::SIG_CASEBOOK, st_.inv, {}), At(cd + 18, 10, 0),
          "investigator signs the casebook (SIG.CASEBOOK)");
      return times;
    }
    if (sc_ == Scenario::kWithdrawal && c == 2) {
      Diary(cd + 3, 20, dose, 4);
      v1::TrialEvent w;
      w.mutable_consent_withdrawn()->set_scope(v1::WITHDRAWAL_SCOPE_ALL);
      w.mutable_consent_withdrawn()->set_withdrawn_by(v1::WITHDRAWN_BY_CHILD);
      times.end = At(cd + 4, 10, 0);
      Add(st_.inv, w, times.end, "consent withdrawn by the child (16 years)");
      v1::TrialEvent eot;
      eot.mutable_end_of_treatment()->set_reason(v1::DISPOSITION_REASON_WITHDRAWAL_OF_CONSENT);
      Add(st_.inv, eot, At(cd + 4, 11, 0), "end of treatment: withdrawal");
      v1::TrialEvent eos;
      eos.mutable_end_of_study()->set_reason(v1::DISPOSITION_REASON_WITHDRAWAL_OF_CONSENT);
      Add(st_.inv, eos, At(cd + 4, 12, 0), "end of study: withdrawal");
      return times;
    }
    Diary(cd + 27, 18, dose, kCycleDays);
  }

  // Assessments after the last cycle, then disposition.
  const int after = d0 + kCycleDays * cycles;
  const int j = cycles / 2;  // the assessment due after the last cycle
  if (cycles % 2 == 0 && j <= assessments) {
    const std::string aid = Add(st_.rad, Assessment(tr, static_cast<size_t>(j)), At(after, 8, 0),
                                absl::StrCat("tumour assessment week ", 8 * j));
    Add(st_.inv, Signature(v1::SIG_RESPONSE, st_.inv, {aid}), At(after, 8, 30),
        "investigator reviews the response (SIG.RESPONSE)");
  }
  if (sc_ == Scenario::kPdSum || sc_ == Scenario::kPdNew || sc_ == Scenario::kPrUnconfirmed) {
    v1::TrialEvent eot;
    eot.mutable_end_of_treatment()->set_reason(v1::DISPOSITION_REASON_PROGRESSIVE_DISEASE);
    Add(st_.inv, eot, At(after, 12, 0), "end of treatment: progressive disease");
    v1::TrialEvent eos;
    eos.mutable_end_of_study()->set_reason(v1::DISPOSITION_REASON_PROGRESSIVE_DISEASE);
    times.end = At(after + 1, 12, 0);
    Add(st_.inv, eos, times.end, "end of study: progressive disease");
    Add(st_.inv, Signature(v1::SIG_CASEBOOK, st_.inv, {}), At(after + 3, 10, 0),
        "investigator signs the casebook (SIG.CASEBOOK)");
  }
  if (k_ < 3) {
    Add(monitor_, Signature(v1::SIG_SDV, monitor_, {consent_id, elig_id}), At(d0 + 30, 15, 0),
        "monitor verifies consent and eligibility against source (SIG.SDV)");
  }
  return times;
}

}  // namespace

absl::StatusOr<SyntheticTrialPlan> SyntheticTrial(uint64_t seed, int n_subjects) {
  if (n_subjects < 13 || n_subjects > 500) {
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic trial: n_subjects must be in 13..500 (13 cover every scenario), got ", n_subjects));
  }
  SyntheticTrialPlan plan;
  plan.trial_id = "imt-crizotinib-ru-01";
  plan.ledger_origin = "trialog.example/imt-crizotinib-ru-01";
  plan.protocol = ImtCrizotinibProtocol();
  const v1::ProtocolDefinition p2 = ImtCrizotinibProtocolV2();
  plan.admin = MakeActor("sponsor-admin-orlova", "Elena Orlova", v1::ROLE_SPONSOR_ADMIN, "");

  Staff staff[2] = {
      {MakeActor("inv-ru01-petrova", "Dr Anna Petrova", v1::ROLE_INVESTIGATOR, "RU-01"),
       MakeActor("subinv-ru01-ivanov", "Dr Sergei Ivanov", v1::ROLE_SUB_INVESTIGATOR, "RU-01"),
       MakeActor("coord-ru01-smirnova", "Olga Smirnova", v1::ROLE_STUDY_COORDINATOR, "RU-01"),
       MakeActor("pharm-ru01-kuznetsova", "Irina Kuznetsova", v1::ROLE_PHARMACIST, "RU-01"),
       MakeActor("rad-ru01-volkov", "Dr Pavel Volkov", v1::ROLE_RADIOLOGIST, "RU-01")},
      {MakeActor("inv-ru02-morozov", "Dr Dmitry Morozov", v1::ROLE_INVESTIGATOR, "RU-02"),
       MakeActor("subinv-ru02-lebedeva", "Dr Maria Lebedeva", v1::ROLE_SUB_INVESTIGATOR, "RU-02"),
       MakeActor("coord-ru02-novikova", "Tatiana Novikova", v1::ROLE_STUDY_COORDINATOR, "RU-02"),
       MakeActor("pharm-ru02-fedorov", "Alexei Fedorov", v1::ROLE_PHARMACIST, "RU-02"),
       MakeActor("rad-ru02-egorova", "Dr Natalia Egorova", v1::ROLE_RADIOLOGIST, "RU-02")}};
  const v1::Actor monitor = MakeActor("monitor-sokolova", "Svetlana Sokolova", v1::ROLE_MONITOR, "");
  const v1::Actor lab = MakeActor("lab-central-ngs", "Central molecular laboratory", v1::ROLE_EXTERNAL_SYSTEM, "");
  for (const Staff& s : staff) {
    for (const v1::Actor* a : {&s.inv, &s.sub, &s.coord, &s.pharm, &s.rad}) plan.principals.push_back(*a);
  }
  plan.principals.push_back(monitor);
  plan.principals.push_back(lab);

  Plan p(seed);
  // Sites.
  for (int s = 0; s < 2; ++s) {
    v1::TrialEvent e;
    e.mutable_site_activated()->set_site_id(absl::StrFormat("RU-%02d", s + 1));
    e.mutable_site_activated()->set_irb_approval_ref(absl::StrFormat("LEC-2024-%03d", 41 + s));
    e.mutable_site_activated()->add_approved_icf_versions("ICF-1.0");
    e.mutable_site_activated()->add_approved_assent_versions("ASSENT-1.0");
    p.Add(plan.admin, std::string(kTrialStream), e, At(0, 8, 10 * s), absl::StrFormat("site RU-%02d activated", s + 1));
  }

  static const Scenario kAll[] = {
      Scenario::kCr, Scenario::kPrYoung, Scenario::kPrRos1, Scenario::kSd, Scenario::kPdSum,
      Scenario::kPdNew, Scenario::kScreenFailMolecular, Scenario::kScreenFailCriteria, Scenario::kWithdrawal,
      Scenario::kPrUnconfirmed, Scenario::kCrSae, Scenario::kPrGrade4, Scenario::kDeath};
  static const Scenario kExtra[] = {Scenario::kCr, Scenario::kPrYoung, Scenario::kPrRos1, Scenario::kSd,
                                    Scenario::kPdSum, Scenario::kPdNew, Scenario::kPrUnconfirmed,
                                    Scenario::kPrGrade4};
  std::vector<SubjectTimes> times;
  std::vector<std::string> streams;
  std::vector<int> sites;
  for (int k = 0; k < n_subjects; ++k) {
    const Scenario sc = k < 13 ? kAll[k] : kExtra[(k - 13) % 8];
    const int site = k % 2;
    SubjectGenerator g(&p, plan.protocol, staff[site], lab, monitor, k, sc, site + 1);
    times.push_back(g.Generate());
    streams.push_back(absl::StrFormat("subject/RU-%02d-%04d", site + 1, k + 1));
    sites.push_back(site);
  }

  // The amendment: protocol v2 with ICF-2.0, approved at both sites, and
  // re-consent of every subject in the study at that moment.
  {
    v1::TrialEvent e;
    *e.mutable_protocol_amended()->mutable_protocol() = p2;
    p.Add(plan.admin, std::string(kTrialStream), e, At(kAmendmentDay, 6, 0), "protocol amendment 1 (v2, ICF-2.0)");
    for (int s = 0; s < 2; ++s) {
      v1::TrialEvent a;
      a.mutable_site_activated()->set_site_id(absl::StrFormat("RU-%02d", s + 1));
      a.mutable_site_activated()->set_irb_approval_ref(absl::StrFormat("LEC-2025-%03d", 7 + s));
      a.mutable_site_activated()->add_approved_icf_versions("ICF-2.0");
      a.mutable_site_activated()->add_approved_assent_versions("ASSENT-1.0");
      p.Add(plan.admin, std::string(kTrialStream), a, At(kAmendmentDay, 6, 10 + 5 * s),
            absl::StrFormat("ICF-2.0 approved at RU-%02d", s + 1));
    }
    const int64_t t_amend = At(kAmendmentDay, 6, 0);
    int n = 0;
    for (int k = 0; k < n_subjects; ++k) {
      if (!(times[k].consent < t_amend && times[k].end > t_amend)) continue;
      v1::TrialEvent r;
      r.mutable_reconsent()->set_reason(v1::RECONSENT_REASON_NEW_ICF_VERSION);
      r.mutable_reconsent()->set_icf_version("ICF-2.0");
      v1::ConsentSigner* s = r.mutable_reconsent()->add_signers();
      s->set_role(v1::GUARDIAN_ROLE_MOTHER);
      s->set_signature_kind(v1::CONSENT_SIGNATURE_KIND_HANDWRITTEN_PAPER);
      s->set_signed_document_sha256(p.rng().Bytes(32));
      // Between 06:30 and 07:59 on the amendment day, before any visit.
      const int64_t t = At(kAmendmentDay, 6, 30) + static_cast<int64_t>(n++) * 10 * 1000000LL;
      p.Add(staff[sites[k]].inv, streams[k], r, t,
            absl::StrCat(streams[k].substr(8), ": re-consent on ICF-2.0"));
    }
  }

  std::vector<SyntheticStep> steps = p.Sorted();
  // Database lock, an unlock for a late radiology re-read with its
  // correction and re-signature, and the final lock.
  int64_t last = steps.back().observed_at.unix_micros();
  const int last_day = static_cast<int>((last / 1000000LL + kOffsetMinutes * 60LL) / 86400LL - kStartLocalDay);
  Plan tail(seed ^ 0x7a11ULL);
  {
    v1::TrialEvent lock;
    lock.mutable_database_locked()->set_scope("all");
    tail.Add(plan.admin, std::string(kTrialStream), lock, At(last_day + 2, 10, 0), "database locked");
    v1::TrialEvent unlock;
    unlock.mutable_database_unlocked()->set_scope("all");
    tail.Add(plan.admin, std::string(kTrialStream), unlock, At(last_day + 3, 9, 0), "database unlocked",
             "late source: central radiology re-read of RU-02-0004 week 8");
  }
  std::vector<SyntheticStep> out;
  std::vector<SyntheticStep> tail_steps = tail.Sorted();
  for (SyntheticStep& s : steps) out.push_back(std::move(s));
  out.push_back(std::move(tail_steps[0]));
  out.push_back(std::move(tail_steps[1]));
  // Find subject 4's (index 3, RU-02-0004) week-8 assessment.
  const std::string sd_stream = streams[3];
  std::string week8;
  for (const SyntheticStep& s : out) {
    if (s.stream_id == sd_stream && s.event.trial().has_tumour_assessment() &&
        !s.event.trial().tumour_assessment().baseline()) {
      week8 = s.event_id;
      break;
    }
  }
  Plan fix(seed ^ 0xf1ffULL);
  {
    v1::TrialEvent corr;
    v1::DataCorrected* dc = corr.mutable_data_corrected();
    dc->set_target_event_id(week8);
    dc->set_field_path("tumour_assessment.target_lesions[0].diameter_mm_x10");
    dc->set_old_value("450");
    dc->set_new_value("455");
    dc->set_reason_code(v1::CORRECTION_REASON_LATE_SOURCE);
    fix.Add(staff[sites[3]].rad, sd_stream, corr, At(last_day + 3, 10, 0),
            "RU-02-0004: week-8 lesion T01 re-read 45.0 -> 45.5 mm (outdates the response signature)",
            "central radiology re-read");
    fix.Add(staff[sites[3]].inv, sd_stream, Signature(v1::SIG_RESPONSE, staff[sites[3]].inv, {week8}),
            At(last_day + 3, 11, 0), "RU-02-0004: investigator re-signs the week-8 response");
    v1::TrialEvent relock;
    relock.mutable_database_locked()->set_scope("all");
    fix.Add(plan.admin, std::string(kTrialStream), relock, At(last_day + 3, 12, 0), "database locked again");
  }
  for (SyntheticStep& s : fix.Sorted()) out.push_back(std::move(s));
  plan.steps = std::move(out);
  return plan;
}

}  // namespace trialog::trial
