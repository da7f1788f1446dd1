// Test harness for core/trial: builds envelopes as protobuf messages, wraps
// them as ledger::Candidate / ParsedEntry (no signatures: this library does
// not verify them) and runs them through a TrialStateMachine.

#ifndef TRIALOG_TESTS_CORE_TRIAL_HARNESS_H_
#define TRIALOG_TESTS_CORE_TRIAL_HARNESS_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/crypto/crypto.h"
#include "core/ledger/entry.h"
#include "core/trial/permissions.h"
#include "core/trial/protocol.h"
#include "core/trial/state_machine.h"
#include "core/trial/synthetic_trial.h"
#include "core/util/bytes.h"
#include "gtest/gtest.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::trial::testing {

inline constexpr int32_t kOffset = 180;
inline constexpr int64_t kDay0 = 20101;  // 2025-01-13 local

// Local day `day` at hh:mm (+03:00) as UTC micros.
inline int64_t T(int day, int hh = 9, int mm = 0) {
  return ((kDay0 + day) * 86400LL + hh * 3600LL + mm * 60LL - kOffset * 60LL) * 1000000LL;
}

inline v1::Actor A(const std::string& id, v1::Role role, const std::string& site = "RU-01",
                   const std::string& name = "") {
  v1::Actor a;
  a.set_principal_id(id);
  a.set_printed_name(name.empty() ? "Name of " + id : name);
  a.set_role(role);
  a.set_site_id(site);
  return a;
}

inline const v1::Actor kAdmin = A("admin", v1::ROLE_SPONSOR_ADMIN, "");
inline const v1::Actor kInv = A("inv", v1::ROLE_INVESTIGATOR);
inline const v1::Actor kSub = A("sub", v1::ROLE_SUB_INVESTIGATOR);
inline const v1::Actor kCoord = A("coord", v1::ROLE_STUDY_COORDINATOR);
inline const v1::Actor kPharm = A("pharm", v1::ROLE_PHARMACIST);
inline const v1::Actor kRad = A("rad", v1::ROLE_RADIOLOGIST);
inline const v1::Actor kMon = A("mon", v1::ROLE_MONITOR, "");
inline const v1::Actor kDm = A("dm", v1::ROLE_DATA_MANAGER, "");
inline const v1::Actor kLab = A("lab", v1::ROLE_EXTERNAL_SYSTEM, "");
inline const v1::Actor kInv2 = A("inv2", v1::ROLE_INVESTIGATOR, "RU-02");
inline const v1::Actor kCoord3 = A("coord3", v1::ROLE_STUDY_COORDINATOR, "RU-03");

struct Attempt {
  Attempt() = default;
  Attempt(v1::Actor a, std::string s, v1::TrialEvent e, int64_t o = 0, std::string r = "")
      : actor(std::move(a)), stream(std::move(s)), event(std::move(e)), observed(o), reason(std::move(r)) {}
  v1::Actor actor;
  std::string stream;
  v1::TrialEvent event;
  int64_t observed = 0;  // 0: the harness clock
  std::string reason;
};

inline std::string S(const std::string& sid) { return "subject/" + sid; }

class Harness {
 public:
  explicit Harness(const v1::ProtocolDefinition& p = ImtCrizotinibProtocol(), bool genesis = true) {
    if (genesis) {
      v1::Envelope env = Base(kAdmin, "principals", T(0, 7), "");
      *env.mutable_event()->mutable_genesis()->mutable_protocol() = p;
      env.mutable_event()->mutable_genesis()->set_ledger_origin("test/imt");
      Commit(env);
    }
  }

  v1::Envelope Envelope(const Attempt& a) {
    v1::Envelope env = Base(a.actor, a.stream, a.observed ? a.observed : Next(), a.reason);
    *env.mutable_event()->mutable_trial() = a.event;
    return env;
  }

