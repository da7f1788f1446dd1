#include "storage/node_store.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "core/util/thread_name.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "storage/rocks_status.h"

namespace trialog::storage {
namespace {

std::string NodeName(merkle::NodeId id) { return absl::StrCat("node (", id.level, ", ", id.index, ")"); }

}  // namespace

absl::Status NodeStore::Load(uint64_t size) {
  std::vector<std::string> cache;
  std::unique_ptr<rocksdb::Iterator> it = db_->NewIterator(Cf::kNodes);
  for (uint32_t level = kCacheMinLevel; level < 64 && (size >> level) > 0; ++level) {
    const uint64_t want = size >> level;
    std::string hashes;
    hashes.reserve(want * merkle::kHashSize);
    const std::string first = NodeKey({level, 0});
    it->Seek(rocksdb::Slice(first));
    for (uint64_t i = 0; i < want; ++i, it->Next()) {
      const merkle::NodeId id{level, i};
      if (!it->Valid()) {
        absl::Status s = FromRocks(it->status(), "scanning nodes");
        if (!s.ok()) return s;
        return absl::DataLossError(absl::StrCat(NodeName(id), " is missing from the store"));
      }
      const rocksdb::Slice key = it->key();
      if (absl::string_view(key.data(), key.size()) != NodeKey(id)) {
        return absl::DataLossError(absl::StrCat(NodeName(id), " is missing from the store"));
      }
      const rocksdb::Slice value = it->value();
      if (value.size() != merkle::kHashSize) {
        return absl::DataLossError(absl::StrCat(NodeName(id), " holds ", value.size(),
                                                " bytes, want a 32-byte hash"));
      }
      hashes.append(value.data(), value.size());
    }
    cache.push_back(std::move(hashes));
  }
  absl::MutexLock lock(&mu_);
  cache_ = std::move(cache);
  return absl::OkStatus();
}

bool NodeStore::FromMemory(merkle::NodeId id, std::string* hash) const {
  if (id.level >= kCacheMinLevel) {
    const size_t slot = id.level - kCacheMinLevel;
    if (slot < cache_.size() && id.index < cache_[slot].size() / merkle::kHashSize) {
      hash->assign(cache_[slot], id.index * merkle::kHashSize, merkle::kHashSize);
      return true;
    }
  } else if (id.level < recent_.size()) {
    const std::string& low = low_[id.level];
    if (id.index < low.size() / merkle::kHashSize) {
      hash->assign(low, id.index * merkle::kHashSize, merkle::kHashSize);
      return true;
    }
    const Recent& r = recent_[id.level];
    if (id.index >= r.first && id.index - r.first < r.hashes.size() / merkle::kHashSize) {
      hash->assign(r.hashes, (id.index - r.first) * merkle::kHashSize, merkle::kHashSize);
      return true;
    }
  }
  return false;
}

NodeStore::~NodeStore() {
  stop_loading_.store(true, std::memory_order_relaxed);
  if (loader_.joinable()) loader_.join();
}

void NodeStore::StartLowLevelLoad(uint64_t size) {
  if (loader_.joinable()) return;
  loader_ = std::thread([this, size] {
    NameThisThread("tl-nodeload");
    struct Done {
      absl::Notification& n;
      ~Done() { n.Notify(); }
    } done{low_done_};
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;  // a one-off scan: keep the block cache for proofs
    std::unique_ptr<rocksdb::Iterator> it(db_->rocks()->NewIterator(ro, db_->handle(Cf::kNodes)));
    for (uint32_t level = kCacheMinLevel; level-- > kLowCacheMinLevel;) {
      const uint64_t want = size >> level;
      if (want == 0) continue;
      std::string hashes;
      hashes.reserve(want * merkle::kHashSize);
      std::string key = NodeKey({level, 0});
      it->Seek(rocksdb::Slice(key));
      for (uint64_t i = 0; i < want; ++i, it->Next()) {
        if ((i & 4095) == 0 && stop_loading_.load(std::memory_order_relaxed)) return;
        if (!it->Valid()) return;  // missing (or unreadable): left to RocksDB reads
        const rocksdb::Slice k = it->key();
        const rocksdb::Slice v = it->value();
        // The key must be exactly (level, i): be32 level || be64 i.
        key = NodeKey({level, i});
        if (k.size() != key.size() || std::memcmp(k.data(), key.data(), key.size()) != 0 ||
            v.size() != merkle::kHashSize) {
          return;
        }
        hashes.append(v.data(), v.size());
      }
      absl::MutexLock lock(&mu_);
      low_[level] = std::move(hashes);
    }
    low_loaded_.store(true, std::memory_order_release);
  });
}

bool NodeStore::WaitLowLevelLoad() const {
  if (!loader_.joinable()) return false;  // never started
  low_done_.WaitForNotification();
  return low_loaded_.load(std::memory_order_acquire);
}

absl::Status NodeStore::HashTile(uint64_t tile, Tile* out) const {
  const uint64_t first = tile * kTileLeaves;
  const std::string end = EntryKey(first + kTileLeaves);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  // The tile's entries are adjacent: fetch the blocks they span in one read.
  ro.readahead_size = 16 << 10;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->rocks()->NewIterator(ro, db_->handle(Cf::kEntries)));
  it->Seek(rocksdb::Slice(EntryKey(first)));
  char* leaf = out->hashes;
  uint64_t leaves = 0;
  for (; leaves < kTileLeaves; ++leaves, it->Next()) {
    if (!it->Valid() || it->key() != rocksdb::Slice(EntryKey(first + leaves))) {
      TRIALOG_RETURN_IF_ERROR(FromRocks(it->status(), "reading a tile of entries"));
      break;  // the newest tile (or a missing entry): its first `leaves` only
    }
    const std::string hash =
        merkle::HashLeaf(absl::string_view(it->value().data(), it->value().size()));
    std::memcpy(leaf + leaves * merkle::kHashSize, hash.data(), merkle::kHashSize);
  }
  // Each level's nodes follow the level below, in the same array; a level
  // has room for kTileLeaves >> l nodes, of which the first leaves >> l are
  // hashed.
  const char* below = out->hashes;
  char* level = out->hashes + kTileLeaves * merkle::kHashSize;
  for (uint64_t l = 1; l < kLowCacheMinLevel; ++l) {
    for (uint64_t i = 0; i < (leaves >> l); ++i) {
      merkle::HashChildrenTo(absl::string_view(below + 2 * i * merkle::kHashSize, merkle::kHashSize),
                             absl::string_view(below + (2 * i + 1) * merkle::kHashSize,
                                               merkle::kHashSize),
                             level + i * merkle::kHashSize);
    }
    below = level;
    level += (kTileLeaves >> l) * merkle::kHashSize;
  }
  out->index = tile;
  out->leaves = leaves;
  return absl::OkStatus();
}

