// The on-disk layout of one trial ledger: a RocksDB database in one
// directory, its column families, key and value encodings, and the RocksDB
// options, all declared here and nowhere else.
//
// Layout (all integers big-endian, so RocksDB's bytewise order is numeric
// order; "be64" = 8 bytes, "be32" = 4 bytes):
//
//   column family  key                                value
//   -------------  ---------------------------------  -----------------------------------
//   entries        be64 index                         Entry bytes, verbatim as hashed
//                                                     (leaf hash = SHA-256(0x00 || value))
//   nodes          be32 level || be64 index           32-byte hash of the perfect Merkle
//                                                     node over leaves
//                                                     [index << level, (index+1) << level);
//                                                     levels >= kStoredNodeMinLevel (4)
//                                                     only: a node below (levels 0-3) is
//                                                     hashed from its 1-8 entry rows
//   event_ids      16-byte event id                   be64 index of the entry carrying it
//                                                     (entries below meta "indexed" only;
//                                                     see "Deferred index rows" below)
//   streams        stream_id || 0x00 || be64 version  be64 index of that stream version
//                                                     (versions start at 1; a stream's
//                                                     current version is its last key;
//                                                     entries below meta "indexed" only)
//   stream_heads   (empty since format 2; kept so the column families never change)
//   meta           "format"                           "trialog-storage/4"
//                  "checkpoint"                       C2SP signed note of the checkpoint
//                                                     (origin, size, root) of the store:
//                                                     the stored size and root ARE its
//                                                     size and root
//                  "indexed"                          be64 W <= size: every entry < W has
//                                                     its event_ids and streams rows
//   default        (unused; RocksDB requires it)
//
// The chain head and last recorded_at are those of entry size-1 (32 zero
// bytes and 0 when the store is empty); nothing else stores them.
// Stream ids are non-empty and never contain 0x00, so the streams key is
// unambiguous and one stream's versions are contiguous and ordered.
// Every append is ONE synced WriteBatch holding its entries, the perfect
// nodes of levels >= kStoredNodeMinLevel they complete and the new
// checkpoint (signed over the new size), so the store is always at a
// committed size. Nothing is ever overwritten except meta "checkpoint" and
// meta "indexed". Per entry that is 1 row plus about 1/8 of a node row (a
// node of level l per 2^l leaves: 1/16 + 1/32 + ... over l >= 4), and one
// meta row per batch.
//
// Why no rows below level 4 (format 4): every node of levels 1-3 lies in
// one 16-leaf tile (the perfect subtree at level 4 holding it), whose 16
// entry rows are adjacent keys; NodeStore reads a proof's low nodes by
// hashing that tile in one range read (storage/node_store.h), so the rows
// were written on every append and read by nothing but Scrub.
//
// Deferred index rows (since format 3): the event_ids and streams rows are
// derived from the entries and are written AFTER the synced batch, by the
// Indexer (storage/indexer.h), in their own unsynced WriteBatch that also
// sets meta "indexed" to the size they reach. Rows and watermark are thus
// atomic together; a crash may lose such a batch (its WAL record was not
// synced), never half of it. Open re-indexes [indexed, size) from the
// entries (storage/recovery.h) before anything is answered. Rows for
// entries >= "indexed" may exist (written, watermark not yet reached by a
// later batch) and are then identical to what re-indexing writes.
//
// Format 3 (trialog-storage/3) is format 4 with node rows at levels 1-3
// too. Open upgrades it in place by writing meta "format" = 4; the rows of
// levels 1-3 written before are kept, never read by proofs, and still
// compared by Scrub (a row below level 4 must be right when present; it is
// never required). Format 2 (trialog-storage/2) is format 3 with every
// index row in the synced batch and no meta "indexed" (i.e. indexed ==
// size): Open upgrades it in place by writing meta "format" = 4 and
// "indexed" = size.
//
// Thread-safety: Db is safe for concurrent use (RocksDB is); Open/Close are
// not concurrent with anything else.

#ifndef TRIALOG_STORAGE_SCHEMA_H_
#define TRIALOG_STORAGE_SCHEMA_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/merkle/merkle.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
class Iterator;
class Snapshot;
class WriteBatch;
}  // namespace rocksdb

