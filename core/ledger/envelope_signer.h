// Building and signing envelopes (what a client does before sending).

#ifndef TRIALOG_CORE_LEDGER_ENVELOPE_SIGNER_H_
#define TRIALOG_CORE_LEDGER_ENVELOPE_SIGNER_H_

#include <string>

#include "core/crypto/crypto.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::ledger {

// A fresh random 16-byte event id (RFC 4122 version 4 UUID bytes).
std::string NewEventId();

// Serialises `envelope` once (deterministically) and signs
// kEnvelopeSignaturePrefix || bytes with `key`. The returned bytes are the
// ones to send; they are stored verbatim.
v1::SignedEnvelope SignEnvelope(const v1::Envelope& envelope, const crypto::SigningKey& key);

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_ENVELOPE_SIGNER_H_
