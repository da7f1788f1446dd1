#include "core/trial/projection.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/trial/dosing.h"
#include "core/trial/recist.h"
#include "core/trial/stats.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace trialog::trial {
namespace {

constexpr int64_t kMicrosPerHour = 3600LL * 1000000LL;

int64_t DayOf(const v1::StoredRecord& r) {
  return LocalDay(r.observed_unix_micros(), r.observed_utc_offset_minutes());
}

bool IsRearranged(v1::MolecularAlteration a) {
  return a == v1::MOLECULAR_ALTERATION_REARRANGEMENT || a == v1::MOLECULAR_ALTERATION_FUSION;
}

std::map<std::string, const v1::MolecularResultRecorded*> LatestMolecular(
    const v1::SubjectStore& store) {
  std::map<std::string, const v1::MolecularResultRecorded*> out;
  for (const v1::StoredRecord& r : store.records()) {
    if (r.voided() || !r.event().has_molecular_result()) continue;
    out[r.event().molecular_result().gene()] = &r.event().molecular_result();
  }
  return out;
}

// Signature statuses: a signature is outdated when a record it covers was
// changed (corrected or voided) by a later entry; a casebook signature when
// anything but signatures and queries was appended to the stream after it.
struct SignatureInfo {
  const v1::StoredRecord* record;
  bool valid;
  uint64_t outdated_by;
};

bool IsBookkeeping(const v1::TrialEvent& e) {
  return e.has_e_signature() || e.has_query_opened() || e.has_query_answered() ||
         e.has_query_closed() || e.has_note();
}

std::vector<SignatureInfo> SignatureStatuses(const v1::SubjectStore& store) {
  std::map<std::string, const v1::StoredRecord*> by_id;
  for (const v1::StoredRecord& r : store.records()) by_id[r.event_id()] = &r;
  std::vector<SignatureInfo> out;
  for (const v1::StoredRecord& r : store.records()) {
    if (!r.event().has_e_signature()) continue;
    const v1::ESignature& sig = r.event().e_signature();
    SignatureInfo info{&r, true, 0};
    if (sig.meaning() == v1::SIG_CASEBOOK) {
      for (const v1::StoredRecord& later : store.records()) {
        if (later.index() > r.index() && !IsBookkeeping(later.event())) {
          info.valid = false;
          info.outdated_by = later.index();
          break;
        }
      }
      // A correction of an earlier record also changes the casebook.
      for (const v1::StoredRecord& any : store.records()) {
        if (any.index() < r.index() && any.last_changed_index() > r.index()) {
          if (info.valid || any.last_changed_index() < info.outdated_by) {
            info.outdated_by = any.last_changed_index();
          }
          info.valid = false;
        }
      }
    } else {
      for (const v1::SignedRecord& sr : sig.records()) {
        auto it = by_id.find(sr.event_id());
        if (it == by_id.end()) continue;
        if (it->second->last_changed_index() > r.index()) {
          info.valid = false;
          info.outdated_by = std::max(info.outdated_by, it->second->last_changed_index());
        }
      }
    }
    out.push_back(info);
  }
  return out;
}

bool Covers(const v1::ESignature& sig, const std::string& event_id) {
  for (const v1::SignedRecord& sr : sig.records()) {
    if (sr.event_id() == event_id) return true;
  }
  return false;
}

uint32_t Bp(uint64_t num, uint64_t den) {
  if (den == 0) return 0;
  return static_cast<uint32_t>((num * 20000 + den) / (2 * den));
}

uint32_t BpOf(double fraction) {
  return static_cast<uint32_t>(std::clamp(fraction, 0.0, 1.0) * 10000.0 + 0.5);
}

v1::ProportionCi Proportion(uint32_t x, uint32_t n) {
  v1::ProportionCi p;
  p.set_numerator(x);
  p.set_denominator(n);
  if (n == 0) return p;
  p.set_estimate_bp(Bp(x, n));
  absl::StatusOr<Interval> ci = ClopperPearson(x, n);
  if (ci.ok()) {
    p.set_ci_lower_bp(BpOf(ci->lower));
    p.set_ci_upper_bp(BpOf(ci->upper));
  }
  return p;
}

}  // namespace

