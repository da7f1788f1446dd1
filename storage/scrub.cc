#include "storage/scrub.h"

#include <algorithm>
#include <deque>
#include <thread>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"
#include "core/util/thread_name.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/snapshot.h"
#include "storage/rocks_status.h"

namespace trialog::storage {
namespace {

constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kProgressEvery = 4096;

absl::string_view View(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }
std::string Short(absl::string_view hash) { return HexEncode(hash); }

// Releases a RocksDB snapshot on scope exit.
class SnapshotGuard {
 public:
  explicit SnapshotGuard(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~SnapshotGuard() { db_->ReleaseSnapshot(snapshot_); }
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

// One entry as read by EntryFeed. Slots are recycled block by block, so
// the strings and messages inside are reused across entries (a replay
// allocates almost nothing per entry).
struct Fed {
  bool present = false;
  absl::Status status;         // of parsing (when present)
  std::string leaf;            // leaf hash of the stored bytes, when they do not parse
  ledger::ParsedEntry parsed;  // bytes always; the rest when present and status.ok()
  // The leaf hash of the stored bytes. REQUIRES: present.
  absl::string_view leaf_hash() const {
    return status.ok() ? absl::string_view(parsed.leaf_hash) : absl::string_view(leaf);
  }
};

// Reads entries [start, end) in index order through `snapshot`, parsing
// and hashing each, on `workers` threads a few blocks ahead of the
// consumer. Worker w reads blocks w, w + workers, ... (its own iterator, one
// Seek per block); leaf hashes and parses are independent per entry, so
// only the consumer's chain checks and fold are sequential. Blocks live in
// a ring of kSlots; the consumer releases a block only once it has moved two
// blocks past it, so the entry before the current one stays valid.
class EntryFeed {
 public:
  EntryFeed(const Db& db, const rocksdb::Snapshot* snapshot, uint64_t start, uint64_t end,
            int workers)
      : db_(db), snapshot_(snapshot), start_(start), end_(end) {
    for (Slot& s : slots_) s.items.resize(kBlock);
    if (start_ >= end_) return;
    const uint64_t blocks = (end_ - start_ + kBlock - 1) / kBlock;
    workers = static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>(workers, blocks)));
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this, w, workers] {
      NameThisThread("tl-scrub");
      Run(w, workers);
    });
  }
  ~EntryFeed() {
    {
      absl::MutexLock lock(&mu_);
      cancel_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }

  // The next entry; valid until the consumer has taken kBlock more entries
  // after it. nullptr when reading failed (status()).
  Fed* Next() {
    if (current_ == nullptr || pos_ == current_->count) {
      const uint64_t block = next_block_++;
      absl::MutexLock lock(&mu_);
      // Blocks < block - 1 are done with: the previous one stays readable.
      released_ = block == 0 ? 0 : block - 1;
      Slot& slot = slots_[block % kSlots];
      auto ready = [this, &slot, block]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return slot.block == block || !status_.ok();
      };
      mu_.Await(absl::Condition(&ready));
      if (slot.block != block) return nullptr;
      current_ = &slot;
      pos_ = 0;
    }
    return &current_->items[pos_++];
  }
  absl::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  static constexpr uint64_t kBlock = 512;
  static constexpr uint64_t kSlots = 8;
  struct Slot {
    uint64_t block = ~uint64_t{0};  // the block held (when filled), guarded by mu_
    size_t count = 0;
    std::vector<Fed> items;
  };