  absl::Status CheckEnvelope(const v1::Envelope& env) const {
    ledger::Candidate c{env, next_index(), RecordedAt(next_index()), StreamVersion(env.stream_id())};
    return sm.Check(c);
  }
  absl::Status Check(const Attempt& a) { return CheckEnvelope(Envelope(a)); }

  // Check, then Apply when OK.
  absl::Status Append(const Attempt& a) { return AppendEnvelope(Envelope(a)); }
  absl::Status AppendEnvelope(const v1::Envelope& env) {
    absl::Status s = CheckEnvelope(env);
    if (s.ok()) Commit(env);
    return s;
  }

  // Append that must succeed; returns the event id.
  std::string Must(const Attempt& a) {
    v1::Envelope env = Envelope(a);
    absl::Status s = AppendEnvelope(env);
    EXPECT_TRUE(s.ok()) << s << " for " << a.event.ShortDebugString();
    return env.event_id();
  }

  // Fills signature hashes from the live state, then Must().
  std::string Sign(const v1::Actor& actor, const std::string& sid, v1::SignatureMeaning meaning,
                   std::initializer_list<std::string> records) {
    return Must(SignAttempt(actor, sid, meaning, records));
  }
  Attempt SignAttempt(const v1::Actor& actor, const std::string& sid, v1::SignatureMeaning meaning,
                      std::initializer_list<std::string> records) {
    Attempt a{actor, S(sid), {}};
    v1::ESignature* sig = a.event.mutable_e_signature();
    sig->set_meaning(meaning);
    sig->set_meaning_text(std::string(FindSignatureDef(meaning)->legal_text));
    sig->set_printed_name(actor.printed_name());
    for (const std::string& r : records) sig->add_records()->set_event_id(r);
    absl::Status s = sm.FillSignatureHashes(S(sid), sig);
    EXPECT_TRUE(s.ok()) << s;
    return a;
  }

  const std::vector<ledger::ParsedEntry>& entries() const { return entries_; }
  uint64_t next_index() const { return entries_.size(); }
  static int64_t RecordedAt(uint64_t index) { return 1760000000000000LL + static_cast<int64_t>(index) * 1000000; }
  int64_t Next() { return T(0, 8) + (++clock_) * 3600LL * 1000000LL; }
  void SetClock(int day) { clock_ = static_cast<int64_t>(day) * 24; }

  TrialStateMachine sm;

 private:
  v1::Envelope Base(const v1::Actor& actor, const std::string& stream, int64_t observed, const std::string& reason) {
    v1::Envelope env;
    env.set_trial_id("imt");
    env.set_stream_id(stream);
    env.set_event_id(std::string(8, '\x42') + EncodeBigEndian64(++ids_));
    env.mutable_observed_at()->set_unix_micros(observed);
    env.mutable_observed_at()->set_utc_offset_minutes(kOffset);
    *env.mutable_actor() = actor;
    env.set_reason(reason);
    return env;
  }
  uint64_t StreamVersion(const std::string& stream) const {
    auto it = versions_.find(stream);
    return it == versions_.end() ? 1 : it->second + 1;
  }
  void Commit(const v1::Envelope& env) {
    ledger::ParsedEntry pe;
    pe.envelope = env;
    pe.entry.set_index(next_index());
    pe.entry.set_prev_leaf_hash(entries_.empty() ? ledger::ZeroHash() : entries_.back().leaf_hash);
    pe.entry.set_recorded_at_unix_micros(RecordedAt(next_index()));
    pe.entry.set_stream_version(StreamVersion(env.stream_id()));
    pe.entry.mutable_signed_envelope()->set_envelope(env.SerializeAsString());
    pe.entry.mutable_signed_envelope()->set_signature(std::string(64, '\0'));
    pe.bytes = pe.entry.SerializeAsString();
    pe.leaf_hash = crypto::Sha256(std::string(1, '\0') + pe.bytes);
    versions_[env.stream_id()] = pe.entry.stream_version();
    sm.Apply(pe);
    entries_.push_back(std::move(pe));
  }

