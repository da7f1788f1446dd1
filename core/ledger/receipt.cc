#include "core/ledger/receipt.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::ledger {
namespace {

std::vector<std::string> Hashes(const google::protobuf::RepeatedPtrField<std::string>& in) {
  return std::vector<std::string>(in.begin(), in.end());
}

// Re-labels a merkle verification failure: malformed input stays
// INVALID_ARGUMENT, a root mismatch becomes DATA_LOSS.
absl::Status Relabel(absl::string_view what, const absl::Status& s) {
  if (s.ok()) return s;
  if (s.code() == absl::StatusCode::kInvalidArgument) {
    return absl::InvalidArgumentError(absl::StrCat(what, s.message()));
  }
  return absl::DataLossError(absl::StrCat(what, s.message()));
}

}  // namespace

absl::StatusOr<note::Checkpoint> OpenLedgerCheckpoint(absl::string_view checkpoint_note,
                                                      const note::Verifier& ledger_key) {
  if (checkpoint_note.empty()) return absl::InvalidArgumentError("checkpoint: empty note");
  absl::StatusOr<note::Checkpoint> cp = note::OpenCheckpoint(checkpoint_note, ledger_key);
  if (!cp.ok()) {
    return absl::Status(cp.status().code(), absl::StrCat("checkpoint: ", cp.status().message()));
  }
  if (cp->root_hash.size() != merkle::kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: root hash is ", cp->root_hash.size(), " bytes, want 32"));
  }
  return cp;
}

absl::Status VerifyInclusionInCheckpoint(absl::string_view leaf_hash,
                                         const v1::InclusionProof& proof,
                                         const note::Checkpoint& checkpoint) {
  if (leaf_hash.size() != merkle::kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt: leaf hash is ", leaf_hash.size(), " bytes, want 32"));
  }
  if (proof.tree_size() != checkpoint.size) {
    return absl::DataLossError(absl::StrCat("receipt: inclusion proof is for tree size ",
                                            proof.tree_size(), " but the checkpoint has size ",
                                            checkpoint.size));
  }
  return Relabel(absl::StrCat("receipt: inclusion of entry ", proof.index(), " in tree of size ",
                              checkpoint.size, ": "),
                 merkle::VerifyInclusion(proof.index(), proof.tree_size(), leaf_hash,
                                         Hashes(proof.hashes()), checkpoint.root_hash));
}

absl::StatusOr<VerifiedReceipt> VerifyReceipt(const v1::Receipt& receipt,
                                              const note::Verifier& ledger_key) {
  if (receipt.entry().empty()) return absl::InvalidArgumentError("receipt: no entry bytes");
  if (!receipt.has_inclusion()) return absl::InvalidArgumentError("receipt: no inclusion proof");
  const std::string computed = merkle::HashLeaf(receipt.entry());
  if (receipt.leaf_hash() != computed) {
    return absl::DataLossError(absl::StrCat("receipt: leaf hash ", HexEncode(receipt.leaf_hash()),
                                            " is not SHA-256(0x00 || entry) = ",
                                            HexEncode(computed)));
  }
  VerifiedReceipt out;
  absl::StatusOr<ParsedEntry> parsed = ParseEntry(receipt.entry());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt: entry does not parse: ", parsed.status().message()));
  }
  out.entry = *std::move(parsed);
  if (out.entry.entry.index() != receipt.inclusion().index()) {
    return absl::DataLossError(absl::StrCat("receipt: entry has index ", out.entry.entry.index(),
                                            " but the inclusion proof is for index ",
                                            receipt.inclusion().index()));
  }
  TRIALOG_ASSIGN_OR_RETURN(out.checkpoint,
                           OpenLedgerCheckpoint(receipt.checkpoint(), ledger_key));
  TRIALOG_RETURN_IF_ERROR(
      VerifyInclusionInCheckpoint(computed, receipt.inclusion(), out.checkpoint));
  return out;
}

absl::Status VerifyCheckpointConsistency(const note::Checkpoint& trusted,
                                         const note::Checkpoint& newer,
                                         const v1::ConsistencyProof& proof) {
  if (trusted.origin != newer.origin) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: origin \"", newer.origin,
                                                   "\" differs from the trusted origin \"",
                                                   trusted.origin, "\""));
  }
  if (newer.size < trusted.size) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: size ", newer.size,
                                                   " is smaller than the trusted size ",
                                                   trusted.size));
  }
  if (trusted.size == 0) {
    // As core/merkle: no consistency proof from the empty tree (it would
    // prove nothing; see docs/FORMAT.md).
    return absl::InvalidArgumentError(
        "checkpoint: consistency from an empty tree (size 0) is not defined; trust the newer "
        "checkpoint directly");
  }
  if (trusted.size == newer.size) {
    if (proof.hashes_size() != 0) {
      return absl::InvalidArgumentError("checkpoint: a proof between equal sizes must be empty");
    }
    if (trusted.root_hash != newer.root_hash) {
      return absl::DataLossError(absl::StrCat(
          "checkpoint: two checkpoints of size ", newer.size, " have different roots (",
          HexEncode(trusted.root_hash), " and ", HexEncode(newer.root_hash),
          "): the log forked"));
    }
    return absl::OkStatus();
  }
  if (proof.old_size() != trusted.size || proof.new_size() != newer.size) {
    return absl::DataLossError(absl::StrCat("checkpoint: consistency proof is from size ",
                                            proof.old_size(), " to ", proof.new_size(),
                                            ", want ", trusted.size, " to ", newer.size));
  }
  return Relabel(absl::StrCat("checkpoint: consistency from size ", trusted.size, " to ",
                              newer.size, ": "),
                 merkle::VerifyConsistency(trusted.size, newer.size, Hashes(proof.hashes()),
                                           trusted.root_hash, newer.root_hash));
}

}  // namespace trialog::ledger
