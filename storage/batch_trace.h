// A per-batch timeline of the group-commit pipeline, for profiling only
// (storage_bench --timeline). Off unless a BatchTrace is installed; when
// off, the sequencer pays one relaxed atomic load per batch.
//
// Times are absl::Time taken on the thread that did the step:
//   taken      the sequencing thread took the requests off the queue
//   sequenced  checks, entries, Apply, tree and the checkpoint signature done
//   handed     the writing thread accepted the batch (Handoff returned)
//   write_start / write_end   around the synced WriteBatch (writing thread)
//   answered   every caller's Done ran (writing thread)
// and, separately, the start and end of every index write of the Indexer.
//
// Thread-safety: Install/Uninstall from one thread while no ledger is
// appending; Record from any thread.

#ifndef TRIALOG_STORAGE_BATCH_TRACE_H_
#define TRIALOG_STORAGE_BATCH_TRACE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace trialog::storage {

struct BatchTimes {
  uint64_t requests = 0;  // requests in the batch
  uint64_t appended = 0;  // new entries
  uint64_t queued = 0;    // requests still queued right after taking this batch
  absl::Time taken, sequenced, handed, write_start, write_end, answered;
};

class BatchTrace {
 public:
  // Keeps at most `capacity` batches (the first ones recorded).
  explicit BatchTrace(size_t capacity) : capacity_(capacity) {}

  void Record(const BatchTimes& t);
  std::vector<BatchTimes> batches() const;
  // The indexer's unsynced writes (storage/indexer.h), [start, end).
  void RecordIndexWrite(absl::Time start, absl::Time end);
  std::vector<std::pair<absl::Time, absl::Time>> index_writes() const;

  // The trace the sequencers of this process record into (nullptr: none).
  static BatchTrace* Installed();
  static void Install(BatchTrace* trace);

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::vector<BatchTimes> batches_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<absl::Time, absl::Time>> index_writes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_BATCH_TRACE_H_
