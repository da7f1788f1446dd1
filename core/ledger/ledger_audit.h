// An auditor's end-to-end verification of one ledger from its entries and
// a signed checkpoint, trusting nothing but the ledger's verifier key (and,
// optionally, a checkpoint the auditor trusted earlier):
//   1. the checkpoint's signature under the pinned verifier key;
//   2. every entry: chain link, index, order, stream versions, event ids,
//      envelope signature under the registry as of that entry, every rule
//      the domain's state machines enforce (ChainVerifier, in parallel);
//   3. the Merkle root of the first checkpoint.size entries equals the
//      checkpoint's root, and entries beyond it (if any) also verify;
//   4. a previously trusted checkpoint is consistent with this history: its
//      root equals the root of the same-size prefix (a fork or a rewritten
//      or truncated history is reported as such).
//
// The result has one finding, the first problem in that order of
// precedence: unreadable input, checkpoint signature, entry damage (the
// lowest bad index), root mismatch, inconsistency with the trusted
// checkpoint. Each finding has a distinct process exit code (tools/).

#ifndef TRIALOG_CORE_LEDGER_LEDGER_AUDIT_H_
#define TRIALOG_CORE_LEDGER_LEDGER_AUDIT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/ledger/parallel_verifier.h"
#include "core/ledger/state_machine.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"

namespace trialog::ledger {

enum class Finding {
  kOk = 0,
  kUnreadable,           // input missing, unreadable, or not a trialog ledger
  kChainDamage,          // entry bytes, chain links, indexes, Merkle root
  kEnvelopeSignature,    // an envelope signature does not verify
  kCheckpointSignature,  // the checkpoint is not signed by the pinned key
  kRuleViolation,        // an entry breaks a rule the sequencer enforces
  kInconsistent,         // history differs from a trusted checkpoint
};

// Stable names for reports ("ok", "chain_damage", ...).
const char* FindingName(Finding f);
// Process exit codes: 0 ok, 2 unreadable, 3 chain damage, 4 envelope
// signature, 5 checkpoint signature, 6 rule violation, 7 inconsistent.
int FindingExitCode(Finding f);

struct AuditOptions {
  ParallelVerifyOptions verify;
  std::vector<StateMachine*> domain;  // domain rules to replay (not owned)
  // A checkpoint note the auditor trusted before (signed by the same key).
  std::optional<std::string> trusted_checkpoint;
  // Chain and Merkle checks alone (ScanChain): the checkpoint signature,
  // every entry's index, chain link and leaf hash, the root against the
  // checkpoint and the trusted checkpoint; no envelope signatures, no
  // registry, stream versions, event ids or rules (`domain` is unused).
  // Findings are then only ok, unreadable, chain damage, checkpoint
  // signature or inconsistent.
  bool chain_only = false;
  int chain_threads = 0;  // hashing threads for chain_only; 0 = all cores
};

struct AuditReport {
  Finding finding = Finding::kOk;
  std::string message;            // what is wrong, or a one-line summary
  std::optional<uint64_t> first_bad_index;
  uint64_t entries_verified = 0;  // entries that passed every check
  uint64_t signatures_checked = 0;
  note::Checkpoint checkpoint;    // as opened (empty on checkpoint failure)
  std::string computed_root;      // root at checkpoint.size, if reached
  double seconds = 0;
};

// Audits the entries `reader` yields (from index 0) against `checkpoint_note`.
// `available_entries` is how many entries the source holds (for progress
// and for detecting a source shorter than the checkpoint).
AuditReport AuditLedger(const EntryReader& reader, uint64_t available_entries,
                        absl::string_view checkpoint_note, const note::Verifier& ledger_key,
                        const AuditOptions& options);

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_LEDGER_AUDIT_H_
