// Receipts: offline verification of what the ledger answered. Pure: no gRPC,
// no storage. A receipt (v1::Receipt) holds the stored entry bytes, their
// leaf hash, a C2SP checkpoint signed with the ledger's key and the RFC 6962
// inclusion proof of the entry in that checkpoint's tree; it verifies with
// nothing but the ledger's pinned verifier key.
//
// Error codes of everything here:
//   INVALID_ARGUMENT  malformed input (missing fields, wrong hash sizes,
//                     unparseable entry or checkpoint);
//   UNAUTHENTICATED   the checkpoint is not signed by the pinned key (or its
//                     origin is not the key's name);
//   DATA_LOSS         the parts do not fit together: leaf hash not the hash
//                     of the entry bytes, proof sizes or indexes differing
//                     from the checkpoint's, a proof that does not lead to
//                     the signed root, checkpoints that are not consistent.
// Messages start with "receipt: " or "checkpoint: " and say what differs.
//
// Thread-safety: all functions are pure.

#ifndef TRIALOG_CORE_LEDGER_RECEIPT_H_
#define TRIALOG_CORE_LEDGER_RECEIPT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::ledger {

// A receipt that verified: the parsed entry and the checkpoint covering it.
struct VerifiedReceipt {
  ParsedEntry entry;
  note::Checkpoint checkpoint;
};

// Opens a signed checkpoint note under `ledger_key` (the origin must be the
// key's name). UNAUTHENTICATED / INVALID_ARGUMENT as note::OpenCheckpoint.
absl::StatusOr<note::Checkpoint> OpenLedgerCheckpoint(absl::string_view checkpoint_note,
                                                      const note::Verifier& ledger_key);

// Checks that `leaf_hash` (32 bytes) is leaf `proof.index()` of the tree
// `checkpoint` commits to: proof.tree_size() must equal checkpoint.size and
// the RFC 6962 path must lead to checkpoint.root_hash.
absl::Status VerifyInclusionInCheckpoint(absl::string_view leaf_hash,
                                         const v1::InclusionProof& proof,
                                         const note::Checkpoint& checkpoint);

// Verifies a whole receipt: leaf_hash == SHA-256(0x00 || entry), the entry
// parses and its index equals the proof's index, the checkpoint is signed
// by `ledger_key`, and the inclusion proof leads to its root.
absl::StatusOr<VerifiedReceipt> VerifyReceipt(const v1::Receipt& receipt,
                                              const note::Verifier& ledger_key);

// Verifies that `newer` extends `trusted` (both already opened under the
// ledger key): same origin; newer.size >= trusted.size; `proof` is the RFC
// 6962 consistency proof from trusted.size to newer.size. Equal sizes need
// equal roots and an empty proof; a trusted size of 0 is INVALID_ARGUMENT
// (no proof from the empty tree, as in core/merkle).
absl::Status VerifyCheckpointConsistency(const note::Checkpoint& trusted,
                                         const note::Checkpoint& newer,
                                         const v1::ConsistencyProof& proof);

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_RECEIPT_H_
