// Who may append what: the role x action table of the trial domain, as
// data (listed in docs/TRIAL.md and walked by a table-driven test), and
// the catalogue of e-signature meanings (domain.md D.4).

#ifndef TRIALOG_CORE_TRIAL_PERMISSIONS_H_
#define TRIALOG_CORE_TRIAL_PERMISSIONS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "trialog/v1/roles.pb.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::trial {

// An action is a TrialEvent kind, or for ESignature the kind and meaning.
enum class Action {
  kNote,
  kProtocolAmended,
  kSiteActivated,
  kDatabaseLocked,
  kDatabaseUnlocked,
  kSubjectRegistered,
  kGuardianConsent,
  kAssentObtained,
  kAssentNotObtained,
  kReconsent,
  kConsentWithdrawn,
  kMolecularResult,
  kEligibilityAssessed,
  kScreenFailed,
  kEnrolled,
  kBodyMeasurement,
  kDosePrescribed,
  kDrugDispensed,
  kDoseAdministered,
  kDoseModified,
  kAeReported,
  kAeUpdated,
  kAeResolved,
  kSaeReported,
  kTumourAssessment,
  kEndOfTreatment,
  kEndOfStudy,
  kDataCorrected,
  kEventVoided,
  kSignEligibility,
  kSignAeCausality,
  kSignResponse,
  kSignCasebook,
  kSignSdv,
  kSignAuthor,
  kQueryOpened,
  kQueryAnswered,
  kQueryClosed,
};

struct PermissionRow {
  Action action;
  absl::string_view name;            // e.g. "DosePrescribed", "ESignature/SIG_ELIGIBILITY"
  std::vector<v1::Role> roles;       // the roles that may append it
};

// Every action, in declaration order, with the roles allowed to append it.
// Roles absent from a row get PERMISSION_DENIED. ROLE_AUDITOR and
// ROLE_REGULATOR appear in no row (read-only).
const std::vector<PermissionRow>& PermissionTable();

// Whether `role` may append `action`.
bool IsPermitted(v1::Role role, Action action);

absl::string_view ActionName(Action action);

// The action of an event. INVALID_ARGUMENT if no kind is set or an
// ESignature has no (or an unknown) meaning.
absl::StatusOr<Action> ActionFor(const v1::TrialEvent& event);

// An e-signature meaning: ODM SignatureDef OID, the Part 11 meaning word and
// the legal text shown at signing (which the ESignature must repeat).
struct SignatureDef {
  v1::SignatureMeaning meaning;
  absl::string_view oid;
  absl::string_view meaning_word;    // authorship / approval / review / responsibility
  absl::string_view legal_text;
};

const std::vector<SignatureDef>& SignatureCatalogue();
// nullptr for SIGNATURE_MEANING_UNSPECIFIED or an unknown value.
const SignatureDef* FindSignatureDef(v1::SignatureMeaning meaning);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_PERMISSIONS_H_
