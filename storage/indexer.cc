#include "storage/indexer.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/ledger/entry.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "core/util/thread_name.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/write_batch.h"
#include "storage/batch_trace.h"
#include "storage/rocks_status.h"

namespace trialog::storage {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

void PutRows(const Db& db, const IndexRow& row, rocksdb::WriteBatch* w) {
  const std::string index = EncodeBigEndian64(row.index);
  w->Put(db.handle(Cf::kEventIds), rocksdb::Slice(row.event_id.data(), row.event_id.size()),
         ToSlice(index));
  w->Put(db.handle(Cf::kStreams), ToSlice(StreamKey(row.stream_id, row.version)), ToSlice(index));
}

}  // namespace

EventIdKey ToEventIdKey(absl::string_view event_id) {
  EventIdKey key{};
  std::memcpy(key.data(), event_id.data(), std::min(event_id.size(), key.size()));
  return key;
}

Indexer::Indexer(Db* db, Published* published, uint64_t indexed, const IndexerOptions& options)
    : db_(db), published_(published), options_(options), durable_(indexed), indexed_(indexed) {
  thread_ = std::thread([this] {
    NameThisThread("tl-index");
    Run();
  });
}

Indexer::~Indexer() { Close(); }

void Indexer::Stage(uint64_t end, std::vector<IndexRow> rows) {
  absl::MutexLock lock(&mu_);
  for (const IndexRow& r : rows) pending_[r.event_id] = r.index;
  stats_.max_pending = std::max<uint64_t>(stats_.max_pending, pending_.size());
  staged_.push_back(Staged{end, std::move(rows)});
}

std::optional<uint64_t> Indexer::FindPending(const EventIdKey& event_id) const {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(event_id);
  if (it == pending_.end()) return std::nullopt;
  return it->second;
}

std::vector<uint64_t> Indexer::PendingStreamVersions(
    absl::Span<const absl::string_view> stream_ids, uint64_t size) const {
  std::vector<uint64_t> versions(stream_ids.size(), 0);
  absl::flat_hash_map<absl::string_view, size_t> position;
  for (size_t k = 0; k < stream_ids.size(); ++k) position.emplace(stream_ids[k], k);
  absl::MutexLock lock(&mu_);
  for (const Staged& b : staged_) {
    for (const IndexRow& r : b.rows) {
      if (r.index >= size) return versions;  // rows are in index order
      if (auto it = position.find(r.stream_id); it != position.end()) {
        versions[it->second] = std::max(versions[it->second], r.version);
      }
    }
  }
  // Repeated ids share the first one's slot.
  for (size_t k = 0; k < stream_ids.size(); ++k) versions[k] = versions[position[stream_ids[k]]];
  return versions;
}

std::vector<std::pair<uint64_t, uint64_t>> Indexer::PendingStreamRows(absl::string_view stream_id,
                                                                      uint64_t size) const {
  std::vector<std::pair<uint64_t, uint64_t>> rows;
  absl::MutexLock lock(&mu_);
  for (const Staged& b : staged_) {
    for (const IndexRow& r : b.rows) {
      if (r.index >= size) return rows;
      if (r.stream_id == stream_id) rows.emplace_back(r.version, r.index);
    }
  }
  return rows;
}

void Indexer::Durable(uint64_t size) {
  absl::MutexLock lock(&mu_);
  durable_ = std::max(durable_, size);
}

absl::Status Indexer::WaitIndexed(uint64_t size) const {
  absl::MutexLock lock(&mu_);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return indexed_ >= size || !failure_.ok() || stopped_;
  };
  ++waiters_;  // the indexer writes what is durable now, without gathering more
  mu_.Await(absl::Condition(&done));
  --waiters_;
  if (indexed_ >= size) return absl::OkStatus();
  if (!failure_.ok()) return failure_;
  return absl::UnavailableError(absl::StrCat("the index covers entries below ", indexed_,
                                             ", not ", size, ", and the indexer is closed"));
}