  std::vector<ledger::ParsedEntry> entries_;
  std::map<std::string, uint64_t> versions_;
  uint64_t ids_ = 0;
  int64_t clock_ = 0;
};

// --- event builders --------------------------------------------------------

inline v1::TrialEvent SiteActivated(const std::string& site, std::initializer_list<std::string> icfs) {
  v1::TrialEvent e;
  e.mutable_site_activated()->set_site_id(site);
  e.mutable_site_activated()->set_irb_approval_ref("LEC-1");
  for (const std::string& v : icfs) e.mutable_site_activated()->add_approved_icf_versions(v);
  return e;
}
inline v1::TrialEvent Registered(const std::string& site, uint32_t age_years, uint32_t extra_months = 0) {
  v1::TrialEvent e;
  e.mutable_subject_registered()->set_site_id(site);
  e.mutable_subject_registered()->set_age_months(age_years * 12 + extra_months);
  e.mutable_subject_registered()->set_sex(v1::SEX_FEMALE);
  return e;
}
inline v1::TrialEvent Consent(const std::string& icf = "ICF-1.0") {
  v1::TrialEvent e;
  v1::GuardianConsentObtained* c = e.mutable_guardian_consent();
  c->set_icf_version(icf);
  c->set_method(v1::CONSENT_METHOD_IN_PERSON);
  v1::ConsentSigner* s = c->add_signers();
  s->set_role(v1::GUARDIAN_ROLE_MOTHER);
  s->set_signature_kind(v1::CONSENT_SIGNATURE_KIND_HANDWRITTEN_PAPER);
  s->set_signed_document_sha256(std::string(32, '\x11'));
  return e;
}
inline v1::TrialEvent Reconsent(const std::string& icf) {
  v1::TrialEvent e;
  e.mutable_reconsent()->set_reason(v1::RECONSENT_REASON_NEW_ICF_VERSION);
  e.mutable_reconsent()->set_icf_version(icf);
  v1::ConsentSigner* s = e.mutable_reconsent()->add_signers();
  s->set_role(v1::GUARDIAN_ROLE_FATHER);
  s->set_signature_kind(v1::CONSENT_SIGNATURE_KIND_PEP_ESIA);
  s->set_signed_document_sha256(std::string(32, '\x12'));
  return e;
}
inline v1::TrialEvent Assent(const std::string& form = "ASSENT-1.0") {
  v1::TrialEvent e;
  e.mutable_assent_obtained()->set_assent_form_version(form);
  e.mutable_assent_obtained()->set_method(v1::ASSENT_METHOD_WRITTEN);
  return e;
}
inline v1::TrialEvent NoAssent(v1::AssentNotObtainedReason reason) {
  v1::TrialEvent e;
  e.mutable_assent_not_obtained()->set_reason(reason);
  return e;
}
inline v1::TrialEvent Withdrawn(v1::WithdrawalScope scope) {
  v1::TrialEvent e;
  e.mutable_consent_withdrawn()->set_scope(scope);
  e.mutable_consent_withdrawn()->set_withdrawn_by(v1::WITHDRAWN_BY_GUARDIAN);
  return e;
}
inline v1::TrialEvent Molecular(const std::string& gene, v1::MolecularAlteration alt, const std::string& partner = "") {
  v1::TrialEvent e;
  e.mutable_molecular_result()->set_gene(gene);
  e.mutable_molecular_result()->set_alteration(alt);
  e.mutable_molecular_result()->set_fusion_partner(partner);
  e.mutable_molecular_result()->set_method(v1::MOLECULAR_METHOD_FISH);
  return e;
}
// Answers every criterion of the seed protocol as met, except `no` (set to
// the failing answer) and `skip` (left out).
inline v1::TrialEvent Eligibility(const std::string& fail = "", const std::string& skip = "") {
  v1::TrialEvent e;
  const v1::ProtocolDefinition protocol = ImtCrizotinibProtocol();
  for (const v1::EligibilityCriterion& c : protocol.criteria()) {
    if (c.code() == skip) continue;
    v1::CriterionAnswer* a = e.mutable_eligibility_assessed()->add_answers();
    a->set_code(c.code());
    bool yes = c.category() == v1::CRITERION_CATEGORY_INCLUSION;
    if (c.code() == fail) yes = !yes;
    a->set_result(yes ? v1::CRITERION_RESULT_YES : v1::CRITERION_RESULT_NO);
  }
  return e;
}
inline v1::TrialEvent Enrolled() {
  v1::TrialEvent e;
  e.mutable_enrolled()->set_treatment_arm("CRIZOTINIB");
  return e;
}
inline v1::TrialEvent Measure(uint32_t height_mm, uint32_t weight_g) {
  v1::TrialEvent e;
  e.mutable_body_measurement()->set_height_mm(height_mm);
  e.mutable_body_measurement()->set_weight_g(weight_g);
  return e;
}
inline v1::TrialEvent Prescribe(uint32_t dose, uint32_t bsa_x100) {
  v1::TrialEvent e;
  e.mutable_dose_prescribed()->set_dose_mg(dose);
  e.mutable_dose_prescribed()->set_bsa_m2_x100(bsa_x100);
  return e;
}
inline v1::TrialEvent Dispense() {
  v1::TrialEvent e;
  e.mutable_drug_dispensed()->set_lot("LOT-1");
  e.mutable_drug_dispensed()->set_quantity_mg(1000);
  return e;
}
inline v1::TrialEvent Administer(uint32_t dose, uint32_t n = 2, uint32_t period = 1, uint32_t missed = 0) {
  v1::TrialEvent e;
  e.mutable_dose_administered()->set_dose_mg(dose);
  e.mutable_dose_administered()->set_administrations(n);
  e.mutable_dose_administered()->set_missed(missed);
  e.mutable_dose_administered()->set_period_days(period);
  return e;
}
inline v1::TrialEvent Modify(v1::DoseAction action, uint32_t new_dose = 0) {
  v1::TrialEvent e;
  e.mutable_dose_modified()->set_action(action);
  e.mutable_dose_modified()->set_new_dose_mg(new_dose);
  return e;
}
inline v1::TrialEvent AeReported(const std::string& id, uint32_t grade,
                                 std::initializer_list<v1::SeriousnessCriterion> serious = {},
                                 v1::AeOutcome outcome = v1::AE_OUTCOME_NOT_RECOVERED) {
  v1::TrialEvent e;
  v1::AdverseEventReported* a = e.mutable_ae_reported();
  a->set_ae_id(id);
  a->set_verbatim_term("nausea");
  a->set_ctcae_term("Nausea");
  a->set_grade(grade);
  for (auto c : serious) a->add_serious_criteria(c);
  a->set_aware_at_unix_micros(T(1));
  a->set_outcome(outcome);
  return e;
}
inline v1::TrialEvent AeUpdated(const std::string& id, uint32_t grade) {
  v1::TrialEvent e;
  e.mutable_ae_updated()->set_ae_id(id);
  e.mutable_ae_updated()->set_grade(grade);
  return e;
}
inline v1::TrialEvent AeResolved(const std::string& id) {
  v1::TrialEvent e;
  e.mutable_ae_resolved()->set_ae_id(id);
  e.mutable_ae_resolved()->set_outcome(v1::AE_OUTCOME_RECOVERED);
  return e;
}
inline v1::TrialEvent SaeReported(const std::string& id, int64_t sent_at) {
  v1::TrialEvent e;
  e.mutable_sae_reported()->set_ae_id(id);
  e.mutable_sae_reported()->set_sent_at_unix_micros(sent_at);
  return e;
}

