// storage::Ledger: one trial's durable ledger in one directory (a RocksDB
// database, layout in storage/schema.h). Appends go through the group-commit
// sequencer (storage/sequencer.h); reads, proofs and scrubs read RocksDB
// directly and see only durable entries (index < size()).
//
// Thread-safety: every method is thread-safe. Appends from many threads are
// sequenced by one writer thread; readers never block appenders except
// ReadState, which waits for a batch being applied to become durable.

#ifndef TRIALOG_STORAGE_LEDGER_H_
#define TRIALOG_STORAGE_LEDGER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/ledger/registry.h"
#include "core/ledger/state_machine.h"
#include "core/note/keys.h"
#include "storage/append.h"
#include "storage/backup.h"
#include "storage/checkpointer.h"
#include "storage/node_store.h"
#include "storage/published.h"
#include "storage/recovery.h"
#include "storage/schema.h"
#include "storage/scrub.h"
#include "storage/indexer.h"
#include "storage/sequencer.h"
#include "storage/snapshot.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace trialog::storage {

struct LedgerOptions {
  std::string dir;  // the ledger's directory (created if missing and allowed)
  // Signs every checkpoint; its key name is the ledger's origin. Required;
  // must outlive the Ledger.
  const note::NoteSigner* checkpoint_signer = nullptr;
  // The checkpoint origin; empty = the signer's key name, else must equal it.
  std::string origin;
  size_t max_batch = 512;  // envelopes per group commit (>= 1)
  bool sync = true;        // fsync every group commit (false: tests, bulk loads)
  // Appends are refused (UNAVAILABLE, ledger stays healthy) while the
  // directory's file system has fewer free bytes than this; 0 = no check.
  uint64_t min_free_bytes = 0;
  bool create_if_missing = true;
  // When true (the default), Open fails on a store that fails its open
  // checks. When false, Open succeeds: reads and Scrub work, every append
  // answers the check's status, and health() says what is wrong. The state
  // machines then hold only the entries before the damage.
  bool refuse_damaged = true;
  rocksdb::Env* env = nullptr;  // tests: fault injection; nullptr = default
  // How the event_ids/streams rows reach the store (storage/indexer.h).
  IndexerOptions indexer;

  // Projection snapshots (storage/snapshot.h), so that Open replays only
  // the entries after the latest one. Written only when the registry and
  // every machine have snapshot hooks, and only by a healthy ledger.
  // False: Open ignores any stored snapshot and replays (and checks) every
  // entry, as a full scrub of the chain does (trialogd
  // --full_replay_on_open). Snapshots are still written.
  bool use_snapshot = true;
  // A background thread writes a snapshot once this many entries were
  // appended since the last one (0 = never by count) ...
  uint64_t snapshot_every_entries = 10000;
  // ... but, by count, not sooner after the previous snapshot than this
  // many times the time that one took (capture under the state lock plus
  // hashing, signing and writing): snapshotting then costs at most about
  // 1/snapshot_duty_factor of the writer's time however large the
  // projections grow (a small state is snapshotted every
  // snapshot_every_entries; a large one less often, with a longer tail to
  // replay on open). 0 = no such limit.
  uint32_t snapshot_duty_factor = 20;
  // ... or once this much time passed with new entries since the last one
  // (zero or infinite = never by time).
  absl::Duration snapshot_interval = absl::Minutes(5);
  // Close writes a snapshot of the final state (synced) if it is newer.
  bool snapshot_on_close = true;
};

// What the snapshot writer did (Ledger::snapshot_stats()).
struct SnapshotStats {
  uint64_t written = 0;          // snapshots written by this Ledger
  uint64_t last_size = 0;        // tree size of the latest written (or loaded) one
  uint64_t last_bytes = 0;       // its body size
  // The part of writing the latest one that holds the state lock (appends
  // wait for it at their next batch): serialising the projections.
  absl::Duration last_capture_time;
  absl::Duration max_capture_time;  // the longest such stall so far
  // Hashing, signing and the RocksDB write (no lock held).
  absl::Duration last_write_time;
  absl::Status last_error;       // of the latest attempt
};

class Ledger {
 public:
  using Done = std::function<void(absl::StatusOr<AppendResult>)>;

