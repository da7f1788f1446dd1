#include "core/ledger/admission.h"

#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/util/status_macros.h"

namespace trialog::ledger {

absl::StatusOr<AdmittedEnvelope> PrepareAdmission(absl::string_view trial_id,
                                                  v1::SignedEnvelope signed_envelope,
                                                  const PrincipalRegistry& registry) {
  if (signed_envelope.envelope().size() > kMaxEnvelopeBytes) {
    return absl::ResourceExhaustedError(absl::StrCat("envelope is ",
                                                     signed_envelope.envelope().size(),
                                                     " bytes; the limit is ", kMaxEnvelopeBytes));
  }
  if (signed_envelope.signature().size() != 64) {
    return absl::InvalidArgumentError(absl::StrCat("signature must be 64 bytes, got ",
                                                   signed_envelope.signature().size()));
  }
  AdmittedEnvelope admitted;
  TRIALOG_ASSIGN_OR_RETURN(admitted.envelope, ParseEnvelope(signed_envelope.envelope()));
  if (admitted.envelope.trial_id() != trial_id) {
    return absl::InvalidArgumentError(absl::StrCat("envelope is for trial \"",
                                                   admitted.envelope.trial_id(),
                                                   "\" but was sent to trial \"", trial_id, "\""));
  }
  if (admitted.envelope.event().kind_case() == v1::Event::kGenesis) {
    admitted.verified_key = admitted.envelope.event().genesis().first_admin().public_key();
  } else {
    TRIALOG_ASSIGN_OR_RETURN(admitted.verified_key, registry.KeyFor(admitted.envelope.actor()));
  }
  admitted.signed_envelope = std::move(signed_envelope);
  return admitted;
}

absl::Status VerifyAdmission(const AdmittedEnvelope& admitted) {
  absl::Status s = VerifyEnvelopeSignature(admitted.signed_envelope, admitted.verified_key);
  if (!s.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "signature of event by ", admitted.envelope.actor().principal_id(),
        " does not verify under the key the ledger holds for that principal"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AdmittedEnvelope> Admit(absl::string_view trial_id,
                                       v1::SignedEnvelope signed_envelope,
                                       const PrincipalRegistry& registry) {
  TRIALOG_ASSIGN_OR_RETURN(AdmittedEnvelope admitted,
                           PrepareAdmission(trial_id, std::move(signed_envelope), registry));
  TRIALOG_RETURN_IF_ERROR(VerifyAdmission(admitted));
  return admitted;
}

}  // namespace trialog::ledger
