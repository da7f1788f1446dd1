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
// the entries, the new perfect nodes of levels >= kStoredNodeMinLevel and
// the checkpoint of the new size (signed before the write); it is written
// with sync, and only then is anyone answered. The batch's event_ids and streams rows are staged with the
// Indexer (storage/indexer.h), which writes them after the synced write;
// until then idempotency finds the batch's event ids in the Indexer's
// pending map, and stream versions come from stream_heads_ (every stream
// with a not-yet-indexed row is in it). A rejected envelope leaves no trace.
//
// Pipelined group commit: two threads. The sequencing thread does all the
// above up to building the signed WriteBatch, then hands it to the writing
// thread, which writes it with sync, publishes it and answers its callers;
// meanwhile the sequencing thread takes and sequences the next batch. The
// hand-over is a one-batch slot: a prepared batch waits there while the
// writer is still writing the previous one, so the writer goes from one
// write to the next without waiting for the sequencing thread to wake up.
// The sequencing thread takes new requests only while the slot is empty
// (the writer is writing the batch before): requests arriving during a
// write accumulate into the next batch rather than into small ones. Batches are
// written and answered in order, and nobody is answered before their
// batch's write returned. The sequencing thread keeps the state lock
// across such overlapping batches (readers must not see Applies that are
// not durable) and releases it only at a boundary where everything handed
// is durable: when the queue is still empty once the writer finished every
// handed batch, or when a ReadState caller is waiting. (It does not drain
// the pipeline merely because the queue is momentarily empty: requests
// that arrive while a batch is being written are sequenced meanwhile.)
// An envelope whose event id is in a batch handed but not yet written
// waits for the writer to finish every handed batch, then is answered from
// the stored entry (duplicate or ALREADY_EXISTS).
//
// If signing or the write fails, everyone in the batch gets UNAVAILABLE
// with the cause and the ledger refuses appends until reopened (its
// in-memory state may be ahead of the disk; reopening rebuilds it).
//
// Thread-safety: Submit may be called from any thread. Callbacks run on the
// writing thread, after the batch is durable: they must be quick and must not
// block on the ledger (they may call Submit, not Close or ReadState: the
// sequencing thread may hold the state lock while it waits for the writing
// thread).

#ifndef TRIALOG_STORAGE_SEQUENCER_H_
#define TRIALOG_STORAGE_SEQUENCER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
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
#include "storage/indexer.h"
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
  absl::Duration write_time;      // the synced WriteBatch (writing thread)
  absl::Duration answer_time;     // publishing and running callbacks (writing thread)
  // Sequencing-thread wall time spent waiting for the hand-over slot to
  // empty (a prepared batch was still waiting there while the writer wrote
  // the one before), before taking new requests or handing a batch over.
  absl::Duration handoff_wait_time;
  // CPU time (this thread's, CLOCK_THREAD_CPUTIME_ID) of the sequencing
  // thread in Prepare (sequence + sign) and of the writing thread in
  // Commit (write + answer): unlike the wall times above, not inflated
  // when other processes take the cores.
  absl::Duration sequence_cpu_time;
  absl::Duration commit_cpu_time;
};

class Sequencer {
 public:
  using Done = std::function<void(absl::StatusOr<AppendResult>)>;
  struct Request {
    Admitted admitted;
    Done done;  // required
  };

  // Starts the sequencing and writing threads. Borrowed pointers must outlive the
  // Sequencer; `registry` may be null (no key re-check; tools and tests
  // only). The registry is checked and applied before `machines`, in order.
  // `indexer` (required) must be at chain.size already (store re-indexed)
  // and is told of every durable batch.
  Sequencer(const SequencerOptions& options, Db* db, NodeStore* nodes,
            const Checkpointer* checkpointer, ledger::PrincipalRegistry* registry,
            std::vector<ledger::StateMachine*> machines, ChainState chain,
            Published* published, Indexer* indexer);
  // Close()s.
  ~Sequencer();
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  // Queues `requests` together (so they can share a batch, in this order).
  // After Close, or once the ledger failed, each is answered at once (on
  // this thread) with UNAVAILABLE / the failure.
  void Submit(std::vector<Request> requests);

  // Refuses new requests (UNAVAILABLE "ledger is closed"), finishes every
  // request queued before, and stops both threads. Idempotent. Must not be
  // called from a Done callback.
  void Close();

  SequencerStats stats() const;

 private:
  struct Batch;
  void Run();        // the sequencing thread
  void RunWrites();  // the writing thread
  // Sequences `requests` into a batch ready to write (or answers them at
  // once when the ledger is failed or short of space: nullptr).
  std::unique_ptr<Batch> Prepare(std::vector<Request> requests);
  // Writing thread: writes, publishes, answers.
  void Commit(Batch& batch);
  // Sequencing thread: puts `batch` into the hand-over slot once it is
  // free (the writer took the previous batch).
  void Handoff(std::unique_ptr<Batch> batch);
  // Sequencing thread: blocks until every handed batch is finished.
  void WaitDrained();
  // Sequencing thread: WaitDrained, then releases the state lock if held.
  void ReleaseState();
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
  Indexer* const indexer_;

  // Sequencing thread only.
  ChainState chain_;
  bool state_locked_ = false;  // holds published_->state_mu() exclusively
  // Batches handed to the writing thread (written by this thread under
  // pipe_mu_, read in Await conditions).
  uint64_t handed_seq_ ABSL_GUARDED_BY(pipe_mu_) = 0;
  // Version of recently appended streams as sequenced (a cache of the
  // streams column family, saving a RocksDB seek per envelope; ahead of
  // the store by the batches not yet indexed); cleared, once nothing is
  // being written and everything is indexed, when it would exceed
  // kMaxCachedStreamHeads streams.
  static constexpr size_t kMaxCachedStreamHeads = size_t{1} << 18;
  absl::flat_hash_map<std::string, uint64_t> stream_heads_;

  mutable absl::Mutex mu_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Batches the writing thread finished (a copy of finished_seq_, updated
  // after it, so the sequencing thread can wait on the queue and the writer
  // at once), and batches handed (sequencing thread only; read in its own
  // Await conditions under mu_).
  uint64_t writer_finished_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t handed_count_ = 0;
  SequencerStats stats_ ABSL_GUARDED_BY(mu_);

  // The hand-over between the two threads.
  absl::Mutex pipe_mu_;
  std::unique_ptr<Batch> handed_ ABSL_GUARDED_BY(pipe_mu_);  // not yet taken by the writer
  uint64_t finished_seq_ ABSL_GUARDED_BY(pipe_mu_) = 0;     // batches the writer finished
  bool sequencer_done_ ABSL_GUARDED_BY(pipe_mu_) = false;

  absl::Mutex close_mu_;  // serialises Close
  std::thread sequencer_;
  std::thread writer_;
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_SEQUENCER_H_