namespace trialog::storage {

// Column families. The order is the descriptor order in Db::Open: never
// reorder, only append.
enum class Cf : int {
  kEntries = 0,
  kNodes,
  kEventIds,
  kStreams,
  kStreamHeads,
  kMeta,
};
inline constexpr int kCfCount = 6;
// The RocksDB name of a column family ("entries", "nodes", ...).
absl::string_view CfName(Cf cf);

inline constexpr absl::string_view kFormatVersion = "trialog-storage/4";
// Format 3 (before 2026-11-29 10:00 UTC) and format 2 (before 2026-11-28
// 17:00 UTC): opened and upgraded in place (see "Format 3" above).
inline constexpr absl::string_view kFormatVersion3 = "trialog-storage/3";
inline constexpr absl::string_view kFormatVersion2 = "trialog-storage/2";
// Format 1 (before 2026-11-28) also stored level-0 nodes, stream_heads rows
// and meta "size", "head", "root", "recorded_at"; this build refuses it.
inline constexpr absl::string_view kFormatVersion1 = "trialog-storage/1";

// The lowest level of the tree with node rows (format 4). Levels below are
// hashed from the 2^kStoredNodeMinLevel = 16 entries of their tile
// (storage/node_store.h).
inline constexpr uint32_t kStoredNodeMinLevel = 4;

// meta keys.
inline constexpr absl::string_view kMetaFormat = "format";
inline constexpr absl::string_view kMetaCheckpoint = "checkpoint";
inline constexpr absl::string_view kMetaIndexed = "indexed";

// Key encodings.
std::string EntryKey(uint64_t index);
std::string NodeKey(merkle::NodeId id);
std::string StreamKey(absl::string_view stream_id, uint64_t version);
// stream_id || 0x00: every key of the stream starts with it.
std::string StreamPrefix(absl::string_view stream_id);

// Key / value decodings: DATA_LOSS naming what was read when the stored
// bytes have the wrong shape.
absl::StatusOr<uint64_t> DecodeEntryKey(absl::string_view key);
absl::StatusOr<merkle::NodeId> DecodeNodeKey(absl::string_view key);
// A be64 value (an index, a version or a size) read from `what`.
absl::StatusOr<uint64_t> DecodeU64Value(absl::string_view value, absl::string_view what);
// A 32-byte hash value read from `what`.
absl::Status CheckHashValue(absl::string_view value, absl::string_view what);

// The stream's last stored version (its greatest streams key; 0 when it
// has none), read through `snapshot` if given. DATA_LOSS on a malformed key.
class Db;
absl::StatusOr<uint64_t> LastStreamVersion(const Db& db, absl::string_view stream_id,
                                           const rocksdb::Snapshot* snapshot = nullptr);
// The last version of `stream_id` whose entry index is below `size` (rows
// of a batch still being written may be stored already), 0 if none, found
// with `it`, an iterator over the streams family (reusable across calls).
// DATA_LOSS on a malformed key or value of that stream.
absl::StatusOr<uint64_t> LastStreamVersionBelow(rocksdb::Iterator* it,
                                                absl::string_view stream_id, uint64_t size);

// INVALID_ARGUMENT unless `stream_id` can be stored (non-empty, no 0x00).
absl::Status ValidateStreamId(absl::string_view stream_id);

struct DbOptions {
  std::string dir;                 // the ledger's directory
  bool create_if_missing = true;   // else NOT_FOUND when `dir` holds no store
  rocksdb::Env* env = nullptr;     // tests: fault injection; nullptr = default
  // Opens with RocksDB's OpenForReadOnly: no lock, no writes, no flush on
  // Close (tools that inspect a store; Write then fails). Implies
  // !create_if_missing.
  bool read_only = false;
};

// Owner of the RocksDB handle and its column families.
class Db {
 public:
  // Opens (or creates) the store. NOT_FOUND when absent and not creating;
  // FAILED_PRECONDITION when `dir` holds a RocksDB with other column
  // families; RocksDB errors converted by FromRocks (e.g. the directory is
  // locked by another open Ledger: UNAVAILABLE).
  static absl::StatusOr<std::unique_ptr<Db>> Open(const DbOptions& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  bool read_only() const { return read_only_; }
  // True when this Open created the store (no meta yet).
  bool created() const { return created_; }
  const std::string& dir() const { return dir_; }

  rocksdb::DB* rocks() const { return db_; }
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const { return handles_[static_cast<int>(cf)]; }

  // The value at `key`; NOT_FOUND (message names cf and key) when absent.
  absl::StatusOr<std::string> Get(Cf cf, absl::string_view key,
                                  const rocksdb::Snapshot* snapshot = nullptr) const;
  // Hot-path point read: true and `*value` set when present, false when
  // absent (no message is built), an error status when reading fails.
  absl::StatusOr<bool> Find(Cf cf, absl::string_view key, std::string* value) const;
  // Writes atomically; with `sync` the call returns only once the WAL is
  // fsynced.
  absl::Status Write(rocksdb::WriteBatch* batch, bool sync);
  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf,
                                                 const rocksdb::Snapshot* snapshot = nullptr) const;

  // Closes RocksDB, first flushing the memtables when they hold more than
  // 4 MB (so the next Open replays a short WAL). Idempotent. After Close only the destructor may be called.
  absl::Status Close();

 private:
  Db() = default;
  std::string dir_;
  bool created_ = false;
  bool read_only_ = false;
  rocksdb::DB* db_ = nullptr;
  std::array<rocksdb::ColumnFamilyHandle*, kCfCount> handles_{};
  std::vector<rocksdb::ColumnFamilyHandle*> owned_handles_;  // incl. default
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_SCHEMA_H_
