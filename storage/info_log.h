// RocksDB's informational log ("LOG" in a store's directory), written with
// plain stdio instead of RocksDB's own file writer.
//
// Why: Debian's librocksdb 7.8 is built with assertions, and its default
// logger aborts the whole process (WritableFileWriter:
// "sync_without_flush_called_") on the second write after a failed one, as
// on a full or failing disk. A log line is never worth the process: this
// logger drops lines it cannot write, and the data path (WAL, SSTs) reports
// its own errors as statuses, which the sequencer turns into UNAVAILABLE.

#ifndef TRIALOG_STORAGE_INFO_LOG_H_
#define TRIALOG_STORAGE_INFO_LOG_H_

#include <cstdarg>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/env.h"

namespace trialog::storage {

class InfoLog : public rocksdb::Logger {
 public:
  // Appends to `path` (created if missing); a LOG above `rotate_bytes` is
  // first renamed to `path`.old. Null when the file cannot be opened
  // (RocksDB then logs nowhere).
  static std::shared_ptr<InfoLog> Open(const std::string& path,
                                       rocksdb::InfoLogLevel level = rocksdb::InfoLogLevel::INFO_LEVEL,
                                       long rotate_bytes = 16L << 20);
  ~InfoLog() override;

  using rocksdb::Logger::Logv;
  // One line: UTC time with microseconds, thread id, the message.
  void Logv(const char* format, va_list ap) override;
  void Flush() override;

 private:
  InfoLog(std::FILE* file, rocksdb::InfoLogLevel level);
  rocksdb::Status CloseImpl() override;

  absl::Mutex mu_;
  std::FILE* file_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trialog::storage

#endif  // TRIALOG_STORAGE_INFO_LOG_H_
