#include "storage/ledger.h"

#include <algorithm>
#include <iostream>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/ledger/entry.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "core/util/thread_name.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "storage/rocks_status.h"

namespace trialog::storage {
namespace {

absl::string_view View(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

absl::Status Annotate(const absl::Status& s, absl::string_view dir) {
  return absl::Status(s.code(), absl::StrCat("ledger store ", dir, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Open(LedgerOptions options,
                                                     ledger::PrincipalRegistry* registry,
                                                     std::vector<ledger::StateMachine*> machines) {
  const absl::Time start = absl::Now();
  if (options.max_batch == 0) return absl::InvalidArgumentError("max_batch must be at least 1");
  for (const ledger::StateMachine* m : machines) {
    if (m == nullptr) return absl::InvalidArgumentError("a state machine pointer is null");
  }
  TRIALOG_ASSIGN_OR_RETURN(Checkpointer checkpointer,
                           Checkpointer::Create(options.checkpoint_signer, options.origin));
  DbOptions db_options;
  db_options.dir = options.dir;
  db_options.create_if_missing = options.create_if_missing;
  db_options.env = options.env;
  const absl::Time rocks_start = absl::Now();
  TRIALOG_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(db_options));
  const absl::Duration rocksdb_open_time = absl::Now() - rocks_start;

  std::unique_ptr<Ledger> ledger(new Ledger(std::move(checkpointer), std::move(db)));
  ledger->nodes_ = std::make_unique<NodeStore>(ledger->db_.get());
  ledger->published_ = std::make_unique<Published>();
  ledger->signer_ = options.checkpoint_signer;
  ledger->projections_ = Projections{registry, machines};

  RecoverOptions recover_options;
  recover_options.signer = options.checkpoint_signer;
  recover_options.use_snapshot = options.use_snapshot;
  absl::StatusOr<Recovered> recovered = Recover(*ledger->db_, ledger->checkpointer_,
                                                *ledger->nodes_, registry, machines,
                                                recover_options);
  if (!recovered.ok()) return Annotate(recovered.status(), options.dir);
  ledger->open_stats_ = recovered->stats;
  ledger->open_stats_.rocksdb_open_time = rocksdb_open_time;
  {
    absl::MutexLock lock(&ledger->snapshot_mu_);
    ledger->trial_id_ = recovered->chain.trial_id;
  }
  if (recovered->stats.snapshot_used) {
    absl::MutexLock lock(&ledger->snapshot_stats_mu_);
    ledger->snapshot_stats_.last_size = recovered->stats.snapshot_size;
  }
  ledger->published_->Publish(recovered->size, recovered->root, recovered->checkpoint);
  if (recovered->damage.ok()) {
    // Lower proof levels into memory, after open (restart is not delayed).
    ledger->nodes_->StartLowLevelLoad(recovered->size);
  }
  if (!recovered->damage.ok()) {
    const absl::Status damage = Annotate(recovered->damage, options.dir);
    if (options.refuse_damaged) return damage;
    ledger->published_->Fail(damage);
  } else {
    SequencerOptions seq;
    seq.max_batch = options.max_batch;
    seq.min_free_bytes = options.min_free_bytes;
    seq.dir = options.dir;
    seq.sync = options.sync;
    // Recover re-indexed the store: its index covers every entry.
    ledger->indexer_ = std::make_unique<Indexer>(ledger->db_.get(), ledger->published_.get(),
                                                 recovered->size, options.indexer);
    ledger->sequencer_ = std::make_unique<Sequencer>(
        seq, ledger->db_.get(), ledger->nodes_.get(), &ledger->checkpointer_, registry,
        std::move(machines), std::move(recovered->chain), ledger->published_.get(),
        ledger->indexer_.get());
  }
  ledger->options_ = std::move(options);
  if (ledger->sequencer_ != nullptr && ledger->projections_.Snapshottable() &&
      (ledger->options_.snapshot_every_entries > 0 ||
       (ledger->options_.snapshot_interval > absl::ZeroDuration() &&
        ledger->options_.snapshot_interval != absl::InfiniteDuration()))) {
    Ledger* l = ledger.get();
    ledger->snapshot_thread_ = std::thread([l] {
      NameThisThread("tl-snapshot");
      l->SnapshotLoop();
    });
  }
  ledger->open_stats_.open_time = absl::Now() - start;
  return ledger;
}

Ledger::~Ledger() {
  Close().IgnoreError();
  sequencer_.reset();
}

absl::Status Ledger::Close() {
  absl::MutexLock lock(&close_mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  {
    absl::MutexLock stop(&stop_mu_);
    stop_ = true;
  }
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  if (sequencer_) sequencer_->Close();
  if (indexer_) indexer_->Close();  // writes the index rows of every durable batch
  // Everything queued is finished: the state is final, and consistent with
  // size() unless a write failed.
  const bool healthy = published_->health().ok();
  published_->Fail(absl::UnavailableError("ledger is closed"));
  published_->MarkClosed();
  if (options_.snapshot_on_close && healthy) {
    // A failed snapshot costs only the next open's time: say so, but the
    // close itself succeeded (everything acknowledged is durable).
    absl::Status s = WriteSnapshot(/*sync=*/true, /*closing=*/true);
    if (!s.ok()) {
      std::cerr << "trialog: ledger store " << options_.dir
                << ": writing the closing snapshot: " << s << std::endl;
    }
  }
  return absl::OkStatus();
}

SnapshotStats Ledger::snapshot_stats() const {
  absl::MutexLock lock(&snapshot_stats_mu_);
  return snapshot_stats_;
}

absl::Status Ledger::WriteSnapshotNow(bool sync) { return WriteSnapshot(sync, /*closing=*/false); }

absl::Status Ledger::WriteSnapshot(bool sync, bool closing) {
  absl::MutexLock lock(&snapshot_mu_);
  if (sequencer_ == nullptr || signer_ == nullptr || !projections_.Snapshottable()) {
    return absl::OkStatus();
  }
  uint64_t last_size = 0;
  {
    absl::MutexLock stats(&snapshot_stats_mu_);
    last_size = snapshot_stats_.last_size;
  }
  if (trial_id_.empty() && size() > 0) {
    absl::StatusOr<std::string> first = ReadEntry(0);
    if (!first.ok()) return first.status();
    absl::StatusOr<ledger::ParsedEntry> parsed = ledger::ParseEntry(*first);
    if (!parsed.ok()) return parsed.status();
    trial_id_ = parsed->envelope.trial_id();
  }
  struct Captured {
    uint64_t size = 0;
    std::string root;
    std::string body;
  };
  const absl::Time capture_start = absl::Now();
  Captured c = ReadState([&] {
    Captured out;
    out.size = size();
    if (out.size == 0 || out.size == last_size) return out;
    // After a failed write the machines may hold entries that are not
    // durable (the failure is published before the state lock is freed).
    if (!closing && !published_->health().ok()) return out;
    out.root = root();
    out.body = CaptureProjections(projections_, out.size, out.root, trial_id_);
    return out;
  });
  const absl::Duration capture_time = absl::Now() - capture_start;
  if (c.body.empty()) return absl::OkStatus();  // nothing new
  const absl::Time write_start = absl::Now();
  absl::StatusOr<v1::SnapshotHeader> written =
      storage::WriteSnapshot(*db_, *signer_, c.size, c.root, c.body, sync);
  {
    absl::MutexLock stats(&snapshot_stats_mu_);
    snapshot_stats_.last_error = written.status();
    if (!written.ok()) return written.status();
    ++snapshot_stats_.written;
    snapshot_stats_.last_size = c.size;
    snapshot_stats_.last_bytes = c.body.size();
    snapshot_stats_.last_capture_time = capture_time;
    snapshot_stats_.max_capture_time = std::max(snapshot_stats_.max_capture_time, capture_time);
    snapshot_stats_.last_write_time = absl::Now() - write_start;
  }
  if (!closing) {
    // Start flushing the entries family (not waited for): its rows are
    // most of the write-ahead log, so a crash restart then re-inserts
    // about the entries since this snapshot instead of up to a write
    // buffer's worth. Its keys are sequential, so the extra flushes cost
    // little compaction. Flushing every family was measured too: at a
    // 10,000-entry cadence it piled up level-0 files of the random-keyed
    // event_ids family until writes waited on compaction.
    rocksdb::FlushOptions fo;
    fo.wait = false;
    rocksdb::Status flushed = db_->rocks()->Flush(fo, db_->handle(Cf::kEntries));
    if (!flushed.ok()) {
      std::cerr << "trialog: ledger store " << options_.dir
                << ": flushing entries after a snapshot: " << flushed.ToString() << std::endl;
    }
  }
  return absl::OkStatus();
}

void Ledger::SnapshotLoop() {
  uint64_t last = snapshot_stats().last_size;
  absl::Time last_time = absl::Now();
  // No usable snapshot at open: write one soon, so the next open is fast.
  bool initial = !open_stats_.snapshot_used && size() > 0;
  const uint64_t every = options_.snapshot_every_entries;
  const absl::Duration interval = options_.snapshot_interval;
  const bool by_time = interval > absl::ZeroDuration() && interval != absl::InfiniteDuration();
  for (;;) {
    {
      absl::MutexLock lock(&stop_mu_);
      if (stop_mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(200))) return;
    }
    const uint64_t n = size();
    // By count, at most one snapshot per snapshot_duty_factor x the last one's duration.
    const SnapshotStats previous = snapshot_stats();
    const absl::Duration rest = static_cast<int64_t>(options_.snapshot_duty_factor) *
                                (previous.last_capture_time + previous.last_write_time);
    const bool due_by_count = every > 0 && n >= last + every && absl::Now() - last_time >= rest;
    const bool due = (initial && n > last) || due_by_count ||
                     (by_time && n > last && absl::Now() - last_time >= interval);
    if (!due) continue;
    initial = false;
    absl::Status s = WriteSnapshotNow(/*sync=*/false);
    if (!s.ok()) {
      std::cerr << "trialog: ledger store " << options_.dir << ": writing a snapshot: " << s
                << std::endl;
    }
    last = std::max(n, snapshot_stats().last_size);  // back off after a failure too
    last_time = absl::Now();
  }
}

absl::Status Ledger::health() const { return published_->health(); }

SequencerStats Ledger::sequencer_stats() const {
  return sequencer_ ? sequencer_->stats() : SequencerStats{};
}

IndexerStats Ledger::indexer_stats() const {
  return indexer_ ? indexer_->stats() : IndexerStats{};
}

void Ledger::AppendAsync(Admitted admitted, Done done) {
  if (!sequencer_) {
    done(published_->health());
    return;
  }
  std::vector<Sequencer::Request> requests;
  requests.push_back(Sequencer::Request{std::move(admitted), std::move(done)});
  sequencer_->Submit(std::move(requests));
}

absl::StatusOr<AppendResult> Ledger::Append(Admitted admitted) {
  absl::Notification finished;
  absl::StatusOr<AppendResult> result;
  AppendAsync(std::move(admitted), [&](absl::StatusOr<AppendResult> r) {
    result = std::move(r);
    finished.Notify();
  });
  finished.WaitForNotification();
  return result;
}

void Ledger::AppendAllAsync(std::vector<Admitted> admitted, DoneAt done) {
  const size_t n = admitted.size();
  if (n == 0) return;
  if (!sequencer_) {
    const absl::Status health = published_->health();
    for (size_t i = 0; i < n; ++i) done(i, health);
    return;
  }
  // One shared callback; each request's Done binds its position.
  auto shared = std::make_shared<DoneAt>(std::move(done));
  std::vector<Sequencer::Request> requests;
  requests.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    requests.push_back(Sequencer::Request{
        std::move(admitted[i]),
        [shared, i](absl::StatusOr<AppendResult> r) { (*shared)(i, std::move(r)); }});
  }
  sequencer_->Submit(std::move(requests));
}

std::vector<absl::StatusOr<AppendResult>> Ledger::AppendAll(std::vector<Admitted> admitted) {
  const size_t n = admitted.size();
  std::vector<absl::StatusOr<AppendResult>> results(n, absl::UnknownError("not answered"));
  if (n == 0) return results;
  absl::BlockingCounter pending(static_cast<int>(n));
  AppendAllAsync(std::move(admitted), [&results, &pending](size_t i, absl::StatusOr<AppendResult> r) {
    results[i] = std::move(r);
    pending.DecrementCount();
  });
  pending.Wait();
  return results;
}

absl::StatusOr<std::string> Ledger::ReadEntry(uint64_t index) const {
  const uint64_t n = size();
  if (index >= n) {
    return absl::OutOfRangeError(
        absl::StrCat("entry ", index, " is beyond the ledger size ", n));
  }
  absl::StatusOr<std::string> bytes = db_->Get(Cf::kEntries, EntryKey(index));
  if (absl::IsNotFound(bytes.status())) {
    return absl::DataLossError(
        absl::StrCat("entry ", index, " is missing from the store (size ", n, ")"));
  }
  return bytes;
}

absl::StatusOr<std::string> Ledger::LeafHash(uint64_t index) const {
  const uint64_t n = size();
  if (index >= n) {
    return absl::OutOfRangeError(
        absl::StrCat("entry ", index, " is beyond the ledger size ", n));
  }
  absl::StatusOr<std::string> hash = nodes_->GetNode({0, index});
  if (absl::IsNotFound(hash.status())) {
    return absl::DataLossError(absl::StrCat("the leaf hash of entry ", index, " (size ", n,
                                            "): ", hash.status().message()));
  }
  return hash;
}

absl::Status Ledger::ReadRange(uint64_t from, uint64_t limit,
                               const std::function<bool(uint64_t, absl::string_view)>& fn) const {
  const uint64_t n = size();
  if (from > n) {
    return absl::OutOfRangeError(absl::StrCat("range start ", from, " is beyond the ledger size ", n));
  }
  const uint64_t end = limit >= n - from ? n : from + limit;
  if (from == end) return absl::OkStatus();
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kEntries);
  it->Seek(rocksdb::Slice(EntryKey(from)));
  for (uint64_t i = from; i < end; ++i, it->Next()) {
    if (!it->Valid() || View(it->key()) != EntryKey(i)) {
      TRIALOG_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries"));
      return absl::DataLossError(
          absl::StrCat("entry ", i, " is missing from the store (size ", n, ")"));
    }
    if (!fn(i, View(it->value()))) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Ledger::FindEventId(absl::string_view event_id) const {
  if (event_id.size() != ledger::kEventIdSize) {
    return absl::InvalidArgumentError(absl::StrCat("event id must be ", ledger::kEventIdSize,
                                                   " bytes, got ", event_id.size()));
  }
  const uint64_t n = size();
  if (indexer_ != nullptr) {
    // Not yet indexed: the pending map has it (no wait, so admission's
    // repeat peek never blocks). A miss there then a read of the store is
    // exact: the indexer drops an id only after its row is written.
    if (std::optional<uint64_t> pending = indexer_->FindPending(ToEventIdKey(event_id))) {
      if (*pending < n) return *pending;
      return absl::NotFoundError(absl::StrCat("no entry carries event id ", HexEncode(event_id)));
    }
  }
  absl::StatusOr<std::string> value = db_->Get(Cf::kEventIds, event_id);
  if (absl::IsNotFound(value.status())) {
    return absl::NotFoundError(absl::StrCat("no entry carries event id ", HexEncode(event_id)));
  }
  if (!value.ok()) return value.status();
  TRIALOG_ASSIGN_OR_RETURN(const uint64_t index, DecodeU64Value(*value, "an event_ids row"));
  if (index >= n) {  // written by a batch not yet published
    return absl::NotFoundError(absl::StrCat("no entry carries event id ", HexEncode(event_id)));
  }
  return index;
}

absl::StatusOr<std::vector<uint64_t>> Ledger::StreamIndexes(absl::string_view stream_id,
                                                            uint64_t from_version,
                                                            size_t limit) const {
  TRIALOG_RETURN_IF_ERROR(ValidateStreamId(stream_id));
  const uint64_t n = size();
  // The rows not yet in the store FIRST (indexer.h): they are the stream's
  // newest versions; the store has every older one.
  std::vector<std::pair<uint64_t, uint64_t>> pending;
  if (indexer_ != nullptr) pending = indexer_->PendingStreamRows(stream_id, n);
  const uint64_t first_pending =
      pending.empty() ? std::numeric_limits<uint64_t>::max() : pending.front().first;
  const std::string prefix = StreamPrefix(stream_id);
  std::vector<uint64_t> out;
  uint64_t want = std::max<uint64_t>(from_version, 1);
  if (want < first_pending) {
    std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kStreams);
    for (it->Seek(rocksdb::Slice(StreamKey(stream_id, want)));
         it->Valid() && out.size() < limit && want < first_pending; it->Next()) {
      const absl::string_view key = View(it->key());
      if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix) break;
      TRIALOG_ASSIGN_OR_RETURN(const uint64_t index,
                               DecodeU64Value(View(it->value()), "a streams row"));
      if (index >= n) break;  // not yet durable
      if (DecodeBigEndian64(key.substr(prefix.size())) != want) {
        return absl::DataLossError(absl::StrCat("stream ", stream_id, " version ", want,
                                                " is missing from the streams index"));
      }
      out.push_back(index);
      ++want;
    }
    TRIALOG_RETURN_IF_ERROR(FromRocks(it->status(), "scanning streams"));
    if (want < first_pending && first_pending != std::numeric_limits<uint64_t>::max() &&
        out.size() < limit) {
      return absl::DataLossError(absl::StrCat("stream ", stream_id, " version ", want,
                                              " is missing from the streams index"));
    }
  }
  for (const auto& [version, index] : pending) {
    if (out.size() >= limit) break;
    if (version < want) continue;
    if (version != want) {
      return absl::DataLossError(absl::StrCat("stream ", stream_id, " version ", want,
                                              " is missing from the pending index rows"));
    }
    out.push_back(index);
    ++want;
  }
  return out;
}

absl::StatusOr<uint64_t> Ledger::StreamVersion(absl::string_view stream_id) const {
  TRIALOG_ASSIGN_OR_RETURN(std::vector<uint64_t> versions, StreamVersions({stream_id}));
  return versions[0];
}

absl::StatusOr<std::vector<uint64_t>> Ledger::StreamVersions(
    absl::Span<const absl::string_view> stream_ids) const {
  for (size_t k = 0; k < stream_ids.size(); ++k) {
    if (absl::Status s = ValidateStreamId(stream_ids[k]); !s.ok()) {
      return stream_ids.size() == 1
                 ? s
                 : absl::InvalidArgumentError(absl::StrCat("stream ids[", k, "]: ", s.message()));
    }
  }
  const uint64_t n = size();
  // The rows not yet in the store FIRST (indexer.h): a stream that has
  // some is at its newest pending version; the store answers the others.
  std::vector<uint64_t> versions = indexer_ != nullptr
                                       ? indexer_->PendingStreamVersions(stream_ids, n)
                                       : std::vector<uint64_t>(stream_ids.size(), 0);
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kStreams);
  for (size_t k = 0; k < stream_ids.size(); ++k) {
    if (versions[k] > 0) continue;
    TRIALOG_ASSIGN_OR_RETURN(versions[k], LastStreamVersionBelow(it.get(), stream_ids[k], n));
  }
  return versions;
}

absl::Status Ledger::WaitIndexed(uint64_t n) const {
  // The indexer writes what is durable at once while someone waits.
  if (indexer_ == nullptr) return absl::OkStatus();  // damaged: what is stored
  return indexer_->WaitIndexed(n);
}

absl::Status Ledger::CheckSize(uint64_t tree_size) const {
  const uint64_t n = size();
  if (tree_size > n) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the ledger size ", n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Ledger::InclusionProof(uint64_t index,
                                                                uint64_t tree_size) const {
  TRIALOG_RETURN_IF_ERROR(CheckSize(tree_size));
  // Below the in-memory levels: one range read of the leaf's 16-entry tile
  // (NodeStore). A MultiGet of the node rows measured 7-8% slower than one
  // Get each at 10M entries (docs/PERFORMANCE.md "10M"), and the tile read
  // replaces both.
  return merkle::InclusionProof(*nodes_, index, tree_size);
}

absl::StatusOr<std::vector<std::string>> Ledger::ConsistencyProof(uint64_t old_size,
                                                                  uint64_t new_size) const {
  TRIALOG_RETURN_IF_ERROR(CheckSize(new_size));
  return merkle::ConsistencyProof(*nodes_, old_size, new_size);
}

absl::StatusOr<std::string> Ledger::RootAt(uint64_t tree_size) const {
  TRIALOG_RETURN_IF_ERROR(CheckSize(tree_size));
  return merkle::RootAt(*nodes_, tree_size);
}

bool Ledger::WaitForSize(uint64_t at_least, absl::Duration timeout) const {
  return published_->WaitForSize(at_least, timeout);
}

absl::StatusOr<BackupInfo> Ledger::Backup(const std::string& dest_dir) const {
  return BackupStore(*db_, dest_dir);
}

absl::StatusOr<ScrubReport> Ledger::Scrub(
    std::function<void(uint64_t done, uint64_t total)> progress) const {
  // Rows for entries at or beyond meta "indexed" may legitimately be
  // missing; wait so that the scrub checks every published entry's rows.
  WaitIndexed(size()).IgnoreError();
  ScrubOptions options;
  options.check_indexes = true;
  options.progress = std::move(progress);
  return ScrubStore(*db_, checkpointer_, options);
}

}  // namespace trialog::storage