  void Run(int w, int workers) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    ro.fill_cache = false;             // a one-shot scan: do not evict what serving needs
    ro.readahead_size = size_t{1} << 20;
    std::unique_ptr<rocksdb::Iterator> it(
        db_.rocks()->NewIterator(ro, db_.handle(Cf::kEntries)));
    for (uint64_t block = static_cast<uint64_t>(w);; block += static_cast<uint64_t>(workers)) {
      const uint64_t first = start_ + block * kBlock;
      if (first >= end_) return;
      const uint64_t count = std::min(kBlock, end_ - first);
      Slot& slot = slots_[block % kSlots];
      {
        absl::MutexLock lock(&mu_);
        auto room = [this, block]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return block < released_ + kSlots || cancel_;
        };
        mu_.Await(absl::Condition(&room));
        if (cancel_) return;
      }
      absl::Status status = Fill(*it, first, count, slot);
      absl::MutexLock lock(&mu_);
      if (!status.ok()) {
        if (status_.ok()) status_ = status;
        return;
      }
      slot.count = count;
      slot.block = block;
    }
  }

  // Reads, parses and hashes entries [first, first + count) into `slot`.
  absl::Status Fill(rocksdb::Iterator& it, uint64_t first, uint64_t count, Slot& slot) {
    std::string key = EntryKey(first);
    it.Seek(rocksdb::Slice(key));
    for (uint64_t j = 0; j < count; ++j) {
      const uint64_t i = first + j;
      if (j > 0) key = EntryKey(i);
      while (it.Valid() && View(it.key()) < absl::string_view(key)) it.Next();
      if (!it.Valid()) TRIALOG_RETURN_IF_ERROR(FromRocks(it.status(), "scanning entries"));
      Fed& f = slot.items[j];
      f.present = it.Valid() && View(it.key()) == key;
      if (!f.present) continue;
      const rocksdb::Slice value = it.value();
      f.parsed.bytes.assign(value.data(), value.size());
      f.status = ledger::ParseEntryInto(f.parsed.bytes, &f.parsed);
      if (!f.status.ok()) f.leaf = merkle::HashLeaf(f.parsed.bytes);
      it.Next();
    }
    return absl::OkStatus();
  }

  const Db& db_;
  const rocksdb::Snapshot* snapshot_;
  const uint64_t start_, end_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  // A slot's contents belong to the worker filling it until slot.block is
  // set, then to the consumer until released_ passes it.
  Slot slots_[kSlots];
  uint64_t released_ ABSL_GUARDED_BY(mu_) = 0;  // blocks below this may be refilled
  bool cancel_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  // Consumer side only.
  uint64_t next_block_ = 0;
  Slot* current_ = nullptr;
  size_t pos_ = 0;
};

class Scrubber {
 public:
  Scrubber(const Db& db, const Checkpointer& checkpointer, const ScrubOptions& options,
           const rocksdb::Snapshot* snapshot)
      : db_(db), checkpointer_(checkpointer), options_(options), snapshot_(snapshot) {}

  absl::StatusOr<ScrubReport> Run();

 private:
  void Add(DamageKind kind, uint64_t index, std::string detail) {
    ++report_.damage_count;
    if (report_.damages.size() < ScrubReport::kMaxReportedDamages) {
      report_.damages.push_back(Damage{kind, index, std::move(detail)});
    }
  }
  bool Stopped() const { return options_.stop_at_first && report_.damage_count > 0; }

  // The value at `key`, nullopt when absent.
  absl::StatusOr<std::optional<std::string>> Lookup(Cf cf, absl::string_view key) const {
    absl::StatusOr<std::string> v = db_.Get(cf, key, snapshot_);
    if (v.ok()) return std::optional<std::string>(*std::move(v));
    if (absl::IsNotFound(v.status())) return std::optional<std::string>();
    return v.status();
  }

  // The stored node `id`, nullopt when absent; the view is valid until the
  // next call for the same level. Nodes of one level must be asked for in
  // increasing index order (one iterator per level, not copied out).
  absl::StatusOr<std::optional<absl::string_view>> StoredNode(merkle::NodeId id);

  // Compares a node completed while rebuilding the tree with the stored one.
  absl::Status CompareNode(merkle::NodeId id, absl::string_view hash, uint64_t leaf_index,
                           bool entry_present);

  absl::Status ReadMeta();
  absl::Status Walk();
  absl::Status CheckStreams();

  const Db& db_;
  const Checkpointer& checkpointer_;
  const ScrubOptions& options_;
  const rocksdb::Snapshot* snapshot_;
  ScrubReport report_;

  // From the signed checkpoint (valid when have_checkpoint_).
  std::string checkpoint_root_;
  bool have_checkpoint_ = false;

