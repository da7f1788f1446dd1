// The one place where rocksdb::Status becomes absl::Status.
//
// Mapping (code → code): NotFound → NOT_FOUND; Corruption → DATA_LOSS;
// NotSupported → UNIMPLEMENTED; InvalidArgument → INVALID_ARGUMENT;
// IOError → UNAVAILABLE (RESOURCE_EXHAUSTED when the disk is full);
// TimedOut → DEADLINE_EXCEEDED; Aborted → ABORTED;
// Busy, TryAgain, Expired, ShutdownInProgress, Incomplete → UNAVAILABLE;
// CompactionTooLarge → RESOURCE_EXHAUSTED; ColumnFamilyDropped →
// FAILED_PRECONDITION; anything else → INTERNAL.
//
// Thread-safety: pure function.

#ifndef TRIALOG_STORAGE_ROCKS_STATUS_H_
#define TRIALOG_STORAGE_ROCKS_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace trialog::storage {

// `s` as an absl::Status whose message is "<context>: <RocksDB's text>".
// OK stays OK (the context is dropped).
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context);

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_ROCKS_STATUS_H_
