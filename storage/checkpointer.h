// Signs and opens the ledger's checkpoints: the one place storage/ uses
// core/note. A checkpoint is C2SP tlog-checkpoint text (origin, size,
// base64 root) signed as a C2SP note by the ledger key, whose key name is
// the origin (docs/FORMAT.md §5).
//
// Thread-safety: immutable after construction; safe to share.

#ifndef TRIALOG_STORAGE_CHECKPOINTER_H_
#define TRIALOG_STORAGE_CHECKPOINTER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"

namespace trialog::storage {

class Checkpointer {
 public:
  // INVALID_ARGUMENT when `signer` is null or `origin` is neither empty nor
  // the signer's key name (the origin IS the key name). Empty `origin`
  // means the signer's name. `signer` must outlive the Checkpointer.
  static absl::StatusOr<Checkpointer> Create(const note::NoteSigner* signer,
                                             absl::string_view origin);

  const std::string& origin() const { return origin_; }
  // The verifier key string ("name+hex8+base64") checkpoints verify under.
  std::string verifier_key() const { return signer_->verifier_key(); }

  // The signed note of checkpoint (origin, size, root).
  // REQUIRES: root is 32 bytes (INVALID_ARGUMENT otherwise).
  absl::StatusOr<std::string> Sign(uint64_t size, absl::string_view root) const;

  // Opens a stored checkpoint note: it must carry a valid signature by the
  // ledger key and name this ledger's origin. UNAUTHENTICATED (bad or
  // missing signature, other origin) or INVALID_ARGUMENT (malformed) with
  // core/note's message.
  absl::StatusOr<note::Checkpoint> Open(absl::string_view note) const;

 private:
  Checkpointer(const note::NoteSigner* signer, std::string origin)
      : signer_(signer), origin_(std::move(origin)) {}
  const note::NoteSigner* signer_;
  std::string origin_;
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_CHECKPOINTER_H_
