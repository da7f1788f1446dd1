#include "storage/schema.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/bytes.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/info_log.h"
#include "storage/rocks_status.h"

namespace trialog::storage {
namespace {

constexpr absl::string_view kCfNames[kCfCount] = {
    "entries", "nodes", "event_ids", "streams", "stream_heads", "meta",
};

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

std::string EncodeBigEndian32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 3; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint32_t DecodeBigEndian32(absl::string_view b) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[i]);
  return v;
}

// "stream_id || 0x00" of a streams key: one memtable insert hint per
// stream, whose versions arrive in order.
class StreamPrefixExtractor final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "trialog.StreamPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* nul = std::memchr(key.data(), '\0', key.size());
    return rocksdb::Slice(key.data(), static_cast<const char*>(nul) - key.data() + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

// Options for every column family: block-based tables with a shared cache;
// Bloom filters (in SSTs and in the memtable) on the families read by point
// lookups of keys that are often absent; memtable insert hints where keys
// arrive in order per prefix (nodes per level, streams per stream), so the
// single writer's inserts stay cheap.
rocksdb::ColumnFamilyOptions CfOptions(Cf cf, const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  if (cf == Cf::kEventIds || cf == Cf::kStreamHeads || cf == Cf::kNodes ||
      cf == Cf::kStreams) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  if (cf == Cf::kEventIds || cf == Cf::kStreams || cf == Cf::kNodes) {
    // New rows land all over these families' key space (random ids; one
    // stream per subject; one key range per tree level), so every level-0
    // file overlaps the whole of level 1 and each level-0 compaction
    // rewrites all of it. With RocksDB's default 256 MB level 1 that was
    // the whole family at 10M entries (streams: 130 MB, 11 s of CPU per
    // compaction, ~50 us of compaction CPU per appended entry in all). A
    // small level 1 of small files keeps each compaction small; the data
    // settles in the levels below, each 10x the one above.
    o.max_bytes_for_level_base = 32 << 20;
    o.target_file_size_base = 8 << 20;
  }
  switch (cf) {
    case Cf::kEntries:
      // Written once in key order, read in ranges: every insert continues
      // from the previous one (one hint for the whole family).
      o.write_buffer_size = 32 << 20;
      o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(0));
      break;
    case Cf::kNodes:
      o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(4));
      break;
    case Cf::kStreams:
      o.memtable_insert_with_hint_prefix_extractor = std::make_shared<StreamPrefixExtractor>();
      break;
    case Cf::kEventIds:
      // Random 16-byte keys, only ever read by point lookups (never
      // iterated): a hashed memtable (buckets by the first 4 bytes) keeps
      // the single writer's inserts cheap; Bloom filters for the lookups of
      // new ids, which are absent.
      o.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(4));
      o.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(1 << 16));
      o.memtable_whole_key_filtering = true;
      o.memtable_prefix_bloom_size_ratio = 0.05;
      break;
    case Cf::kStreamHeads:
      o.memtable_whole_key_filtering = true;
      o.memtable_prefix_bloom_size_ratio = 0.05;
      break;
    default:
      break;
  }
  return o;
}

rocksdb::DBOptions MakeDbOptions(const DbOptions& options, bool creating) {
  rocksdb::DBOptions o;
  o.create_if_missing = creating;
  o.create_missing_column_families = creating;
  o.error_if_exists = false;
  o.paranoid_checks = true;
  // A torn record at the very end of the WAL can only be a write that never
  // finished syncing, so was never acknowledged: drop it. Damage anywhere
  // else refuses the open (Corruption), where RocksDB's default
  // (kPointInTimeRecovery) would silently stop replay there and lose every
  // acknowledged entry after the damage.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  o.IncreaseParallelism(2);
  o.keep_log_file_num = 4;
  // Reopening after a crash replays the WAL into memtables without writing
  // SSTs first (they are flushed later as usual).
  o.avoid_flush_during_recovery = true;
  // Bounds the write-ahead log a crash restart reads. Every batch writes
  // one tiny meta row, so the meta family's memtable never fills and, by
  // RocksDB's default (4 x the sum of all write buffers, ~3 GB here), it
  // kept every log file alive: at 10M entries a SIGKILL restart re-read
  // gigabytes of log. Past this size RocksDB flushes the families that pin
  // the oldest log (mostly the small ones) and deletes it. At 64 MB the
  // SIGKILL restart of a 12M-entry ledger spent 0.8-1.0 s in RocksDB's
  // recovery of that log; at 32 MB, 0.4-0.5 s (docs/PERFORMANCE.md, session 7).
  o.max_total_wal_size = 32 << 20;
  // Insert hints need non-concurrent memtable writes (RocksDB then inserts
  // one write group at a time, whichever thread wrote it: the sequencer's
  // writing thread or the indexer). enable_pipelined_write was measured
  // with the indexer (2026-11-28): no faster (7 of 7 interleaved pairs
  // at batch 64 equal or slower), so it stays off.
  o.allow_concurrent_memtable_write = false;
  if (options.env != nullptr) o.env = options.env;
  if (!options.read_only) {
    // RocksDB's LOG through stdio (storage/info_log.h): a failing disk must
    // not abort the process from inside RocksDB's own logger.
    std::error_code ec;
    std::filesystem::create_directories(options.dir, ec);
    o.info_log = InfoLog::Open((std::filesystem::path(options.dir) / "LOG").string());
  }
  return o;
}

}  // namespace

