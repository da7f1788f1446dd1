#include "core/trial/permissions.h"

#include <algorithm>

namespace trialog::trial {
namespace {

using R = v1::Role;
constexpr R kAdmin = v1::ROLE_SPONSOR_ADMIN;
constexpr R kInv = v1::ROLE_INVESTIGATOR;
constexpr R kSub = v1::ROLE_SUB_INVESTIGATOR;
constexpr R kCoord = v1::ROLE_STUDY_COORDINATOR;
constexpr R kPharm = v1::ROLE_PHARMACIST;
constexpr R kDm = v1::ROLE_DATA_MANAGER;
constexpr R kMon = v1::ROLE_MONITOR;
constexpr R kExt = v1::ROLE_EXTERNAL_SYSTEM;
constexpr R kRad = v1::ROLE_RADIOLOGIST;
constexpr R kSafety = v1::ROLE_SAFETY_PHYSICIAN;

std::vector<PermissionRow>* BuildTable() {
  // Site clinical staff enter data; investigators (and sub-investigators)
  // decide and sign; the pharmacist dispenses; the sponsor administers the
  // trial; monitors and data managers only query (and monitors verify
  // source); auditors and regulators append nothing.
  const std::vector<R> site = {kInv, kSub, kCoord};
  const std::vector<R> doctors = {kInv, kSub};
  return new std::vector<PermissionRow>{
      {Action::kNote, "Note", {kAdmin, kInv, kSub, kCoord, kPharm, kDm, kMon, kExt, kRad, kSafety}},
      {Action::kProtocolAmended, "ProtocolAmended", {kAdmin}},
      {Action::kSiteActivated, "SiteActivated", {kAdmin}},
      {Action::kDatabaseLocked, "DatabaseLocked", {kAdmin}},
      {Action::kDatabaseUnlocked, "DatabaseUnlocked", {kAdmin}},
      {Action::kSubjectRegistered, "SubjectRegistered", site},
      {Action::kGuardianConsent, "GuardianConsentObtained", site},
      {Action::kAssentObtained, "AssentObtained", site},
      {Action::kAssentNotObtained, "AssentNotObtained", doctors},
      {Action::kReconsent, "ReconsentObtained", site},
      {Action::kConsentWithdrawn, "ConsentWithdrawn", doctors},
      {Action::kMolecularResult, "MolecularResultRecorded", {kInv, kSub, kCoord, kExt}},
      {Action::kEligibilityAssessed, "EligibilityAssessed", site},
      {Action::kScreenFailed, "ScreenFailed", doctors},
      {Action::kEnrolled, "Enrolled", site},
      {Action::kBodyMeasurement, "BodyMeasurement", site},
      {Action::kDosePrescribed, "DosePrescribed", doctors},
      {Action::kDrugDispensed, "DrugDispensed", {kPharm}},
      {Action::kDoseAdministered, "DoseAdministered", site},
      {Action::kDoseModified, "DoseModified", doctors},
      {Action::kAeReported, "AdverseEventReported", site},
      {Action::kAeUpdated, "AdverseEventUpdated", site},
      {Action::kAeResolved, "AdverseEventResolved", site},
      {Action::kSaeReported, "SaeReportedToSponsor", doctors},
      {Action::kTumourAssessment, "TumourAssessment", {kInv, kSub, kRad, kExt}},
      {Action::kEndOfTreatment, "EndOfTreatment", doctors},
      {Action::kEndOfStudy, "EndOfStudy", doctors},
      {Action::kDataCorrected, "DataCorrected", {kInv, kSub, kCoord, kPharm, kRad, kExt}},
      {Action::kEventVoided, "EventVoided", {kInv, kSub, kCoord}},
      {Action::kSignEligibility, "ESignature/SIG_ELIGIBILITY", doctors},
      {Action::kSignAeCausality, "ESignature/SIG_AE_CAUSALITY", doctors},
      {Action::kSignResponse, "ESignature/SIG_RESPONSE", doctors},
      {Action::kSignCasebook, "ESignature/SIG_CASEBOOK", {kInv}},
      {Action::kSignSdv, "ESignature/SIG_SDV", {kMon}},
      {Action::kSignAuthor, "ESignature/SIG_AUTHOR", {kInv, kSub, kCoord, kPharm, kRad}},
      {Action::kQueryOpened, "QueryOpened", {kMon, kDm, kSafety}},
      {Action::kQueryAnswered, "QueryAnswered", {kInv, kSub, kCoord, kPharm, kRad}},
      {Action::kQueryClosed, "QueryClosed", {kMon, kDm, kSafety}},
  };
}

}  // namespace

const std::vector<PermissionRow>& PermissionTable() {
  static const std::vector<PermissionRow>* table = BuildTable();
  return *table;
}

bool IsPermitted(v1::Role role, Action action) {
  const PermissionRow& row = PermissionTable()[static_cast<size_t>(action)];
  return std::find(row.roles.begin(), row.roles.end(), role) != row.roles.end();
}

absl::string_view ActionName(Action action) {
  return PermissionTable()[static_cast<size_t>(action)].name;
}

absl::StatusOr<Action> ActionFor(const v1::TrialEvent& e) {
  using K = v1::TrialEvent;
  switch (e.kind_case()) {
    case K::kNote: return Action::kNote;
    case K::kProtocolAmended: return Action::kProtocolAmended;
    case K::kSiteActivated: return Action::kSiteActivated;
    case K::kDatabaseLocked: return Action::kDatabaseLocked;
    case K::kDatabaseUnlocked: return Action::kDatabaseUnlocked;
    case K::kSubjectRegistered: return Action::kSubjectRegistered;
    case K::kGuardianConsent: return Action::kGuardianConsent;
    case K::kAssentObtained: return Action::kAssentObtained;
    case K::kAssentNotObtained: return Action::kAssentNotObtained;
    case K::kReconsent: return Action::kReconsent;
    case K::kConsentWithdrawn: return Action::kConsentWithdrawn;
    case K::kMolecularResult: return Action::kMolecularResult;
    case K::kEligibilityAssessed: return Action::kEligibilityAssessed;
    case K::kScreenFailed: return Action::kScreenFailed;
    case K::kEnrolled: return Action::kEnrolled;
    case K::kBodyMeasurement: return Action::kBodyMeasurement;
    case K::kDosePrescribed: return Action::kDosePrescribed;
    case K::kDrugDispensed: return Action::kDrugDispensed;
    case K::kDoseAdministered: return Action::kDoseAdministered;
    case K::kDoseModified: return Action::kDoseModified;
    case K::kAeReported: return Action::kAeReported;
    case K::kAeUpdated: return Action::kAeUpdated;
    case K::kAeResolved: return Action::kAeResolved;
    case K::kSaeReported: return Action::kSaeReported;
    case K::kTumourAssessment: return Action::kTumourAssessment;
    case K::kEndOfTreatment: return Action::kEndOfTreatment;
    case K::kEndOfStudy: return Action::kEndOfStudy;
    case K::kDataCorrected: return Action::kDataCorrected;
    case K::kEventVoided: return Action::kEventVoided;
    case K::kQueryOpened: return Action::kQueryOpened;
    case K::kQueryAnswered: return Action::kQueryAnswered;
    case K::kQueryClosed: return Action::kQueryClosed;
    case K::kESignature:
      switch (e.e_signature().meaning()) {
        case v1::SIG_ELIGIBILITY: return Action::kSignEligibility;
        case v1::SIG_AE_CAUSALITY: return Action::kSignAeCausality;
        case v1::SIG_RESPONSE: return Action::kSignResponse;
        case v1::SIG_CASEBOOK: return Action::kSignCasebook;
        case v1::SIG_SDV: return Action::kSignSdv;
        case v1::SIG_AUTHOR: return Action::kSignAuthor;
        default:
          return absl::InvalidArgumentError(
              "e_signature.meaning is unspecified or not in the signature catalogue");
      }
    case K::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("trial event has no kind set");
}

const std::vector<SignatureDef>& SignatureCatalogue() {
  static const std::vector<SignatureDef>* catalogue = new std::vector<SignatureDef>{
      {v1::SIG_ELIGIBILITY, "SIG.ELIGIBILITY", "approval",
       "I confirm the subject meets all inclusion and no exclusion criteria."},
      {v1::SIG_AE_CAUSALITY, "SIG.AE_CAUSALITY", "responsibility",
       "I have assessed seriousness, severity and causality of this adverse event."},
      {v1::SIG_RESPONSE, "SIG.RESPONSE", "review",
       "I have reviewed the tumour measurements and assigned the response."},
      {v1::SIG_CASEBOOK, "SIG.CASEBOOK", "approval",
       "I confirm the data for this subject are accurate and complete."},
      {v1::SIG_SDV, "SIG.SDV", "review", "Reviewed against source."},
      {v1::SIG_AUTHOR, "SIG.AUTHOR", "authorship", "I am the author of this entry."},
  };
  return *catalogue;
}

const SignatureDef* FindSignatureDef(v1::SignatureMeaning meaning) {
  for (const SignatureDef& d : SignatureCatalogue()) {
    if (d.meaning == meaning) return &d;
  }
  return nullptr;
}

}  // namespace trialog::trial