  struct LevelCursor {
    std::unique_ptr<rocksdb::Iterator> it;
    bool advance = false;  // the current row was returned: Next() before the next lookup
  };
  std::vector<LevelCursor> level_its_;
  uint64_t last_leaf_damage_ = kNone;  // highest index with leaf-level damage
  // While folding the last entry with no damage found before it: a node
  // that does not rebuild is blamed on that entry (nothing links to it).
  bool blame_last_leaf_ = false;
  std::vector<Damage> last_fold_mismatches_;  // held back while blame_last_leaf_
  // stream id -> (last version, index of that entry)
  absl::flat_hash_map<std::string, std::pair<uint64_t, uint64_t>> streams_;
  // meta "indexed": entries below it must have their index rows; at or
  // above it a row may be missing (but must be right when present).
  uint64_t indexed_ = ~uint64_t{0};
};

absl::StatusOr<std::optional<absl::string_view>> Scrubber::StoredNode(merkle::NodeId id) {
  if (id.level >= level_its_.size()) level_its_.resize(id.level + 1);
  LevelCursor& c = level_its_[id.level];
  const std::string want = NodeKey(id);
  if (!c.it) {
    c.it = db_.NewIterator(Cf::kNodes, snapshot_);
    c.it->Seek(rocksdb::Slice(want));
  } else if (c.advance) {
    c.it->Next();  // past the node returned by the previous call
  }
  c.advance = false;
  rocksdb::Iterator* it = c.it.get();
  while (it->Valid() && View(it->key()) < absl::string_view(want)) it->Next();
  if (!it->Valid()) {
    absl::Status s = FromRocks(it->status(), "scanning nodes");
    if (!s.ok()) return s;
    return std::optional<absl::string_view>();
  }
  if (View(it->key()) != want) return std::optional<absl::string_view>();
  c.advance = true;
  return std::optional<absl::string_view>(View(it->value()));
}

absl::Status Scrubber::CompareNode(merkle::NodeId id, absl::string_view hash,
                                   uint64_t leaf_index, bool entry_present) {
  if (id.level == 0) return absl::OkStatus();  // leaf hashes are not stored
  const uint64_t first_leaf = id.index << id.level;
  if (last_leaf_damage_ != kNone && last_leaf_damage_ >= first_leaf) {
    return absl::OkStatus();  // implied by the leaf damage below it
  }
  absl::StatusOr<std::optional<absl::string_view>> stored = StoredNode(id);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && **stored == hash) {  // the common case
    ++report_.nodes_checked;
    return absl::OkStatus();
  }
  const std::string name = absl::StrCat("node (", id.level, ", ", id.index, ")");
  if (!stored->has_value()) {
    // Below kStoredNodeMinLevel a row is never required: format 4 has none,
    // and a store upgraded from format 3 keeps those written before.
    if (id.level < kStoredNodeMinLevel) return absl::OkStatus();
    ++report_.nodes_checked;
    Add(DamageKind::kMissingNode, first_leaf, absl::StrCat(name, " is not stored"));
    return absl::OkStatus();
  }
  ++report_.nodes_checked;
  if (**stored == hash) return absl::OkStatus();
  if (blame_last_leaf_) {
    // Folding the last entry, all else clean: the entry or the node changed;
    // the root decides (see Walk).
    last_fold_mismatches_.push_back(Damage{
        DamageKind::kNodeMismatch, first_leaf,
        absl::StrCat(name, " covering entries [", first_leaf, ", ",
                     first_leaf + (uint64_t{1} << id.level), ") is stored as ", Short(**stored),
                     " but rebuilds to ", Short(hash))});
    return absl::OkStatus();
  }
  Add(DamageKind::kNodeMismatch, first_leaf,
      absl::StrCat(name, " covering entries [", first_leaf, ", ",
                   first_leaf + (uint64_t{1} << id.level), ") is stored as ", Short(**stored),
                   " but rebuilds to ", Short(hash)));
  return absl::OkStatus();
}

