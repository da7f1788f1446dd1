// Admission: the checks an envelope passes before it reaches the
// sequencer — parse, identify the signer's key from the ledger's own
// registry, verify the signature. Runs on any thread (the costly Ed25519
// verification is meant to run in parallel, outside the sequencer).

#ifndef TRIALOG_CORE_LEDGER_ADMISSION_H_
#define TRIALOG_CORE_LEDGER_ADMISSION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/registry.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::ledger {

// An envelope that parsed and whose signature verified under `verified_key`.
struct AdmittedEnvelope {
  v1::SignedEnvelope signed_envelope;
  v1::Envelope envelope;
  std::string verified_key;  // 32-byte Ed25519 key the signature verified under
};

// Limits on what a client may send (RESOURCE_EXHAUSTED beyond them).
inline constexpr size_t kMaxEnvelopeBytes = 256 * 1024;

// Admits `signed_envelope` for ledger `trial_id`:
//   INVALID_ARGUMENT   malformed envelope, or trial_id differs from the
//                      envelope's own trial_id;
//   RESOURCE_EXHAUSTED envelope larger than kMaxEnvelopeBytes;
//   UNAUTHENTICATED    unknown or revoked principal, or a bad signature;
//   PERMISSION_DENIED  the actor's claimed role or site is not the
//                      registered one.
// A genesis envelope verifies under the first admin key it carries.
// `registry` is read only; the caller holds whatever lock protects it.
absl::StatusOr<AdmittedEnvelope> Admit(absl::string_view trial_id,
                                       v1::SignedEnvelope signed_envelope,
                                       const PrincipalRegistry& registry);

// Lookup half of Admit (no signature check): parses and returns the key
// the signature must verify under. Lets callers look up under a lock and
// verify outside it.
absl::StatusOr<AdmittedEnvelope> PrepareAdmission(absl::string_view trial_id,
                                                  v1::SignedEnvelope signed_envelope,
                                                  const PrincipalRegistry& registry);
// Signature half of Admit.
absl::Status VerifyAdmission(const AdmittedEnvelope& admitted);

// A batch (bulk import, docs/FORMAT.md §1.1) that parsed, whose signer is
// an active ROLE_EXTERNAL_SYSTEM principal named by every envelope, with
// each envelope's BatchProof attached: envelopes[i].signed_envelope holds
// envelope i's bytes, an empty signature and its batch_proof.
struct AdmittedBatch {
  std::vector<AdmittedEnvelope> envelopes;
  std::string message;     // BatchSigningMessage(trial, size, root)
  std::string signature;   // the batch signature (64 bytes)
  std::string signer_key;  // the signer's registered key (32 bytes)
};

// Lookup half of batch admission (no signature check). Errors name the
// first bad envelope's position ("envelope 7: ..."):
//   INVALID_ARGUMENT   empty batch, malformed envelope or signature, an
//                      envelope for another trial, a genesis envelope;
//   RESOURCE_EXHAUSTED more than kMaxBatchEnvelopes envelopes, or one
//                      larger than kMaxEnvelopeBytes;
//   UNAUTHENTICATED    the signer is unknown or revoked;
//   PERMISSION_DENIED  the signer's registered role is not
//                      ROLE_EXTERNAL_SYSTEM, an envelope names another
//                      actor than envelope 0, or claims another role/site.
absl::StatusOr<AdmittedBatch> PrepareBatchAdmission(absl::string_view trial_id,
                                                    const v1::SignedBatch& batch,
                                                    const PrincipalRegistry& registry);
// Signature half: ONE Ed25519 verification for the whole batch.
// UNAUTHENTICATED when it does not verify under the signer's key.
absl::Status VerifyBatchAdmission(const AdmittedBatch& batch);

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_ADMISSION_H_
