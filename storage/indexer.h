// The deferred index writer: event_ids and streams rows (storage/schema.h,
// "Deferred index rows") written after the synced batch of their entries,
// off the sequencer's critical path, in batches spanning many group commits.
//
// Life of an entry's index rows:
//   1. the sequencing thread Stages them with the batch (not durable yet):
//      from then on FindPending answers the entry's event id, and
//      PendingStreamVersions / PendingStreamRows its stream row;
//   2. the writing thread reports the batch's size Durable once its synced
//      write returned;
//   3. the indexer thread lets durable rows gather for up to
//      IndexerOptions::write_interval (or max_write_entries entries, or
//      while someone waits in WaitIndexed), then writes them in ONE
//      unsynced WriteBatch with meta "indexed" = the size they reach;
//      then it drops them from the pending rows and wakes WaitIndexed.
//      One index write per interval instead of one per group commit: each
//      is a second RocksDB write (log append, memtable inserts, a thread
//      wake-up) that the next synced batch may wait behind
//      (docs/PERFORMANCE.md, session 9).
// Readers that need every row below a size merge the pending rows with the
// store, reading the pending rows FIRST (a row leaves them only once it is
// in the store), or call WaitIndexed.
//
// A crash before 3 is repaired on open by Reindex (recovery): the entries
// of the last write_interval or so. An index write that fails fails the
// ledger (Published::Fail): the store stays consistent (open re-indexes),
// but this process cannot answer lookups.
//
// Thread-safety: Stage from the sequencing thread; Durable from the
// writing thread; FindPending, PendingStream*, WaitIndexed and indexed()
// from any thread; Close from the owner once the sequencer is closed.

#ifndef TRIALOG_STORAGE_INDEXER_H_
#define TRIALOG_STORAGE_INDEXER_H_

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/published.h"
#include "storage/schema.h"

namespace trialog::storage {

// A 16-byte event id as a fixed-size key (no heap allocation per id).
using EventIdKey = std::array<char, 16>;
// REQUIRES: event_id.size() == 16.
EventIdKey ToEventIdKey(absl::string_view event_id);

// The index rows of one entry.
struct IndexRow {
  EventIdKey event_id;
  std::string stream_id;
  uint64_t version = 0;  // the entry's stream version (>= 1)
  uint64_t index = 0;    // the entry's index
};

struct IndexerOptions {
  // Durable rows wait at most this long (from the first of them becoming
  // durable) before they are written, so that one WriteBatch carries the
  // rows of the group commits of that interval. Zero: each durable batch
  // is written at once.
  absl::Duration write_interval = absl::Milliseconds(10);
  // ... and no longer once this many entries' rows wait (bounds one
  // write's memtable inserts, which the next synced batch waits behind).
  uint64_t max_write_entries = 4096;
};

struct IndexerStats {
  uint64_t writes = 0;      // index WriteBatches written
  uint64_t rows = 0;        // entries indexed by them
  uint64_t max_pending = 0; // most event ids pending at once
};

class Indexer {
 public:
  // Starts the indexer thread. `indexed` is the store's meta "indexed",
  // which must equal its size (Reindex first). `db` and `published` must
  // outlive the Indexer.
  Indexer(Db* db, Published* published, uint64_t indexed,
          const IndexerOptions& options = IndexerOptions());
  // Close()s.
  ~Indexer();
  Indexer(const Indexer&) = delete;
  Indexer& operator=(const Indexer&) = delete;

  // The rows of entries [first index, end) of one batch, in index order;
  // `end` is the batch's new size. Batches are staged in size order.
  void Stage(uint64_t end, std::vector<IndexRow> rows);

  // The index of the entry carrying `event_id` when it is staged and not
  // yet indexed (its batch may not be durable yet), else nullopt.
  std::optional<uint64_t> FindPending(const EventIdKey& event_id) const;

  // For each of `stream_ids`, the highest stream version among its pending
  // rows of entries below `size`, or 0 when it has none (its version is
  // then the store's).
  std::vector<uint64_t> PendingStreamVersions(absl::Span<const absl::string_view> stream_ids,
                                              uint64_t size) const;

  // The pending rows of `stream_id` for entries below `size`, as (stream
  // version, entry index) in version order.
  std::vector<std::pair<uint64_t, uint64_t>> PendingStreamRows(absl::string_view stream_id,
                                                               uint64_t size) const;

  // The batches staged up to size `size` are durable (their synced write
  // returned).
  void Durable(uint64_t size);

  // Blocks until every entry below `size` has its rows in the store (meta
  // "indexed" >= size). UNAVAILABLE when the indexer failed or was closed
  // short of `size` (entries never reported durable are never indexed).
  absl::Status WaitIndexed(uint64_t size) const;

  // Writes everything durable, then stops the thread. Idempotent.
  void Close();

  uint64_t indexed() const;
  IndexerStats stats() const;

 private:
  struct Staged {
    uint64_t end;
    std::vector<IndexRow> rows;
  };
  void Run();
  // One index write: rows of `batches`, meta "indexed" = `end`.
  absl::Status Write(const std::vector<const Staged*>& batches, uint64_t end);

  Db* const db_;
  Published* const published_;
  const IndexerOptions options_;

  mutable absl::Mutex mu_;
  std::deque<Staged> staged_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<EventIdKey, uint64_t> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t durable_ ABSL_GUARDED_BY(mu_);
  uint64_t indexed_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  mutable int waiters_ ABSL_GUARDED_BY(mu_) = 0;  // blocked in WaitIndexed
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  IndexerStats stats_ ABSL_GUARDED_BY(mu_);

  absl::Mutex close_mu_;
  std::thread thread_;
};

// Open-time repair: writes the event_ids and streams rows of entries
// [from, size) from the stored entries and sets meta "indexed" to `size`
// (synced; batches of at most 4096 entries, each raising the watermark).
// Returns the number of entries re-indexed. DATA_LOSS naming the index when
// an entry in that range is missing or does not parse.
absl::StatusOr<uint64_t> Reindex(Db& db, uint64_t from, uint64_t size);

// meta "indexed" (nullopt when absent: a format-2 store, or a new one),
// read through `snapshot` if given; DATA_LOSS when it is not a be64.
absl::StatusOr<std::optional<uint64_t>> ReadIndexed(const Db& db,
                                                    const rocksdb::Snapshot* snapshot = nullptr);

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_INDEXER_H_
