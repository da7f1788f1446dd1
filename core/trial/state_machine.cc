#include "core/trial/state_machine.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/trial/dosing.h"
#include "core/trial/field_path.h"
#include "core/trial/permissions.h"
#include "core/trial/projection.h"
#include "core/trial/protocol.h"
#include "core/trial/recist.h"
#include "core/util/status_macros.h"

namespace trialog::trial {
namespace {

constexpr size_t kEventIdSize = 16;
constexpr size_t kHashSize = 32;

absl::Status Rule(absl::string_view id, absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat("rule ", id, ": ", what));
}

absl::Status Shape(absl::string_view kind, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(kind, ": ", what));
}

std::string Years(uint32_t months) { return absl::StrCat(months / 12, " years"); }

bool IsTrialLevel(const v1::TrialEvent& e) {
  return e.has_protocol_amended() || e.has_site_activated() || e.has_database_locked() ||
         e.has_database_unlocked();
}

// Events that are study procedures or clinical data: they need consent,
// assent where required, no withdrawal and no pending re-consent.
bool IsClinical(const v1::TrialEvent& e) {
  switch (e.kind_case()) {
    case v1::TrialEvent::kMolecularResult:
    case v1::TrialEvent::kEligibilityAssessed:
    case v1::TrialEvent::kEnrolled:
    case v1::TrialEvent::kBodyMeasurement:
    case v1::TrialEvent::kDosePrescribed:
    case v1::TrialEvent::kDrugDispensed:
    case v1::TrialEvent::kDoseAdministered:
    case v1::TrialEvent::kDoseModified:
    case v1::TrialEvent::kAeReported:
    case v1::TrialEvent::kAeUpdated:
    case v1::TrialEvent::kAeResolved:
    case v1::TrialEvent::kSaeReported:
    case v1::TrialEvent::kTumourAssessment:
      return true;
    default:
      return false;
  }
}

// Record keeping on existing data: allowed after the end of study.
bool IsRecordKeeping(const v1::TrialEvent& e) {
  return e.has_data_corrected() || e.has_event_voided() || e.has_e_signature() ||
         e.has_query_opened() || e.has_query_answered() || e.has_query_closed() || e.has_note();
}

bool IsCorrectable(const v1::TrialEvent& e) {
  return !IsRecordKeeping(e) && !IsTrialLevel(e) && e.kind_case() != v1::TrialEvent::KIND_NOT_SET;
}

bool IsVoidable(const v1::TrialEvent& e) {
  switch (e.kind_case()) {
    case v1::TrialEvent::kMolecularResult:
    case v1::TrialEvent::kEligibilityAssessed:
    case v1::TrialEvent::kBodyMeasurement:
    case v1::TrialEvent::kDosePrescribed:
    case v1::TrialEvent::kDrugDispensed:
    case v1::TrialEvent::kDoseAdministered:
    case v1::TrialEvent::kAeReported:
    case v1::TrialEvent::kAeUpdated:
    case v1::TrialEvent::kAeResolved:
    case v1::TrialEvent::kSaeReported:
    case v1::TrialEvent::kTumourAssessment:
    case v1::TrialEvent::kNote:
      return true;
    default:
      return false;
  }
}

// Identity fields a correction may not change (they key other records).
bool IsKeyField(absl::string_view leaf) {
  static const std::set<std::string>* keys = new std::set<std::string>{
      "ae_id", "lesion_id", "baseline", "code", "query_id", "site_id",
      "target_event_id", "trigger_event_ids"};
  return keys->count(std::string(leaf)) > 0;
}

bool ValidId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

absl::Status CheckSigners(absl::string_view kind,
                          const google::protobuf::RepeatedPtrField<v1::ConsentSigner>& signers) {
  if (signers.empty()) return Shape(kind, "at least one signer is required");
  for (const v1::ConsentSigner& s : signers) {
    if (s.role() == v1::GUARDIAN_ROLE_UNSPECIFIED) return Shape(kind, "a signer has no role");
    if (s.signature_kind() == v1::CONSENT_SIGNATURE_KIND_UNSPECIFIED) {
      return Shape(kind, "a signer has no signature_kind");
    }
    if (s.signed_document_sha256().size() != kHashSize) {
      return Shape(kind, "signed_document_sha256 must be 32 bytes");
    }
  }
  return absl::OkStatus();
}

