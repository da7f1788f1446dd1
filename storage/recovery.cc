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
  w.Put(meta, ToSlice(kMetaFormat), ToSlice(kFormatVersion));
  w.Put(meta, ToSlice(kMetaCheckpoint), ToSlice(note));
  TRIALOG_RETURN_IF_ERROR(db.Write(&w, /*sync=*/true));
  r->chain.head = ledger::ZeroHash();
  r->root = root;
  r->checkpoint = std::move(note);
  return absl::OkStatus();
}

// The cheap checks: checkpoint, border, last entry. Fills `r` on success.
absl::Status CheckHead(const Db& db, const Checkpointer& checkpointer, NodeStore& nodes,
                       Recovered* r) {
  TRIALOG_ASSIGN_OR_RETURN(std::optional<std::string> stored_note, Meta(db, kMetaCheckpoint));
  if (!stored_note.has_value()) return absl::DataLossError("meta row \"checkpoint\" is missing");
  const std::string note = *std::move(stored_note);
  r->checkpoint = note;

  absl::StatusOr<note::Checkpoint> cp = checkpointer.Open(note);
  if (!cp.ok()) {
    // No trusted size: readers of the damaged store see the stored entries.
    std::unique_ptr<rocksdb::Iterator> it = db.NewIterator(Cf::kEntries);
    it->SeekToLast();
    if (it->Valid()) {
      absl::StatusOr<uint64_t> last =
          DecodeEntryKey(absl::string_view(it->key().data(), it->key().size()));
      if (last.ok() && *last != ~uint64_t{0}) r->size = *last + 1;
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "the stored checkpoint does not open under the configured ledger key ",
        checkpointer.verifier_key(), ": ", cp.status().message()));
  }
  const uint64_t size = cp->size;
  const std::string root = cp->root_hash;
  r->size = size;
  r->root = root;

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

  std::string head = ledger::ZeroHash();
  int64_t recorded_at = 0;
  if (size > 0) {
    absl::StatusOr<std::string> last = db.Get(Cf::kEntries, EntryKey(size - 1));
    if (!last.ok()) {
      if (absl::IsNotFound(last.status())) {
        return absl::DataLossError(absl::StrCat("the last entry, ", size - 1,
                                                ", is missing (signed size ", size, ")"));
      }
      return last.status();
    }
    absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(*last);
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("the last entry, ", size - 1,
                                              ", does not parse: ", parsed.status().message()));
    }
    if (parsed->entry.index() != size - 1) {
      return absl::DataLossError(absl::StrCat("the last entry, ", size - 1, ", claims index ",
                                              parsed->entry.index()));
    }
    head = parsed->leaf_hash;
    recorded_at = parsed->entry.recorded_at_unix_micros();
  }
  absl::StatusOr<std::string> beyond = db.Get(Cf::kEntries, EntryKey(size));
  if (beyond.ok()) {
    return absl::DataLossError(
        absl::StrCat("an entry is stored at index ", size, ", beyond the signed size"));
  }
  if (!absl::IsNotFound(beyond.status())) return beyond.status();

  r->chain.size = size;
  r->chain.head = head;
  r->chain.last_recorded_at = recorded_at;
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
    TRIALOG_ASSIGN_OR_RETURN(std::optional<std::string> note, Meta(db, kMetaCheckpoint));
    TRIALOG_ASSIGN_OR_RETURN(bool has_entries, HasAnyEntry(db));
    if (!note.has_value() && !has_entries) {
      // New (or created but never initialised before a crash).
      TRIALOG_RETURN_IF_ERROR(Initialise(db, checkpointer, &r));
      return r;
    }
    r.damage = absl::DataLossError("meta row \"format\" is missing but the store holds data");
    return r;
  }
  if (*format == kFormatVersion1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store format is \"", *format, "\" (with level-0 node, stream_heads and meta size/head/"
        "root/recorded_at rows); this build reads \"", kFormatVersion,
        "\": export the ledger with the older build and re-import it, or keep using that build"));
  }
  if (*format != kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("store format is \"", *format,
                                                      "\"; this build reads \"", kFormatVersion,
                                                      "\""));
  }

  const absl::Time check_start = absl::Now();
  r.damage = CheckHead(db, checkpointer, nodes, &r);
  r.stats.check_time = absl::Now() - check_start;
  if (!r.damage.ok()) {
    if (!absl::IsDataLoss(r.damage) && !absl::IsFailedPrecondition(r.damage)) return r.damage;  // I/O
    return r;
  }
  const absl::Time load_start = absl::Now();
  absl::Status loaded = nodes.Load(r.size);
  r.stats.node_load_time = absl::Now() - load_start;
  if (absl::Status s = loaded; !s.ok()) {
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
