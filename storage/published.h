// What readers of a ledger see: the durable size, root and checkpoint, the
// ledger's health, and the lock that orders state-machine reads against the
// sequencer's Apply calls. The sequencer is the only writer.
//
// Invariant: while state_mu() is held (shared or exclusive), size() is the
// number of entries folded into the state machines and every one of them is
// durable.
//
// Thread-safety: all methods are thread-safe.

#ifndef TRIALOG_STORAGE_PUBLISHED_H_
#define TRIALOG_STORAGE_PUBLISHED_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace trialog::storage {

class Published {
 public:
  Published() = default;
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  uint64_t size() const { return size_.load(std::memory_order_acquire); }
  std::string root() const;
  std::string checkpoint() const;
  // The checkpoint note and its size, read together.
  void Checkpoint(uint64_t* size, std::string* note) const;
  // OK while the ledger accepts appends; otherwise why not (sticky).
  absl::Status health() const;

  // True once size() >= at_least; false after `timeout` or once closed.
  bool WaitForSize(uint64_t at_least, absl::Duration timeout) const;

  // Orders ReadState against Apply (the sequencer holds it exclusively from
  // a batch's first Apply until the batch is durable and published, and
  // across back-to-back batches while one is sequenced as the previous one
  // is written).
  absl::Mutex& state_mu() const { return state_mu_; }
  // Readers waiting for state_mu(): ReadState counts itself here while it
  // waits, so the sequencer, which may hold the lock across pipelined
  // batches, lets it in at the next batch boundary where all is durable.
  std::atomic<int>& state_readers_waiting() const { return state_readers_waiting_; }
  // Orders reads of the principal registry for admission (Ledger::
  // ReadRegistry) against the sequencer's registry Apply only: the
  // sequencer holds it exclusively just around each entry's registry
  // Apply, never across a write, so admission does not wait for a batch to
  // become durable. What it guards may be ahead of the durable head by the
  // batches being sequenced and written (see Ledger::ReadRegistry).
  absl::Mutex& registry_mu() const { return registry_mu_; }

  // Writer side. Publish makes a new durable head visible and wakes waiters.
  void Publish(uint64_t size, std::string root, std::string checkpoint);
  // Records the first failure; later appends are refused with it.
  void Fail(absl::Status status);
  // Wakes WaitForSize callers for good.
  void MarkClosed();

 private:
  mutable absl::Mutex state_mu_;
  mutable std::atomic<int> state_readers_waiting_{0};
  mutable absl::Mutex registry_mu_;
  std::atomic<uint64_t> size_{0};
  mutable absl::Mutex mu_;
  std::string root_ ABSL_GUARDED_BY(mu_);
  std::string checkpoint_ ABSL_GUARDED_BY(mu_);
  uint64_t checkpoint_size_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status health_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_PUBLISHED_H_
