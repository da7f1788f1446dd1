// Fuzzes admission, the first thing trialogd does with a client's bytes:
// a SignedEnvelope parsed from the input, then ledger::Admit against an
// empty registry (only a genesis can pass: its signature is checked under
// the admin key it carries) and against a registry holding one sponsor
// admin, so envelopes of a registered principal reach the signature check.
// Also ledger::ParseEnvelope and ledger::PeekEventId on the raw input.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/ledger/admission.h"
#include "core/ledger/entry.h"
#include "core/ledger/registry.h"
#include "trialog/v1/ledger.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)trialog::ledger::ParseEnvelope(bytes);
  // The repeat check's shortcut must find the event id a full parse finds.
  trialog::v1::Envelope envelope;
  const std::string peeked = trialog::ledger::PeekEventId(bytes);
  if (envelope.ParseFromArray(data, static_cast<int>(size)) && peeked != envelope.event_id()) {
    std::abort();
  }
  trialog::v1::SignedEnvelope signed_envelope;
  if (!signed_envelope.ParseFromArray(data, static_cast<int>(size))) return 0;
  static const trialog::ledger::PrincipalRegistry* const empty =
      new trialog::ledger::PrincipalRegistry();
  absl::StatusOr<trialog::ledger::AdmittedEnvelope> admitted =
      trialog::ledger::Admit("fuzz-trial", signed_envelope, *empty);
  // Whatever was admitted must name the trial it was admitted for and
  // carry a 32-byte key.
  if (admitted.ok() && (admitted->envelope.trial_id() != "fuzz-trial" ||
                        admitted->verified_key.size() != 32)) {
    std::abort();
  }
  absl::StatusOr<trialog::ledger::AdmittedEnvelope> prepared =
      trialog::ledger::PrepareAdmission("fuzz-trial", signed_envelope, *empty);
  if (prepared.ok()) (void)trialog::ledger::VerifyAdmission(*prepared);
  return 0;
}
