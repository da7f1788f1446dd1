// The group-commit sequencer: many appenders, ONE writer thread.
//
// Appenders queue admitted envelopes; the writer takes everything queued
// (at most max_batch) and, per envelope in queue order:
//   1. idempotency: an event id already stored or used earlier in the batch
//      gives the original receipt with duplicate = true when the signed
//      envelope (bytes and signature) is identical, else ALREADY_EXISTS
//      naming the entry;
//   2. the expected stream version, if set (ABORTED "stream S is at version
//      V, expected W");
//   3. the signer's key: the principal registry must still name
//      `verified_key` for the actor (UNAUTHENTICATED "key of principal X
//      changed/revoked before sequencing"); a Genesis at index 0 must be
//      signed with the first admin key it carries;
//   4. the registry's and every state machine's Check (status returned as
//      is);
// then assigns index, chain link, recorded_at = max(now, last) (UTC µs) and
// stream version, serialises the Entry, hashes it, Applies it to the
// machines and appends it to the Merkle tree. One WriteBatch per batch holds
// the entries, new perfect nodes, index rows, meta and the checkpoint of the
// new size (signed before the write); it is written with sync, and only
// then is anyone answered. A rejected envelope leaves no trace.
//
// If signing or the write fails, everyone in the batch gets UNAVAILABLE
// with the cause and the ledger refuses appends until reopened (its
// in-memory state may be ahead of the disk; reopening rebuilds it).
//
// Thread-safety: Submit may be called from any thread. Callbacks run on the
// writer thread, after the batch is durable: they must be quick and must not
// block on the ledger (they may call Submit, not Close).

#ifndef TRIALOG_STORAGE_SEQUENCER_H_
#define TRIALOG_STORAGE_SEQUENCER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/ledger/registry.h"
#include "core/ledger/state_machine.h"
#include "core/merkle/merkle.h"
#include "storage/append.h"
#include "storage/checkpointer.h"
#include "storage/node_store.h"
#include "storage/published.h"
#include "storage/schema.h"

namespace trialog::storage {

// The writer's view of the chain's end (in memory; rebuilt on open).
struct ChainState {
  uint64_t size = 0;
  std::string head;                  // leaf hash of entry size-1; 32 zero bytes if empty
  int64_t last_recorded_at = 0;      // of entry size-1; 0 if empty
  merkle::CompactTree tree;          // right border of the tree of `size` leaves
  std::string trial_id;              // entry 0's trial id ("" if empty)
};

struct SequencerOptions {
  size_t max_batch = 512;  // envelopes per WriteBatch (>= 1)
  bool sync = true;        // fsync each batch (false only for tests / bulk loads)
  // Refuse a batch (UNAVAILABLE, nothing sequenced, the ledger stays
  // healthy) while the data file system has fewer free bytes than this,
  // so RocksDB never meets ENOSPC mid-write. 0 = no check. `dir` is where
  // free space is measured.
  uint64_t min_free_bytes = 0;
  std::string dir;
};

struct SequencerStats {
  uint64_t batches_written = 0;   // WriteBatches written
  uint64_t entries_appended = 0;  // new entries made durable
  uint64_t requests = 0;          // requests answered (incl. duplicates, rejections)
  uint64_t largest_batch = 0;     // most requests taken in one batch
  // Writer-thread wall time per phase, summed over batches.
  absl::Duration sequence_time;   // checks, entry building, Apply, tree
  absl::Duration sign_time;       // checkpoint signing
  absl::Duration write_time;      // the synced WriteBatch
  absl::Duration answer_time;     // publishing and running callbacks
};

class Sequencer {
 public:
  using Done = std::function<void(absl::StatusOr<AppendResult>)>;
  struct Request {
    Admitted admitted;
    Done done;  // required
  };

  // Starts the writer thread. Borrowed pointers must outlive the
  // Sequencer; `registry` may be null (no key re-check; tools and tests
  // only). The registry is checked and applied before `machines`, in order.
  Sequencer(const SequencerOptions& options, Db* db, NodeStore* nodes,
            const Checkpointer* checkpointer, ledger::PrincipalRegistry* registry,
            std::vector<ledger::StateMachine*> machines, ChainState chain,
            Published* published);
  // Close()s.
  ~Sequencer();
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  // Queues `requests` together (so they can share a batch, in this order).
  // After Close, or once the ledger failed, each is answered at once (on
  // this thread) with UNAVAILABLE / the failure.
  void Submit(std::vector<Request> requests);

  // Refuses new requests (UNAVAILABLE "ledger is closed"), finishes every
  // request queued before, and stops the writer. Idempotent. Must not be
  // called from a Done callback.
  void Close();

  SequencerStats stats() const;

 private:
  struct Batch;
  void Run();
  void ProcessBatch(std::vector<Request>& requests);
  // UNAVAILABLE when the data file system is below options_.min_free_bytes.
  absl::Status CheckFreeSpace() const;
  absl::StatusOr<AppendResult> SequenceOne(Batch& batch, size_t position);
  absl::StatusOr<AppendResult> StoredDuplicate(const Request& request, uint64_t index);
  absl::Status CheckKey(const Admitted& admitted) const;

  const SequencerOptions options_;
  Db* const db_;
  NodeStore* const nodes_;
  const Checkpointer* const checkpointer_;
  ledger::PrincipalRegistry* const registry_;
  const std::vector<ledger::StateMachine*> machines_;
  Published* const published_;

  // Writer thread only.
  ChainState chain_;
  // Durable version of recently appended streams (a cache of the
  // streams column family, saving a RocksDB seek per envelope); cleared when it
  // would exceed kMaxCachedStreamHeads streams.
  static constexpr size_t kMaxCachedStreamHeads = size_t{1} << 18;
  absl::flat_hash_map<std::string, uint64_t> stream_heads_;

  mutable absl::Mutex mu_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  SequencerStats stats_ ABSL_GUARDED_BY(mu_);

  absl::Mutex close_mu_;  // serialises Close
  std::thread writer_;
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_SEQUENCER_H_