absl::string_view CfName(Cf cf) { return kCfNames[static_cast<int>(cf)]; }

std::string EntryKey(uint64_t index) { return EncodeBigEndian64(index); }

std::string NodeKey(merkle::NodeId id) {
  return absl::StrCat(EncodeBigEndian32(id.level), EncodeBigEndian64(id.index));
}

std::string StreamPrefix(absl::string_view stream_id) {
  std::string out(stream_id);
  out.push_back('\0');
  return out;
}

std::string StreamKey(absl::string_view stream_id, uint64_t version) {
  return absl::StrCat(StreamPrefix(stream_id), EncodeBigEndian64(version));
}

absl::StatusOr<uint64_t> DecodeEntryKey(absl::string_view key) {
  if (key.size() != 8) {
    return absl::DataLossError(absl::StrCat("entries key of ", key.size(),
                                            " bytes (want 8): ", absl::BytesToHexString(key)));
  }
  return DecodeBigEndian64(key);
}

absl::StatusOr<merkle::NodeId> DecodeNodeKey(absl::string_view key) {
  if (key.size() != 12) {
    return absl::DataLossError(absl::StrCat("nodes key of ", key.size(),
                                            " bytes (want 12): ", absl::BytesToHexString(key)));
  }
  return merkle::NodeId{DecodeBigEndian32(key.substr(0, 4)), DecodeBigEndian64(key.substr(4))};
}

absl::StatusOr<uint64_t> DecodeU64Value(absl::string_view value, absl::string_view what) {
  if (value.size() != 8) {
    return absl::DataLossError(
        absl::StrCat(what, " holds ", value.size(), " bytes, want an 8-byte big-endian integer"));
  }
  return DecodeBigEndian64(value);
}

absl::Status CheckHashValue(absl::string_view value, absl::string_view what) {
  if (value.size() != merkle::kHashSize) {
    return absl::DataLossError(
        absl::StrCat(what, " holds ", value.size(), " bytes, want a 32-byte hash"));
  }
  return absl::OkStatus();
}

absl::Status ValidateStreamId(absl::string_view stream_id) {
  if (stream_id.empty()) return absl::InvalidArgumentError("stream id is empty");
  if (stream_id.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("stream id contains a NUL byte");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const DbOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("ledger directory is empty");
  std::error_code ec;
  const bool exists = std::filesystem::exists(std::filesystem::path(options.dir) / "CURRENT", ec);
  if (!exists && (!options.create_if_missing || options.read_only)) {
    return absl::NotFoundError(
        absl::StrCat("no ledger store in ", options.dir, " (and create_if_missing is false)"));
  }
  const bool creating = !exists;

  rocksdb::DBOptions db_options = MakeDbOptions(options, creating);
  if (exists) {
    std::vector<std::string> names;
    absl::Status s = FromRocks(
        rocksdb::DB::ListColumnFamilies(db_options, options.dir, &names),
        absl::StrCat("listing column families of ", options.dir));
    if (!s.ok()) return s;
    std::set<std::string> want = {std::string(rocksdb::kDefaultColumnFamilyName)};
    for (absl::string_view n : kCfNames) want.insert(std::string(n));
    std::set<std::string> have(names.begin(), names.end());
    if (have != want) {
      return absl::FailedPreconditionError(absl::StrCat(
          options.dir, " holds a RocksDB with column families [", absl::StrJoin(have, ", "),
          "], not a trialog ledger store ([", absl::StrJoin(want, ", "), "])"));
    }
  }

  auto cache = rocksdb::NewLRUCache(32 << 20);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kCfCount; ++i) {
    descriptors.emplace_back(std::string(kCfNames[i]), CfOptions(static_cast<Cf>(i), cache));
  }
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());

  std::unique_ptr<Db> db(new Db());
  db->dir_ = options.dir;
  db->created_ = creating;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  db->read_only_ = options.read_only;
  absl::Status s =
      options.read_only
          ? FromRocks(rocksdb::DB::OpenForReadOnly(db_options, options.dir, descriptors, &handles,
                                                   &raw),
                      absl::StrCat("opening ledger store ", options.dir, " read-only"))
          : FromRocks(rocksdb::DB::Open(db_options, options.dir, descriptors, &handles, &raw),
                      absl::StrCat("opening ledger store ", options.dir));
  if (absl::IsDataLoss(s)) {
    // Damage RocksDB found while opening (a write-ahead-log record in the
    // middle of a log, a table file, the manifest): nothing is replayed
    // past it and nothing is served; say what the operator can do.
    return absl::DataLossError(absl::StrCat(
        s.message(), " (a write-ahead log, table or manifest file of this store is damaged; "
        "RocksDB's LOG file in the directory names it; nothing was opened: restore the trial "
        "from a backup with `trialog restore`, see docs/RELIABILITY.md)"));
  }
  if (!s.ok()) return s;
  db->db_ = raw;
  db->owned_handles_ = handles;
  for (int i = 0; i < kCfCount; ++i) db->handles_[i] = handles[i];
  return db;
}