void Indexer::Close() {
  absl::MutexLock close_lock(&close_mu_);
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Indexer::indexed() const {
  absl::MutexLock lock(&mu_);
  return indexed_;
}

IndexerStats Indexer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::Status Indexer::Write(const std::vector<const Staged*>& batches, uint64_t end) {
  rocksdb::WriteBatch w;
  for (const Staged* b : batches) {
    for (const IndexRow& r : b->rows) PutRows(*db_, r, &w);
  }
  const std::string watermark = EncodeBigEndian64(end);
  w.Put(db_->handle(Cf::kMeta), ToSlice(kMetaIndexed), ToSlice(watermark));
  // Unsynced: a later synced batch (or the close) makes it durable; a crash
  // before that loses it whole, and open re-indexes.
  const absl::Time start = absl::Now();
  absl::Status s = db_->Write(&w, /*sync=*/false);
  if (BatchTrace* trace = BatchTrace::Installed(); trace != nullptr) {
    trace->RecordIndexWrite(start, absl::Now());
  }
  return s;
}

void Indexer::Run() {
  for (;;) {
    // The durable batches at the front of staged_: they stay there (so
    // PendingStream* still see them) until they are in the store. Only
    // this thread removes from staged_, and Stage's push_back keeps
    // references to existing elements valid.
    std::vector<const Staged*> take;
    uint64_t end = 0;
    {
      absl::MutexLock lock(&mu_);
      auto durable_rows = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> uint64_t {
        if (staged_.empty() || staged_.front().end > durable_) return 0;
        return durable_ - indexed_;
      };
      auto some = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return closing_ || durable_rows() > 0;
      };
      mu_.Await(absl::Condition(&some));
      // Let the rows of the next group commits join, unless someone waits
      // for them, too many wait, or the indexer is closing.
      auto write_now = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return closing_ || waiters_ > 0 || durable_rows() >= options_.max_write_entries;
      };
      if (options_.write_interval > absl::ZeroDuration()) {
        mu_.AwaitWithTimeout(absl::Condition(&write_now), options_.write_interval);
      }
      for (const Staged& b : staged_) {
        if (b.end > durable_) break;
        end = b.end;
        take.push_back(&b);
      }
      if (take.empty()) {  // closing, nothing durable left to write
        stopped_ = true;
        return;
      }
    }
    uint64_t rows = 0;
    for (const Staged* b : take) rows += b->rows.size();
    absl::Status s = Write(take, end);
    if (!s.ok()) {
      s = absl::UnavailableError(absl::StrCat(
          "writing the event_ids/streams index failed; the ledger refuses appends until "
          "reopened (which re-indexes): ",
          s.message()));
      published_->Fail(s);
      absl::MutexLock lock(&mu_);
      failure_ = s;
      stopped_ = true;
      return;
    }
    absl::MutexLock lock(&mu_);
    for (const Staged* b : take) {
      for (const IndexRow& r : b->rows) {
        auto it = pending_.find(r.event_id);
        if (it != pending_.end() && it->second == r.index) pending_.erase(it);
      }
    }
    staged_.erase(staged_.begin(), staged_.begin() + take.size());
    indexed_ = end;
    ++stats_.writes;
    stats_.rows += rows;
  }
}

absl::StatusOr<std::optional<uint64_t>> ReadIndexed(const Db& db,
                                                    const rocksdb::Snapshot* snapshot) {
  absl::StatusOr<std::string> v = db.Get(Cf::kMeta, kMetaIndexed, snapshot);
  if (absl::IsNotFound(v.status())) return std::optional<uint64_t>();
  if (!v.ok()) return v.status();
  TRIALOG_ASSIGN_OR_RETURN(const uint64_t indexed, DecodeU64Value(*v, "meta \"indexed\""));
  return std::optional<uint64_t>(indexed);
}

absl::StatusOr<uint64_t> Reindex(Db& db, uint64_t from, uint64_t size) {
  if (from >= size) return 0;
  constexpr uint64_t kChunk = 4096;
  std::unique_ptr<rocksdb::Iterator> it = db.NewIterator(Cf::kEntries);
  it->Seek(ToSlice(EntryKey(from)));
  rocksdb::WriteBatch w;
  for (uint64_t i = from; i < size; ++i, it->Next()) {
    if (!it->Valid() || absl::string_view(it->key().data(), it->key().size()) != EntryKey(i)) {
      TRIALOG_RETURN_IF_ERROR(FromRocks(it->status(), "scanning entries to re-index"));
      return absl::DataLossError(
          absl::StrCat("re-indexing: entry ", i, " is missing (size ", size, ")"));
    }
    absl::StatusOr<ledger::ParsedEntry> p =
        ledger::ParseEntry(absl::string_view(it->value().data(), it->value().size()));
    if (!p.ok()) {
      return absl::DataLossError(
          absl::StrCat("re-indexing: entry ", i, " does not parse: ", p.status().message()));
    }
    if (p->envelope.event_id().size() != ledger::kEventIdSize ||
        !ValidateStreamId(p->envelope.stream_id()).ok() || p->entry.stream_version() == 0) {
      return absl::DataLossError(absl::StrCat(
          "re-indexing: entry ", i, " has a malformed event id, stream id or stream version"));
    }
    PutRows(db,
            IndexRow{ToEventIdKey(p->envelope.event_id()), p->envelope.stream_id(),
                     p->entry.stream_version(), i},
            &w);
    if (i + 1 == size || (i + 1 - from) % kChunk == 0) {
      const std::string watermark = EncodeBigEndian64(i + 1);
      w.Put(db.handle(Cf::kMeta), ToSlice(kMetaIndexed), ToSlice(watermark));
      TRIALOG_RETURN_IF_ERROR(db.Write(&w, /*sync=*/true));
      w.Clear();
    }
  }
  return size - from;
}

}  // namespace trialog::storage
