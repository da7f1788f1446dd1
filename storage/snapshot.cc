#include "storage/snapshot.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "rocksdb/write_batch.h"

namespace trialog::storage {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

std::string Be32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 3; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

}  // namespace

std::string SnapshotChunkKey(uint32_t i) { return absl::StrCat(kMetaSnapshot, "/", Be32(i)); }

std::string SnapshotSigningMessage(uint64_t size, absl::string_view root,
                                   absl::string_view body_sha256) {
  return absl::StrCat(kSnapshotSignaturePrefix, EncodeBigEndian64(size), root, body_sha256);
}

bool Projections::Snapshottable() const {
  if (registry != nullptr && registry->StateKind().empty()) return false;
  for (const ledger::StateMachine* m : machines) {
    if (m->StateKind().empty()) return false;
  }
  return true;
}

std::string CaptureProjections(const Projections& p, uint64_t size, absl::string_view root,
                               absl::string_view trial_id) {
  v1::LedgerSnapshot body;
  body.set_format(kSnapshotFormat);
  body.set_tree_size(size);
  body.set_root(std::string(root));
  body.set_trial_id(std::string(trial_id));
  if (p.registry != nullptr) body.set_registry(p.registry->SaveState());
  for (const ledger::StateMachine* m : p.machines) {
    v1::MachineState* s = body.add_machines();
    s->set_kind(m->StateKind());
    s->set_state(m->SaveState());
  }
  return body.SerializeAsString();  // no map fields: deterministic
}

absl::StatusOr<v1::SnapshotHeader> WriteSnapshot(Db& db, const note::NoteSigner& signer,
                                                 uint64_t size, absl::string_view root,
                                                 const std::string& body, bool sync) {
  if (root.size() != merkle::kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot root must be 32 bytes, got ", root.size()));
  }
  const size_t chunks = (body.size() + kSnapshotChunkBytes - 1) / kSnapshotChunkBytes;
  if (chunks > 0xffffffffu) return absl::InvalidArgumentError("snapshot body is too large");
  v1::SnapshotHeader header;
  header.set_format(kSnapshotFormat);
  header.set_tree_size(size);
  header.set_root(std::string(root));
  header.set_body_sha256(crypto::Sha256(body));
  header.set_body_size(body.size());
  header.set_chunks(static_cast<uint32_t>(chunks));
  header.set_key_id(Be32(signer.key_id()));
  header.set_signature(
      signer.key().Sign(SnapshotSigningMessage(size, root, header.body_sha256())));

  rocksdb::WriteBatch w;
  rocksdb::ColumnFamilyHandle* meta = db.handle(Cf::kMeta);
  for (size_t i = 0; i < chunks; ++i) {
    const size_t at = i * kSnapshotChunkBytes;
    const size_t n = std::min(kSnapshotChunkBytes, body.size() - at);
    w.Put(meta, ToSlice(SnapshotChunkKey(static_cast<uint32_t>(i))),
          rocksdb::Slice(body.data() + at, n));
  }
  // Chunks of an older, longer snapshot.
  const std::string from = SnapshotChunkKey(static_cast<uint32_t>(chunks));
  const std::string to = absl::StrCat(kMetaSnapshot, "0");  // '/' + 1
  w.DeleteRange(meta, ToSlice(from), ToSlice(to));
  w.Put(meta, ToSlice(kMetaSnapshot), ToSlice(header.SerializeAsString()));
  TRIALOG_RETURN_IF_ERROR(db.Write(&w, sync));
  return header;
}

