// What goes into the sequencer and what comes out: the value types of the
// append path, shared by Ledger and Sequencer.

#ifndef TRIALOG_STORAGE_APPEND_H_
#define TRIALOG_STORAGE_APPEND_H_

#include <cstdint>
#include <string>

#include "core/ledger/admission.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::storage {

// An envelope the caller has already parsed and whose signature it has
// already verified (in parallel, before the sequencer): exactly what
// ledger::PrepareAdmission + ledger::VerifyAdmission (or ledger::Admit)
// produce — signed_envelope, envelope, verified_key.
// REQUIRES: `envelope` is the parse of `signed_envelope.envelope()` and the
// signature verifies under `verified_key` (the 32-byte key); the sequencer
// trusts both. It re-checks that the principal registry still names
// `verified_key` for the actor (or, for a Genesis envelope at index 0, that
// it is the first admin's key in the payload).
using Admitted = ledger::AdmittedEnvelope;

// The answer to one successful append (or idempotent repeat).
struct AppendResult {
  uint64_t index = 0;              // the entry's index
  std::string leaf_hash;           // SHA-256(0x00 || entry_bytes), 32 bytes
  int64_t recorded_at_unix_micros = 0;
  uint64_t stream_version = 0;     // 1 for a stream's first entry
  std::string entry_bytes;         // the stored Entry bytes
  bool duplicate = false;          // true: an identical earlier append's receipt
  uint64_t checkpoint_size = 0;    // tree size of `checkpoint` (> index)
  std::string checkpoint;          // C2SP signed note of (origin, size, root)
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_APPEND_H_
