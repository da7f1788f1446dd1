#include "storage/backup.h"

#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "rocksdb/iterator.h"
#include "rocksdb/utilities/checkpoint.h"
#include "storage/rocks_status.h"

namespace trialog::storage {

absl::StatusOr<BackupInfo> BackupStore(const Db& db, const std::string& dest_dir) {
  if (db.read_only()) {
    return absl::FailedPreconditionError(
        absl::StrCat(db.dir(), ": a read-only store cannot be backed up (it may lag the live one)"));
  }
  std::error_code ec;
  if (std::filesystem::exists(dest_dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("backup destination ", dest_dir, " already exists"));
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db.rocks(), &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat(db.dir(), ": preparing a backup"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush = 0: flush the memtables first, so the copy needs
  // little WAL; RocksDB writes into dest_dir + ".tmp" and renames.
  s = checkpoint->CreateCheckpoint(dest_dir, /*log_size_for_flush=*/0);
  if (!s.ok()) {
    std::filesystem::remove_all(dest_dir, ec);
    std::filesystem::remove_all(dest_dir + ".tmp", ec);
    return FromRocks(s, absl::StrCat(db.dir(), ": writing the backup to ", dest_dir));
  }
  return ReadBackupInfo(dest_dir);
}

absl::StatusOr<BackupInfo> ReadBackupInfo(const std::string& dir) {
  DbOptions options;
  options.dir = dir;
  options.read_only = true;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<Db>> copy = Db::Open(options);
  if (!copy.ok()) return copy.status();
  BackupInfo info;
  info.dir = dir;
  absl::StatusOr<std::string> note = (*copy)->Get(Cf::kMeta, kMetaCheckpoint);
  if (!note.ok()) {
    return absl::DataLossError(
        absl::StrCat(dir, ": holds no signed checkpoint (", note.status().message(), ")"));
  }
  info.checkpoint_note = *std::move(note);
  std::unique_ptr<rocksdb::Iterator> it = (*copy)->NewIterator(Cf::kEntries);
  it->SeekToLast();
  if (!it->status().ok()) return FromRocks(it->status(), absl::StrCat(dir, ": reading entries"));
  if (it->Valid()) {
    absl::StatusOr<uint64_t> last =
        DecodeEntryKey(absl::string_view(it->key().data(), it->key().size()));
    if (!last.ok()) return last.status();
    info.entries = *last + 1;
  }
  return info;
}

}  // namespace trialog::storage
