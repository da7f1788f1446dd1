// Batch-signed envelopes (bulk import; docs/FORMAT.md §1.1): one Ed25519
// signature by a system principal over the RFC 6962 Merkle root of a batch
// of envelopes, and the per-envelope BatchProof that lets each stored entry
// verify on its own (recompute the root from the inclusion path, verify the
// one signature).
//
// Thread-safety: free functions are thread-safe; BatchSignatureCache is not
// (one per verifier thread, or guard it).

#ifndef TRIALOG_CORE_LEDGER_BATCH_H_
#define TRIALOG_CORE_LEDGER_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crypto/crypto.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::ledger {

// Domain separation for batch signatures: the signer signs
// kBatchSignaturePrefix || trial_id || 0x0A || be64(batch_size) || root[32].
inline constexpr absl::string_view kBatchSignaturePrefix = "trialog/v1/batch\n";
// Most envelopes one batch may hold (its proofs are then <= 16 hashes).
inline constexpr uint64_t kMaxBatchEnvelopes = 65536;
// The only role that may sign a batch (docs/SECURITY.md "Bulk import").
inline constexpr v1::Role kBatchSignerRole = v1::ROLE_EXTERNAL_SYSTEM;

// The message a batch signature covers. REQUIRES: root is 32 bytes.
std::string BatchSigningMessage(absl::string_view trial_id, uint64_t batch_size,
                                absl::string_view root);

// RFC 6962 root over leaves SHA-256(0x00 || envelope bytes), in order.
// INVALID_ARGUMENT for an empty batch or one larger than kMaxBatchEnvelopes.
absl::StatusOr<std::string> BatchRoot(const std::vector<std::string>& envelopes);

// Client side: signs `envelopes` (serialised Envelopes, batch order) for
// ledger `trial_id`. Errors as BatchRoot.
absl::StatusOr<v1::SignedBatch> SignBatch(absl::string_view trial_id,
                                          std::vector<std::string> envelopes,
                                          const crypto::SigningKey& key);

// Server side: the BatchProof of every envelope of `batch` (same order),
// each carrying the batch signature. Does not verify the signature.
// Errors as BatchRoot; INVALID_ARGUMENT if the signature is not 64 bytes.
absl::StatusOr<std::vector<v1::BatchProof>> BuildBatchProofs(const v1::SignedBatch& batch);

// The batch root implied by `proof` for `envelope_bytes`, after checking
// its shape: 1 <= batch_size <= kMaxBatchEnvelopes, position < batch_size,
// the path has the length RFC 6962 gives for (position, batch_size), every
// node and the signature are 32 / 64 bytes. INVALID_ARGUMENT naming the
// field otherwise.
absl::StatusOr<std::string> BatchRootFromProof(absl::string_view envelope_bytes,
                                               const v1::BatchProof& proof);

// Checks the shape of a signed envelope as stored or admitted: either a
// 64-byte signature and no batch proof, or an empty signature and a batch
// proof of valid shape (BatchRootFromProof's checks). INVALID_ARGUMENT.
absl::Status CheckSignedEnvelopeShape(const v1::SignedEnvelope& signed_envelope);

// Verified batch signatures, keyed by (signature, root, size, trial, key),
// so that a verifier checks each distinct batch signature once. Bounded:
// cleared when it reaches `max_entries`.
class BatchSignatureCache {
 public:
  explicit BatchSignatureCache(size_t max_entries = 4096) : max_entries_(max_entries) {}
  // Whether this exact tuple verified before (then no Ed25519 is needed).
  bool Contains(absl::string_view key) const { return verified_.contains(key); }
  void Insert(std::string key);
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  void CountHit() { ++hits_; }
  void CountMiss() { ++misses_; }

 private:
  size_t max_entries_;
  absl::flat_hash_map<std::string, bool> verified_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

// For a batch-signed envelope: checks the signer's claimed role
// (PERMISSION_DENIED unless kBatchSignerRole) and the proof's shape
// (INVALID_ARGUMENT), and returns the message the batch signature must
// verify over (BatchSigningMessage of the root the path implies).
absl::StatusOr<std::string> BatchProofMessage(const v1::SignedEnvelope& signed_envelope,
                                              const v1::Envelope& envelope);

// Verifies the signature of a signed envelope whose parsed envelope is
// `envelope`, under `public_key`: the envelope signature, or, for a
// batch-signed envelope, its proof's root and the batch signature over it
// for envelope.trial_id(). With `cache` (may be null) a batch signature
// already verified under the same key is not verified again.
// INVALID_ARGUMENT for a malformed proof (message names the field);
// UNAUTHENTICATED when a signature does not verify.
absl::Status VerifySignedEnvelope(const v1::SignedEnvelope& signed_envelope,
                                  const v1::Envelope& envelope, absl::string_view public_key,
                                  BatchSignatureCache* cache = nullptr);

// Whether the envelope is batch-signed (has a batch proof).
inline bool IsBatchSigned(const v1::SignedEnvelope& s) { return s.has_batch_proof(); }

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_BATCH_H_
