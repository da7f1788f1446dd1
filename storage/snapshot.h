// Projection snapshots: the principal registry and every state machine of a
// ledger, serialised after folding entries [0, size), bound by the ledger's
// checkpoint key to that size and the tree's root at it, and stored in the
// meta column family, so that Open replays only the entries after it
// (storage/recovery.h). docs/FORMAT.md ("Projection snapshot") documents
// every byte.
//
// Rows (meta column family; optional, format 2 stores without them open by
// a full replay):
//   "snapshot"               a v1::SnapshotHeader (size, root, SHA-256 and
//                            length of the body, chunk count, key id,
//                            Ed25519 signature)
//   "snapshot/" || be32(i)   body chunk i (i < chunks, at most
//                            kSnapshotChunkBytes each); their concatenation
//                            is a v1::LedgerSnapshot
// The signature is Ed25519 by the ledger key over
//   "trialog/v1/snapshot\n" || be64(size) || root (32) || SHA-256(body) (32)
// A snapshot is trusted only if it verifies under the configured key, its
// body hashes to the signed digest, its size is at most the signed
// checkpoint's, and its root equals the root rebuilt from the stored
// right-border nodes at its size (which the tail replay then extends to the
// signed checkpoint root).
//
// Thread-safety: free functions; callers serialise access to the machines.

#ifndef TRIALOG_STORAGE_SNAPSHOT_H_
#define TRIALOG_STORAGE_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/registry.h"
#include "core/ledger/state_machine.h"
#include "core/note/keys.h"
#include "storage/schema.h"
#include "trialog/v1/snapshot.pb.h"

namespace trialog::storage {

inline constexpr absl::string_view kMetaSnapshot = "snapshot";
inline constexpr absl::string_view kSnapshotSignaturePrefix = "trialog/v1/snapshot\n";
inline constexpr size_t kSnapshotChunkBytes = size_t{4} << 20;  // 4 MiB per body row
inline constexpr uint32_t kSnapshotFormat = 1;

// Meta key of body chunk `i`: "snapshot/" || be32(i).
std::string SnapshotChunkKey(uint32_t i);

// The bytes the snapshot signature covers. `root` and `body_sha256` are
// 32 bytes each.
std::string SnapshotSigningMessage(uint64_t size, absl::string_view root,
                                   absl::string_view body_sha256);

// The projections of one ledger: the registry (may be null) and the
// machines, in the ledger's order.
struct Projections {
  ledger::PrincipalRegistry* registry = nullptr;
  std::vector<ledger::StateMachine*> machines;

  // True when every machine (and the registry) has snapshot hooks
  // (non-empty StateKind()).
  bool Snapshottable() const;
};

// Serialises the projections as they are now into a LedgerSnapshot body
// (the caller guarantees they hold exactly entries [0, size) and that
// `root` is that tree's root). Deterministic.
std::string CaptureProjections(const Projections& p, uint64_t size, absl::string_view root,
                               absl::string_view trial_id);

// Hashes and signs `body` and writes header and chunks in one WriteBatch,
// deleting the chunk rows of an older, longer snapshot. Returns the header
// written.
absl::StatusOr<v1::SnapshotHeader> WriteSnapshot(Db& db, const note::NoteSigner& signer,
                                                 uint64_t size, absl::string_view root,
                                                 const std::string& body, bool sync);

// A snapshot read back and authenticated (signature, digest, length), not
// yet checked against the tree.
struct StoredSnapshot {
  v1::SnapshotHeader header;
  v1::LedgerSnapshot body;
};

// Reads and authenticates the stored snapshot. NOT_FOUND when there is no
// "snapshot" row; UNAUTHENTICATED when the signature does not verify under
// `signer`'s key or the body does not hash to the signed digest;
// INVALID_ARGUMENT when a row does not parse or the format is unknown;
// DATA_LOSS when a chunk is missing or the lengths disagree. Other
// statuses: I/O.
absl::StatusOr<StoredSnapshot> ReadSnapshot(const Db& db, const note::NoteSigner& signer);

// Replaces the projections' state with the snapshot's. The body must name
// the same machine kinds in the same order (FAILED_PRECONDITION otherwise).
// All or nothing: on error every projection is back to the state it had
// before the call.
absl::Status RestoreProjections(const v1::LedgerSnapshot& body, const Projections& p);

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_SNAPSHOT_H_
