#include "core/ledger/batch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::ledger {
namespace {

absl::Status CheckBatchSize(uint64_t n) {
  if (n == 0) return absl::InvalidArgumentError("batch is empty");
  if (n > kMaxBatchEnvelopes) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch holds ", n, " envelopes; the limit is ", kMaxBatchEnvelopes));
  }
  return absl::OkStatus();
}

// Perfect nodes of the batch tree, in memory: levels_[l][i] is the node
// over leaves [i << l, (i + 1) << l).
class MemoryNodes : public merkle::NodeSource {
 public:
  explicit MemoryNodes(std::vector<std::string> leaves) {
    levels_.push_back(std::move(leaves));
    while (levels_.back().size() > 1) {
      const std::vector<std::string>& below = levels_.back();
      std::vector<std::string> up;
      up.reserve(below.size() / 2);
      for (size_t i = 0; i + 1 < below.size(); i += 2) {
        up.push_back(merkle::HashChildren(below[i], below[i + 1]));
      }
      if (up.empty()) break;
      levels_.push_back(std::move(up));
    }
  }
  absl::StatusOr<std::string> GetNode(merkle::NodeId id) const override {
    if (id.level >= levels_.size() || id.index >= levels_[id.level].size()) {
      return absl::NotFoundError("no such node in the batch");
    }
    return levels_[id.level][id.index];
  }

 private:
  std::vector<std::vector<std::string>> levels_;
};

std::vector<std::string> EnvelopeLeaves(const std::vector<std::string>& envelopes) {
  std::vector<std::string> leaves;
  leaves.reserve(envelopes.size());
  for (const std::string& e : envelopes) leaves.push_back(merkle::HashLeaf(e));
  return leaves;
}

template <typename Container>
std::vector<std::string> ToVector(const Container& c) {
  return std::vector<std::string>(c.begin(), c.end());
}

}  // namespace

std::string BatchSigningMessage(absl::string_view trial_id, uint64_t batch_size,
                                absl::string_view root) {
  return absl::StrCat(kBatchSignaturePrefix, trial_id, "\n", EncodeBigEndian64(batch_size), root);
}

absl::StatusOr<std::string> BatchRoot(const std::vector<std::string>& envelopes) {
  TRIALOG_RETURN_IF_ERROR(CheckBatchSize(envelopes.size()));
  return merkle::RootFromLeafHashes(EnvelopeLeaves(envelopes));
}

absl::StatusOr<v1::SignedBatch> SignBatch(absl::string_view trial_id,
                                          std::vector<std::string> envelopes,
                                          const crypto::SigningKey& key) {
  TRIALOG_ASSIGN_OR_RETURN(std::string root, BatchRoot(envelopes));
  v1::SignedBatch batch;
  batch.set_signature(key.Sign(BatchSigningMessage(trial_id, envelopes.size(), root)));
  for (std::string& e : envelopes) batch.add_envelopes(std::move(e));
  return batch;
}

absl::StatusOr<std::vector<v1::BatchProof>> BuildBatchProofs(const v1::SignedBatch& batch) {
  const uint64_t n = static_cast<uint64_t>(batch.envelopes_size());
  TRIALOG_RETURN_IF_ERROR(CheckBatchSize(n));
  if (batch.signature().size() != crypto::kSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat("batch signature must be 64 bytes, got ",
                                                   batch.signature().size()));
  }
  MemoryNodes nodes(EnvelopeLeaves(ToVector(batch.envelopes())));
  std::vector<v1::BatchProof> proofs(n);
  for (uint64_t i = 0; i < n; ++i) {
    v1::BatchProof& p = proofs[i];
    p.set_batch_size(n);
    p.set_position(i);
    TRIALOG_ASSIGN_OR_RETURN(std::vector<std::string> path, merkle::InclusionProof(nodes, i, n));
    for (std::string& h : path) p.add_path(std::move(h));
    p.set_signature(batch.signature());
  }
  return proofs;
}

