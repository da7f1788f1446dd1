#include "storage/checkpointer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"

namespace trialog::storage {

absl::StatusOr<Checkpointer> Checkpointer::Create(const note::NoteSigner* signer,
                                                  absl::string_view origin) {
  if (signer == nullptr) {
    return absl::InvalidArgumentError("a checkpoint signer is required");
  }
  if (!origin.empty() && origin != signer->name()) {
    return absl::InvalidArgumentError(
        absl::StrCat("origin \"", origin, "\" differs from the checkpoint signer's key name \"",
                     signer->name(), "\" (the origin is the key name)"));
  }
  return Checkpointer(signer, signer->name());
}

absl::StatusOr<std::string> Checkpointer::Sign(uint64_t size, absl::string_view root) const {
  if (root.size() != merkle::kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint root must be 32 bytes, got ", root.size()));
  }
  note::Checkpoint c;
  c.origin = origin_;
  c.size = size;
  c.root_hash = std::string(root);
  return note::SignCheckpoint(c, *signer_);
}

absl::StatusOr<note::Checkpoint> Checkpointer::Open(absl::string_view note) const {
  return note::OpenCheckpoint(note, signer_->verifier());
}

}  // namespace trialog::storage