// Payload shape: required fields, ranges and enumerations. INVALID_ARGUMENT.
absl::Status ValidateShape(const v1::ProtocolDefinition& p, const v1::TrialEvent& e) {
  switch (e.kind_case()) {
    case v1::TrialEvent::kProtocolAmended: {
      if (!e.protocol_amended().has_protocol()) return Shape("protocol_amended", "protocol is missing");
      absl::Status s = ValidateProtocol(e.protocol_amended().protocol());
      if (!s.ok()) return Shape("protocol_amended", s.message());
      return absl::OkStatus();
    }
    case v1::TrialEvent::kSiteActivated:
      if (!ValidId(e.site_activated().site_id())) return Shape("site_activated", "site_id is not [A-Za-z0-9._-]{1,64}");
      if (e.site_activated().approved_icf_versions().empty()) {
        return Shape("site_activated", "approved_icf_versions is empty");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kSubjectRegistered: {
      const v1::SubjectRegistered& r = e.subject_registered();
      if (!ValidId(r.site_id())) return Shape("subject_registered", "site_id is not [A-Za-z0-9._-]{1,64}");
      if (r.age_months() > 12 * 120) return Shape("subject_registered", "age_months is above 1440");
      if (r.sex() == v1::SEX_UNSPECIFIED) return Shape("subject_registered", "sex is unspecified");
      return absl::OkStatus();
    }
    case v1::TrialEvent::kGuardianConsent:
      if (e.guardian_consent().icf_version().empty()) return Shape("guardian_consent", "icf_version is empty");
      if (e.guardian_consent().method() == v1::CONSENT_METHOD_UNSPECIFIED) {
        return Shape("guardian_consent", "method is unspecified");
      }
      return CheckSigners("guardian_consent", e.guardian_consent().signers());
    case v1::TrialEvent::kAssentObtained:
      if (e.assent_obtained().assent_form_version().empty()) {
        return Shape("assent_obtained", "assent_form_version is empty");
      }
      if (e.assent_obtained().method() == v1::ASSENT_METHOD_UNSPECIFIED) {
        return Shape("assent_obtained", "method is unspecified");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kAssentNotObtained:
      if (e.assent_not_obtained().reason() == v1::ASSENT_NOT_OBTAINED_REASON_UNSPECIFIED) {
        return Shape("assent_not_obtained", "reason is unspecified");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kReconsent:
      if (e.reconsent().reason() == v1::RECONSENT_REASON_UNSPECIFIED) return Shape("reconsent", "reason is unspecified");
      if (e.reconsent().icf_version().empty()) return Shape("reconsent", "icf_version is empty");
      return CheckSigners("reconsent", e.reconsent().signers());
    case v1::TrialEvent::kConsentWithdrawn:
      if (e.consent_withdrawn().scope() == v1::WITHDRAWAL_SCOPE_UNSPECIFIED) {
        return Shape("consent_withdrawn", "scope is unspecified");
      }
      if (e.consent_withdrawn().withdrawn_by() == v1::WITHDRAWN_BY_UNSPECIFIED) {
        return Shape("consent_withdrawn", "withdrawn_by is unspecified");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kMolecularResult:
      if (!ValidId(e.molecular_result().gene())) return Shape("molecular_result", "gene is not an HGNC-style symbol");
      if (e.molecular_result().alteration() == v1::MOLECULAR_ALTERATION_UNSPECIFIED) {
        return Shape("molecular_result", "alteration is unspecified");
      }
      if (e.molecular_result().method() == v1::MOLECULAR_METHOD_UNSPECIFIED) {
        return Shape("molecular_result", "method is unspecified");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kEligibilityAssessed: {
      std::set<std::string> known, seen;
      for (const v1::EligibilityCriterion& c : p.criteria()) known.insert(c.code());
      if (e.eligibility_assessed().answers().empty()) return Shape("eligibility_assessed", "no answers");
      for (const v1::CriterionAnswer& a : e.eligibility_assessed().answers()) {
        if (!known.count(a.code())) {
          return Shape("eligibility_assessed", absl::StrCat("criterion ", a.code(), " is not in protocol v", p.version()));
        }
        if (!seen.insert(a.code()).second) {
          return Shape("eligibility_assessed", absl::StrCat("criterion ", a.code(), " is answered twice"));
        }
        if (a.result() == v1::CRITERION_RESULT_UNSPECIFIED) {
          return Shape("eligibility_assessed", absl::StrCat("criterion ", a.code(), " has no result"));
        }
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kEnrolled:
      if (e.enrolled().treatment_arm().empty()) return Shape("enrolled", "treatment_arm is empty");
      return absl::OkStatus();
    case v1::TrialEvent::kBodyMeasurement: {
      const v1::BodyMeasurement& b = e.body_measurement();
      if (b.height_mm() < 400 || b.height_mm() > 2200) {
        return Shape("body_measurement", absl::StrCat("height_mm ", b.height_mm(), " is outside 400..2200"));
      }
      if (b.weight_g() < 2000 || b.weight_g() > 200000) {
        return Shape("body_measurement", absl::StrCat("weight_g ", b.weight_g(), " is outside 2000..200000"));
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kDosePrescribed:
      if (e.dose_prescribed().dose_mg() == 0) return Shape("dose_prescribed", "dose_mg is 0");
      if (e.dose_prescribed().bsa_m2_x100() == 0) return Shape("dose_prescribed", "bsa_m2_x100 is 0");
      return absl::OkStatus();
    case v1::TrialEvent::kDrugDispensed:
      if (e.drug_dispensed().lot().empty()) return Shape("drug_dispensed", "lot is empty");
      if (e.drug_dispensed().quantity_mg() == 0) return Shape("drug_dispensed", "quantity_mg is 0");
      return absl::OkStatus();
    case v1::TrialEvent::kDoseAdministered: {
      const v1::DoseAdministered& d = e.dose_administered();
      if (d.period_days() == 0) return Shape("dose_administered", "period_days must be >= 1");
      if (d.administrations() + d.missed() == 0) {
        return Shape("dose_administered", "administrations + missed must be >= 1");
      }
      if (d.administrations() > 0 && d.dose_mg() == 0) return Shape("dose_administered", "dose_mg is 0");
      if (d.administrations() + d.missed() > d.period_days() * p.doses_per_day()) {
        return Shape("dose_administered", absl::StrCat("more than ", p.doses_per_day(),
                                                       " administrations per day of the period"));
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kDoseModified: {
      const v1::DoseModified& m = e.dose_modified();
      if (m.action() == v1::DOSE_ACTION_UNSPECIFIED) return Shape("dose_modified", "action is unspecified");
      if ((m.action() == v1::DOSE_ACTION_REDUCED) != (m.new_dose_mg() > 0)) {
        return Shape("dose_modified", "new_dose_mg is required for REDUCED and only for it");
      }
      for (const std::string& id : m.trigger_event_ids()) {
        if (id.size() != kEventIdSize) return Shape("dose_modified", "a trigger event id is not 16 bytes");
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kAeReported: {
      const v1::AdverseEventReported& a = e.ae_reported();
      if (!ValidId(a.ae_id())) return Shape("ae_reported", "ae_id is not [A-Za-z0-9._-]{1,64}");
      if (a.ctcae_term().empty()) return Shape("ae_reported", "ctcae_term is empty");
      if (a.grade() < 1 || a.grade() > 5) {
        return Shape("ae_reported", absl::StrCat("grade ", a.grade(), " is outside CTCAE 1..5"));
      }
      if (a.aware_at_unix_micros() <= 0) return Shape("ae_reported", "aware_at_unix_micros is required");
      for (int c : a.serious_criteria()) {
        if (c == v1::SERIOUSNESS_CRITERION_UNSPECIFIED) return Shape("ae_reported", "unspecified seriousness criterion");
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kAeUpdated:
      if (!ValidId(e.ae_updated().ae_id())) return Shape("ae_updated", "ae_id is not [A-Za-z0-9._-]{1,64}");
      if (e.ae_updated().grade() > 5) {
        return Shape("ae_updated", absl::StrCat("grade ", e.ae_updated().grade(), " is outside CTCAE 1..5"));
      }
      return absl::OkStatus();
    case v1::TrialEvent::kAeResolved:
      if (!ValidId(e.ae_resolved().ae_id())) return Shape("ae_resolved", "ae_id is not [A-Za-z0-9._-]{1,64}");
      return absl::OkStatus();
    case v1::TrialEvent::kSaeReported:
      if (!ValidId(e.sae_reported().ae_id())) return Shape("sae_reported", "ae_id is not [A-Za-z0-9._-]{1,64}");
      if (e.sae_reported().sent_at_unix_micros() <= 0) return Shape("sae_reported", "sent_at_unix_micros is required");
      return absl::OkStatus();
    case v1::TrialEvent::kTumourAssessment: {
      const v1::TumourAssessment& t = e.tumour_assessment();
      if (t.method() == v1::IMAGING_METHOD_UNSPECIFIED) return Shape("tumour_assessment", "method is unspecified");
      std::set<std::string> ids;
      for (const v1::TargetLesion& l : t.target_lesions()) {
        if (!ValidId(l.lesion_id())) return Shape("tumour_assessment", "a lesion_id is not [A-Za-z0-9._-]{1,64}");
        if (!ids.insert(l.lesion_id()).second) {
          return Shape("tumour_assessment", absl::StrCat("lesion ", l.lesion_id(), " is listed twice"));
        }
        if (l.organ().empty()) return Shape("tumour_assessment", absl::StrCat("lesion ", l.lesion_id(), " has no organ"));
        if (l.state() == v1::LESION_STATE_UNSPECIFIED) {
          return Shape("tumour_assessment", absl::StrCat("lesion ", l.lesion_id(), " has no state"));
        }
        if ((l.state() == v1::LESION_STATE_MEASURED) != (l.diameter_mm_x10() > 0)) {
          return Shape("tumour_assessment", absl::StrCat("lesion ", l.lesion_id(),
                                                         ": a diameter is required for MEASURED and only for it"));
        }
      }
      if (t.baseline()) {
        if (t.non_target() != v1::NON_TARGET_STATUS_UNSPECIFIED &&
            t.non_target() != v1::NON_TARGET_STATUS_PRESENT) {
          return Shape("tumour_assessment", "a baseline's non_target is PRESENT or unspecified");
        }
        if (t.new_lesions()) return Shape("tumour_assessment", "a baseline cannot have new lesions");
      } else if (t.non_target() == v1::NON_TARGET_STATUS_PRESENT) {
        return Shape("tumour_assessment", "PRESENT is a baseline-only non-target status");
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kEndOfTreatment:
      if (e.end_of_treatment().reason() == v1::DISPOSITION_REASON_UNSPECIFIED) {
        return Shape("end_of_treatment", "reason is unspecified");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kEndOfStudy:
      if (e.end_of_study().reason() == v1::DISPOSITION_REASON_UNSPECIFIED) {
        return Shape("end_of_study", "reason is unspecified");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kDataCorrected:
      if (e.data_corrected().target_event_id().size() != kEventIdSize) {
        return Shape("data_corrected", "target_event_id must be 16 bytes");
      }
      if (e.data_corrected().field_path().empty()) return Shape("data_corrected", "field_path is empty");
      return absl::OkStatus();
    case v1::TrialEvent::kEventVoided:
      if (e.event_voided().target_event_id().size() != kEventIdSize) {
        return Shape("event_voided", "target_event_id must be 16 bytes");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kESignature:
      for (const v1::SignedRecord& r : e.e_signature().records()) {
        if (r.event_id().size() != kEventIdSize) return Shape("e_signature", "a record event_id is not 16 bytes");
        if (r.record_hash().size() != kHashSize) return Shape("e_signature", "a record_hash is not 32 bytes");
      }
      if (e.e_signature().records().empty()) return Shape("e_signature", "no records are signed");
      return absl::OkStatus();
    case v1::TrialEvent::kQueryOpened:
      if (!ValidId(e.query_opened().query_id())) return Shape("query_opened", "query_id is not [A-Za-z0-9._-]{1,64}");
      if (e.query_opened().text().empty()) return Shape("query_opened", "text is empty");
      if (!e.query_opened().target_event_id().empty() &&
          e.query_opened().target_event_id().size() != kEventIdSize) {
        return Shape("query_opened", "target_event_id must be 16 bytes");
      }
      return absl::OkStatus();
    case v1::TrialEvent::kQueryAnswered:
      if (!ValidId(e.query_answered().query_id())) return Shape("query_answered", "query_id is not [A-Za-z0-9._-]{1,64}");
      if (e.query_answered().text().empty()) return Shape("query_answered", "text is empty");
      return absl::OkStatus();
    case v1::TrialEvent::kQueryClosed:
      if (!ValidId(e.query_closed().query_id())) return Shape("query_closed", "query_id is not [A-Za-z0-9._-]{1,64}");
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status ClinicalGate(const v1::ProtocolDefinition& p, const v1::SubjectState& s) {
  const v1::ConsentState& c = s.consent();
  if (!c.consented()) {
    return Rule("consent.required", absl::StrCat("no guardian consent is recorded for subject ",
                                                 s.subject_id(), "; nothing clinical before consent"));
  }
  if (c.withdrawn() == v1::WITHDRAWAL_SCOPE_ALL) {
    return Rule("consent.withdrawn", absl::StrCat("consent for subject ", s.subject_id(),
                                                  " was withdrawn (scope ALL); no further study data"));
  }
  if (c.assent() == v1::ASSENT_STATUS_DECLINED) {
    return Rule("assent.declined", absl::StrCat("subject ", s.subject_id(),
                                                " declined assent; no study procedure"));
  }
  if (c.assent() == v1::ASSENT_STATUS_MISSING) {
    return Rule("assent.required",
                absl::StrCat("subject ", s.subject_id(), " is ", Years(s.age_months()),
                             " old and the protocol requires assent from ", p.assent_min_age_years(),
                             " years; nothing clinical before assent"));
  }
  if (c.reconsent_needed()) {
    return Rule("consent.reconsent_required",
                absl::StrCat("subject ", s.subject_id(), " consented on ", c.icf_version(),
                             "; protocol v", p.version(), " requires re-consent on ", p.icf_version(),
                             " before any further study procedure"));
  }
  return absl::OkStatus();
}

absl::Status DosingGate(const v1::SubjectState& s) {
  if (!s.enrolled()) {
    return Rule("dose.not_enrolled", absl::StrCat("subject ", s.subject_id(),
                                                  " is not enrolled; no dosing before enrolment"));
  }
  if (s.consent().withdrawn() == v1::WITHDRAWAL_SCOPE_TREATMENT_ONLY) {
    return Rule("dose.after_withdrawal", absl::StrCat("subject ", s.subject_id(),
                                                      " withdrew from treatment; no further dosing"));
  }
  if (s.deceased()) return Rule("dose.subject_deceased", absl::StrCat("subject ", s.subject_id(), " has died"));
  if (s.treatment_ended()) {
    return Rule("dose.after_end_of_treatment",
                absl::StrCat("treatment of subject ", s.subject_id(), " has ended (",
                             v1::DispositionReason_Name(s.end_reason()), "); no further dosing"));
  }
  return absl::OkStatus();
}

bool HasCriterion(const google::protobuf::RepeatedField<int>& list, v1::SeriousnessCriterion c) {
  return std::find(list.begin(), list.end(), c) != list.end();
}

}  // namespace

absl::StatusOr<std::string> SubjectIdFromStream(absl::string_view stream_id) {
  if (!absl::StartsWith(stream_id, "subject/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream \"", stream_id, "\": subject events go to stream \"subject/<id>\""));
  }
  absl::string_view id = stream_id.substr(8);
  if (!ValidId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stream \"", stream_id, "\": the subject id is not [A-Za-z0-9._-]{1,64}"));
  }
  return std::string(id);
}

TrialStateMachine::TrialStateMachine() = default;

TrialStateMachine::TrialStateMachine(v1::ProtocolDefinition genesis_protocol) {
  Activate(std::move(genesis_protocol));
}

const v1::ProtocolDefinition* TrialStateMachine::protocol() const {
  return protocols_.empty() ? nullptr : &protocols_.back();
}

const TrialStateMachine::SubjectData* TrialStateMachine::FindSubject(absl::string_view id) const {
  auto it = subjects_.find(std::string(id));
  return it == subjects_.end() ? nullptr : &it->second;
}

const v1::StoredRecord* TrialStateMachine::FindRecord(const SubjectData& subject,
                                                      absl::string_view event_id) const {
  auto it = subject.by_event_id.find(std::string(event_id));
  return it == subject.by_event_id.end() ? nullptr : &subject.store.records(it->second);
}

absl::Status TrialStateMachine::Check(const ledger::Candidate& c) const {
  const v1::Envelope& env = c.envelope;
  if (env.event().has_genesis()) {
    if (!env.event().genesis().has_protocol()) return absl::OkStatus();
    const v1::ProtocolDefinition& gp = env.event().genesis().protocol();
    absl::Status s = ValidateProtocol(gp);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("genesis: ", s.message()));
    if (!protocols_.empty() && DeterministicBytes(protocols_.front()) != DeterministicBytes(gp)) {
      return Rule("genesis.protocol_mismatch",
                  "the genesis protocol differs from the one this state machine was built with");
    }
    return absl::OkStatus();
  }
  if (!env.event().has_trial()) return absl::OkStatus();
  return CheckTrialEvent(env, env.event().trial());
}

absl::Status TrialStateMachine::CheckTrialEvent(const v1::Envelope& env,
                                                const v1::TrialEvent& e) const {
  TRIALOG_ASSIGN_OR_RETURN(Action action, ActionFor(e));
  if (!IsPermitted(env.actor().role(), action)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "permission: role ", v1::Role_Name(env.actor().role()), " may not append ",
        ActionName(action)));
  }
  if (e.has_note()) return absl::OkStatus();
  const v1::ProtocolDefinition* p = protocol();
  if (p == nullptr) return Rule("protocol.none", "no protocol definition is active (genesis carried none)");
  TRIALOG_RETURN_IF_ERROR(ValidateShape(*p, e));
  if (IsTrialLevel(e)) {
    if (env.stream_id() != kTrialStream) {
      return absl::InvalidArgumentError(absl::StrCat("stream \"", env.stream_id(),
                                                     "\": trial-level events go to stream \"trial\""));
    }
    return CheckTrialLevel(env, e);
  }
  TRIALOG_ASSIGN_OR_RETURN(std::string subject_id, SubjectIdFromStream(env.stream_id()));
  if (env.observed_at().unix_micros() <= 0) {
    return absl::InvalidArgumentError("observed_at is required on subject events");
  }
  if (locked_) {
    return Rule("lock.database_locked",
                "the database is locked; corrections and new data need a DatabaseUnlocked first");
  }
  const SubjectData* subject = FindSubject(subject_id);
  if (e.has_subject_registered()) {
    if (subject != nullptr) {
      return Rule("subject.already_registered", absl::StrCat("subject ", subject_id, " is already registered"));
    }
    const std::string& site = e.subject_registered().site_id();
    if (!env.actor().site_id().empty() && env.actor().site_id() != site) {
      return absl::PermissionDeniedError(absl::StrCat("rule site.mismatch: actor of site ",
                                                      env.actor().site_id(), " may not register a subject at site ", site));
    }
    if (!sites_.count(site)) {
      return Rule("site.not_active", absl::StrCat("site ", site, " has not been activated (SiteActivated)"));
    }
    return absl::OkStatus();
  }
  if (subject == nullptr) {
    return Rule("subject.not_registered", absl::StrCat("subject ", subject_id, " is not registered"));
  }
  const v1::SubjectState& s = *subject->state;
  if (!env.actor().site_id().empty() && env.actor().site_id() != s.site_id()) {
    return absl::PermissionDeniedError(absl::StrCat("rule site.mismatch: actor of site ",
                                                    env.actor().site_id(), " may not write to subject ",
                                                    subject_id, " of site ", s.site_id()));
  }
  return CheckSubjectEvent(env, e, *subject);
}

absl::Status TrialStateMachine::CheckTrialLevel(const v1::Envelope& env,
                                                const v1::TrialEvent& e) const {
  const v1::ProtocolDefinition& p = *protocol();
  switch (e.kind_case()) {
    case v1::TrialEvent::kProtocolAmended: {
      const v1::ProtocolDefinition& np = e.protocol_amended().protocol();
      if (np.protocol_id() != p.protocol_id()) {
        return Rule("amendment.protocol_id", absl::StrCat("amendment is for protocol ", np.protocol_id(),
                                                          ", this ledger's protocol is ", p.protocol_id()));
      }
      if (np.version() != p.version() + 1) {
        return Rule("amendment.version", absl::StrCat("amendment version ", np.version(),
                                                      " must be the active version + 1 (", p.version() + 1, ")"));
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kDatabaseLocked:
      if (locked_) return Rule("lock.already_locked", "the database is already locked");
      return absl::OkStatus();
    case v1::TrialEvent::kDatabaseUnlocked:
      if (!locked_) return Rule("lock.not_locked", "the database is not locked");
      if (env.reason().empty()) return Rule("lock.unlock_reason_required", "an unlock needs a reason");
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status TrialStateMachine::CheckSubjectEvent(const v1::Envelope& env, const v1::TrialEvent& e,
                                                  const SubjectData& subject) const {
  const v1::ProtocolDefinition& p = *protocol();
  const v1::SubjectState& s = *subject.state;
  const std::string& sid = s.subject_id();
  if (!IsRecordKeeping(e) && (s.study_ended() || s.eligibility().screen_failed())) {
    return Rule("subject.off_study",
                absl::StrCat("subject ", sid, s.study_ended() ? " has ended the study" : " is a screen failure",
                             "; only corrections, voids, signatures and queries are accepted"));
  }
  if (IsClinical(e)) TRIALOG_RETURN_IF_ERROR(ClinicalGate(p, s));
  const int64_t day = LocalDay(env.observed_at().unix_micros(), env.observed_at().utc_offset_minutes());

  auto find_ae = [&](const std::string& ae_id) -> const v1::AdverseEventState* {
    for (const v1::AdverseEventState& a : s.adverse_events()) {
      if (a.ae_id() == ae_id) return &a;
    }
    return nullptr;
  };
  auto site_approves_icf = [&](const std::string& version) {
    auto it = sites_.find(s.site_id());
    if (it == sites_.end()) return false;
    const auto& v = it->second.approved_icf_versions();
    return std::find(v.begin(), v.end(), version) != v.end();
  };

  switch (e.kind_case()) {
    case v1::TrialEvent::kGuardianConsent: {
      const std::string& v = e.guardian_consent().icf_version();
      if (s.consent().consented()) {
        return Rule("consent.already_consented",
                    absl::StrCat("subject ", sid, " already has guardian consent; use ReconsentObtained"));
      }
      if (v != p.icf_version()) {
        return Rule("consent.icf_not_current", absl::StrCat("ICF ", v, " is not the protocol's current ICF ",
                                                            p.icf_version()));
      }
      if (!site_approves_icf(v)) {
        return Rule("consent.icf_not_approved", absl::StrCat("ICF ", v, " is not approved at site ", s.site_id()));
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kReconsent: {
      const std::string& v = e.reconsent().icf_version();
      if (!s.consent().consented()) {
        return Rule("reconsent.not_consented", absl::StrCat("subject ", sid, " has no consent to renew"));
      }
      if (v != p.icf_version()) {
        return Rule("consent.icf_not_current", absl::StrCat("ICF ", v, " is not the protocol's current ICF ",
                                                            p.icf_version()));
      }
      if (!site_approves_icf(v)) {
        return Rule("consent.icf_not_approved", absl::StrCat("ICF ", v, " is not approved at site ", s.site_id()));
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kAssentObtained:
      if (e.assent_obtained().assent_form_version() != p.assent_form_version()) {
        return Rule("assent.form_not_current",
                    absl::StrCat("assent form ", e.assent_obtained().assent_form_version(),
                                 " is not the protocol's current form ", p.assent_form_version()));
      }
      return absl::OkStatus();
    case v1::TrialEvent::kAssentNotObtained:
      if (e.assent_not_obtained().reason() == v1::ASSENT_NOT_OBTAINED_REASON_BELOW_ASSENT_AGE &&
          s.age_months() / 12 >= p.assent_min_age_years()) {
        return Rule("assent.age_rule",
                    absl::StrCat("subject ", sid, " is ", Years(s.age_months()),
                                 " old; the protocol requires assent from ", p.assent_min_age_years(), " years"));
      }
      return absl::OkStatus();
    case v1::TrialEvent::kConsentWithdrawn:
      if (!s.consent().consented()) {
        return Rule("withdrawal.not_consented", absl::StrCat("subject ", sid, " never consented"));
      }
      if (s.consent().withdrawn() == v1::WITHDRAWAL_SCOPE_ALL) {
        return Rule("consent.withdrawn", absl::StrCat("consent for subject ", sid, " is already withdrawn"));
      }
      return absl::OkStatus();
    case v1::TrialEvent::kEligibilityAssessed:
      if (s.enrolled()) {
        return Rule("eligibility.already_enrolled", absl::StrCat("subject ", sid, " is already enrolled"));
      }
      // Every criterion must be answered; whether they are met is judged at
      // sign-off (SIG_ELIGIBILITY), since a failing assessment is a record too.
      for (const v1::EligibilityCriterion& c : p.criteria()) {
        bool answered = false;
        for (const v1::CriterionAnswer& a : e.eligibility_assessed().answers()) answered |= a.code() == c.code();
        if (!answered) {
          return Rule("eligibility.incomplete",
                      absl::StrCat("criterion ", c.code(), " (", c.text(), ") is not answered"));
        }
      }
      return absl::OkStatus();
    case v1::TrialEvent::kScreenFailed:
      if (s.enrolled()) {
        return Rule("screen_failure.already_enrolled", absl::StrCat("subject ", sid, " is already enrolled"));
      }
      return absl::OkStatus();
    case v1::TrialEvent::kEnrolled:
      if (s.enrolled()) return Rule("enrolment.already_enrolled", absl::StrCat("subject ", sid, " is already enrolled"));
      if (!s.eligibility().assessed() || !s.eligibility().signed_off() || !s.eligibility().criteria_met() ||
          !s.eligibility().molecular_eligible()) {
        return Rule("enrolment.eligibility_not_signed",
                    absl::StrCat("subject ", sid, " has no eligibility assessment signed off (SIG_ELIGIBILITY, "
                                 "not outdated) by an investigator"));
      }
      if (s.age_months() / 12 >= p.max_age_years()) {
        return Rule("eligibility.age_limit", absl::StrCat("subject ", sid, " is ", Years(s.age_months()),
                                                          " old; the protocol enrols under ", p.max_age_years()));
      }
      return absl::OkStatus();
    case v1::TrialEvent::kBodyMeasurement:
      return absl::OkStatus();
    case v1::TrialEvent::kDosePrescribed: {
      TRIALOG_RETURN_IF_ERROR(DosingGate(s));
      const uint32_t bsa = s.bsa().bsa_m2_x100();
      if (bsa == 0) return Rule("dose.no_bsa", absl::StrCat("subject ", sid, " has no height and weight recorded"));
      if (e.dose_prescribed().bsa_m2_x100() != bsa) {
        return Rule("dose.bsa_not_latest",
                    absl::StrFormat("the prescription uses BSA %u.%02u m2 but the subject's latest BSA is %u.%02u m2",
                                    e.dose_prescribed().bsa_m2_x100() / 100, e.dose_prescribed().bsa_m2_x100() % 100,
                                    bsa / 100, bsa % 100));
      }
      return CheckDose(p, bsa, e.dose_prescribed().dose_mg());
    }
    case v1::TrialEvent::kDrugDispensed:
      TRIALOG_RETURN_IF_ERROR(DosingGate(s));
      if (s.dosing().prescribed_dose_mg() == 0) {
        return Rule("dose.no_prescription", absl::StrCat("subject ", sid, " has no prescription"));
      }
      return absl::OkStatus();
    case v1::TrialEvent::kDoseAdministered: {
      TRIALOG_RETURN_IF_ERROR(DosingGate(s));
      const v1::DoseAdministered& d = e.dose_administered();
      if (s.dosing().prescribed_dose_mg() == 0) {
        return Rule("dose.no_prescription", absl::StrCat("subject ", sid, " has no prescription"));
      }
      if (d.administrations() == 0) return absl::OkStatus();  // only missed doses
      if (s.dosing().interrupted()) {
        return Rule("dose.interrupted", absl::StrCat("dosing of subject ", sid, " is interrupted"));
      }
      if (d.dose_mg() > s.dosing().prescribed_dose_mg()) {
        return Rule("dose.above_prescription", absl::StrCat(d.dose_mg(), " mg exceeds the prescribed ",
                                                            s.dosing().prescribed_dose_mg(), " mg"));
      }
      if (s.dosing().administrations() == 0) {
        const int64_t first_day = day - (d.period_days() - 1);
        const v1::RecistState& r = s.recist();
        const int64_t base_day =
            r.has_baseline() ? LocalDay(r.baseline_unix_micros(), env.observed_at().utc_offset_minutes()) : 0;
        if (!r.has_baseline() || first_day < base_day ||
            first_day - base_day > p.recist().baseline_max_days_before_first_dose()) {
          return Rule("dose.baseline_required",
                      absl::StrCat("the first dose needs a baseline tumour assessment at most ",
                                   p.recist().baseline_max_days_before_first_dose(), " days before it"));
        }
      }
      return CheckDose(p, s.bsa().bsa_m2_x100(), d.dose_mg());
    }
    case v1::TrialEvent::kDoseModified: {
      TRIALOG_RETURN_IF_ERROR(DosingGate(s));
      const v1::DoseModified& m = e.dose_modified();
      if (env.reason().empty()) {
        return Rule("dose_modification.reason_required", "an interruption, resumption or reduction needs a reason");
      }
      if (s.dosing().prescribed_dose_mg() == 0) {
        return Rule("dose.no_prescription", absl::StrCat("subject ", sid, " has no prescription"));
      }
      for (const std::string& id : m.trigger_event_ids()) {
        if (FindRecord(subject, id) == nullptr) {
          return Rule("dose_modification.unknown_trigger", "a trigger event is not a record of this subject");
        }
      }
      if (m.action() == v1::DOSE_ACTION_INTERRUPTED && s.dosing().interrupted()) {
        return Rule("dose_modification.already_interrupted", "dosing is already interrupted");
      }
      if (m.action() == v1::DOSE_ACTION_RESUMED && !s.dosing().interrupted()) {
        return Rule("dose_modification.not_interrupted", "dosing is not interrupted");
      }
      if (m.action() == v1::DOSE_ACTION_REDUCED && m.new_dose_mg() >= s.dosing().prescribed_dose_mg()) {
        return Rule("dose_modification.not_a_reduction",
                    absl::StrCat(m.new_dose_mg(), " mg is not below the current ", s.dosing().prescribed_dose_mg(), " mg"));
      }
      if (m.action() == v1::DOSE_ACTION_REDUCED && !p.reduction_bands().empty()) {
        const uint32_t level = s.dosing().reductions() + 1;
        TRIALOG_ASSIGN_OR_RETURN(uint32_t table_mg, ReductionDoseMg(p, s.bsa().bsa_m2_x100(), level));
        if (m.new_dose_mg() != table_mg) {
          return Rule("dose.reduction_table",
                      absl::StrCat("reduction ", level, " at BSA ", s.bsa().bsa_m2_x100() / 100, ".",
                                   absl::StrFormat("%02u", s.bsa().bsa_m2_x100() % 100), " m2 is ", table_mg,
                                   " mg per the protocol's table, not ", m.new_dose_mg(), " mg"));
        }
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kAeReported: {
      const v1::AdverseEventReported& a = e.ae_reported();
      if (find_ae(a.ae_id()) != nullptr) {
        return Rule("ae.duplicate_id", absl::StrCat("adverse event ", a.ae_id(), " already exists"));
      }
      if (a.grade() == 5 && (!HasCriterion(a.serious_criteria(), v1::SERIOUSNESS_CRITERION_DEATH) ||
                             a.outcome() != v1::AE_OUTCOME_FATAL)) {
        return Rule("ae.grade5_fatal", "grade 5 (death) requires the DEATH seriousness criterion and outcome FATAL");
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kAeUpdated: {
      const v1::AdverseEventUpdated& u = e.ae_updated();
      const v1::AdverseEventState* a = find_ae(u.ae_id());
      if (a == nullptr) return Rule("ae.unknown", absl::StrCat("no adverse event ", u.ae_id()));
      if (!a->open()) return Rule("ae.closed", absl::StrCat("adverse event ", u.ae_id(), " is resolved"));
      if (u.grade() == 5 && ((!HasCriterion(u.add_serious_criteria(), v1::SERIOUSNESS_CRITERION_DEATH) &&
                              std::find(a->serious_criteria().begin(), a->serious_criteria().end(),
                                        v1::SERIOUSNESS_CRITERION_DEATH) == a->serious_criteria().end()) ||
                             u.outcome() != v1::AE_OUTCOME_FATAL)) {
        return Rule("ae.grade5_fatal", "grade 5 (death) requires the DEATH seriousness criterion and outcome FATAL");
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kAeResolved: {
      const v1::AdverseEventState* a = find_ae(e.ae_resolved().ae_id());
      if (a == nullptr) return Rule("ae.unknown", absl::StrCat("no adverse event ", e.ae_resolved().ae_id()));
      if (!a->open()) return Rule("ae.closed", absl::StrCat("adverse event ", e.ae_resolved().ae_id(), " is resolved"));
      return absl::OkStatus();
    }
    case v1::TrialEvent::kSaeReported: {
      const v1::AdverseEventState* a = find_ae(e.sae_reported().ae_id());
      if (a == nullptr) return Rule("ae.unknown", absl::StrCat("no adverse event ", e.sae_reported().ae_id()));
      if (!a->serious()) {
        return Rule("ae.not_serious", absl::StrCat("adverse event ", a->ae_id(), " meets no seriousness criterion"));
      }
      if (a->sponsor_notified_unix_micros() != 0) {
        return Rule("ae.sae_already_reported", absl::StrCat("adverse event ", a->ae_id(), " was already reported"));
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kTumourAssessment: {
      const v1::TumourAssessment& t = e.tumour_assessment();
      const v1::RecistState& r = s.recist();
      if (t.baseline()) {
        if (r.has_baseline()) return Rule("recist.baseline_exists", absl::StrCat("subject ", sid, " already has a baseline"));
        if (s.dosing().administrations() > 0) {
          return Rule("recist.baseline_after_first_dose", "a baseline must be recorded before the first dose");
        }
        return CheckBaseline(p.recist(), t);
      }
      if (!r.has_baseline()) return Rule("recist.no_baseline", "a follow-up assessment needs a baseline first");
      if (env.observed_at().unix_micros() <= r.baseline_unix_micros()) {
        return Rule("recist.before_baseline", "the scan is not after the baseline scan");
      }
      const v1::StoredRecord* base = FindRecord(subject, r.baseline_event_id());
      if (base == nullptr) return Rule("recist.no_baseline", "the baseline record is missing");
      return CheckFollowUp(base->event().tumour_assessment(), t);
    }
    case v1::TrialEvent::kEndOfTreatment:
      if (!s.enrolled()) return Rule("end_of_treatment.not_enrolled", absl::StrCat("subject ", sid, " is not enrolled"));
      if (s.treatment_ended()) return Rule("end_of_treatment.already_ended", "treatment has already ended");
      return absl::OkStatus();
    case v1::TrialEvent::kEndOfStudy:
      return absl::OkStatus();  // a second one is caught by subject.off_study
    case v1::TrialEvent::kDataCorrected:
      return CheckCorrection(env, e.data_corrected(), subject);
    case v1::TrialEvent::kEventVoided: {
      if (env.reason().empty()) return Rule("void.reason_required", "a void needs a reason");
      const v1::StoredRecord* t = FindRecord(subject, e.event_voided().target_event_id());
      if (t == nullptr) return Rule("void.unknown_target", "the target is not a record of this subject's stream");
      if (t->voided()) return Rule("void.already_voided", "the target is already voided");
      if (!IsVoidable(t->event())) {
        return Rule("void.not_voidable", "consent, enrolment, disposition and record-keeping entries cannot be voided");
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kESignature:
      return CheckSignature(env, e.e_signature(), subject);
    case v1::TrialEvent::kQueryOpened: {
      for (const v1::QueryState& q : subject.store.queries()) {
        if (q.query_id() == e.query_opened().query_id()) {
          return Rule("query.duplicate_id", absl::StrCat("query ", q.query_id(), " already exists"));
        }
      }
      if (!e.query_opened().target_event_id().empty() &&
          FindRecord(subject, e.query_opened().target_event_id()) == nullptr) {
        return Rule("query.unknown_target", "the queried record is not in this subject's stream");
      }
      return absl::OkStatus();
    }
    case v1::TrialEvent::kQueryAnswered:
    case v1::TrialEvent::kQueryClosed: {
      const std::string& id =
          e.has_query_answered() ? e.query_answered().query_id() : e.query_closed().query_id();
      for (const v1::QueryState& q : subject.store.queries()) {
        if (q.query_id() != id) continue;
        if (q.closed()) return Rule("query.closed", absl::StrCat("query ", id, " is closed"));
        return absl::OkStatus();
      }
      return Rule("query.unknown", absl::StrCat("no query ", id));
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status TrialStateMachine::CheckCorrection(const v1::Envelope& env, const v1::DataCorrected& c,
                                                const SubjectData& subject) const {
  if (env.reason().empty()) return Rule("correction.reason_required", "a correction needs a reason");
  const v1::StoredRecord* t = FindRecord(subject, c.target_event_id());
  if (t == nullptr) return Rule("correction.unknown_target", "the target is not a record of this subject's stream");
  if (t->voided()) return Rule("correction.target_voided", "the target record is voided");
  if (!IsCorrectable(t->event())) {
    return Rule("correction.not_correctable", "signatures, corrections, voids, queries and notes are not corrected");
  }
  const v1::Role role = env.actor().role();
  if (role != v1::ROLE_INVESTIGATOR && role != v1::ROLE_SUB_INVESTIGATOR &&
      role != v1::ROLE_STUDY_COORDINATOR && role != t->role()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "rule correction.author_role: role ", v1::Role_Name(role), " may correct only records authored in its role (",
        v1::Role_Name(t->role()), " authored this one)"));
  }
  if (IsKeyField(LeafFieldName(c.field_path()))) {
    return Rule("correction.key_field", absl::StrCat("field ", c.field_path(), " identifies the record and cannot be corrected"));
  }
  absl::StatusOr<std::string> current = GetFieldText(t->event(), c.field_path());
  if (!current.ok()) {
    if (current.status().code() == absl::StatusCode::kNotFound) {
      return Rule("correction.bad_field_path", current.status().message());
    }
    return current.status();
  }
  if (*current != c.old_value()) {
    return Rule("correction.old_value_mismatch",
                absl::StrCat("old_value \"", c.old_value(), "\" is not the current value \"", *current, "\" of ",
                             c.field_path()));
  }
  if (c.new_value() == c.old_value()) return Rule("correction.no_change", "new_value equals old_value");
  v1::TrialEvent corrected = t->event();
  absl::Status set = SetFieldText(&corrected, c.field_path(), c.new_value());
  if (!set.ok()) return absl::InvalidArgumentError(absl::StrCat("data_corrected: ", set.message()));
  absl::Status shape = ValidateShape(*protocol(), corrected);
  if (!shape.ok()) return Rule("correction.invalid_result", shape.message());
  return absl::OkStatus();
}

absl::Status TrialStateMachine::CheckSignature(const v1::Envelope& env, const v1::ESignature& sig,
                                               const SubjectData& subject) const {
  const v1::ProtocolDefinition& p = *protocol();
  const SignatureDef* def = FindSignatureDef(sig.meaning());
  if (sig.printed_name() != env.actor().printed_name() || sig.printed_name().empty()) {
    return Rule("signature.printed_name", "the signature's printed name must be the signer's (actor.printed_name)");
  }
  if (sig.meaning_text() != def->legal_text) {
    return Rule("signature.meaning_text", absl::StrCat("the meaning text of ", def->oid, " must read \"",
                                                       def->legal_text, "\""));
  }
  if (sig.meaning() == v1::SIG_CASEBOOK) {
    const auto& records = subject.store.records();
    if (sig.records_size() != 1 || records.empty() ||
        sig.records(0).event_id() != records[records.size() - 1].event_id() ||
        sig.records(0).record_hash() != subject.store.head_hash()) {
      return Rule("signature.casebook_not_head",
                  "a casebook signature covers exactly the subject stream's latest entry and its hash");
    }
    return absl::OkStatus();
  }
  for (const v1::SignedRecord& sr : sig.records()) {
    const v1::StoredRecord* r = FindRecord(subject, sr.event_id());
    if (r == nullptr) return Rule("signature.unknown_record", "a signed record is not in this subject's stream");
    if (r->voided()) return Rule("signature.voided_record", "a signed record is voided");
    if (r->version_hash() != sr.record_hash()) {
      return Rule("signature.stale_record",
                  "a record_hash is not the hash of the record's current version (it was corrected since)");
    }
    const v1::TrialEvent& ev = r->event();
    bool kind_ok = true;
    switch (sig.meaning()) {
      case v1::SIG_ELIGIBILITY: kind_ok = ev.has_eligibility_assessed(); break;
      case v1::SIG_AE_CAUSALITY: kind_ok = ev.has_ae_reported() || ev.has_ae_updated(); break;
      case v1::SIG_RESPONSE: kind_ok = ev.has_tumour_assessment(); break;
      default: kind_ok = !ev.has_e_signature(); break;
    }
    if (!kind_ok) {
      return Rule("signature.wrong_record_kind", absl::StrCat(def->oid, " cannot sign a record of this kind"));
    }
    if (sig.meaning() == v1::SIG_ELIGIBILITY) {
      TRIALOG_RETURN_IF_ERROR(CheckCriteria(p, ev.eligibility_assessed()));
      TRIALOG_RETURN_IF_ERROR(CheckMolecular(p, subject.store));
      const v1::SubjectState& s = *subject.state;
      if (s.age_months() / 12 >= p.max_age_years()) {
        return Rule("eligibility.age_limit", absl::StrCat("subject ", s.subject_id(), " is ", Years(s.age_months()),
                                                          " old; the protocol enrols under ", p.max_age_years()));
      }
    }
  }
  return absl::OkStatus();
}

void TrialStateMachine::Apply(const ledger::ParsedEntry& pe) {
  has_applied_ = true;
  last_index_ = pe.entry.index();
  last_recorded_at_ = pe.entry.recorded_at_unix_micros();
  const v1::Envelope& env = pe.envelope;
  if (env.event().has_genesis()) {
    if (protocols_.empty() && env.event().genesis().has_protocol() &&
        ValidateProtocol(env.event().genesis().protocol()).ok()) {
      Activate(env.event().genesis().protocol());
    }
    return;
  }
  if (!env.event().has_trial()) return;
  const v1::TrialEvent& e = env.event().trial();
  if (IsTrialLevel(e)) {
    if (env.stream_id() != kTrialStream) return;
    if (e.has_protocol_amended()) {
      const v1::ProtocolDefinition& np = e.protocol_amended().protocol();
      if (protocol() != nullptr && np.protocol_id() == protocol()->protocol_id() &&
          np.version() == protocol()->version() + 1 && ValidateProtocol(np).ok()) {
        Activate(np);
        for (auto& [id, subject] : subjects_) Reproject(&subject);
      }
    } else if (e.has_site_activated()) {
      const v1::SiteActivated& a = e.site_activated();
      v1::SiteState& site = sites_[a.site_id()];
      site.set_site_id(a.site_id());
      for (const std::string& v : a.approved_icf_versions()) {
        if (std::find(site.approved_icf_versions().begin(), site.approved_icf_versions().end(), v) ==
            site.approved_icf_versions().end()) {
          site.add_approved_icf_versions(v);
        }
      }
      for (const std::string& v : a.approved_assent_versions()) {
        if (std::find(site.approved_assent_versions().begin(), site.approved_assent_versions().end(), v) ==
            site.approved_assent_versions().end()) {
          site.add_approved_assent_versions(v);
        }
      }
    } else if (e.has_database_locked()) {
      locked_ = true;
    } else if (e.has_database_unlocked()) {
      locked_ = false;
    }
    return;
  }
  ApplySubjectEvent(pe, e);
}

void TrialStateMachine::ApplySubjectEvent(const ledger::ParsedEntry& pe, const v1::TrialEvent& e) {
  absl::StatusOr<std::string> sid = SubjectIdFromStream(pe.envelope.stream_id());
  if (!sid.ok()) return;
  auto it = subjects_.find(*sid);
  if (it == subjects_.end()) {
    if (!e.has_subject_registered()) return;
    it = subjects_.emplace(*sid, SubjectData{}).first;
    it->second.store.set_subject_id(*sid);
  }
  SubjectData& subject = it->second;
  v1::SubjectStore& store = subject.store;
  const v1::Envelope& env = pe.envelope;
  const std::string& event_id = env.event_id();

  v1::StoredRecord* rec = store.add_records();
  rec->set_event_id(event_id);
  rec->set_index(pe.entry.index());
  rec->set_recorded_at_unix_micros(pe.entry.recorded_at_unix_micros());
  rec->set_observed_unix_micros(env.observed_at().unix_micros());
  rec->set_observed_utc_offset_minutes(env.observed_at().utc_offset_minutes());
  rec->set_principal_id(env.actor().principal_id());
  rec->set_role(env.actor().role());
  rec->set_printed_name(env.actor().printed_name());
  *rec->mutable_event() = e;
  rec->set_version_hash(pe.leaf_hash);
  rec->set_last_changed_index(pe.entry.index());
  if (!subject.by_event_id.count(event_id)) {
    subject.by_event_id[event_id] = store.records_size() - 1;
  }

  if (e.has_data_corrected() || e.has_event_voided()) {
    const std::string& target_id =
        e.has_data_corrected() ? e.data_corrected().target_event_id() : e.event_voided().target_event_id();
    auto t = subject.by_event_id.find(target_id);
    if (t != subject.by_event_id.end()) {
      v1::StoredRecord* target = store.mutable_records(t->second);
      if (e.has_data_corrected()) {
        if (SetFieldText(target->mutable_event(), e.data_corrected().field_path(),
                         e.data_corrected().new_value())
                .ok()) {
          target->set_corrections(target->corrections() + 1);
        }
      } else {
        target->set_voided(true);
      }
      target->set_version_hash(pe.leaf_hash);
      target->set_last_changed_index(pe.entry.index());
    }
  } else if (e.has_query_opened()) {
    v1::QueryState* q = store.add_queries();
    q->set_query_id(e.query_opened().query_id());
  } else if (e.has_query_answered() || e.has_query_closed()) {
    const std::string& id = e.has_query_answered() ? e.query_answered().query_id() : e.query_closed().query_id();
    for (v1::QueryState& q : *store.mutable_queries()) {
      if (q.query_id() != id) continue;
      if (e.has_query_answered()) q.set_answered(true);
      if (e.has_query_closed()) q.set_closed(true);
    }
  }
  store.set_head_hash(pe.leaf_hash);
  store.set_head_index(pe.entry.index());
  Reproject(&subject);
}

void TrialStateMachine::EndReplay() {
  deferring_ = false;
  for (const std::string& id : dirty_) {
    auto it = subjects_.find(id);
    if (it == subjects_.end()) continue;
    it->second.stale = false;
    Reproject(&it->second);
  }
  dirty_.clear();
}

void TrialStateMachine::Reproject(SubjectData* subject) {
  if (protocol() == nullptr) return;
  if (deferring_) {
    if (!subject->stale) {
      subject->stale = true;
      dirty_.push_back(subject->store.subject_id());
    }
    return;
  }
  subject->state = std::make_shared<const v1::SubjectState>(ProjectSubject(*protocol(), subject->store));
}

std::string TrialStateMachine::Snapshot() const {
  v1::TrialMachineSnapshot snap;
  snap.set_format(1);
  snap.set_has_applied(has_applied_);
  snap.set_last_index(last_index_);
  snap.set_last_recorded_at_unix_micros(last_recorded_at_);
  for (const v1::ProtocolDefinition& p : protocols_) *snap.add_protocol_versions() = p;
  snap.set_locked(locked_);
  for (const auto& [id, site] : sites_) *snap.add_sites() = site;
  for (const auto& [id, subject] : subjects_) {
    v1::SubjectStore* store = snap.add_subjects();
    *store = subject.store;
    *store->mutable_state() = *subject.state;
  }
  return DeterministicBytes(snap);
}

absl::StatusOr<std::unique_ptr<TrialStateMachine>> TrialStateMachine::FromSnapshot(absl::string_view bytes) {
  v1::TrialMachineSnapshot snap;
  if (!snap.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("trial snapshot: bytes do not parse as TrialMachineSnapshot");
  }
  if (snap.format() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("trial snapshot: unknown format ", snap.format()));
  }
  auto m = std::make_unique<TrialStateMachine>();
  for (const v1::ProtocolDefinition& p : snap.protocol_versions()) {
    absl::Status s = ValidateProtocol(p);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("trial snapshot: ", s.message()));
    m->Activate(p);
  }
  m->has_applied_ = snap.has_applied();
  m->last_index_ = snap.last_index();
  m->last_recorded_at_ = snap.last_recorded_at_unix_micros();
  m->locked_ = snap.locked();
  for (const v1::SiteState& site : snap.sites()) m->sites_[site.site_id()] = site;
  for (const v1::SubjectStore& store : snap.subjects()) {
    if (m->subjects_.count(store.subject_id())) {
      return absl::InvalidArgumentError(absl::StrCat("trial snapshot: subject ", store.subject_id(), " repeated"));
    }
    SubjectData& data = m->subjects_[store.subject_id()];
    data.store = store;
    data.store.clear_state();
    data.state = std::make_shared<const v1::SubjectState>(store.state());
    for (int i = 0; i < store.records_size(); ++i) data.by_event_id.emplace(store.records(i).event_id(), i);
    if (m->protocol() != nullptr &&
        DeterministicBytes(ProjectSubject(*m->protocol(), store)) != DeterministicBytes(store.state())) {
      return absl::DataLossError(absl::StrCat("trial snapshot: the stored state of subject ", store.subject_id(),
                                              " differs from the one its records give"));
    }
  }
  return m;
}

absl::Status TrialStateMachine::RestoreState(absl::string_view bytes) {
  absl::StatusOr<std::unique_ptr<TrialStateMachine>> restored = FromSnapshot(bytes);
  if (!restored.ok()) return restored.status();
  *this = std::move(**restored);
  return absl::OkStatus();
}

absl::StatusOr<v1::SubjectState> TrialStateMachine::Subject(absl::string_view subject_id) const {
  const SubjectData* s = FindSubject(subject_id);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("no subject ", subject_id));
  return *s->state;
}

std::vector<std::string> TrialStateMachine::SubjectIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, subject] : subjects_) ids.push_back(id);
  return ids;
}

v1::TrialSummary TrialStateMachine::Summary() const {
  std::vector<const v1::SubjectState*> states;
  for (const auto& [id, subject] : subjects_) states.push_back(subject.state.get());
  return Summarize(protocol(), states, locked_, static_cast<uint32_t>(sites_.size()), last_index_);
}

TrialView TrialStateMachine::View() const {
  TrialView v;
  v.has_applied = has_applied_;
  v.last_index = last_index_;
  v.last_recorded_at_unix_micros = last_recorded_at_;
  v.locked = locked_;
  v.sites_active = static_cast<uint32_t>(sites_.size());
  v.protocol = active_;
  v.subjects.reserve(subjects_.size());
  for (const auto& [id, subject] : subjects_) v.subjects.emplace_back(id, subject.state);
  return v;
}

const v1::SubjectStore* TrialStateMachine::Store(absl::string_view subject_id) const {
  const SubjectData* s = FindSubject(subject_id);
  return s == nullptr ? nullptr : &s->store;
}

void TrialStateMachine::Activate(v1::ProtocolDefinition protocol) {
  protocols_.push_back(std::move(protocol));
  active_ = std::make_shared<const v1::ProtocolDefinition>(protocols_.back());
}

const v1::SubjectState* TrialView::Subject(absl::string_view subject_id) const {
  auto it = std::lower_bound(subjects.begin(), subjects.end(), subject_id,
                             [](const auto& entry, absl::string_view id) {
                               return absl::string_view(entry.first) < id;
                             });
  if (it == subjects.end() || it->first != subject_id) return nullptr;
  return it->second.get();
}

v1::TrialSummary TrialView::Summary() const {
  std::vector<const v1::SubjectState*> states;
  states.reserve(subjects.size());
  for (const auto& entry : subjects) states.push_back(entry.second.get());
  return Summarize(protocol.get(), states, locked, sites_active, last_index);
}

absl::StatusOr<std::string> TrialStateMachine::RecordHash(absl::string_view stream_id,
                                                          absl::string_view event_id) const {
  TRIALOG_ASSIGN_OR_RETURN(std::string sid, SubjectIdFromStream(stream_id));
  const SubjectData* s = FindSubject(sid);
  if (s == nullptr) return absl::NotFoundError(absl::StrCat("no subject ", sid));
  const v1::StoredRecord* r = FindRecord(*s, event_id);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("no such record in stream ", stream_id));
  return r->version_hash();
}

absl::Status TrialStateMachine::FillSignatureHashes(absl::string_view stream_id,
                                                    v1::ESignature* signature) const {
  if (signature->meaning() == v1::SIG_CASEBOOK && signature->records().empty()) {
    TRIALOG_ASSIGN_OR_RETURN(std::string sid, SubjectIdFromStream(stream_id));
    const SubjectData* s = FindSubject(sid);
    if (s == nullptr || s->store.records().empty()) return absl::NotFoundError(absl::StrCat("no subject ", sid));
    v1::SignedRecord* r = signature->add_records();
    r->set_event_id(s->store.records(s->store.records_size() - 1).event_id());
    r->set_record_hash(s->store.head_hash());
    return absl::OkStatus();
  }
  for (v1::SignedRecord& r : *signature->mutable_records()) {
    if (!r.record_hash().empty()) continue;
    TRIALOG_ASSIGN_OR_RETURN(std::string h, RecordHash(stream_id, r.event_id()));
    r.set_record_hash(h);
  }
  return absl::OkStatus();
}

}  // namespace trialog::trial