absl::Status Scrubber::ReadMeta() {
  auto meta = [&](absl::string_view key) { return Lookup(Cf::kMeta, key); };
  absl::StatusOr<std::optional<std::string>> format = meta(kMetaFormat);
  if (!format.ok()) return format.status();
  if (!format->has_value() || (**format != kFormatVersion && **format != kFormatVersion3 &&
                               **format != kFormatVersion2)) {
    Add(DamageKind::kMetaMismatch, 0,
        absl::StrCat("meta format is \"", format->value_or("(missing)"), "\", want \"",
                     kFormatVersion, "\""));
  }
  // Formats 3 and 4: index rows are required below meta "indexed" only
  // (the indexer writes them after their batch; open re-indexes the rest).
  // Format 2 held every row in the synced batch.
  if (format->has_value() && (**format == kFormatVersion || **format == kFormatVersion3)) {
    absl::StatusOr<std::optional<std::string>> indexed = meta(kMetaIndexed);
    if (!indexed.ok()) return indexed.status();
    if (!indexed->has_value() || (*indexed)->size() != 8) {
      Add(DamageKind::kMetaMismatch, 0,
          absl::StrCat("meta \"indexed\" is ",
                       indexed->has_value() ? HexEncode(**indexed) : std::string("missing"),
                       ", want a be64 entry count"));
      indexed_ = 0;
    } else {
      indexed_ = DecodeBigEndian64(**indexed);
    }
  }
  absl::StatusOr<std::optional<std::string>> note = meta(kMetaCheckpoint);
  if (!note.ok()) return note.status();
  absl::StatusOr<note::Checkpoint> cp = absl::NotFoundError("missing");
  if (note->has_value()) cp = checkpointer_.Open(**note);
  if (cp.ok()) {
    have_checkpoint_ = true;
    checkpoint_root_ = cp->root_hash;
    report_.size = cp->size;
    return absl::OkStatus();
  }
  // Without a signed size, walk every stored entry (up to the last key).
  std::unique_ptr<rocksdb::Iterator> it = db_.NewIterator(Cf::kEntries, snapshot_);
  it->SeekToLast();
  if (it->Valid()) {
    absl::StatusOr<uint64_t> last = DecodeEntryKey(View(it->key()));
    if (last.ok() && *last < kNone) report_.size = *last + 1;
  } else if (absl::Status s = FromRocks(it->status(), "scanning entries"); !s.ok()) {
    return s;
  }
  if (!note->has_value()) {
    Add(DamageKind::kBadCheckpoint, report_.size, "meta checkpoint is missing");
  } else {
    Add(DamageKind::kBadCheckpoint, report_.size,
        absl::StrCat("stored checkpoint does not open under the ledger key ",
                     checkpointer_.verifier_key(), ": ", cp.status().message()));
  }
  return absl::OkStatus();
}