absl::StatusOr<std::string> NodeStore::HashNodeAlone(merkle::NodeId id) const {
  const uint64_t first = id.index << id.level;
  std::vector<std::string> level;
  for (uint64_t i = first; i < first + (uint64_t{1} << id.level); ++i) {
    absl::StatusOr<std::string> entry = db_->Get(Cf::kEntries, EntryKey(i));
    if (absl::IsNotFound(entry.status())) {
      return absl::NotFoundError(absl::StrCat(NodeName(id), " cannot be hashed: entry ", i,
                                              " is not in the store"));
    }
    if (!entry.ok()) return entry.status();
    level.push_back(merkle::HashLeaf(*entry));
  }
  return merkle::RootFromLeafHashes(level);
}

absl::StatusOr<std::string> NodeStore::FromTile(merkle::NodeId id) const {
  const uint32_t shift = kLowCacheMinLevel - id.level;
  const uint64_t tile = id.index >> shift;
  const uint64_t in_tile = id.index - (tile << shift);  // the node's index in its level of the tile
  // The node is hashed when the tile's first `leaves` cover all its leaves.
  const uint64_t needs = (in_tile + 1) << id.level;
  // Offset of the node's level in Tile::hashes, then of the node in it.
  uint64_t offset = 0;
  for (uint32_t l = 0; l < id.level; ++l) offset += kTileLeaves >> l;
  offset += in_tile;
  const size_t slot = tile % kTileCacheSlots;
  {
    absl::MutexLock lock(&tiles_mu_);
    const Tile& cached = tiles_[slot];
    if (cached.index == tile && cached.leaves >= needs) {
      return std::string(cached.hashes + offset * merkle::kHashSize, merkle::kHashSize);
    }
  }
  // Hashed outside the lock: concurrent proofs of other tiles proceed.
  Tile hashed;
  TRIALOG_RETURN_IF_ERROR(HashTile(tile, &hashed));
  if (hashed.leaves < needs) {
    // An entry of the tile is not stored. When it is one of the node's, say
    // which; a node after it (a damaged store) is hashed from its own rows.
    const uint64_t missing = tile * kTileLeaves + hashed.leaves;
    if (missing >= id.index << id.level) {
      return absl::NotFoundError(absl::StrCat(NodeName(id), " cannot be hashed: entry ", missing,
                                              " is not in the store"));
    }
    return HashNodeAlone(id);
  }
  std::string hash(hashed.hashes + offset * merkle::kHashSize, merkle::kHashSize);
  absl::MutexLock lock(&tiles_mu_);
  // A tile's hashed nodes never change; keep the one that covers more.
  Tile& cached = tiles_[slot];
  if (cached.index != tile || cached.leaves < hashed.leaves) cached = hashed;
  return hash;
}