struct L {
  std::string id;
  uint32_t mm_x10;  // 0 = disappeared
  bool node = false;
  std::string organ = "";
  v1::LesionState state = v1::LESION_STATE_UNSPECIFIED;  // default: MEASURED or DISAPPEARED
};
inline v1::TrialEvent Tumour(bool baseline, std::vector<L> lesions,
                             v1::NonTargetStatus nt = v1::NON_TARGET_STATUS_UNSPECIFIED, bool new_lesions = false) {
  v1::TrialEvent e;
  v1::TumourAssessment* t = e.mutable_tumour_assessment();
  t->set_baseline(baseline);
  t->set_method(v1::IMAGING_METHOD_CT);
  t->set_non_target(nt);
  t->set_new_lesions(new_lesions);
  for (const L& l : lesions) {
    v1::TargetLesion* x = t->add_target_lesions();
    x->set_lesion_id(l.id);
    x->set_organ(l.organ.empty() ? "organ-" + l.id : l.organ);
    x->set_is_node(l.node);
    v1::LesionState st = l.state;
    if (st == v1::LESION_STATE_UNSPECIFIED) st = l.mm_x10 > 0 ? v1::LESION_STATE_MEASURED : v1::LESION_STATE_DISAPPEARED;
    x->set_state(st);
    if (st == v1::LESION_STATE_MEASURED) x->set_diameter_mm_x10(l.mm_x10);
  }
  return e;
}
inline v1::TrialEvent Eot(v1::DispositionReason r) {
  v1::TrialEvent e;
  e.mutable_end_of_treatment()->set_reason(r);
  return e;
}
inline v1::TrialEvent Eos(v1::DispositionReason r) {
  v1::TrialEvent e;
  e.mutable_end_of_study()->set_reason(r);
  return e;
}
inline v1::TrialEvent Correct(const std::string& target, const std::string& path, const std::string& old_v,
                              const std::string& new_v) {
  v1::TrialEvent e;
  v1::DataCorrected* c = e.mutable_data_corrected();
  c->set_target_event_id(target);
  c->set_field_path(path);
  c->set_old_value(old_v);
  c->set_new_value(new_v);
  c->set_reason_code(v1::CORRECTION_REASON_TRANSCRIPTION_ERROR);
  return e;
}
inline v1::TrialEvent Void(const std::string& target) {
  v1::TrialEvent e;
  e.mutable_event_voided()->set_target_event_id(target);
  return e;
}
inline v1::TrialEvent QueryOpened(const std::string& id, const std::string& target = "") {
  v1::TrialEvent e;
  e.mutable_query_opened()->set_query_id(id);
  e.mutable_query_opened()->set_target_event_id(target);
  e.mutable_query_opened()->set_text("please check");
  return e;
}
inline v1::TrialEvent QueryAnswered(const std::string& id) {
  v1::TrialEvent e;
  e.mutable_query_answered()->set_query_id(id);
  e.mutable_query_answered()->set_text("checked");
  return e;
}
inline v1::TrialEvent QueryClosed(const std::string& id) {
  v1::TrialEvent e;
  e.mutable_query_closed()->set_query_id(id);
  return e;
}
inline v1::TrialEvent Locked() {
  v1::TrialEvent e;
  e.mutable_database_locked()->set_scope("all");
  return e;
}
inline v1::TrialEvent Unlocked() {
  v1::TrialEvent e;
  e.mutable_database_unlocked()->set_scope("all");
  return e;
}
inline v1::TrialEvent Amended(const v1::ProtocolDefinition& p) {
  v1::TrialEvent e;
  *e.mutable_protocol_amended()->mutable_protocol() = p;
  return e;
}

