#include "storage/recovery.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/ledger/entry.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "storage/rocks_status.h"
#include "storage/indexer.h"
#include "storage/scrub.h"
#include "storage/snapshot.h"

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
  w.Put(meta, ToSlice(kMetaIndexed), ToSlice(EncodeBigEndian64(0)));
  TRIALOG_RETURN_IF_ERROR(db.Write(&w, /*sync=*/true));
  r->chain.head = ledger::ZeroHash();
  r->root = root;
  r->checkpoint = std::move(note);
  return absl::OkStatus();
}

// The tree of the first `size` leaves, from its right-border nodes
// (NodeStore: stored rows at levels >= 4, hashed from the entries below).
// A node that cannot be read gives its status, code kept, with the node
// named ("border node (l, i) is unreadable: ..."); a border that does not
// form a tree is DATA_LOSS.
absl::StatusOr<merkle::CompactTree> TreeFromBorder(const NodeStore& nodes, uint64_t size) {
  std::vector<std::string> border;
  for (const merkle::NodeId& id : merkle::PerfectNodes(merkle::Range{0, size})) {
    absl::StatusOr<std::string> node = nodes.GetNode(id);
    if (!node.ok()) {
      return absl::Status(node.status().code(),
                          absl::StrCat("border node (", id.level, ", ", id.index,
                                       ") is unreadable: ", node.status().message()));
    }
    border.push_back(*std::move(node));
  }
  absl::StatusOr<merkle::CompactTree> tree = merkle::CompactTree::FromBorder(size, std::move(border));
  if (!tree.ok()) return absl::DataLossError(tree.status().message());
  return tree;
}

// After the right border failed to rebuild the signed root: walks the
// entries [tile_start, size) of the last, incomplete tile from the stored
// border of the first tile_start leaves (all of level >= 4), as a replay
// would, so that a changed entry there is named ("at index I: hash
// mismatch ..."). The DATA_LOSS of the first damage found, when it is
// below the last entry; otherwise OK, and the caller reports the border:
// nothing links to the last entry, so a changed last entry and a changed
// stored border node look alike here (a scrub, which rebuilds every stored
// node, tells them apart).
absl::Status NameLastTileDamage(const Db& db, const Checkpointer& checkpointer, NodeStore& nodes,
                                uint64_t tile_start) {
  absl::StatusOr<merkle::CompactTree> tree = TreeFromBorder(nodes, tile_start);
  if (!tree.ok()) return absl::OkStatus();
  ScrubOptions so;
  so.check_indexes = false;
  so.stop_at_first = true;
  so.workers = 1;
  so.start = tile_start;
  so.start_tree = *std::move(tree);
  so.start_prev_leaf = ledger::ZeroHash();
  if (tile_start > 0) {
    absl::StatusOr<std::string> before = db.Get(Cf::kEntries, EntryKey(tile_start - 1));
    if (!before.ok()) return absl::OkStatus();
    absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(*before);
    if (!parsed.ok()) return absl::OkStatus();
    so.start_prev_leaf = parsed->leaf_hash;
    so.start_recorded_at = parsed->entry.recorded_at_unix_micros();
  }
  absl::StatusOr<ScrubReport> report = ScrubStore(db, checkpointer, so);
  if (!report.ok() || report->ok() || report->first().index + 1 >= report->size) {
    return absl::OkStatus();
  }
  return report->ToStatus();
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

  absl::StatusOr<merkle::CompactTree> border_tree = TreeFromBorder(nodes, size);
  if (!border_tree.ok()) {
    return absl::DataLossError(absl::StrCat("right-", border_tree.status().message()));
  }
  merkle::CompactTree tree = *std::move(border_tree);
  if (tree.Root() != root) {
    // The border's nodes below kStoredNodeMinLevel are hashed from the
    // entries of the last, incomplete tile: either side may have changed.
    const uint64_t tile_start = size & ~((uint64_t{1} << kStoredNodeMinLevel) - 1);
    if (tile_start < size) {
      TRIALOG_RETURN_IF_ERROR(NameLastTileDamage(db, checkpointer, nodes, tile_start));
    }
    return absl::DataLossError(absl::StrCat(
        "the root rebuilt from the right-border nodes, ", HexEncode(tree.Root()),
        ", differs from the signed root ", HexEncode(root),
        tile_start < size
            ? absl::StrCat(" (a stored border node was changed, or one of entries [", tile_start,
                           ", ", size, ") that the border nodes below level ",
                           kStoredNodeMinLevel, " are hashed from; a scrub names which)")
            : std::string(" (a stored border node was changed)")));
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

// Where the tail replay starts after a trusted snapshot.
struct TailStart {
  uint64_t size = 0;
  merkle::CompactTree tree;   // of the first `size` leaves (root checked)
  std::string prev_leaf;      // leaf hash of entry size-1 (zero hash at 0)
  int64_t recorded_at = 0;    // of entry size-1
  std::string trial_id;
  v1::LedgerSnapshot empty;   // the projections' states before restoring
};

// Reads, authenticates and checks the stored snapshot against the tree and
// restores the projections from it. Errors say why it cannot be used (the
// projections are then unchanged): NOT_FOUND (none), UNAUTHENTICATED,
// INVALID_ARGUMENT, DATA_LOSS, FAILED_PRECONDITION; others are I/O.
absl::StatusOr<TailStart> FromSnapshot(const Db& db, NodeStore& nodes,
                                       const note::NoteSigner& signer, const Recovered& r,
                                       const Projections& projections) {
  TRIALOG_ASSIGN_OR_RETURN(StoredSnapshot snap, ReadSnapshot(db, signer));
  const uint64_t size = snap.header.tree_size();
  const std::string& root = snap.header.root();
  if (size > r.size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the snapshot is at size ", size, ", beyond the signed checkpoint's ", r.size));
  }
  absl::StatusOr<merkle::CompactTree> tree = TreeFromBorder(nodes, size);
  if (!tree.ok()) {
    if (absl::IsNotFound(tree.status()) || absl::IsDataLoss(tree.status())) {
      return absl::DataLossError(absl::StrCat("snapshot ", tree.status().message()));
    }
    return tree.status();  // I/O
  }
  if (tree->Root() != root) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the snapshot's root at size ", size, ", ", HexEncode(root),
        ", is not the tree's root at that size, ", HexEncode(tree->Root())));
  }
  TailStart t;
  t.size = size;
  t.tree = *std::move(tree);
  t.prev_leaf = ledger::ZeroHash();
  if (size > 0) {
    absl::StatusOr<std::string> last = db.Get(Cf::kEntries, EntryKey(size - 1));
    if (!last.ok()) {
      if (absl::IsNotFound(last.status())) {
        return absl::DataLossError(absl::StrCat("entry ", size - 1, " (the snapshot's last) is missing"));
      }
      return last.status();
    }
    absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(*last);
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat("entry ", size - 1, " (the snapshot's last) does not parse: ",
                                              parsed.status().message()));
    }
    t.prev_leaf = parsed->leaf_hash;
    t.recorded_at = parsed->entry.recorded_at_unix_micros();
    if (snap.body.trial_id().empty()) {
      return absl::InvalidArgumentError("the snapshot of a non-empty ledger names no trial id");
    }
  }
  t.trial_id = snap.body.trial_id();
  t.empty.ParseFromString(CaptureProjections(projections, 0, ledger::ZeroHash(), ""));
  TRIALOG_RETURN_IF_ERROR(RestoreProjections(snap.body, projections));
  return t;
}