absl::StatusOr<std::string> NodeStore::GetNode(merkle::NodeId id) const {
  {
    absl::ReaderMutexLock lock(&mu_);
    std::string hash;
    if (FromMemory(id, &hash)) return hash;
  }
  // Below the stored levels: hashed from the node's tile of entries.
  if (id.level < kLowCacheMinLevel) return FromTile(id);
  absl::StatusOr<std::string> value = db_->Get(Cf::kNodes, NodeKey(id));
  if (!value.ok()) {
    if (absl::IsNotFound(value.status())) {
      return absl::NotFoundError(absl::StrCat(NodeName(id), " is not in the store"));
    }
    return value.status();
  }
  if (value->size() != merkle::kHashSize) {
    return absl::DataLossError(absl::StrCat(NodeName(id), " holds ", value->size(),
                                            " bytes, want a 32-byte hash"));
  }
  return value;
}

void NodeStore::Publish(const std::vector<std::pair<merkle::NodeId, std::string>>& nodes) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, hash] : nodes) {
    if (id.level >= 64 || hash.size() != merkle::kHashSize) continue;
    if (id.level < kCacheMinLevel) {
      Recent& r = recent_[id.level];
      const uint64_t count = r.hashes.size() / merkle::kHashSize;
      if (count == 0) {
        r.first = id.index;
      } else if (id.index != r.first + count) {
        r.first = id.index;  // not contiguous (cannot happen in order): restart
        r.hashes.clear();
      }
      r.hashes.append(hash);
      // Keep between keep and 2 * keep nodes: drop the older half at once.
      const uint64_t keep = std::max<uint64_t>(kRecentLeaves >> id.level, 1);
      if (r.hashes.size() / merkle::kHashSize >= 2 * keep) {
        r.hashes.erase(0, keep * merkle::kHashSize);
        r.first += keep;
      }
      continue;
    }
    const size_t slot = id.level - kCacheMinLevel;
    if (cache_.size() <= slot) cache_.resize(slot + 1);
    if (id.index != cache_[slot].size() / merkle::kHashSize) continue;  // keep levels dense
    cache_[slot].append(hash);
  }
}

}  // namespace trialog::storage