// --- subject lifecycle --------------------------------------------------------

enum class Stage { kRegistered, kConsented, kMolecular, kAssessed, kSigned, kEnrolled, kBaseline, kMeasured, kPrescribed, kDosed };

// Standard measurement: 150 cm, 24 kg -> BSA exactly 1.00 m2 (150 x 24 = 3600).
inline constexpr uint32_t kHeight = 1500, kWeight = 24000, kBsa = 100;
inline constexpr uint32_t kDose = 280;  // min(band 300 mg, cap 560 x 1.00 / 2 = 280 mg)

// Activates RU-01 and RU-02 with ICF-1.0 (call once per harness).
inline void Sites(Harness& h) {
  h.Must({kAdmin, "trial", SiteActivated("RU-01", {"ICF-1.0"})});
  h.Must({kAdmin, "trial", SiteActivated("RU-02", {"ICF-1.0"})});
}

struct Ids {
  std::string reg, consent, molecular, assessment, signature, enrol, baseline, measurement, prescription, diary;
};

// Brings subject `sid` (site RU-01, staff kInv/kCoord/kRad/kPharm) to `stage`.
inline Ids Bring(Harness& h, const std::string& sid, Stage stage, uint32_t age_years = 10) {
  Ids ids;
  ids.reg = h.Must({kCoord, S(sid), Registered("RU-01", age_years)});
  if (stage == Stage::kRegistered) return ids;
  ids.consent = h.Must({kInv, S(sid), Consent()});
  if (age_years >= 7) {
    h.Must({kInv, S(sid), Assent()});
  } else {
    h.Must({kInv, S(sid), NoAssent(v1::ASSENT_NOT_OBTAINED_REASON_BELOW_ASSENT_AGE)});
  }
  if (stage == Stage::kConsented) return ids;
  ids.molecular = h.Must({kLab, S(sid), Molecular("ALK", v1::MOLECULAR_ALTERATION_REARRANGEMENT, "TPM3")});
  if (stage == Stage::kMolecular) return ids;
  ids.assessment = h.Must({kCoord, S(sid), Eligibility()});
  if (stage == Stage::kAssessed) return ids;
  ids.signature = h.Sign(kInv, sid, v1::SIG_ELIGIBILITY, {ids.assessment});
  if (stage == Stage::kSigned) return ids;
  ids.enrol = h.Must({kInv, S(sid), Enrolled()});
  if (stage == Stage::kEnrolled) return ids;
  ids.baseline = h.Must({kRad, S(sid), Tumour(true, {{"T1", 500}, {"T2", 300}})});
  if (stage == Stage::kBaseline) return ids;
  ids.measurement = h.Must({kCoord, S(sid), Measure(kHeight, kWeight)});
  if (stage == Stage::kMeasured) return ids;
  ids.prescription = h.Must({kInv, S(sid), Prescribe(kDose, kBsa)});
  if (stage == Stage::kPrescribed) return ids;
  ids.diary = h.Must({kCoord, S(sid), Administer(kDose)});
  return ids;
}