absl::Status Scrubber::Walk() {
  const uint64_t size = report_.size;
  std::unique_ptr<rocksdb::Iterator> it = db_.NewIterator(Cf::kEntries, snapshot_);
  const uint64_t start = std::min(options_.start, size);
  it->Seek(rocksdb::Slice(EntryKey(start)));
  merkle::CompactTree tree;
  std::string prev_leaf = ledger::ZeroHash();
  bool prev_present = true;  // entry i-1 is stored (vacuously for i = 0)
  int64_t last_recorded_at = std::numeric_limits<int64_t>::min();
  if (start > 0) {
    tree = options_.start_tree;
    prev_leaf = options_.start_prev_leaf;
    last_recorded_at = options_.start_recorded_at;
  }
  bool clean = report_.damage_count == 0;
  // Entry i-1, folded into the tree only once entry i's link to it has been
  // checked, so a leaf's damage is known before the nodes above it are
  // compared (leaf hashes are not stored: entry i's prev_leaf_hash is what
  // binds entry i-1 before the nodes do).
  // `parsed` points into the feed, which keeps it until the entry after
  // next has been taken.
  struct Pending {
    uint64_t index = 0;
    std::string leaf;  // reused: assigned, never reallocated
    bool present = false;
    const ledger::ParsedEntry* parsed = nullptr;
  };
  Pending pending_slot;
  Pending* pending = nullptr;
  absl::Status node_status;
  // Deliver = call on_entry now; the last entry is delivered after the
  // root check, since only the root binds it.
  auto fold = [&](Pending& p, bool deliver) -> absl::Status {
    tree.Append(p.leaf, [&](merkle::NodeId id, absl::string_view hash) {
      if (!node_status.ok()) return;
      node_status = CompareNode(id, hash, p.index, p.present);
    });
    TRIALOG_RETURN_IF_ERROR(node_status);
    clean = clean && report_.damage_count == 0;
    if (deliver && clean && p.parsed != nullptr && options_.on_entry) options_.on_entry(*p.parsed);
    if (options_.progress && (p.index + 1) % kProgressEvery == 0) {
      options_.progress(p.index + 1, size);
    }
    return absl::OkStatus();
  };

  // Reading, parsing and hashing run ahead on a helper thread (EntryFeed);
  // this thread checks links, rebuilds the tree and delivers in order.
  int workers = options_.workers;
  if (workers <= 0) {
    workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
  }
  EntryFeed feed(db_, snapshot_, start, size, workers);
  for (uint64_t i = start; i < size; ++i) {
    if (Stopped()) return absl::OkStatus();
    Fed* fed = feed.Next();
    if (fed == nullptr) return feed.status();
    const bool present = fed->present;
    absl::string_view leaf;
    const ledger::ParsedEntry* parsed = nullptr;
    if (!present) {
      last_leaf_damage_ = i;
      Add(DamageKind::kMissingEntry, i,
          absl::StrCat("entry ", i, " is missing (signed size ", size, ")"));
      leaf = ledger::ZeroHash();  // placeholder; the nodes above it are not compared
    } else {
      ++report_.entries_checked;
      leaf = fed->leaf_hash();
      if (!fed->status.ok()) {
        last_leaf_damage_ = i;
        Add(DamageKind::kUnparsableEntry, i,
            absl::StrCat("entry ", i, " does not parse: ", fed->status.message()));
      } else {
        const ledger::ParsedEntry* p = &fed->parsed;
        const v1::Entry& e = p->entry;
        if (e.index() != i) {
          Add(DamageKind::kChainBreak, i,
              absl::StrCat("entry at position ", i, " claims index ", e.index()));
        } else if (e.prev_leaf_hash() != prev_leaf && prev_present) {
          if (i > 0 && pending != nullptr && pending->parsed != nullptr) {
            // Entry i-1's bytes (or this link) changed.
            last_leaf_damage_ = i - 1;
            Add(DamageKind::kHashMismatch, i - 1,
                absl::StrCat("entry ", i - 1, " hashes to ", Short(prev_leaf), " but entry ", i,
                             " links to ", Short(e.prev_leaf_hash()),
                             " (entry ", i - 1, " or entry ", i, "'s link was changed)"));
          }
          Add(DamageKind::kChainBreak, i,
              absl::StrCat("entry ", i, ": prev_leaf_hash ", Short(e.prev_leaf_hash()),
                           " is not ",
                           i == 0 ? std::string("the zero hash")
                                  : absl::StrCat("the leaf hash of entry ", i - 1),
                           " (", Short(prev_leaf), ")"));
        }
        if (e.recorded_at_unix_micros() < last_recorded_at) {
          Add(DamageKind::kChainBreak, i,
              absl::StrCat("entry ", i, ": recorded_at ", e.recorded_at_unix_micros(),
                           " is before the previous entry's ", last_recorded_at));
        }
        last_recorded_at = std::max(last_recorded_at, e.recorded_at_unix_micros());
        const std::string& stream = p->envelope.stream_id();
        if (start > 0 && e.stream_version() > 1 && !streams_.count(stream)) {
          // First met in the tail: its previous version is below `start`.
          absl::StatusOr<std::optional<std::string>> row =
              Lookup(Cf::kStreams, StreamKey(stream, e.stream_version() - 1));
          if (!row.ok()) return row.status();
          if (row->has_value() && (*row)->size() == 8 &&
              DecodeBigEndian64(**row) < start) {
            streams_[stream] = {e.stream_version() - 1, DecodeBigEndian64(**row)};
          }
        }
        auto& [version, at_index] = streams_[stream];
        if (e.stream_version() != version + 1) {
          Add(DamageKind::kChainBreak, i,
              absl::StrCat("entry ", i, ": stream ", stream, " version ", e.stream_version(),
                           " does not follow version ", version));
        }
        version = e.stream_version();
        at_index = i;
        if (options_.check_indexes) {
          absl::StatusOr<std::optional<std::string>> row =
              Lookup(Cf::kEventIds, p->envelope.event_id());
          if (!row.ok()) return row.status();
          const bool required = i < indexed_;
          if ((!row->has_value() && required) ||
              (row->has_value() && **row != EncodeBigEndian64(i))) {
            Add(DamageKind::kIndexMismatch, i,
                absl::StrCat("event_ids row for entry ", i, "'s event id ",
                             HexEncode(p->envelope.event_id()), " is ",
                             row->has_value() ? HexEncode(**row) : "missing", ", want index ", i));
          }
          row = Lookup(Cf::kStreams, StreamKey(stream, e.stream_version()));
          if (!row.ok()) return row.status();
          if ((!row->has_value() && required) ||
              (row->has_value() && **row != EncodeBigEndian64(i))) {
            Add(DamageKind::kIndexMismatch, i,
                absl::StrCat("streams row (", stream, ", ", e.stream_version(), ") is ",
                             row->has_value() ? HexEncode(**row) : "missing", ", want index ", i));
          }
        }
        parsed = p;
      }
    }

    if (pending != nullptr) TRIALOG_RETURN_IF_ERROR(fold(*pending, true));
    pending = &pending_slot;
    pending->index = i;
    pending->leaf.assign(leaf.data(), leaf.size());
    pending->present = present;
    pending->parsed = parsed;
    prev_leaf.assign(leaf.data(), leaf.size());
    prev_present = present;
  }
  if (Stopped()) return absl::OkStatus();
  // The last entry is bound by no link: only the root binds it.
  const uint64_t damage_before_last = report_.damage_count;
  blame_last_leaf_ = damage_before_last == 0;
  if (pending != nullptr) TRIALOG_RETURN_IF_ERROR(fold(*pending, false));
  blame_last_leaf_ = false;
  if (Stopped()) return absl::OkStatus();

  // The root against the signed checkpoint.
  const std::string root = tree.Root();
  const bool root_differs = have_checkpoint_ && root != checkpoint_root_;
  if (!last_fold_mismatches_.empty() || (root_differs && damage_before_last == 0)) {
    if (root_differs && size > 0 && damage_before_last == 0) {
      // Every earlier entry is linked to the last one, which nothing links
      // to: with a wrong root too, the last entry's bytes changed.
      Add(DamageKind::kHashMismatch, size - 1,
          absl::StrCat("entry ", size - 1, " (the last) hashes to ", Short(prev_leaf),
                       ", which does not rebuild the signed root",
                       last_fold_mismatches_.empty()
                           ? std::string()
                           : absl::StrCat(" nor the stored nodes above it (",
                                          last_fold_mismatches_.front().detail, ")")));
    } else {
      // The root is right: the stored nodes are what changed.
      for (Damage& d : last_fold_mismatches_) Add(d.kind, d.index, std::move(d.detail));
    }
    last_fold_mismatches_.clear();
  }
  if (pending != nullptr && pending->parsed != nullptr && options_.on_entry &&
      report_.damage_count == 0 && !root_differs) {
    options_.on_entry(*pending->parsed);
  }
  if (root_differs) {
    Add(DamageKind::kRootMismatch, size,
        absl::StrCat("root rebuilt from the entries ", Short(root),
                     " differs from the signed checkpoint's root ", Short(checkpoint_root_)));
  }
  it->Seek(rocksdb::Slice(EntryKey(size)));
  if (it->Valid()) {
    Add(DamageKind::kMetaMismatch, size,
        absl::StrCat("an entry is stored at key ", HexEncode(View(it->key())),
                     " beyond the signed size ", size));
  } else if (absl::Status s = FromRocks(it->status(), "scanning entries"); !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

absl::Status Scrubber::CheckStreams() {
  // Index rows are table-level facts: reported at the signed size, so an
  // entry's own damage (which may cause them) comes first. The walk checked
  // the row of every entry; here: no row beyond a stream's last entry (the
  // sequencer reads a stream's version from its last row).
  const uint64_t at = report_.size;
  std::unique_ptr<rocksdb::Iterator> it = db_.NewIterator(Cf::kStreams, snapshot_);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const absl::string_view key = View(it->key());
    const size_t nul = key.find('\0');
    if (nul == absl::string_view::npos || key.size() != nul + 9) {
      Add(DamageKind::kIndexMismatch, at,
          absl::StrCat("streams key ", HexEncode(key), " is not stream || 0x00 || be64"));
      continue;
    }
    const std::string stream(key.substr(0, nul));
    const uint64_t version = DecodeBigEndian64(key.substr(nul + 1));
    auto found = streams_.find(stream);
    if (found == streams_.end()) {
      Add(DamageKind::kIndexMismatch, at,
          absl::StrCat("streams has a row for stream ", stream, " version ", version,
                       " but no entry belongs to that stream"));
    } else if (version > found->second.first) {
      Add(DamageKind::kIndexMismatch, at,
          absl::StrCat("streams has a row for stream ", stream, " version ", version,
                       " but its last entry (", found->second.second, ") has version ",
                       found->second.first));
    }
  }
  TRIALOG_RETURN_IF_ERROR(FromRocks(it->status(), "scanning streams"));
  // stream_heads is unused since format 2.
  it = db_.NewIterator(Cf::kStreamHeads, snapshot_);
  it->SeekToFirst();
  if (it->Valid()) {
    Add(DamageKind::kIndexMismatch, at,
        absl::StrCat("stream_heads holds a row (key ", HexEncode(View(it->key())),
                     ") but format 2 keeps it empty"));
  }
  return FromRocks(it->status(), "scanning stream_heads");
}

absl::StatusOr<ScrubReport> Scrubber::Run() {
  if (absl::Status s = ReadMeta(); !s.ok()) return s;
  if (indexed_ != ~uint64_t{0} && have_checkpoint_ && indexed_ > report_.size) {
    Add(DamageKind::kMetaMismatch, report_.size,
        absl::StrCat("meta \"indexed\" is ", indexed_, ", beyond the signed size ",
                     report_.size));
  }
  if (!Stopped()) {
    if (absl::Status s = Walk(); !s.ok()) return s;
    if (options_.check_indexes && !Stopped()) {
      if (absl::Status s = CheckStreams(); !s.ok()) return s;
    }
  }
  if (options_.progress) options_.progress(report_.entries_checked, report_.size);
  std::stable_sort(report_.damages.begin(), report_.damages.end(),
                   [](const Damage& a, const Damage& b) { return a.index < b.index; });
  return std::move(report_);
}

}  // namespace