std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

absl::Status CheckCriteria(const v1::ProtocolDefinition& protocol,
                           const v1::EligibilityAssessed& assessment) {
  std::map<std::string, v1::CriterionResult> answers;
  for (const v1::CriterionAnswer& a : assessment.answers()) answers[a.code()] = a.result();
  for (const v1::EligibilityCriterion& c : protocol.criteria()) {
    auto it = answers.find(c.code());
    if (it == answers.end() || it->second == v1::CRITERION_RESULT_UNSPECIFIED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rule eligibility.incomplete: criterion ", c.code(), " (", c.text(), ") is not answered"));
    }
    const bool inclusion = c.category() == v1::CRITERION_CATEGORY_INCLUSION;
    const v1::CriterionResult want = inclusion ? v1::CRITERION_RESULT_YES : v1::CRITERION_RESULT_NO;
    if (it->second != want) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rule eligibility.criteria_not_met: ", inclusion ? "inclusion" : "exclusion",
          " criterion ", c.code(), " (", c.text(), ") is answered ",
          v1::CriterionResult_Name(it->second)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckMolecular(const v1::ProtocolDefinition& protocol,
                            const v1::SubjectStore& store) {
  const auto latest = LatestMolecular(store);
  for (const v1::EligibleFinding& f : protocol.eligible_findings()) {
    auto it = latest.find(f.gene());
    if (it == latest.end() || !IsRearranged(it->second->alteration())) continue;
    bool negatives_ok = true;
    for (const std::string& g : f.requires_negative()) {
      auto n = latest.find(g);
      negatives_ok &= n != latest.end() && n->second->alteration() == v1::MOLECULAR_ALTERATION_NEGATIVE;
    }
    if (negatives_ok) return absl::OkStatus();
  }
  std::string found;
  for (const auto& [gene, result] : latest) {
    absl::StrAppend(&found, found.empty() ? "" : ", ", gene, " ",
                    v1::MolecularAlteration_Name(result->alteration()));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "rule eligibility.molecular: no eligible molecular finding (an ALK-type rearrangement, or "
      "a rearrangement with the required negative results); recorded: ",
      found.empty() ? "none" : found));
}

v1::SubjectState ProjectSubject(const v1::ProtocolDefinition& p, const v1::SubjectStore& store) {
  v1::SubjectState s;
  s.set_subject_id(store.subject_id());
  s.set_protocol_version(p.version());
  s.set_last_index(store.head_index());

  const std::vector<SignatureInfo> signatures = SignatureStatuses(store);
  auto valid_signature_covers = [&](v1::SignatureMeaning meaning, const std::string& event_id) {
    for (const SignatureInfo& si : signatures) {
      const v1::ESignature& sig = si.record->event().e_signature();
      if (si.valid && !si.record->voided() && sig.meaning() == meaning && Covers(sig, event_id)) {
        return true;
      }
    }
    return false;
  };

  v1::ConsentState* consent = s.mutable_consent();
  bool has_assent_record = false;
  const v1::StoredRecord* eligibility = nullptr;
  const v1::StoredRecord* bsa_record = nullptr;
  std::vector<Assessment> assessments;
  std::map<std::string, int> ae_index;                 // ae_id -> position in s.adverse_events
  std::map<std::string, std::string> ae_of_record;     // record event id -> ae_id
  v1::DosingState* dosing = s.mutable_dosing();
  std::optional<int64_t> first_dose_day;
  int64_t last_dose_day = 0;
  uint32_t bsa_in_force = 0;

  for (const v1::StoredRecord& r : store.records()) {
    s.set_corrections(s.corrections() + r.corrections());
    if (r.voided()) {
      s.set_voided_records(s.voided_records() + 1);
      continue;
    }
    const v1::TrialEvent& e = r.event();
    switch (e.kind_case()) {
      case v1::TrialEvent::kSubjectRegistered:
        s.set_site_id(e.subject_registered().site_id());
        s.set_age_months(e.subject_registered().age_months());
        s.set_sex(e.subject_registered().sex());
        break;
      case v1::TrialEvent::kGuardianConsent:
        consent->set_consented(true);
        consent->set_icf_version(e.guardian_consent().icf_version());
        consent->set_consent_index(r.index());
        break;
      case v1::TrialEvent::kReconsent:
        consent->set_icf_version(e.reconsent().icf_version());
        break;
      case v1::TrialEvent::kAssentObtained:
        has_assent_record = true;
        consent->set_assent(v1::ASSENT_STATUS_OBTAINED);
        break;
      case v1::TrialEvent::kAssentNotObtained:
        has_assent_record = true;
        switch (e.assent_not_obtained().reason()) {
          case v1::ASSENT_NOT_OBTAINED_REASON_BELOW_ASSENT_AGE:
            consent->set_assent(v1::ASSENT_STATUS_NOT_REQUIRED);
            break;
          case v1::ASSENT_NOT_OBTAINED_REASON_NOT_CAPABLE:
            consent->set_assent(v1::ASSENT_STATUS_NOT_CAPABLE);
            break;
          default:
            consent->set_assent(v1::ASSENT_STATUS_DECLINED);
            break;
        }
        break;
      case v1::TrialEvent::kConsentWithdrawn: {
        const v1::WithdrawalScope scope = e.consent_withdrawn().scope();
        auto strength = [](v1::WithdrawalScope w) {
          return w == v1::WITHDRAWAL_SCOPE_ALL ? 3
                 : w == v1::WITHDRAWAL_SCOPE_TREATMENT_ONLY ? 2
                 : w == v1::WITHDRAWAL_SCOPE_OPTIONAL_ITEMS ? 1 : 0;
        };
        if (strength(scope) > strength(consent->withdrawn())) consent->set_withdrawn(scope);
        break;
      }
      case v1::TrialEvent::kEligibilityAssessed:
        eligibility = &r;
        break;
      case v1::TrialEvent::kScreenFailed:
        s.mutable_eligibility()->set_screen_failed(true);
        break;
      case v1::TrialEvent::kEnrolled:
        s.set_enrolled(true);
        s.set_enrolled_unix_micros(r.observed_unix_micros());
        break;
      case v1::TrialEvent::kBodyMeasurement:
        if (bsa_record == nullptr || r.observed_unix_micros() >= bsa_record->observed_unix_micros()) {
          bsa_record = &r;
          bsa_in_force = MostellerBsaX100(e.body_measurement().height_mm(),
                                          e.body_measurement().weight_g());
        }
        break;
      case v1::TrialEvent::kDosePrescribed:
        dosing->set_prescribed_dose_mg(e.dose_prescribed().dose_mg());
        dosing->set_prescribed_bsa_m2_x100(e.dose_prescribed().bsa_m2_x100());
        dosing->set_prescribed_mg_per_m2_x10(
            MgPerM2X10(e.dose_prescribed().dose_mg(), e.dose_prescribed().bsa_m2_x100()));
        break;
      case v1::TrialEvent::kDrugDispensed:
        dosing->set_dispensings(dosing->dispensings() + 1);
        break;
      case v1::TrialEvent::kDoseModified:
        switch (e.dose_modified().action()) {
          case v1::DOSE_ACTION_INTERRUPTED: dosing->set_interrupted(true); break;
          case v1::DOSE_ACTION_RESUMED: dosing->set_interrupted(false); break;
          case v1::DOSE_ACTION_REDUCED:
            dosing->set_reductions(dosing->reductions() + 1);
            dosing->set_prescribed_dose_mg(e.dose_modified().new_dose_mg());
            dosing->set_prescribed_mg_per_m2_x10(
                MgPerM2X10(e.dose_modified().new_dose_mg(), dosing->prescribed_bsa_m2_x100()));
            break;
          default: break;
        }
        break;
      case v1::TrialEvent::kDoseAdministered: {
        const v1::DoseAdministered& d = e.dose_administered();
        dosing->set_administrations(dosing->administrations() + d.administrations());
        dosing->set_missed(dosing->missed() + d.missed());
        const uint64_t mg = static_cast<uint64_t>(d.administrations()) * d.dose_mg();
        dosing->set_cumulative_mg(dosing->cumulative_mg() + mg);
        dosing->set_cumulative_mg_per_m2_x10(
            dosing->cumulative_mg_per_m2_x10() +
            MgPerM2X10(static_cast<uint32_t>(mg), bsa_in_force));
        if (d.administrations() > 0) {
          const int64_t day = DayOf(r);
          const int64_t start = day - (std::max<uint32_t>(d.period_days(), 1) - 1);
          if (!first_dose_day || start < *first_dose_day) {
            first_dose_day = start;
            dosing->set_first_dose_unix_micros(r.observed_unix_micros());
          }
          if (day >= last_dose_day) {
            last_dose_day = day;
            dosing->set_last_dose_unix_micros(r.observed_unix_micros());
          }
        }
        break;
      }
      case v1::TrialEvent::kAeReported: {
        const v1::AdverseEventReported& a = e.ae_reported();
        v1::AdverseEventState* ae = s.add_adverse_events();
        ae_index[a.ae_id()] = s.adverse_events_size() - 1;
        ae_of_record[r.event_id()] = a.ae_id();
        ae->set_ae_id(a.ae_id());
        ae->set_event_id(r.event_id());
        ae->set_ctcae_term(a.ctcae_term());
        ae->set_grade(a.grade());
        ae->set_worst_grade(a.grade());
        for (int c : a.serious_criteria()) {
          ae->add_serious_criteria(static_cast<v1::SeriousnessCriterion>(c));
        }
        ae->set_serious(a.serious_criteria_size() > 0);
        ae->set_causality(a.causality());
        ae->set_outcome(a.outcome());
        ae->set_open(a.grade() != 5);
        ae->set_onset_unix_micros(r.observed_unix_micros());
        ae->set_aware_at_unix_micros(a.aware_at_unix_micros());
        if (a.grade() == 5) {
          s.set_deceased(true);
          ae->set_resolved_unix_micros(r.observed_unix_micros());
        }
        break;
      }
      case v1::TrialEvent::kAeUpdated: {
        const v1::AdverseEventUpdated& u = e.ae_updated();
        auto it = ae_index.find(u.ae_id());
        if (it == ae_index.end()) break;
        ae_of_record[r.event_id()] = u.ae_id();
        v1::AdverseEventState* ae = s.mutable_adverse_events(it->second);
        if (u.grade() != 0) {
          ae->set_grade(u.grade());
          ae->set_worst_grade(std::max(ae->worst_grade(), u.grade()));
          if (u.grade() == 5) {
            s.set_deceased(true);
            ae->set_open(false);
            ae->set_resolved_unix_micros(r.observed_unix_micros());
          }
        }
        for (int c : u.add_serious_criteria()) {
          const auto crit = static_cast<v1::SeriousnessCriterion>(c);
          if (std::find(ae->serious_criteria().begin(), ae->serious_criteria().end(), crit) ==
              ae->serious_criteria().end()) {
            ae->add_serious_criteria(crit);
          }
        }
        ae->set_serious(ae->serious_criteria_size() > 0);
        if (u.causality() != v1::CAUSALITY_UNSPECIFIED) ae->set_causality(u.causality());
        if (u.outcome() != v1::AE_OUTCOME_UNSPECIFIED) ae->set_outcome(u.outcome());
        break;
      }
      case v1::TrialEvent::kAeResolved: {
        auto it = ae_index.find(e.ae_resolved().ae_id());
        if (it == ae_index.end()) break;
        v1::AdverseEventState* ae = s.mutable_adverse_events(it->second);
        ae->set_open(false);
        ae->set_resolved_unix_micros(r.observed_unix_micros());
        if (e.ae_resolved().outcome() != v1::AE_OUTCOME_UNSPECIFIED) {
          ae->set_outcome(e.ae_resolved().outcome());
        }
        break;
      }
      case v1::TrialEvent::kSaeReported: {
        auto it = ae_index.find(e.sae_reported().ae_id());
        if (it == ae_index.end()) break;
        v1::AdverseEventState* ae = s.mutable_adverse_events(it->second);
        if (ae->sponsor_notified_unix_micros() == 0) {
          ae->set_sponsor_notified_unix_micros(e.sae_reported().sent_at_unix_micros());
        }
        break;
      }
      case v1::TrialEvent::kTumourAssessment:
        assessments.push_back({r.event_id(), r.observed_unix_micros(), DayOf(r),
                               &e.tumour_assessment()});
        break;
      case v1::TrialEvent::kEndOfTreatment:
        s.set_treatment_ended(true);
        s.set_end_reason(e.end_of_treatment().reason());
        break;
      case v1::TrialEvent::kEndOfStudy:
        s.set_study_ended(true);
        s.set_treatment_ended(true);
        s.set_end_reason(e.end_of_study().reason());
        if (e.end_of_study().reason() == v1::DISPOSITION_REASON_DEATH) s.set_deceased(true);
        break;
      default:
        break;
    }
  }

  // Consent and assent against the active protocol.
  const bool assent_required = s.age_months() / 12 >= p.assent_min_age_years();
  consent->set_assent_required(assent_required);
  if (!has_assent_record) {
    consent->set_assent(assent_required ? v1::ASSENT_STATUS_MISSING : v1::ASSENT_STATUS_NOT_REQUIRED);
  }
  // Only subjects still in the study need to re-consent.
  consent->set_reconsent_needed(consent->consented() && p.reconsent_required() &&
                                consent->icf_version() != p.icf_version() && !s.study_ended() &&
                                !s.eligibility().screen_failed() &&
                                consent->withdrawn() != v1::WITHDRAWAL_SCOPE_ALL);

  // Eligibility.
  v1::EligibilityState* el = s.mutable_eligibility();
  if (eligibility != nullptr) {
    el->set_assessed(true);
    el->set_criteria_met(CheckCriteria(p, eligibility->event().eligibility_assessed()).ok());
    el->set_signed_off(valid_signature_covers(v1::SIG_ELIGIBILITY, eligibility->event_id()));
  }
  el->set_molecular_eligible(CheckMolecular(p, store).ok());
  if (el->molecular_eligible()) {
    const auto latest = LatestMolecular(store);
    for (const v1::EligibleFinding& f : p.eligible_findings()) {
      auto it = latest.find(f.gene());
      if (it != latest.end() && IsRearranged(it->second->alteration())) {
        el->set_eligible_gene(f.gene());
        el->set_fusion_partner(it->second->fusion_partner());
        break;
      }
    }
  }

  // BSA.
  if (bsa_record != nullptr) {
    v1::BsaState* bsa = s.mutable_bsa();
    bsa->set_height_mm(bsa_record->event().body_measurement().height_mm());
    bsa->set_weight_g(bsa_record->event().body_measurement().weight_g());
    bsa->set_bsa_m2_x100(MostellerBsaX100(bsa->height_mm(), bsa->weight_g()));
    bsa->set_measurement_event_id(bsa_record->event_id());
    bsa->set_measured_at_unix_micros(bsa_record->observed_unix_micros());
  }

  // Dose intensity.
  if (first_dose_day) {
    const int64_t days = last_dose_day - *first_dose_day + 1;
    dosing->set_days_on_treatment(static_cast<uint32_t>(days));
    const uint64_t planned_x10 =
        10ull * p.dose_mg_per_m2() * p.doses_per_day() * static_cast<uint64_t>(days);
    dosing->set_relative_dose_intensity_bp(Bp(dosing->cumulative_mg_per_m2_x10(), planned_x10));
  }

  // Adverse events: SAE clock, causality signatures, counters.
  for (v1::AdverseEventState& ae : *s.mutable_adverse_events()) {
    if (ae.serious() && ae.sponsor_notified_unix_micros() != 0) {
      ae.set_sae_report_late(ae.sponsor_notified_unix_micros() - ae.aware_at_unix_micros() >
                             static_cast<int64_t>(p.sae_report_hours()) * kMicrosPerHour);
    }
    for (const auto& [record_id, ae_id] : ae_of_record) {
      if (ae_id == ae.ae_id() && valid_signature_covers(v1::SIG_AE_CAUSALITY, record_id)) {
        ae.set_causality_signed(true);
      }
    }
    if (ae.open()) s.set_open_ae_count(s.open_ae_count() + 1);
    s.set_worst_ae_grade(std::max(s.worst_ae_grade(), ae.worst_grade()));
  }

  // RECIST: the first baseline by scan date, follow-ups after it.
  std::stable_sort(assessments.begin(), assessments.end(),
                   [](const Assessment& a, const Assessment& b) {
                     return a.scan_unix_micros < b.scan_unix_micros;
                   });
  const Assessment* baseline = nullptr;
  std::vector<Assessment> follow_ups;
  for (const Assessment& a : assessments) {
    if (baseline == nullptr) {
      if (a.data->baseline()) baseline = &a;
    } else if (!a.data->baseline()) {
      follow_ups.push_back(a);
    }
  }
  if (baseline != nullptr) {
    *s.mutable_recist() = ComputeRecist(p.recist(), *baseline, follow_ups, first_dose_day);
  } else {
    s.mutable_recist()->mutable_bor()->set_response(v1::RESPONSE_MISSING);
  }

  // Signatures.
  for (const SignatureInfo& si : signatures) {
    if (si.record->voided()) continue;
    const v1::ESignature& sig = si.record->event().e_signature();
    v1::SignatureState* st = s.add_signatures();
    st->set_event_id(si.record->event_id());
    st->set_meaning(sig.meaning());
    st->set_principal_id(si.record->principal_id());
    st->set_printed_name(si.record->printed_name());
    st->set_signed_unix_micros(si.record->recorded_at_unix_micros());
    for (const v1::SignedRecord& sr : sig.records()) st->add_record_event_ids(sr.event_id());
    st->set_status(si.valid ? v1::SIGNATURE_STATUS_VALID : v1::SIGNATURE_STATUS_OUTDATED);
    st->set_outdated_by_index(si.outdated_by);
    if (!si.valid) s.set_outdated_signatures(s.outdated_signatures() + 1);
  }

  for (const v1::QueryState& q : store.queries()) {
    if (!q.closed()) s.set_open_queries(s.open_queries() + 1);
  }

  // Phase.
  v1::SubjectPhase phase = v1::SUBJECT_PHASE_REGISTERED;
  if (consent->consented()) phase = v1::SUBJECT_PHASE_CONSENTED;
  if (s.enrolled()) phase = v1::SUBJECT_PHASE_ENROLLED;
  if (s.enrolled() && dosing->administrations() > 0) phase = v1::SUBJECT_PHASE_ON_TREATMENT;
  if (s.enrolled() && (s.treatment_ended() || s.deceased() ||
                       consent->withdrawn() == v1::WITHDRAWAL_SCOPE_TREATMENT_ONLY)) {
    phase = v1::SUBJECT_PHASE_OFF_TREATMENT;
  }
  if (el->screen_failed()) phase = v1::SUBJECT_PHASE_SCREEN_FAILED;
  if (s.study_ended() || consent->withdrawn() == v1::WITHDRAWAL_SCOPE_ALL) {
    phase = v1::SUBJECT_PHASE_OFF_STUDY;
  }
  s.set_phase(phase);
  return s;
}

v1::TrialSummary Summarize(const v1::ProtocolDefinition* protocol,
                           const std::vector<const v1::SubjectState*>& subjects, bool locked,
                           uint32_t sites_active, uint64_t last_index) {
  v1::TrialSummary t;
  if (protocol != nullptr) {
    t.set_protocol_id(protocol->protocol_id());
    t.set_protocol_version(protocol->version());
  }
  t.set_last_index(last_index);
  t.set_locked(locked);
  t.set_sites_active(sites_active);
  std::vector<uint32_t> by_grade(5, 0);
  uint32_t responders = 0, controlled = 0;
  uint64_t rdi_sum = 0;
  for (const v1::SubjectState* s : subjects) {
    t.set_registered(t.registered() + 1);
    if (s->consent().consented()) t.set_consented(t.consented() + 1);
    if (s->eligibility().screen_failed()) t.set_screen_failures(t.screen_failures() + 1);
    if (s->enrolled()) t.set_enrolled(t.enrolled() + 1);
    const bool treated = s->enrolled() && s->dosing().administrations() > 0;
    if (treated) {
      t.set_treated(t.treated() + 1);
      rdi_sum += s->dosing().relative_dose_intensity_bp();
    }
    if (s->phase() == v1::SUBJECT_PHASE_ON_TREATMENT) t.set_on_treatment(t.on_treatment() + 1);
    if (s->consent().withdrawn() == v1::WITHDRAWAL_SCOPE_ALL ||
        s->consent().withdrawn() == v1::WITHDRAWAL_SCOPE_TREATMENT_ONLY) {
      t.set_withdrawn(t.withdrawn() + 1);
    }
    if (s->deceased()) t.set_deaths(t.deaths() + 1);
    // Response-evaluable: treated with a baseline assessment.
    if (treated && s->recist().has_baseline()) {
      t.set_evaluable(t.evaluable() + 1);
      switch (s->recist().bor().response()) {
        case v1::RESPONSE_CR: t.set_bor_cr(t.bor_cr() + 1); ++responders; ++controlled; break;
        case v1::RESPONSE_PR: t.set_bor_pr(t.bor_pr() + 1); ++responders; ++controlled; break;
        case v1::RESPONSE_SD:
        case v1::RESPONSE_NON_CR_NON_PD: t.set_bor_sd(t.bor_sd() + 1); ++controlled; break;
        case v1::RESPONSE_PD: t.set_bor_pd(t.bor_pd() + 1); break;
        default: t.set_bor_ne(t.bor_ne() + 1); break;
      }
    }
    bool ge3 = false;
    for (const v1::AdverseEventState& ae : s->adverse_events()) {
      t.set_ae_events(t.ae_events() + 1);
      if (ae.worst_grade() >= 1 && ae.worst_grade() <= 5) ++by_grade[ae.worst_grade() - 1];
      if (ae.worst_grade() >= 3) {
        t.set_ae_grade_ge3_events(t.ae_grade_ge3_events() + 1);
        ge3 = true;
      }
      if (ae.serious()) {
        t.set_serious_ae_events(t.serious_ae_events() + 1);
        if (ae.sae_report_late()) t.set_sae_reports_late(t.sae_reports_late() + 1);
        if (ae.sponsor_notified_unix_micros() == 0) {
          t.set_sae_reports_pending(t.sae_reports_pending() + 1);
        }
      }
    }
    if (ge3) t.set_subjects_with_grade_ge3(t.subjects_with_grade_ge3() + 1);
    t.set_outdated_signatures(t.outdated_signatures() + s->outdated_signatures());
    t.set_open_queries(t.open_queries() + s->open_queries());
    t.set_corrections(t.corrections() + s->corrections());
  }
  for (uint32_t g : by_grade) t.add_ae_events_by_grade(g);
  *t.mutable_orr() = Proportion(responders, t.evaluable());
  *t.mutable_disease_control() = Proportion(controlled, t.evaluable());
  if (t.treated() > 0) {
    t.set_mean_relative_dose_intensity_bp(
        static_cast<uint32_t>((rdi_sum * 2 + t.treated()) / (2ull * t.treated())));
  }
  return t;
}

}  // namespace trialog::trial
