// A verifier's witness policy: which witnesses it trusts (their
// tlog-cosignature v1 keys) and how many of them must have cosigned a
// checkpoint before it believes the checkpoint is the one everybody sees.
// E.g. "the ledger key plus at least 2 of these 3 witnesses".
//
// Error codes:
//   INVALID_ARGUMENT     a bad policy (unparsable witness key, a witness
//                        listed twice, quorum larger than the witness list)
//                        or a malformed note
//   UNAUTHENTICATED      the ledger's signature is missing or bad, or a
//                        cosignature line by a policy witness does not
//                        verify (a forged or damaged cosignature)
//   FAILED_PRECONDITION  the checkpoint is validly signed but has fewer
//                        valid cosignatures from policy witnesses than the
//                        quorum ("... cosigned by 1 of 3 policy witnesses
//                        (w1); the policy needs 2")
//
// Thread-safety: pure functions; a WitnessPolicy is a value.

#ifndef TRIALOG_WITNESS_POLICY_H_
#define TRIALOG_WITNESS_POLICY_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note/checkpoint.h"
#include "core/note/cosignature.h"
#include "core/note/keys.h"
#include "core/note/note.h"

namespace trialog::witness {

struct WitnessPolicy {
  std::vector<note::Cosigner> witnesses;
  // How many distinct witnesses of the list must have cosigned. 0: no
  // cosignature is required (the ledger key alone).
  size_t quorum = 0;
};

// A policy from cosigner vkeys ("name+hex8(id)+base64(0x04||pub)", as
// `trialog witness --print-key` prints them) and a quorum.
absl::StatusOr<WitnessPolicy> MakeWitnessPolicy(const std::vector<std::string>& cosigner_keys,
                                                size_t quorum);

// OK if the policy is well formed (see INVALID_ARGUMENT above).
absl::Status CheckWitnessPolicy(const WitnessPolicy& policy);

// A checkpoint that satisfies a policy.
struct CosignedCheckpoint {
  note::Checkpoint checkpoint;
  std::string text;                           // the signed checkpoint text
  std::vector<note::Cosignature> cosignatures;  // by policy witnesses, valid, in note order
};

// Opens `note` as a checkpoint of the ledger `ledger_key` (its signature
// must verify; other signatures are ignored by that step) and checks the
// cosignatures by policy witnesses. Cosignatures by witnesses outside the
// policy are ignored.
absl::StatusOr<CosignedCheckpoint> OpenCosignedCheckpoint(absl::string_view note,
                                                          const note::Verifier& ledger_key,
                                                          const WitnessPolicy& policy);

// The cosignature lines of `note` by the witness `w` (each ending in "\n"),
// unverified; for moving cosignatures from one copy of a checkpoint to
// another.
std::vector<std::string> CosignatureLinesBy(absl::string_view note, const note::Cosigner& w);

}  // namespace trialog::witness

#endif  // TRIALOG_WITNESS_POLICY_H_