Db::~Db() { Close().IgnoreError(); }

absl::Status Db::Close() {
  if (db_ == nullptr) return absl::OkStatus();
  absl::Status result;
  // A clean close flushes big memtables so the next Open need not replay a
  // long WAL (small ones are cheaper to replay than to flush). Summed over
  // every column family: the default family, which a plain GetIntProperty
  // would ask, holds nothing.
  uint64_t memtable_bytes = 0;
  if (!read_only_ &&
      db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables,
                                    &memtable_bytes) &&
      memtable_bytes > (4u << 20)) {
    std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
    result = FromRocks(db_->Flush(rocksdb::FlushOptions(), all), "flushing memtables on close");
  }
  for (rocksdb::ColumnFamilyHandle* h : owned_handles_) {
    absl::Status s = FromRocks(db_->DestroyColumnFamilyHandle(h), "releasing a column family");
    if (result.ok()) result = s;
  }
  owned_handles_.clear();
  handles_.fill(nullptr);
  absl::Status s = FromRocks(db_->Close(), absl::StrCat("closing ledger store ", dir_));
  if (result.ok()) result = s;
  delete db_;
  db_ = nullptr;
  return result;
}

absl::StatusOr<std::string> Db::Get(Cf cf, absl::string_view key,
                                    const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  rocksdb::Status s = db_->Get(ro, handle(cf), ToSlice(key), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(
        absl::StrCat(CfName(cf), " has no key ", absl::BytesToHexString(key)));
  }
  absl::Status st = FromRocks(s, absl::StrCat("reading ", CfName(cf)));
  if (!st.ok()) return st;
  return value;
}

absl::StatusOr<bool> Db::Find(Cf cf, absl::string_view key, std::string* value) const {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle(cf), ToSlice(key), value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, absl::StrCat("reading ", CfName(cf)));
  return true;
}

absl::Status Db::Write(rocksdb::WriteBatch* batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(db_->Write(wo, batch), absl::StrCat("writing to ledger store ", dir_));
}

absl::StatusOr<uint64_t> LastStreamVersion(const Db& db, absl::string_view stream_id,
                                           const rocksdb::Snapshot* snapshot) {
  std::unique_ptr<rocksdb::Iterator> it = db.NewIterator(Cf::kStreams, snapshot);
  return LastStreamVersionBelow(it.get(), stream_id, ~uint64_t{0});
}

absl::StatusOr<uint64_t> LastStreamVersionBelow(rocksdb::Iterator* it,
                                                absl::string_view stream_id, uint64_t size) {
  const std::string prefix = StreamPrefix(stream_id);
  for (it->SeekForPrev(ToSlice(StreamKey(stream_id, ~uint64_t{0}))); it->Valid(); it->Prev()) {
    const absl::string_view k(it->key().data(), it->key().size());
    if (k.substr(0, prefix.size()) != prefix) return 0;
    if (k.size() != prefix.size() + 8) {
      return absl::DataLossError(absl::StrCat("streams key ", absl::BytesToHexString(k),
                                              " of stream ", stream_id,
                                              " is not stream || 0x00 || be64"));
    }
    absl::StatusOr<uint64_t> index = DecodeU64Value(
        absl::string_view(it->value().data(), it->value().size()), "a streams row");
    if (!index.ok()) return index.status();
    if (*index < size) return DecodeBigEndian64(k.substr(prefix.size()));
  }
  absl::Status s = FromRocks(it->status(), "scanning streams");
  if (!s.ok()) return s;
  return 0;
}

std::unique_ptr<rocksdb::Iterator> Db::NewIterator(Cf cf, const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(ro, handle(cf)));
}

}  // namespace trialog::storage
