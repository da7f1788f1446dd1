#include "storage/node_store.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
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

absl::StatusOr<std::string> NodeStore::GetNode(merkle::NodeId id) const {
  if (id.level >= kCacheMinLevel) {
    absl::ReaderMutexLock lock(&mu_);
    const size_t slot = id.level - kCacheMinLevel;
    if (slot < cache_.size() && id.index < cache_[slot].size() / merkle::kHashSize) {
      return cache_[slot].substr(id.index * merkle::kHashSize, merkle::kHashSize);
    }
  } else {
    absl::ReaderMutexLock lock(&mu_);
    const Recent& r = recent_[id.level];
    if (id.index >= r.first && id.index - r.first < r.hashes.size() / merkle::kHashSize) {
      return r.hashes.substr((id.index - r.first) * merkle::kHashSize, merkle::kHashSize);
    }
  }
  if (id.level == 0) {
    // Leaf hashes are not stored: hash the entry row.
    absl::StatusOr<std::string> entry = db_->Get(Cf::kEntries, EntryKey(id.index));
    if (!entry.ok()) {
      if (absl::IsNotFound(entry.status())) {
        return absl::NotFoundError(absl::StrCat(NodeName(id), " is not in the store: entry ",
                                                id.index, " is missing"));
      }
      return entry.status();
    }
    return merkle::HashLeaf(*entry);
  }
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
