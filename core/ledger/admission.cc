#include "core/ledger/admission.h"

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/ledger/batch.h"
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
  if (signed_envelope.has_batch_proof()) {
    return absl::InvalidArgumentError(
        "a batch_proof is only accepted through ImportBatch (BulkImportService)");
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

absl::StatusOr<AdmittedBatch> PrepareBatchAdmission(absl::string_view trial_id,
                                                    const v1::SignedBatch& batch,
                                                    const PrincipalRegistry& registry) {
  const size_t n = static_cast<size_t>(batch.envelopes_size());
  if (n == 0) return absl::InvalidArgumentError("batch is empty");
  if (n > kMaxBatchEnvelopes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("batch holds ", n, " envelopes; the limit is ", kMaxBatchEnvelopes));
  }
  if (batch.signature().size() != crypto::kSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat("batch signature must be 64 bytes, got ",
                                                   batch.signature().size()));
  }
  AdmittedBatch out;
  out.envelopes.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& bytes = batch.envelopes(static_cast<int>(i));
    auto at = [i](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat("envelope ", i, ": ", s.message()));
    };
    if (bytes.size() > kMaxEnvelopeBytes) {
      return at(absl::ResourceExhaustedError(absl::StrCat(
          "envelope is ", bytes.size(), " bytes; the limit is ", kMaxEnvelopeBytes)));
    }
    absl::StatusOr<v1::Envelope> envelope = ParseEnvelope(bytes);
    if (!envelope.ok()) return at(envelope.status());
    if (envelope->trial_id() != trial_id) {
      return at(absl::InvalidArgumentError(absl::StrCat("envelope is for trial \"",
                                                        envelope->trial_id(),
                                                        "\" but was sent to trial \"", trial_id,
                                                        "\"")));
    }
    if (envelope->event().kind_case() == v1::Event::kGenesis) {
      return at(absl::InvalidArgumentError("a genesis cannot be imported in a batch"));
    }
    const v1::Actor& actor = envelope->actor();
    if (i == 0) {
      absl::StatusOr<Principal> p = registry.Find(actor.principal_id());
      if (!p.ok() || p->revoked) {
        return at(absl::UnauthenticatedError(absl::StrCat(
            "batch signer ", actor.principal_id(), " is not an active principal of trial ",
            trial_id)));
      }
      if (p->role != kBatchSignerRole) {
        return at(absl::PermissionDeniedError(absl::StrCat(
            "batch signer ", actor.principal_id(), " is registered as ",
            v1::Role_Name(p->role), "; only ", v1::Role_Name(kBatchSignerRole),
            " principals may sign batches")));
      }
    } else if (actor.principal_id() != out.envelopes[0].envelope.actor().principal_id()) {
      return at(absl::PermissionDeniedError(absl::StrCat(
          "envelope names actor ", actor.principal_id(), " but the batch is signed by ",
          out.envelopes[0].envelope.actor().principal_id(),
          ": nobody appends as another principal")));
    }
    absl::StatusOr<std::string> key = registry.KeyFor(actor);
    if (!key.ok()) return at(key.status());
    if (i == 0) out.signer_key = *key;
    out.envelopes[i].envelope = *std::move(envelope);
    out.envelopes[i].verified_key = *std::move(key);
  }
  TRIALOG_ASSIGN_OR_RETURN(std::vector<v1::BatchProof> proofs, BuildBatchProofs(batch));
  // BuildBatchProofs rebuilt the tree; the root is the one any proof implies.
  TRIALOG_ASSIGN_OR_RETURN(std::string root, BatchRootFromProof(batch.envelopes(0), proofs[0]));
  out.message = BatchSigningMessage(trial_id, n, root);
  out.signature = batch.signature();
  for (size_t i = 0; i < n; ++i) {
    v1::SignedEnvelope& se = out.envelopes[i].signed_envelope;
    se.set_envelope(batch.envelopes(static_cast<int>(i)));
    *se.mutable_batch_proof() = std::move(proofs[i]);
  }
  return out;
}

absl::Status VerifyBatchAdmission(const AdmittedBatch& batch) {
  if (!crypto::Verify(batch.signer_key, batch.message, batch.signature)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "batch signature does not verify under the key the ledger holds for ",
        batch.envelopes.empty() ? std::string() : batch.envelopes[0].envelope.actor().principal_id(),
        " (signed message: \"trialog/v1/batch\\n\" || trial_id || 0x0A || be64(size) || root)"));
  }
  return absl::OkStatus();
}

}  // namespace trialog::ledger