// Everything but the index repair (Recover's checks and replay).
absl::StatusOr<Recovered> RecoverChecked(Db& db, const Checkpointer& checkpointer,
                                         NodeStore& nodes, ledger::PrincipalRegistry* registry,
                                         const std::vector<ledger::StateMachine*>& machines,
                                         const RecoverOptions& options) {
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
  if (*format != kFormatVersion && *format != kFormatVersion3 && *format != kFormatVersion2) {
    return absl::FailedPreconditionError(
        absl::StrCat("store format is \"", *format, "\"; this build reads \"", kFormatVersion,
                     "\" (and upgrades \"", kFormatVersion3, "\" and \"", kFormatVersion2,
                     "\")"));
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

  Projections projections{registry, machines};
  // Replay hints (deferred derived work), ended on every way out.
  struct ReplayScope {
    const Projections& p;
    explicit ReplayScope(const Projections& projections) : p(projections) {
      if (p.registry != nullptr) p.registry->BeginReplay();
      for (ledger::StateMachine* m : p.machines) m->BeginReplay();
    }
    ~ReplayScope() {
      if (p.registry != nullptr) p.registry->EndReplay();
      for (ledger::StateMachine* m : p.machines) m->EndReplay();
    }
  };
  auto on_entry = [&](const ledger::ParsedEntry& e) {
    if (e.entry.index() == 0) r.chain.trial_id = e.envelope.trial_id();
    if (registry != nullptr) registry->Apply(e);
    for (ledger::StateMachine* m : machines) m->Apply(e);
    ++r.stats.replayed_entries;
  };

  if (!options.use_snapshot) {
    r.stats.snapshot_fallback = "disabled (full replay requested)";
  } else if (options.signer == nullptr) {
    r.stats.snapshot_fallback = "disabled (no ledger key given)";
  } else if (!projections.Snapshottable()) {
    r.stats.snapshot_fallback = "a state machine has no snapshot support";
  } else {
    const absl::Time snap_start = absl::Now();
    absl::StatusOr<TailStart> tail = FromSnapshot(db, nodes, *options.signer, r, projections);
    r.stats.snapshot_time = absl::Now() - snap_start;
    if (!tail.ok()) {
      if (!absl::IsNotFound(tail.status()) && tail.status().code() != absl::StatusCode::kUnauthenticated &&
          !absl::IsInvalidArgument(tail.status()) && !absl::IsDataLoss(tail.status()) &&
          !absl::IsFailedPrecondition(tail.status())) {
        return tail.status();  // I/O
      }
      r.stats.snapshot_fallback = std::string(tail.status().message());
    } else {
      ReplayScope replaying(projections);
      ScrubOptions so;
      so.check_indexes = false;
      so.stop_at_first = true;
      so.on_entry = on_entry;
      so.start = tail->size;
      so.start_tree = std::move(tail->tree);
      so.start_prev_leaf = std::move(tail->prev_leaf);
      so.start_recorded_at = tail->recorded_at;
      const absl::Time start = absl::Now();
      TRIALOG_ASSIGN_OR_RETURN(ScrubReport report, ScrubStore(db, checkpointer, so));
      r.stats.replay_time = absl::Now() - start;
      if (report.ok()) {
        r.chain.trial_id = tail->trial_id;
        r.stats.snapshot_used = true;
        r.stats.snapshot_size = tail->size;
        return r;
      }
      // Damage in the tail: start over from empty projections and walk
      // everything, so the first bad index is named.
      r.stats.snapshot_fallback =
          absl::StrCat("the tail after the snapshot is damaged: ", report.ToStatus().message());
      TRIALOG_RETURN_IF_ERROR(RestoreProjections(tail->empty, projections));
      r.stats.replayed_entries = 0;
    }
  }

  // Replay (and check) every entry.
  ReplayScope replaying(projections);
  ScrubOptions so;
  so.check_indexes = false;
  so.stop_at_first = true;
  so.on_entry = on_entry;
  const absl::Time start = absl::Now();
  TRIALOG_ASSIGN_OR_RETURN(ScrubReport report, ScrubStore(db, checkpointer, so));
  r.stats.replay_time = absl::Now() - start;
  if (!report.ok()) r.damage = report.ToStatus();
  return r;
}

// The index repair and format upgrade of a checked store of `size`
// entries: a format-2 store (every index row present) is upgraded to format
// 4 with indexed = size; a format-3 or 4 store has the rows of [indexed,
// size) rebuilt, and a format-3 store is then upgraded to format 4 (its
// node rows of levels 1-3 stay; nothing reads them but Scrub). Damage (a
// bad watermark, an entry that cannot be re-indexed) is returned as
// DATA_LOSS.
absl::Status RepairIndex(Db& db, uint64_t size, OpenStats* stats) {
  TRIALOG_ASSIGN_OR_RETURN(std::optional<std::string> format, Meta(db, kMetaFormat));
  if (format.has_value() && *format == kFormatVersion2) {
    rocksdb::WriteBatch w;
    w.Put(db.handle(Cf::kMeta), ToSlice(kMetaFormat), ToSlice(kFormatVersion));
    w.Put(db.handle(Cf::kMeta), ToSlice(kMetaIndexed), ToSlice(EncodeBigEndian64(size)));
    return db.Write(&w, /*sync=*/true);
  }
  TRIALOG_ASSIGN_OR_RETURN(std::optional<uint64_t> indexed, ReadIndexed(db));
  if (!indexed.has_value()) return absl::DataLossError("meta row \"indexed\" is missing");
  if (*indexed > size) {
    return absl::DataLossError(absl::StrCat("meta \"indexed\" is ", *indexed,
                                            ", beyond the signed size ", size));
  }
  const absl::Time start = absl::Now();
  TRIALOG_ASSIGN_OR_RETURN(stats->reindexed_entries, Reindex(db, *indexed, size));
  stats->reindex_time = absl::Now() - start;
  if (format.has_value() && *format == kFormatVersion3) {
    // Before the first append without rows below level 4: a format-3 build
    // would read those rows for proofs.
    rocksdb::WriteBatch w;
    w.Put(db.handle(Cf::kMeta), ToSlice(kMetaFormat), ToSlice(kFormatVersion));
    return db.Write(&w, /*sync=*/true);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Recovered> Recover(Db& db, const Checkpointer& checkpointer, NodeStore& nodes,
                                  ledger::PrincipalRegistry* registry,
                                  const std::vector<ledger::StateMachine*>& machines,
                                  const RecoverOptions& options) {
  TRIALOG_ASSIGN_OR_RETURN(Recovered r,
                           RecoverChecked(db, checkpointer, nodes, registry, machines, options));
  if (!r.damage.ok() || db.read_only()) return r;
  if (absl::Status s = RepairIndex(db, r.size, &r.stats); !s.ok()) {
    if (!absl::IsDataLoss(s)) return s;  // I/O
    r.damage = s;
  }
  return r;
}

}  // namespace trialog::storage
