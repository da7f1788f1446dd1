// One entry of a ledger, decoded and proved: its envelope (protobuf's JSON
// mapping), leaf hash, chain link, signer (the key the ledger's own
// principal registry held for the actor as of that entry, replayed from
// genesis) and the RFC 6962 inclusion proof of its leaf under the ledger's
// signed checkpoint, with the proof and the signature verified.
//
// The proof is computed from the source's entries (every leaf hash up to
// the checkpoint's size), not taken from the source, and verified against
// the checkpoint's root, which only the ledger key can sign.
//
// Thread-safety: pure function.

#ifndef TRIALOG_TOOLS_AUDIT_INSPECT_H_
#define TRIALOG_TOOLS_AUDIT_INSPECT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"
#include "core/ledger/ledger_audit.h"
#include "core/ledger/parallel_verifier.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"

namespace trialog::audit {

struct Inspection {
  ledger::ParsedEntry entry;
  std::string envelope_json;       // google::protobuf::util::MessageToJsonString
  // Chain link: prev_leaf_hash equals the leaf hash of entry index-1.
  bool chain_link_ok = false;
  std::string expected_prev_leaf_hash;  // 32 bytes (computed)
  // Signer: the registry's key for the actor as of this entry.
  std::string signer_key;          // 32 bytes, "" when the registry has none
  absl::Status signer_status;      // why there is no key (registry replay problem)
  bool signature_ok = false;
  // The checkpoint (signature verified) and the inclusion proof.
  note::Checkpoint checkpoint;
  std::vector<std::string> proof;  // 32-byte hashes, leaf to root
  absl::Status proof_status;       // OK when the proof verifies against the root
  // The most serious problem, as a verify finding (kOk when all checks pass).
  ledger::Finding finding = ledger::Finding::kOk;
  std::string message;
};

// Inspects entry `index` of the entries `reader` yields, under the signed
// `checkpoint_note`:
//   INVALID_ARGUMENT  malformed checkpoint note;
//   UNAUTHENTICATED   the checkpoint is not signed by `ledger_key`;
//   OUT_OF_RANGE      index >= checkpoint size (no proof possible), saying
//                     the size;
//   DATA_LOSS         the entry (or one before it) is missing or unparseable;
//   the reader's error otherwise.
// Problems of the entry itself (broken chain link, bad signature, proof
// that does not verify) are reported in the result's finding, not as an
// error, so the auditor still sees the decoded entry.
absl::StatusOr<Inspection> InspectEntry(const ledger::EntryReader& reader, uint64_t index,
                                        absl::string_view checkpoint_note, const note::Verifier& ledger_key);

}  // namespace trialog::audit

#endif  // TRIALOG_TOOLS_AUDIT_INSPECT_H_