  // Opens or creates the ledger in options.dir and replays its entries into
  // `registry` (may be null: no key re-check, for tools and tests) and
  // `machines` (not owned; must outlive the Ledger; each must be empty).
  // Errors: INVALID_ARGUMENT (options); NOT_FOUND (no store and not
  // creating); UNAVAILABLE (locked by another open Ledger, I/O);
  // FAILED_PRECONDITION (the stored checkpoint does not verify under the
  // signer's key or names another origin; foreign format) or DATA_LOSS
  // naming what differs (size, root, head, first bad entry) — see
  // storage/recovery.h. The message starts with the directory.
  static absl::StatusOr<std::unique_ptr<Ledger>> Open(
      LedgerOptions options, ledger::PrincipalRegistry* registry,
      std::vector<ledger::StateMachine*> machines);
  // Close()s, then releases RocksDB.
  ~Ledger();
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  // Appends one envelope; blocks until it is durable or rejected (see
  // storage/sequencer.h for the checks and their status codes).
  absl::StatusOr<AppendResult> Append(Admitted admitted);
  // As Append, answering `done` on the sequencer thread (see sequencer.h
  // for what callbacks may do) — or at once, on this thread, when the
  // ledger is closed or failed.
  void AppendAsync(Admitted admitted, Done done);
  // Queues all together (they may share group commits, in this order) and
  // waits; result i answers admitted[i] alone.
  std::vector<absl::StatusOr<AppendResult>> AppendAll(std::vector<Admitted> admitted);
  // As AppendAll without waiting: done(i, result) answers admitted[i], on
  // the sequencer thread after its batch is durable (same rules as
  // AppendAsync's callbacks), or at once on this thread when the ledger is
  // closed or failed. Lets a caller keep several batches queued.
  using DoneAt = std::function<void(size_t, absl::StatusOr<AppendResult>)>;
  void AppendAllAsync(std::vector<Admitted> admitted, DoneAt done);

  // Durable state (what a reader may rely on).
  uint64_t size() const { return published_->size(); }
  std::string root() const { return published_->root(); }           // 32 bytes
  std::string latest_checkpoint() const { return published_->checkpoint(); }
  // OK while appends are accepted; else why not (closed, failed, damaged).
  absl::Status health() const;
  const std::string& origin() const { return checkpointer_.origin(); }
  // "name+hex8+base64": the key every checkpoint verifies under.
  std::string verifier_key() const { return checkpointer_.verifier_key(); }

  // The stored bytes of entry `index`: OUT_OF_RANGE when index >= size(),
  // DATA_LOSS when a durable entry is missing.
  absl::StatusOr<std::string> ReadEntry(uint64_t index) const;
  // Calls fn(index, bytes) for entries [from, min(from + limit, size()))
  // in order until fn returns false. OUT_OF_RANGE when from > size();
  // DATA_LOSS on a missing entry. `bytes` is valid only during the call.
  absl::Status ReadRange(uint64_t from, uint64_t limit,
                         const std::function<bool(uint64_t, absl::string_view)>& fn) const;
  // The index of the entry carrying `event_id` (16 bytes; INVALID_ARGUMENT
  // otherwise), NOT_FOUND if none is durable.
  absl::StatusOr<uint64_t> FindEventId(absl::string_view event_id) const;
  // Indexes of `stream_id`'s entries with version >= from_version (versions
  // start at 1; 0 is read as 1), in version order, at most `limit`.
  absl::StatusOr<std::vector<uint64_t>> StreamIndexes(
      absl::string_view stream_id, uint64_t from_version,
      size_t limit = std::numeric_limits<size_t>::max()) const;
  // The stream's durable version (0 for a stream with no entries).
  absl::StatusOr<uint64_t> StreamVersion(absl::string_view stream_id) const;
  // StreamVersion of each of `stream_ids`, in order, read through one
  // RocksDB iterator (creating one per stream dominates the cost when a
  // batch touches many streams). INVALID_ARGUMENT for a malformed id (the
  // message gives its position, from 0, when there are several).
  absl::StatusOr<std::vector<uint64_t>> StreamVersions(
      absl::Span<const absl::string_view> stream_ids) const;

  // The leaf hash of entry `index`, SHA-256(0x00 || its stored bytes),
  // through the proofs' node source: right after an InclusionProof of the
  // same index it comes from the tile just hashed, without another read.
  // OUT_OF_RANGE when index >= size(), DATA_LOSS when the entry is missing.
  absl::StatusOr<std::string> LeafHash(uint64_t index) const;

