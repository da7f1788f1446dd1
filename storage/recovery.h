// Opening a ledger store: initialise a new one, or check an existing one
// against its signed checkpoint and resume exactly where it stopped.
//
// Checks, in order (the first failure is the damage reported):
//   meta "format" is trialog-storage/4, /3 or /2 (a format-1 or foreign store:
//   FAILED_PRECONDITION, an error of Recover itself);
//   meta "checkpoint" is present (DATA_LOSS), opens under the ledger key
//   and names this origin (FAILED_PRECONDITION: wrong key or origin
//   configured, or a forged note); its size and root are the store's;
//   the right-border nodes (a border leaf hashed from its entry) rebuild the
//   signed root (DATA_LOSS);
//   entry size-1 exists, parses and claims that index, and no entry is
//   stored at index size (DATA_LOSS); it gives the chain head and the last
//   recorded_at;
//   then the projections are rebuilt, from a snapshot when one is trusted:
//   the stored snapshot (storage/snapshot.h) verifies under the ledger key,
//   its body hashes to the signed digest, its size is at most the signed
//   size, its root equals the root of the stored right-border nodes at its
//   size, and its machine kinds are the ledger's; then only the tail
//   [snapshot size, size) is replayed, re-hashed, chain-checked, compared
//   with the stored nodes it completes and extended to the signed root
//   (ScrubStore from the snapshot's border). Without a trusted snapshot,
//   or when the tail shows damage (to name the first bad index), every
//   entry is replayed the same way from 0 (ScrubStore with stop_at_first;
//   DATA_LOSS naming the first bad index and the kind of damage). A
//   snapshot never fails the open by itself: OpenStats says why it was
//   not used;
//   finally, on a writable store without damage, the deferred index rows
//   are repaired (storage/schema.h, "Deferred index rows"): a format-2
//   store is upgraded in place to format 4 (meta "format" = 4, "indexed" =
//   size: format 2 held every index row); a format-3 or 4 store gets the
//   event_ids and streams rows of entries [meta "indexed", size) rebuilt
//   from the entries and "indexed" = size (DATA_LOSS when "indexed" is
//   missing, beyond the size or malformed), and a format-3 store then
//   gets meta "format" = 4. After Recover, indexed == size and the format
//   is 4. A read-only open upgrades nothing.
//
// Thread-safety: call before the ledger is shared.

#ifndef TRIALOG_STORAGE_RECOVERY_H_
#define TRIALOG_STORAGE_RECOVERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/ledger/registry.h"
#include "core/ledger/state_machine.h"
#include "core/note/keys.h"
#include "storage/checkpointer.h"
#include "storage/node_store.h"
#include "storage/schema.h"
#include "storage/sequencer.h"

namespace trialog::storage {

struct OpenStats {
  uint64_t replayed_entries = 0;      // entries folded into the state machines
  absl::Duration replay_time;         // wall time of the replay walk
  absl::Duration open_time;           // whole Open, RocksDB included
  // Parts of open_time before the walk: RocksDB's DB::Open, the cheap
  // checks (checkpoint, border, last entry) and loading the node cache.
  absl::Duration rocksdb_open_time;
  absl::Duration check_time;
  absl::Duration node_load_time;
  // Snapshot use: whether the projections came from a stored snapshot (and
  // at which size), the time to read, authenticate and restore it, and,
  // when none was used, why ("no snapshot", "disabled", the check that
  // failed, ...).
  bool snapshot_used = false;
  uint64_t snapshot_size = 0;
  absl::Duration snapshot_time;
  std::string snapshot_fallback;
  // Index repair: entries whose event_ids/streams rows were rebuilt (the
  // tail a crash left unindexed) and the time it took.
  uint64_t reindexed_entries = 0;
  absl::Duration reindex_time;
};

struct RecoverOptions {
  // The ledger key, to authenticate the stored snapshot; null = no snapshot.
  const note::NoteSigner* signer = nullptr;
  // False: ignore any snapshot and replay every entry (full replay + scrub).
  bool use_snapshot = true;
};

struct Recovered {
  ChainState chain;          // resume point for the sequencer
  uint64_t size = 0;         // durable size for readers (signed size, even if damaged)
  std::string root;          // root at `size` ("" if unknown)
  std::string checkpoint;    // stored signed checkpoint ("" if unknown)
  absl::Status damage;       // OK, or why the store must not be appended to
  OpenStats stats;
};

// Initialises `db` if it holds no ledger yet (signs and stores the
// checkpoint of the empty tree), else runs the checks above and replays
// entries into `registry` (may be null) and `machines`. Returns an error
// status only for unreadable stores (I/O) or a foreign format; damage goes
// into Recovered::damage.
absl::StatusOr<Recovered> Recover(Db& db, const Checkpointer& checkpointer, NodeStore& nodes,
                                  ledger::PrincipalRegistry* registry,
                                  const std::vector<ledger::StateMachine*>& machines,
                                  const RecoverOptions& options = {});

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_RECOVERY_H_