absl::StatusOr<StoredSnapshot> ReadSnapshot(const Db& db, const note::NoteSigner& signer) {
  absl::StatusOr<std::string> row = db.Get(Cf::kMeta, kMetaSnapshot);
  if (absl::IsNotFound(row.status())) return absl::NotFoundError("no snapshot row");
  if (!row.ok()) return row.status();
  StoredSnapshot out;
  v1::SnapshotHeader& h = out.header;
  if (!h.ParseFromString(*row)) {
    return absl::InvalidArgumentError("the snapshot row does not parse as SnapshotHeader");
  }
  if (h.format() != kSnapshotFormat) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot format ", h.format(),
                                                   " is unknown (this build reads ",
                                                   kSnapshotFormat, ")"));
  }
  if (h.root().size() != merkle::kHashSize || h.body_sha256().size() != crypto::kSha256Size) {
    return absl::InvalidArgumentError("the snapshot header's root or digest is not 32 bytes");
  }
  if (!crypto::Verify(signer.key().public_key(),
                      SnapshotSigningMessage(h.tree_size(), h.root(), h.body_sha256()),
                      h.signature())) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the snapshot signature (size ", h.tree_size(), ", root ", HexEncode(h.root()),
        ") does not verify under the ledger key ", signer.verifier_key()));
  }
  if (h.body_size() > uint64_t{h.chunks()} * kSnapshotChunkBytes) {
    return absl::DataLossError(absl::StrCat("the snapshot claims ", h.body_size(), " bytes in ",
                                            h.chunks(), " chunks"));
  }
  std::string body;
  body.reserve(static_cast<size_t>(h.body_size()));
  for (uint32_t i = 0; i < h.chunks(); ++i) {
    absl::StatusOr<std::string> chunk = db.Get(Cf::kMeta, SnapshotChunkKey(i));
    if (absl::IsNotFound(chunk.status())) {
      return absl::DataLossError(
          absl::StrCat("snapshot chunk ", i, " of ", h.chunks(), " is missing"));
    }
    if (!chunk.ok()) return chunk.status();
    if (body.size() + chunk->size() > h.body_size()) break;  // caught by the size check
    body.append(*chunk);
  }
  if (body.size() != h.body_size()) {
    return absl::DataLossError(absl::StrCat("the snapshot body holds ", body.size(),
                                            " bytes, its header says ", h.body_size()));
  }
  if (crypto::Sha256(body) != h.body_sha256()) {
    return absl::UnauthenticatedError(
        "the snapshot body does not hash to the signed digest (a body row was changed)");
  }
  if (!out.body.ParseFromString(body)) {
    return absl::InvalidArgumentError("the snapshot body does not parse as LedgerSnapshot");
  }
  if (out.body.format() != kSnapshotFormat || out.body.tree_size() != h.tree_size() ||
      out.body.root() != h.root()) {
    return absl::InvalidArgumentError(
        "the snapshot body's format, size or root differs from its header's");
  }
  return out;
}

absl::Status RestoreProjections(const v1::LedgerSnapshot& body, const Projections& p) {
  if (static_cast<size_t>(body.machines_size()) != p.machines.size()) {
    return absl::FailedPreconditionError(absl::StrCat("the snapshot holds ", body.machines_size(),
                                                      " state machines, this ledger runs ",
                                                      p.machines.size()));
  }
  for (size_t i = 0; i < p.machines.size(); ++i) {
    const std::string kind = p.machines[i]->StateKind();
    if (body.machines(static_cast<int>(i)).kind() != kind) {
      return absl::FailedPreconditionError(
          absl::StrCat("snapshot machine ", i, " is \"", body.machines(static_cast<int>(i)).kind(),
                       "\", this ledger runs \"", kind, "\""));
    }
  }
  // Undo information: the states as they are now.
  std::string registry_before;
  std::vector<std::string> before;
  if (p.registry != nullptr) registry_before = p.registry->SaveState();
  for (const ledger::StateMachine* m : p.machines) before.push_back(m->SaveState());
  size_t restored = 0;
  absl::Status s;
  if (p.registry != nullptr) s = p.registry->RestoreState(body.registry());
  if (s.ok()) {
    for (; restored < p.machines.size(); ++restored) {
      s = p.machines[restored]->RestoreState(body.machines(static_cast<int>(restored)).state());
      if (!s.ok()) break;
    }
  }
  if (s.ok()) return s;
  // Roll back (restoring a state the machine itself saved cannot fail).
  if (p.registry != nullptr) p.registry->RestoreState(registry_before).IgnoreError();
  for (size_t i = 0; i < restored; ++i) p.machines[i]->RestoreState(before[i]).IgnoreError();
  return absl::Status(s.code(), absl::StrCat("restoring the snapshot: ", s.message()));
}

}  // namespace trialog::storage
