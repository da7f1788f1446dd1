// Admission: the checks an envelope passes before it reaches the
// sequencer — parse, identify the signer's key from the ledger's own
// registry, verify the signature. Runs on any thread (the costly Ed25519
// verification is meant to run in parallel, outside the sequencer).

#ifndef TRIALOG_CORE_LEDGER_ADMISSION_H_
#define TRIALOG_CORE_LEDGER_ADMISSION_H_

#include <string>

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

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_ADMISSION_H_
