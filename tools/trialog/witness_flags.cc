#include "tools/trialog/witness_flags.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/trialog/cli_util.h"

namespace trialog::cli {

void AddWitnessFlags(CLI::App* cmd, WitnessFlags* flags) {
  cmd->add_option("--witness", flags->witnesses,
                  "A witness's cosigner key (name+hex8(id)+base64, as `trialog witness "
                  "--print-key` prints it), or @FILE. Repeatable. With it the checkpoint used "
                  "is the newest one the witnesses cosigned")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--min-witnesses,--witness-quorum", flags->min_witnesses,
                  "How many of the --witness witnesses must have cosigned (default: all)");
}

absl::StatusOr<witness::WitnessPolicy> PolicyFromFlags(const WitnessFlags& flags) {
  if (flags.witnesses.empty() && flags.min_witnesses == 0) return witness::WitnessPolicy{};
  if (flags.witnesses.empty()) {
    return absl::InvalidArgumentError("--min-witnesses needs the witnesses' keys (--witness KEY)");
  }
  std::vector<std::string> keys;
  for (const std::string& w : flags.witnesses) {
    absl::StatusOr<std::string> text = ValueOrFile(w);
    if (!text.ok()) return text.status();
    keys.push_back(*std::move(text));
  }
  absl::StatusOr<witness::WitnessPolicy> policy = witness::MakeWitnessPolicy(
      keys, flags.min_witnesses == 0 ? keys.size() : flags.min_witnesses);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("witness policy: ", policy.status().message()));
  }
  return policy;
}

absl::StatusOr<PolicyCheckpoint> CheckpointUnderPolicy(LedgerSource& source,
                                                       const note::Verifier& ledger_key,
                                                       const witness::WitnessPolicy& policy) {
  PolicyCheckpoint out;
  if (policy.witnesses.empty()) {
    absl::StatusOr<std::string> note = source.CheckpointNote();
    if (!note.ok()) return note.status();
    out.note = *std::move(note);
    return out;
  }
  absl::StatusOr<std::string> note = source.CosignedCheckpointNote();
  if (!note.ok()) return note.status();
  absl::StatusOr<witness::CosignedCheckpoint> cosigned =
      witness::OpenCosignedCheckpoint(*note, ledger_key, policy);
  if (!cosigned.ok()) return cosigned.status();
  for (const note::Cosignature& c : cosigned->cosignatures) out.cosigned_by.push_back(c.name);
  out.note = *std::move(note);
  return out;
}

std::string DescribeCosigners(const PolicyCheckpoint& cp, const witness::WitnessPolicy& policy) {
  return absl::StrCat("cosigned by ", cp.cosigned_by.size(), " of ", policy.witnesses.size(),
                      " witnesses (", absl::StrJoin(cp.cosigned_by, ", "), "), policy needs ",
                      policy.quorum);
}

}  // namespace trialog::cli