  // RFC 6962 proofs and roots over the durable tree. OUT_OF_RANGE when a
  // size exceeds size(); INVALID_ARGUMENT as core/merkle says (index >=
  // tree_size; consistency from size 0).
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t tree_size) const;
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t old_size,
                                                            uint64_t new_size) const;
  absl::StatusOr<std::string> RootAt(uint64_t tree_size) const;

  // Blocks until size() >= at_least (true), or until `timeout` passes or the
  // ledger closes (false). For live tails.
  bool WaitForSize(uint64_t at_least, absl::Duration timeout) const;

  // Runs f() with the state machines consistent with size(): no Apply runs
  // meanwhile, and every entry folded in is durable. Returns f's result.
  // f must not call Append (it would deadlock the sequencer's next batch).
  template <typename F>
  auto ReadState(F&& f) const {
    published_->state_readers_waiting().fetch_add(1, std::memory_order_relaxed);
    absl::ReaderMutexLock lock(&published_->state_mu());
    published_->state_readers_waiting().fetch_sub(1, std::memory_order_relaxed);
    return std::forward<F>(f)();
  }

  // Runs f() while the sequencer cannot Apply to the principal registry,
  // WITHOUT waiting for a durable boundary: the registry f sees may include
  // entries sequenced but not yet durable (at most the batch being written
  // and the one being sequenced). For admission only (which key verifies a
  // principal's signature): the sequencer re-checks that key before
  // sequencing, and if a batch's write fails the ledger refuses everything
  // after it, so an envelope admitted under a not-yet-durable key is never
  // stored without that key being durable first. f must read only the
  // registry given at Open (not other state machines) and must not call
  // Append. Returns f's result.
  template <typename F>
  auto ReadRegistry(F&& f) const {
    absl::ReaderMutexLock lock(&published_->registry_mu());
    return std::forward<F>(f)();
  }

  // Re-derives and compares everything stored (storage/scrub.h), including
  // the index column families. Runs on a snapshot, alongside appends.
  absl::StatusOr<ScrubReport> Scrub(
      std::function<void(uint64_t done, uint64_t total)> progress = {}) const;

  // A consistent copy of the store in `dest_dir`, made while appends go on
  // (storage/backup.h); what the copy holds, read back from it.
  absl::StatusOr<BackupInfo> Backup(const std::string& dest_dir) const;

  // Finishes everything queued, then refuses appends (UNAVAILABLE "ledger
  // is closed") and wakes WaitForSize callers. Reads keep working until the
  // Ledger is destroyed. Idempotent; not from a Done callback.
  absl::Status Close();

  const OpenStats& open_stats() const { return open_stats_; }
  // Waits until the lower Merkle levels are in memory (read by a thread
  // started at open, NodeStore::StartLowLevelLoad; until then proofs read
  // them from RocksDB): true when loaded, false when the load stopped or
  // never started (damaged store). For benchmarks and tests.
  bool WaitForNodeCache() const { return nodes_->WaitLowLevelLoad(); }
  SnapshotStats snapshot_stats() const;
  // Writes a snapshot of the state now (if newer than the latest one and
  // the projections support it), with `sync`. The state lock is held only
  // while serialising. OK (doing nothing) when not applicable; errors are
  // those of the write. Thread-safe; not from a Done callback.
  absl::Status WriteSnapshotNow(bool sync = false);
  SequencerStats sequencer_stats() const;
  // How the index rows were written (zero for a damaged, read-only ledger).
  IndexerStats indexer_stats() const;
  // Blocks until the event_ids/streams rows of entries below `n` are in
  // the store (storage/indexer.h), making the indexer write what is
  // durable at once. Lookups never need this (they read pending rows too);
  // scrubs and benchmarks do. OK at once for a damaged ledger.
  absl::Status WaitIndexed(uint64_t n) const;

 private:
  Ledger(Checkpointer checkpointer, std::unique_ptr<Db> db)
      : checkpointer_(std::move(checkpointer)), db_(std::move(db)) {}
  absl::Status CheckSize(uint64_t tree_size) const;

  void SnapshotLoop();
  // WriteSnapshotNow; `closing`: called by Close after the sequencer
  // finished (health already checked).
  absl::Status WriteSnapshot(bool sync, bool closing);

  Checkpointer checkpointer_;
  const note::NoteSigner* signer_ = nullptr;
  LedgerOptions options_;
  Projections projections_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<NodeStore> nodes_;
  std::unique_ptr<Published> published_;
  std::unique_ptr<Indexer> indexer_;      // null when the store is damaged
  std::unique_ptr<Sequencer> sequencer_;  // null when the store is damaged
  OpenStats open_stats_;
  absl::Mutex close_mu_;
  bool closed_ = false;

  // The snapshot writer (a thread while the ledger is open and healthy).
  absl::Mutex snapshot_mu_;  // serialises snapshot writes
  mutable absl::Mutex snapshot_stats_mu_;
  SnapshotStats snapshot_stats_ ABSL_GUARDED_BY(snapshot_stats_mu_);
  std::string trial_id_ ABSL_GUARDED_BY(snapshot_mu_);  // entry 0's, once known
  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread snapshot_thread_;
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_LEDGER_H_
