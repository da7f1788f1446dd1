// Perfect Merkle nodes as a merkle::NodeSource over the `nodes` column
// family (levels >= kStoredNodeMinLevel) and the `entries` one (the nodes
// below, leaves included, are hashed from their entry rows), with every
// node at level >= kCacheMinLevel kept in memory (the
// nodes every proof of a large tree needs; about size/4 bytes of memory, so
// 25 MB at 10^8 entries), and the lower nodes of the most recent
// kRecentLeaves leaves too (about 4 MB), so the receipt of every fresh
// append is proved from memory alone. Levels [kLowCacheMinLevel,
// kCacheMinLevel) of the tree as it was at open are read into memory by a
// background thread after open (StartLowLevelLoad: about 3.75 bytes per
// entry, 37.5 MB at 10^7); until that load finishes, and for the nodes
// completed after open that left the recent window, those come from
// RocksDB too (its block cache).
//
// The nodes below kLowCacheMinLevel (= kStoredNodeMinLevel: they have no
// rows) that a proof needs all lie in one tile: the perfect subtree of
// kTileLeaves leaves at level kLowCacheMinLevel that holds the proved leaf
// (a consistency proof: the old size's last leaf). A miss on such a node
// reads the tile's entries (adjacent keys, one or two data blocks, one
// range read) and hashes the whole tile, leaves and inner nodes, into a
// small cache of recent tiles; the proof's other low nodes then come from
// there. From a cold page cache that is one read per proof. The newest tile
// may be incomplete: its first k stored entries give the nodes they cover
// (a node needing an entry that is not stored is NOT_FOUND, naming it).
//
// Thread-safety: GetNode may be called concurrently with itself and with
// Publish (one publisher at a time).

#ifndef TRIALOG_STORAGE_NODE_STORE_H_
#define TRIALOG_STORAGE_NODE_STORE_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/merkle/merkle.h"
#include "storage/schema.h"

namespace trialog::storage {

class NodeStore : public merkle::NodeSource {
 public:
  static constexpr uint32_t kCacheMinLevel = 8;
  // Lower-level nodes kept for the newest leaves: at level l, the newest
  // kRecentLeaves >> l nodes published (between that and twice that many).
  static constexpr uint64_t kRecentLeaves = uint64_t{1} << 16;
  // Lowest level StartLowLevelLoad reads into memory: the lowest level with
  // rows.
  static constexpr uint32_t kLowCacheMinLevel = kStoredNodeMinLevel;
  // Leaves per tile (the nodes below kLowCacheMinLevel are hashed per tile).
  static constexpr uint64_t kTileLeaves = uint64_t{1} << kLowCacheMinLevel;
  // Tiles kept hashed (direct-mapped by tile index): enough for the
  // concurrent proofs of a busy server, 62 KB.
  static constexpr size_t kTileCacheSlots = 64;

  // `db` must outlive this NodeStore.
  explicit NodeStore(const Db* db) : db_(db) {}
  // Stops and joins the low-level loader.
  ~NodeStore() override;
  NodeStore(const NodeStore&) = delete;
  NodeStore& operator=(const NodeStore&) = delete;

  // Starts a thread reading the nodes of levels [kLowCacheMinLevel,
  // kCacheMinLevel) of the first `size` leaves into memory, highest level
  // first, each level installed whole once read. A node found missing or
  // malformed ends the load (those nodes keep coming from RocksDB, where
  // proofs report the damage). Call at most once, after Load.
  void StartLowLevelLoad(uint64_t size);
  // Waits for the low-level load to finish (or stop); true when every
  // level was installed, false also when it was never started. For tests
  // and benchmarks.
  bool WaitLowLevelLoad() const;

  // Fills the cache with the cached-level nodes of a tree of `size` leaves.
  // DATA_LOSS naming the node when one is missing or not 32 bytes.
  absl::Status Load(uint64_t size);

  // The hash of node `id`: a stored row (level >= kStoredNodeMinLevel), or
  // hashed from the stored entries it covers (below; level 0 is the leaf
  // hash of the entry). NOT_FOUND when a row or an entry it needs is absent
  // (naming it), DATA_LOSS when a row is malformed. The caller bounds `id`
  // by the durable tree size.
  absl::StatusOr<std::string> GetNode(merkle::NodeId id) const override;

  // Adds nodes that are now durable. Nodes of one level must arrive in
  // index order (CompactTree completes them so); others are ignored. Only
  // nodes published after Load are in the recent window (older low nodes
  // are read from RocksDB).
  void Publish(const std::vector<std::pair<merkle::NodeId, std::string>>& nodes);

 private:
  // The hashes of one tile: room for its kTileLeaves leaf hashes, then for
  // the nodes of levels 1 .. kLowCacheMinLevel - 1, each level left to
  // right. Only the first `leaves` leaves were stored when it was hashed:
  // at level l its first leaves >> l nodes are set (all of them in a
  // complete tile).
  struct Tile {
    static constexpr size_t kNodes = 2 * kTileLeaves - 2;
    uint64_t index = ~uint64_t{0};  // tile t covers leaves [t, t+1) * kTileLeaves
    uint64_t leaves = 0;            // stored leaves hashed, 0..kTileLeaves
    char hashes[kNodes * merkle::kHashSize];
  };

  // The in-memory hash of `id` into *hash (true), or false.
  bool FromMemory(merkle::NodeId id, std::string* hash) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Low node `id` (level < kLowCacheMinLevel) from its tile: from the tile
  // cache, or hashed from the tile's stored entries. NOT_FOUND naming the
  // first entry of the node's range that is not stored; other errors are
  // I/O.
  absl::StatusOr<std::string> FromTile(merkle::NodeId id) const;
  // Node `id` (level < kLowCacheMinLevel) hashed from its own entries, each
  // read alone: for a tile with an entry missing before the node's.
  absl::StatusOr<std::string> HashNodeAlone(merkle::NodeId id) const;
  // Reads tile `tile`'s entries, up to the first one not stored, and hashes
  // them into *out (out->leaves = how many were read).
  absl::Status HashTile(uint64_t tile, Tile* out) const;

  const Db* db_;
  mutable absl::Mutex mu_;
  // cache_[level - kCacheMinLevel] = hashes of nodes 0..k-1 of that level,
  // concatenated (32 bytes each).
  std::vector<std::string> cache_ ABSL_GUARDED_BY(mu_);
  // recent_[level] (level < kCacheMinLevel): hashes of nodes
  // recent_first_[level] .. + size/32 - 1 of that level, concatenated.
  struct Recent {
    uint64_t first = 0;
    std::string hashes;
  };
  std::vector<Recent> recent_ ABSL_GUARDED_BY(mu_) = std::vector<Recent>(kCacheMinLevel);
  // low_[level] (kLowCacheMinLevel <= level < kCacheMinLevel): hashes of
  // nodes 0 .. size/32 - 1 of that level, concatenated (empty until loaded).
  std::vector<std::string> low_ ABSL_GUARDED_BY(mu_) = std::vector<std::string>(kCacheMinLevel);
  std::atomic<bool> stop_loading_{false};
  std::atomic<bool> low_loaded_{false};
  mutable absl::Notification low_done_;
  std::thread loader_;

  mutable absl::Mutex tiles_mu_;
  mutable std::vector<Tile> tiles_ ABSL_GUARDED_BY(tiles_mu_) =
      std::vector<Tile>(kTileCacheSlots);
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_NODE_STORE_H_
