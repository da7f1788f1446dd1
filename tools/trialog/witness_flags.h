// The verifier's witness policy on the trialog command line, shared by
// `trialog verify` and the export commands: --witness KEY (repeatable) and
// --min-witnesses K (alias --witness-quorum; default: all listed). With a
// policy the checkpoint a command works from is not the ledger's latest
// signed one but the newest one the ledger server's witnesses cosigned
// (LedgerSource::CosignedCheckpointNote), and it must carry valid
// cosignatures from K of the listed witnesses.
//
// Exit codes: a checkpoint lacking the required cosignatures (or no
// cosigned checkpoint at all) is kExitWitnessPolicy (8); a cosignature line
// by a policy witness that does not verify is a forgery, the checkpoint
// signature finding (5).

#ifndef TRIALOG_TOOLS_TRIALOG_WITNESS_FLAGS_H_
#define TRIALOG_TOOLS_TRIALOG_WITNESS_FLAGS_H_

#include <cstddef>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "core/note/keys.h"
#include "tools/trialog/sources.h"
#include "witness/policy.h"

namespace trialog::cli {

// Too few witness cosignatures for the verifier's policy (after the finding
// codes 2-7 of core/ledger/ledger_audit.h).
inline constexpr int kExitWitnessPolicy = 8;

struct WitnessFlags {
  std::vector<std::string> witnesses;  // cosigner keys, or @FILE
  size_t min_witnesses = 0;            // 0: all of `witnesses`
};
void AddWitnessFlags(CLI::App* cmd, WitnessFlags* flags);

// The policy the flags name: empty (no witnesses, quorum 0: the ledger key
// alone) when neither flag is given. INVALID_ARGUMENT for an unreadable or
// malformed key, a witness listed twice, or K larger than the list (also
// --min-witnesses without --witness).
absl::StatusOr<witness::WitnessPolicy> PolicyFromFlags(const WitnessFlags& flags);

// The checkpoint to verify `source` against.
struct PolicyCheckpoint {
  std::string note;                      // as signed (and cosigned)
  std::vector<std::string> cosigned_by;  // names of the policy witnesses that cosigned it
};

// Without witnesses in `policy`: the source's latest signed checkpoint
// (its read error as is). With: the source's newest cosigned checkpoint,
// opened under `ledger_key` and checked against `policy`:
//   FAILED_PRECONDITION  the source holds no cosigned checkpoint, or it has
//                        too few valid cosignatures by policy witnesses;
//   UNAUTHENTICATED      the ledger signature or a policy witness's
//                        cosignature does not verify;
//   INVALID_ARGUMENT     a malformed note (from the source: reported as
//                        unreadable by callers);
//   the source's error   otherwise (UNAVAILABLE, ...).
absl::StatusOr<PolicyCheckpoint> CheckpointUnderPolicy(LedgerSource& source,
                                                       const note::Verifier& ledger_key,
                                                       const witness::WitnessPolicy& policy);

// "; cosigned by 2 of 3 witnesses (w1, w2), policy needs 2".
std::string DescribeCosigners(const PolicyCheckpoint& cp, const witness::WitnessPolicy& policy);

}  // namespace trialog::cli

#endif  // TRIALOG_TOOLS_TRIALOG_WITNESS_FLAGS_H_
