// Scrub: re-derives everything a ledger store commits to from its entries
// and compares it with what is stored. Every entry is re-hashed and parsed,
// chain links (index, prev_leaf_hash, recorded_at order, stream versions)
// are checked, the Merkle tree is rebuilt and every perfect node of levels
// >= kStoredNodeMinLevel must be stored and equal the rebuilt one (a stored
// row of a lower level, kept by a store upgraded from format 3, must equal
// it too), the root the signed checkpoint's, and (optionally) the event-id
// and stream indexes must agree with the entries they point at.
//
// Threads: entries are read, parsed and leaf-hashed ahead of the walk on
// ScrubOptions::workers helper threads (each reads its own blocks of
// entries with its own iterator); the chain checks, the tree rebuild, the
// node comparisons and on_entry run on the calling thread in index order,
// so the report does not depend on the number of threads.
//
// Thread-safety: ScrubStore reads through a RocksDB snapshot, so it may run
// while the ledger appends; it sees the store as of its start.

#ifndef TRIALOG_STORAGE_SCRUB_H_
#define TRIALOG_STORAGE_SCRUB_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"
#include "core/merkle/merkle.h"
#include "storage/checkpointer.h"
#include "storage/schema.h"

namespace trialog::storage {

enum class DamageKind {
  kMissingEntry,      // no entry at an index below the stored size
  kUnparsableEntry,   // entry bytes do not parse as a well-formed Entry
  kHashMismatch,      // entry i's leaf hash is not what entry i+1 links to (or, for the
                      // last entry, what the signed root needs)
  kChainBreak,        // wrong index field, prev_leaf_hash, recorded_at order or stream version
  kMissingNode,       // a perfect node of level >= kStoredNodeMinLevel is not stored
  kNodeMismatch,      // a stored perfect node differs from the one rebuilt from the entries
  kRootMismatch,      // rebuilt root differs from the stored root / checkpoint root
  kIndexMismatch,     // event_ids / streams row disagrees with the entries
  kMetaMismatch,      // meta format wrong, or an entry beyond the signed size
  kBadCheckpoint,     // stored checkpoint does not open under the ledger key
};
// "missing entry", "hash mismatch", ...
absl::string_view DamageKindName(DamageKind kind);

struct Damage {
  DamageKind kind;
  // The entry index the damage is at; for a node, the first leaf it covers;
  // for root / meta / checkpoint / index-table damage, the signed size.
  uint64_t index = 0;
  std::string detail;  // what differs, with the values
};

struct ScrubReport {
  uint64_t size = 0;             // signed size (from the stored checkpoint; without
                                 // one, the last entry key + 1)
  uint64_t entries_checked = 0;  // entries read and re-hashed
  uint64_t nodes_checked = 0;    // stored node rows compared (and required ones missing)
  uint64_t damage_count = 0;     // all damages found (damages holds the first ones)
  std::vector<Damage> damages;   // sorted by index; at most kMaxReportedDamages

  static constexpr size_t kMaxReportedDamages = 1000;
  bool ok() const { return damage_count == 0; }
  // The damage at the lowest index. REQUIRES: !ok().
  const Damage& first() const { return damages.front(); }
  // OK, or DATA_LOSS "entry I: <kind>: <detail> (and N more problems)".
  absl::Status ToStatus() const;
};

struct ScrubOptions {
  bool check_indexes = true;   // also check event_ids, streams (and stream_heads empty)
  bool stop_at_first = false;  // stop walking at the first damage
  // Threads that read, parse and hash entries ahead of the walk (the chain
  // checks, the tree and on_entry stay on the calling thread, in index
  // order); 0 = the machine's cores (at most 4). The report is the same for
  // any value.
  int workers = 0;
  // Called with (entries done, total) every few thousand entries and at the end.
  std::function<void(uint64_t done, uint64_t total)> progress;
  // Called with every entry, in index order, as long as no damage was found
  // at or before it (Open replays the state machines through this).
  std::function<void(const ledger::ParsedEntry&)> on_entry;

  // Tail walk (Open after a trusted snapshot): walk only entries
  // [start, size). The caller vouches for everything before `start`:
  // `start_tree` is the tree of the first `start` leaves (its root already
  // checked), `start_prev_leaf` the leaf hash of entry start-1 and
  // `start_recorded_at` its recorded_at. A stream first met in the tail
  // must continue a version recorded in the streams index below `start`.
  // Leaves, links, nodes completed in the tail and the final root are
  // checked as in a full walk.
  uint64_t start = 0;
  merkle::CompactTree start_tree;
  std::string start_prev_leaf;
  int64_t start_recorded_at = 0;
};

// Scrubs the store in `db`. Damage goes into the report; the status is an
// error only when reading fails (RocksDB errors, converted).
absl::StatusOr<ScrubReport> ScrubStore(const Db& db, const Checkpointer& checkpointer,
                                       const ScrubOptions& options);

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_SCRUB_H_
