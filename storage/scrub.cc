#include "storage/scrub.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/merkle/merkle.h"
#include "core/util/bytes.h"
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

  // The stored node `id`, nullopt when absent. Nodes of one level must be
  // asked for in increasing index order (one iterator per level).
  absl::StatusOr<std::optional<std::string>> StoredNode(merkle::NodeId id);

  // Compares a node completed while rebuilding the tree with the stored one.
  absl::Status CompareNode(merkle::NodeId id, absl::string_view hash, uint64_t leaf_index,
                           bool entry_present);

  absl::Status ReadMeta();
  absl::Status Walk();
  absl::Status CheckStreamHeads();

  const Db& db_;
  const Checkpointer& checkpointer_;
  const ScrubOptions& options_;
  const rocksdb::Snapshot* snapshot_;
  ScrubReport report_;

  // From meta (valid when the matching have_* is true).
  bool have_size_ = false, have_root_ = false, have_head_ = false, have_recorded_at_ = false;
  std::string meta_root_, meta_head_, checkpoint_root_;
  bool have_checkpoint_ = false;
  uint64_t meta_recorded_at_ = 0;

  std::vector<std::unique_ptr<rocksdb::Iterator>> level_its_;
  uint64_t last_leaf_damage_ = kNone;  // highest index with leaf-level damage
  // stream id -> (last version, index of that entry)
  std::map<std::string, std::pair<uint64_t, uint64_t>> streams_;
};

absl::StatusOr<std::optional<std::string>> Scrubber::StoredNode(merkle::NodeId id) {
  if (id.level >= level_its_.size()) level_its_.resize(id.level + 1);
  std::unique_ptr<rocksdb::Iterator>& it = level_its_[id.level];
  const std::string want = NodeKey(id);
  if (!it) {
    it = db_.NewIterator(Cf::kNodes, snapshot_);
    it->Seek(rocksdb::Slice(want));
  }
  while (it->Valid() && View(it->key()) < absl::string_view(want)) it->Next();
  if (!it->Valid()) {
    absl::Status s = FromRocks(it->status(), "scanning nodes");
    if (!s.ok()) return s;
    return std::optional<std::string>();
  }
  if (View(it->key()) != want) return std::optional<std::string>();
  std::string value(View(it->value()));
  it->Next();
  return std::optional<std::string>(std::move(value));
}

absl::Status Scrubber::CompareNode(merkle::NodeId id, absl::string_view hash,
                                   uint64_t leaf_index, bool entry_present) {
  const uint64_t first_leaf = id.index << id.level;
  if (id.level == 0 && !entry_present) return absl::OkStatus();  // leaf taken from the store
  if (id.level > 0 && last_leaf_damage_ != kNone && last_leaf_damage_ >= first_leaf) {
    return absl::OkStatus();  // implied by the leaf damage below it
  }
  absl::StatusOr<std::optional<std::string>> stored = StoredNode(id);
  if (!stored.ok()) return stored.status();
  ++report_.nodes_checked;
  const std::string name = absl::StrCat("node (", id.level, ", ", id.index, ")");
  if (!stored->has_value()) {
    if (id.level == 0) last_leaf_damage_ = leaf_index;
    Add(DamageKind::kMissingNode, first_leaf, absl::StrCat(name, " is not stored"));
    return absl::OkStatus();
  }
  if (**stored == hash) return absl::OkStatus();
  if (id.level == 0) {
    last_leaf_damage_ = leaf_index;
    Add(DamageKind::kHashMismatch, leaf_index,
        absl::StrCat("entry bytes hash to ", Short(hash), " but the stored leaf ", name, " is ",
                     Short(**stored), " (the entry or its leaf node was changed)"));
  } else {
    Add(DamageKind::kNodeMismatch, first_leaf,
        absl::StrCat(name, " covering entries [", first_leaf, ", ",
                     first_leaf + (uint64_t{1} << id.level), ") is stored as ", Short(**stored),
                     " but rebuilds to ", Short(hash)));
  }
  return absl::OkStatus();
}

