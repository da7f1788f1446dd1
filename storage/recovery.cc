#include "storage/recovery.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/ledger/entry.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "storage/rocks_status.h"
#include "storage/scrub.h"

namespace trialog::storage {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// The value at `key` of meta, nullopt when absent.
absl::StatusOr<std::optional<std::string>> Meta(const Db& db, absl::string_view key) {
  absl::StatusOr<std::string> v = db.Get(Cf::kMeta, key);
  if (v.ok()) return std::optional<std::string>(*std::move(v));
  if (absl::IsNotFound(v.status())) return std::optional<std::string>();
  return v.status();
}

absl::StatusOr<bool> HasAnyEntry(const Db& db) {
  std::unique_ptr<rocksdb::Iterator> it = db.NewIterator(Cf::kEntries);
  it->SeekToFirst();
  if (it->Valid()) return true;
  TRIALOG_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries"));
  return false;
}

absl::Status Initialise(Db& db, const Checkpointer& checkpointer, Recovered* r) {
  const std::string root = merkle::EmptyRoot();
  TRIALOG_ASSIGN_OR_RETURN(std::string note, checkpointer.Sign(0, root));
  rocksdb::WriteBatch w;
  rocksdb::ColumnFamilyHandle* meta = db.handle(Cf::kMeta);
  const std::string zero64 = EncodeBigEndian64(0);
  w.Put(meta, ToSlice(kMetaFormat), ToSlice(kFormatVersion));
  w.Put(meta, ToSlice(kMetaSize), ToSlice(zero64));
  w.Put(meta, ToSlice(kMetaHead), ToSlice(ledger::ZeroHash()));
  w.Put(meta, ToSlice(kMetaRoot), ToSlice(root));
  w.Put(meta, ToSlice(kMetaRecordedAt), ToSlice(zero64));
  w.Put(meta, ToSlice(kMetaCheckpoint), ToSlice(note));
  TRIALOG_RETURN_IF_ERROR(db.Write(&w, /*sync=*/true));
  r->chain.head = ledger::ZeroHash();
  r->root = root;
  r->checkpoint = std::move(note);
  return absl::OkStatus();
}

// The cheap checks: meta, checkpoint, border, head. Fills `r` on success.
absl::Status CheckHead(const Db& db, const Checkpointer& checkpointer, NodeStore& nodes,
                       Recovered* r) {
  auto required = [&](absl::string_view key) -> absl::StatusOr<std::string> {
    TRIALOG_ASSIGN_OR_RETURN(std::optional<std::string> v, Meta(db, key));
    if (!v.has_value()) return absl::DataLossError(absl::StrCat("meta row \"", key, "\" is missing"));
    return *std::move(v);
  };
  TRIALOG_ASSIGN_OR_RETURN(std::string size_value, required(kMetaSize));
  TRIALOG_ASSIGN_OR_RETURN(const uint64_t size, DecodeU64Value(size_value, "meta size"));
  r->size = size;
  TRIALOG_ASSIGN_OR_RETURN(std::string root, required(kMetaRoot));
  TRIALOG_RETURN_IF_ERROR(CheckHashValue(root, "meta root"));
  r->root = root;
  TRIALOG_ASSIGN_OR_RETURN(std::string head, required(kMetaHead));
  TRIALOG_RETURN_IF_ERROR(CheckHashValue(head, "meta head"));
  TRIALOG_ASSIGN_OR_RETURN(std::string recorded_value, required(kMetaRecordedAt));
  TRIALOG_ASSIGN_OR_RETURN(const uint64_t recorded_at,
                           DecodeU64Value(recorded_value, "meta recorded_at"));
  TRIALOG_ASSIGN_OR_RETURN(std::string note, required(kMetaCheckpoint));
  r->checkpoint = note;

  absl::StatusOr<note::Checkpoint> cp = checkpointer.Open(note);
  if (!cp.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the stored checkpoint does not open under the configured ledger key ",
        checkpointer.verifier_key(), ": ", cp.status().message()));
  }
  if (cp->size != size) {
    return absl::DataLossError(absl::StrCat("the signed checkpoint is for size ", cp->size,
                                            " but meta size is ", size));
  }
  if (cp->root_hash != root) {
    return absl::DataLossError(absl::StrCat("the signed checkpoint's root ",
                                            HexEncode(cp->root_hash), " differs from meta root ",
                                            HexEncode(root)));
  }

  std::vector<std::string> border;
  for (const merkle::NodeId& id : merkle::PerfectNodes(merkle::Range{0, size})) {
    absl::StatusOr<std::string> node = nodes.GetNode(id);
    if (!node.ok()) {
      return absl::DataLossError(absl::StrCat("right-border node (", id.level, ", ", id.index,
                                              ") is unreadable: ", node.status().message()));
    }
    border.push_back(*std::move(node));
  }
  TRIALOG_ASSIGN_OR_RETURN(merkle::CompactTree tree,
                           merkle::CompactTree::FromBorder(size, std::move(border)));
  if (tree.Root() != root) {
    return absl::DataLossError(absl::StrCat(
        "the root rebuilt from the stored right-border nodes, ", HexEncode(tree.Root()),
        ", differs from the signed root ", HexEncode(root), " (a border node was changed)"));
  }

  if (size == 0) {
    if (head != ledger::ZeroHash()) {
      return absl::DataLossError("meta head of the empty ledger is not 32 zero bytes");
    }
  } else {
    absl::StatusOr<std::string> last = db.Get(Cf::kEntries, EntryKey(size - 1));
    if (!last.ok()) {
      if (absl::IsNotFound(last.status())) {
        return absl::DataLossError(
            absl::StrCat("the last entry, ", size - 1, ", is missing (stored size ", size, ")"));
      }
      return last.status();
    }
    const std::string leaf = merkle::HashLeaf(*last);
    if (leaf != head) {
      return absl::DataLossError(absl::StrCat("the last entry, ", size - 1, ", hashes to ",
                                              HexEncode(leaf), " but the stored head is ",
                                              HexEncode(head)));
    }
    absl::StatusOr<std::string> leaf_node = nodes.GetNode({0, size - 1});
    if (!leaf_node.ok() || *leaf_node != head) {
      return absl::DataLossError(absl::StrCat("leaf node (0, ", size - 1,
                                              ") does not hold the head's leaf hash"));
    }
  }
  absl::StatusOr<std::string> beyond = db.Get(Cf::kEntries, EntryKey(size));
  if (beyond.ok()) {
    return absl::DataLossError(
        absl::StrCat("an entry is stored at index ", size, ", beyond the stored size"));
  }
  if (!absl::IsNotFound(beyond.status())) return beyond.status();

  r->chain.size = size;
  r->chain.head = head;
  r->chain.last_recorded_at = static_cast<int64_t>(recorded_at);
  r->chain.tree = std::move(tree);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Recovered> Recover(Db& db, const Checkpointer& checkpointer, NodeStore& nodes,
                                  ledger::PrincipalRegistry* registry,
                                  const std::vector<ledger::StateMachine*>& machines) {
  Recovered r;
  TRIALOG_ASSIGN_OR_RETURN(std::optional<std::string> format, Meta(db, kMetaFormat));
  if (!format.has_value()) {
    TRIALOG_ASSIGN_OR_RETURN(std::optional<std::string> size, Meta(db, kMetaSize));
    TRIALOG_ASSIGN_OR_RETURN(bool has_entries, HasAnyEntry(db));
    if (!size.has_value() && !has_entries) {
      // New (or created but never initialised before a crash).
      TRIALOG_RETURN_IF_ERROR(Initialise(db, checkpointer, &r));
      return r;
    }
    r.damage = absl::DataLossError("meta row \"format\" is missing but the store holds data");
    return r;
  }
  if (*format != kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("store format is \"", *format,
                                                      "\"; this build reads \"", kFormatVersion,
                                                      "\""));
  }

  r.damage = CheckHead(db, checkpointer, nodes, &r);
  if (!r.damage.ok()) {
    if (!absl::IsDataLoss(r.damage) && !absl::IsFailedPrecondition(r.damage)) return r.damage;  // I/O
    return r;
  }
  if (absl::Status s = nodes.Load(r.size); !s.ok()) {
    if (!absl::IsDataLoss(s)) return s;
    r.damage = s;
    return r;
  }

  // Replay (and check) every entry.
  ScrubOptions options;
  options.check_indexes = false;
  options.stop_at_first = true;
  options.on_entry = [&](const ledger::ParsedEntry& e) {
    if (e.entry.index() == 0) r.chain.trial_id = e.envelope.trial_id();
    if (registry != nullptr) registry->Apply(e);
    for (ledger::StateMachine* m : machines) m->Apply(e);
    ++r.stats.replayed_entries;
  };
  const absl::Time start = absl::Now();
  TRIALOG_ASSIGN_OR_RETURN(ScrubReport report, ScrubStore(db, checkpointer, options));
  r.stats.replay_time = absl::Now() - start;
  if (!report.ok()) r.damage = report.ToStatus();
  return r;
}

}  // namespace trialog::storage