absl::string_view DamageKindName(DamageKind kind) {
  switch (kind) {
    case DamageKind::kMissingEntry:
      return "missing entry";
    case DamageKind::kUnparsableEntry:
      return "unparsable entry";
    case DamageKind::kHashMismatch:
      return "hash mismatch";
    case DamageKind::kChainBreak:
      return "chain break";
    case DamageKind::kMissingNode:
      return "missing node";
    case DamageKind::kNodeMismatch:
      return "node mismatch";
    case DamageKind::kRootMismatch:
      return "root mismatch";
    case DamageKind::kIndexMismatch:
      return "index mismatch";
    case DamageKind::kMetaMismatch:
      return "meta mismatch";
    case DamageKind::kBadCheckpoint:
      return "bad checkpoint";
  }
  return "unknown damage";
}

absl::Status ScrubReport::ToStatus() const {
  if (ok()) return absl::OkStatus();
  const Damage& d = first();
  std::string more;
  if (damage_count > 1) more = absl::StrCat(" (and ", damage_count - 1, " more problems)");
  return absl::DataLossError(
      absl::StrCat("at index ", d.index, ": ", DamageKindName(d.kind), ": ", d.detail, more));
}

absl::StatusOr<ScrubReport> ScrubStore(const Db& db, const Checkpointer& checkpointer,
                                       const ScrubOptions& options) {
  SnapshotGuard snapshot(db.rocks());
  Scrubber scrubber(db, checkpointer, options, snapshot.get());
  return scrubber.Run();
}

}  // namespace trialog::storage