absl::Status Scrubber::ReadMeta() {
  auto meta = [&](absl::string_view key) { return Lookup(Cf::kMeta, key); };
  absl::StatusOr<std::optional<std::string>> format = meta(kMetaFormat);
  if (!format.ok()) return format.status();
  if (!format->has_value() || **format != kFormatVersion) {
    Add(DamageKind::kMetaMismatch, 0,
        absl::StrCat("meta format is \"", format->value_or("(missing)"), "\", want \"",
                     kFormatVersion, "\""));
  }
  absl::StatusOr<std::optional<std::string>> size = meta(kMetaSize);
  if (!size.ok()) return size.status();
  if (!size->has_value()) {
    Add(DamageKind::kMetaMismatch, 0, "meta size is missing");
  } else if (absl::StatusOr<uint64_t> n = DecodeU64Value(**size, "meta size"); !n.ok()) {
    Add(DamageKind::kMetaMismatch, 0, std::string(n.status().message()));
  } else {
    report_.size = *n;
    have_size_ = true;
  }
  const uint64_t at = report_.size;

  absl::StatusOr<std::optional<std::string>> root = meta(kMetaRoot);
  if (!root.ok()) return root.status();
  if (!root->has_value()) {
    Add(DamageKind::kMetaMismatch, at, "meta root is missing");
  } else if (absl::Status s = CheckHashValue(**root, "meta root"); !s.ok()) {
    Add(DamageKind::kMetaMismatch, at, std::string(s.message()));
  } else {
    meta_root_ = **root;
    have_root_ = true;
  }

  absl::StatusOr<std::optional<std::string>> head = meta(kMetaHead);
  if (!head.ok()) return head.status();
  if (!head->has_value()) {
    Add(DamageKind::kMetaMismatch, at, "meta head is missing");
  } else if (absl::Status s = CheckHashValue(**head, "meta head"); !s.ok()) {
    Add(DamageKind::kMetaMismatch, at, std::string(s.message()));
  } else {
    meta_head_ = **head;
    have_head_ = true;
  }

  absl::StatusOr<std::optional<std::string>> rec = meta(kMetaRecordedAt);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) {
    Add(DamageKind::kMetaMismatch, at, "meta recorded_at is missing");
  } else if (absl::StatusOr<uint64_t> v = DecodeU64Value(**rec, "meta recorded_at"); !v.ok()) {
    Add(DamageKind::kMetaMismatch, at, std::string(v.status().message()));
  } else {
    meta_recorded_at_ = *v;
    have_recorded_at_ = true;
  }

  absl::StatusOr<std::optional<std::string>> note = meta(kMetaCheckpoint);
  if (!note.ok()) return note.status();
  if (!note->has_value()) {
    Add(DamageKind::kBadCheckpoint, at, "meta checkpoint is missing");
    return absl::OkStatus();
  }
  absl::StatusOr<note::Checkpoint> cp = checkpointer_.Open(**note);
  if (!cp.ok()) {
    Add(DamageKind::kBadCheckpoint, at,
        absl::StrCat("stored checkpoint does not open under the ledger key ",
                     checkpointer_.verifier_key(), ": ", cp.status().message()));
    return absl::OkStatus();
  }
  have_checkpoint_ = true;
  checkpoint_root_ = cp->root_hash;
  if (have_size_ && cp->size != report_.size) {
    Add(DamageKind::kMetaMismatch, at,
        absl::StrCat("signed checkpoint is for size ", cp->size, " but meta size is ",
                     report_.size));
  }
  if (have_root_ && cp->root_hash != meta_root_) {
    Add(DamageKind::kMetaMismatch, at,
        absl::StrCat("signed checkpoint root ", Short(cp->root_hash),
                     " differs from meta root ", Short(meta_root_)));
  }
  return absl::OkStatus();
}