absl::StatusOr<std::string> BatchRootFromProof(absl::string_view envelope_bytes,
                                               const v1::BatchProof& proof) {
  if (proof.batch_size() == 0 || proof.batch_size() > kMaxBatchEnvelopes) {
    return absl::InvalidArgumentError(absl::StrCat("batch_proof.batch_size ", proof.batch_size(),
                                                   " is outside 1..", kMaxBatchEnvelopes));
  }
  if (proof.position() >= proof.batch_size()) {
    return absl::InvalidArgumentError(absl::StrCat("batch_proof.position ", proof.position(),
                                                   " is not below batch_size ",
                                                   proof.batch_size()));
  }
  if (proof.signature().size() != crypto::kSignatureSize) {
    return absl::InvalidArgumentError(absl::StrCat("batch_proof.signature is ",
                                                   proof.signature().size(),
                                                   " bytes, not 64"));
  }
  absl::StatusOr<std::string> root =
      merkle::RootFromInclusionProof(proof.position(), proof.batch_size(),
                                     merkle::HashLeaf(envelope_bytes), ToVector(proof.path()));
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_proof.path: ", root.status().message()));
  }
  return root;
}

absl::Status CheckSignedEnvelopeShape(const v1::SignedEnvelope& s) {
  if (!s.has_batch_proof()) {
    if (s.signature().size() != crypto::kSignatureSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("signature must be 64 bytes, got ", s.signature().size()));
    }
    return absl::OkStatus();
  }
  if (!s.signature().empty()) {
    return absl::InvalidArgumentError(
        "a batch-signed envelope carries both a signature and a batch_proof");
  }
  return BatchRootFromProof(s.envelope(), s.batch_proof()).status();
}

void BatchSignatureCache::Insert(std::string key) {
  if (verified_.size() >= max_entries_) verified_.clear();
  verified_.emplace(std::move(key), true);
}

absl::Status VerifySignedEnvelope(const v1::SignedEnvelope& signed_envelope,
                                  const v1::Envelope& envelope, absl::string_view public_key,
                                  BatchSignatureCache* cache) {
  if (!signed_envelope.has_batch_proof()) {
    return VerifyEnvelopeSignature(signed_envelope, public_key);
  }
  const v1::BatchProof& proof = signed_envelope.batch_proof();
  TRIALOG_ASSIGN_OR_RETURN(std::string message, BatchProofMessage(signed_envelope, envelope));
  std::string key;
  if (cache != nullptr) {
    key = absl::StrCat(proof.signature(), public_key, message);
    if (cache->Contains(key)) {
      cache->CountHit();
      return absl::OkStatus();
    }
    cache->CountMiss();
  }
  if (!crypto::Verify(public_key, message, proof.signature())) {
    return absl::UnauthenticatedError(absl::StrCat(
        "batch signature (batch of ", proof.batch_size(), ", root ",
        HexEncode(absl::string_view(message).substr(message.size() - merkle::kHashSize)),
        ") does not verify under the key of ", envelope.actor().principal_id()));
  }
  if (cache != nullptr) cache->Insert(std::move(key));
  return absl::OkStatus();
}

absl::StatusOr<std::string> BatchProofMessage(const v1::SignedEnvelope& signed_envelope,
                                              const v1::Envelope& envelope) {
  if (!signed_envelope.signature().empty()) {
    return absl::InvalidArgumentError(
        "a batch-signed envelope carries both a signature and a batch_proof");
  }
  if (envelope.actor().role() != kBatchSignerRole) {
    return absl::PermissionDeniedError(absl::StrCat(
        "batch-signed envelope by ", envelope.actor().principal_id(), " in role ",
        v1::Role_Name(envelope.actor().role()), ": only ", v1::Role_Name(kBatchSignerRole),
        " principals may sign batches"));
  }
  const v1::BatchProof& proof = signed_envelope.batch_proof();
  TRIALOG_ASSIGN_OR_RETURN(std::string root, BatchRootFromProof(signed_envelope.envelope(), proof));
  return BatchSigningMessage(envelope.trial_id(), proof.batch_size(), root);
}

}  // namespace trialog::ledger