// --- synthetic plans ------------------------------------------------------------

// The envelope of a plan step, with signature hashes filled from `sm`.
inline v1::Envelope StepEnvelope(const TrialStateMachine& sm, const SyntheticStep& step) {
  v1::Envelope env;
  env.set_trial_id("imt");
  env.set_stream_id(step.stream_id);
  env.set_event_id(step.event_id);
  *env.mutable_observed_at() = step.observed_at;
  *env.mutable_actor() = step.actor;
  env.set_reason(step.reason);
  *env.mutable_event() = step.event;
  if (step.needs_signature_hashes) {
    absl::Status s = sm.FillSignatureHashes(step.stream_id, env.mutable_event()->mutable_trial()->mutable_e_signature());
    EXPECT_TRUE(s.ok()) << s << " for " << step.description;
  }
  return env;
}

struct Refusal {
  size_t step;
  absl::Status status;
};

// Appends every step of `plan` (Check, then Apply when OK) and returns the
// refusals. `after_apply` runs after each applied entry.
template <typename F = void (*)()>
std::vector<Refusal> RunPlan(Harness& h, const SyntheticTrialPlan& plan, F after_apply = [] {}) {
  std::vector<Refusal> refused;
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    absl::Status s = h.AppendEnvelope(StepEnvelope(h.sm, plan.steps[i]));
    if (!s.ok()) {
      refused.push_back({i, s});
    } else {
      after_apply();
    }
  }
  return refused;
}

}  // namespace trialog::trial::testing

#endif  // TRIALOG_TESTS_CORE_TRIAL_HARNESS_H_