absl::Status Scrubber::Walk() {
  const uint64_t size = report_.size;
  std::unique_ptr<rocksdb::Iterator> it = db_.NewIterator(Cf::kEntries, snapshot_);
  it->Seek(rocksdb::Slice(EntryKey(0)));
  merkle::CompactTree tree;
  std::string prev_leaf = ledger::ZeroHash();
  int64_t last_recorded_at = std::numeric_limits<int64_t>::min();
  bool clean = report_.damage_count == 0;

  for (uint64_t i = 0; i < size; ++i) {
    if (Stopped()) return absl::OkStatus();
    const std::string key = EntryKey(i);
    while (it->Valid() && View(it->key()) < absl::string_view(key)) it->Next();
    if (!it->Valid()) {
      absl::Status s = FromRocks(it->status(), "scanning entries");
      if (!s.ok()) return s;
    }
    const bool present = it->Valid() && View(it->key()) == key;
    std::string leaf;
    std::optional<ledger::ParsedEntry> parsed;
    if (!present) {
      last_leaf_damage_ = i;
      Add(DamageKind::kMissingEntry, i,
          absl::StrCat("entry ", i, " is missing (stored size ", size, ")"));
      absl::StatusOr<std::optional<std::string>> stored = StoredNode({0, i});
      if (!stored.ok()) return stored.status();
      leaf = stored->value_or(ledger::ZeroHash());
    } else {
      ++report_.entries_checked;
      const absl::string_view bytes = View(it->value());
      absl::StatusOr<ledger::ParsedEntry> p = ledger::ParseEntry(bytes);
      if (!p.ok()) {
        leaf = merkle::HashLeaf(bytes);
        Add(DamageKind::kUnparsableEntry, i,
            absl::StrCat("entry ", i, " does not parse: ", p.status().message()));
      } else {
        leaf = p->leaf_hash;
        const v1::Entry& e = p->entry;
        if (e.index() != i) {
          Add(DamageKind::kChainBreak, i,
              absl::StrCat("entry at position ", i, " claims index ", e.index()));
        } else if (e.prev_leaf_hash() != prev_leaf) {
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
          if (!row->has_value() || **row != EncodeBigEndian64(i)) {
            Add(DamageKind::kIndexMismatch, i,
                absl::StrCat("event_ids row for entry ", i, "'s event id ",
                             HexEncode(p->envelope.event_id()), " is ",
                             row->has_value() ? HexEncode(**row) : "missing", ", want index ", i));
          }
          row = Lookup(Cf::kStreams, StreamKey(stream, e.stream_version()));
          if (!row.ok()) return row.status();
          if (!row->has_value() || **row != EncodeBigEndian64(i)) {
            Add(DamageKind::kIndexMismatch, i,
                absl::StrCat("streams row (", stream, ", ", e.stream_version(), ") is ",
                             row->has_value() ? HexEncode(**row) : "missing", ", want index ", i));
          }
        }
        parsed = *std::move(p);
      }
    }

    absl::Status node_status;
    tree.Append(leaf, [&](merkle::NodeId id, absl::string_view hash) {
      if (!node_status.ok()) return;
      node_status = CompareNode(id, hash, i, present);
    });
    if (!node_status.ok()) return node_status;

    prev_leaf = leaf;
    clean = clean && report_.damage_count == 0;
    if (clean && parsed.has_value() && options_.on_entry) options_.on_entry(*parsed);
    if (options_.progress && (i + 1) % kProgressEvery == 0) options_.progress(i + 1, size);
  }
  if (Stopped()) return absl::OkStatus();

  // Root, head and recorded_at against meta and the signed checkpoint.
  const std::string root = tree.Root();
  if (have_checkpoint_ && root != checkpoint_root_) {
    Add(DamageKind::kRootMismatch, size,
        absl::StrCat("root rebuilt from the entries ", Short(root),
                     " differs from the signed checkpoint's root ", Short(checkpoint_root_)));
  } else if (have_root_ && root != meta_root_) {
    Add(DamageKind::kRootMismatch, size,
        absl::StrCat("root rebuilt from the entries ", Short(root), " differs from meta root ",
                     Short(meta_root_)));
  }
  if (have_head_ && meta_head_ != prev_leaf) {
    Add(DamageKind::kMetaMismatch, size,
        absl::StrCat("meta head ", Short(meta_head_), " is not the leaf hash of the last entry (",
                     Short(prev_leaf), ")"));
  }
  const uint64_t want_recorded_at =
      size == 0 ? 0 : static_cast<uint64_t>(last_recorded_at);
  if (have_recorded_at_ && meta_recorded_at_ != want_recorded_at) {
    Add(DamageKind::kMetaMismatch, size,
        absl::StrCat("meta recorded_at ", meta_recorded_at_, " differs from the last entry's ",
                     want_recorded_at));
  }
  it->Seek(rocksdb::Slice(EntryKey(size)));
  if (it->Valid()) {
    Add(DamageKind::kMetaMismatch, size,
        absl::StrCat("an entry is stored at key ", HexEncode(View(it->key())),
                     " beyond the stored size ", size));
  } else if (absl::Status s = FromRocks(it->status(), "scanning entries"); !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

absl::Status Scrubber::CheckStreamHeads() {
  std::map<std::string, std::pair<uint64_t, uint64_t>> unseen = streams_;
  std::unique_ptr<rocksdb::Iterator> it = db_.NewIterator(Cf::kStreamHeads, snapshot_);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string stream(View(it->key()));
    auto found = streams_.find(stream);
    // Index rows are table-level facts: reported at the stored size, so an
    // entry's own damage (which may cause them) comes first.
    const uint64_t at = report_.size;
    absl::StatusOr<uint64_t> v = DecodeU64Value(View(it->value()), "a stream_heads row");
    if (!v.ok()) {
      Add(DamageKind::kIndexMismatch, at, std::string(v.status().message()));
    } else if (found == streams_.end()) {
      Add(DamageKind::kIndexMismatch, at,
          absl::StrCat("stream_heads names stream ", stream, " at version ", *v,
                       " but no entry belongs to it"));
    } else if (*v != found->second.first) {
      Add(DamageKind::kIndexMismatch, at,
          absl::StrCat("stream_heads says stream ", stream, " is at version ", *v,
                       " but its last entry (", found->second.second, ") has version ",
                       found->second.first));
    }
    unseen.erase(stream);
  }
  if (absl::Status s = FromRocks(it->status(), "scanning stream_heads"); !s.ok()) return s;
  for (const auto& [stream, last] : unseen) {
    Add(DamageKind::kIndexMismatch, report_.size,
        absl::StrCat("stream_heads has no row for stream ", stream, " (at version ", last.first,
                     ", entry ", last.second, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ScrubReport> Scrubber::Run() {
  if (absl::Status s = ReadMeta(); !s.ok()) return s;
  if (have_size_ && !Stopped()) {
    if (absl::Status s = Walk(); !s.ok()) return s;
    if (options_.check_indexes && !Stopped()) {
      if (absl::Status s = CheckStreamHeads(); !s.ok()) return s;
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
