// Consistent online backups of one ledger's RocksDB store.
//
// A backup is a RocksDB checkpoint of the live store: immutable SST files
// hard-linked (copied when on another file system), the MANIFEST and the
// live WAL copied, all fsynced by RocksDB, written into a temporary
// directory and renamed into place. Appends go on meanwhile. Because each
// group commit writes its entries and the checkpoint note that covers them
// in one atomic WriteBatch (storage/sequencer.h), the copy holds exactly the
// entries its own stored checkpoint covers: it opens, verifies and serves
// like the original did at that moment.
//
// Thread-safety: BackupStore may run concurrently with appends and reads.

#ifndef TRIALOG_STORAGE_BACKUP_H_
#define TRIALOG_STORAGE_BACKUP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "storage/schema.h"

namespace trialog::storage {

// What a backup holds, read back from the copy itself (not from the live
// store, which has moved on).
struct BackupInfo {
  std::string dir;              // the backup's directory
  std::string checkpoint_note;  // the copy's signed checkpoint note, as stored
  uint64_t entries = 0;         // entries present in the copy
};

// Writes a consistent copy of `db` into `dest_dir`, which must not exist
// (its parent must). Then opens the copy read-only and reports what it
// holds. Errors: ALREADY_EXISTS (dest_dir exists), FAILED_PRECONDITION
// (`db` is read-only), UNAVAILABLE or the RocksDB error (I/O: nothing is
// left at dest_dir), DATA_LOSS (the copy lacks a checkpoint).
absl::StatusOr<BackupInfo> BackupStore(const Db& db, const std::string& dest_dir);

// Reads what the store at `dir` holds (opened read-only, nothing written).
absl::StatusOr<BackupInfo> ReadBackupInfo(const std::string& dir);

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_BACKUP_H_
