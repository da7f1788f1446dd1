#include "storage/info_log.h"

#include <pthread.h>
#include <sys/stat.h>

#include <cstdio>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace trialog::storage {

std::shared_ptr<InfoLog> InfoLog::Open(const std::string& path, rocksdb::InfoLogLevel level,
                                       long rotate_bytes) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && st.st_size > rotate_bytes) {
    std::rename(path.c_str(), (path + ".old").c_str());
  }
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (file == nullptr) return nullptr;
  return std::shared_ptr<InfoLog>(new InfoLog(file, level));
}

InfoLog::InfoLog(std::FILE* file, rocksdb::InfoLogLevel level)
    : rocksdb::Logger(level), file_(file) {}

InfoLog::~InfoLog() {
  if (!closed_) {
    closed_ = true;
    CloseImpl().PermitUncheckedError();
  }
}

void InfoLog::Logv(const char* format, va_list ap) {
  char message[4096];
  const int n = std::vsnprintf(message, sizeof message, format, ap);
  if (n < 0) return;
  const std::string when =
      absl::FormatTime("%Y/%m/%d-%H:%M:%E6S", absl::Now(), absl::UTCTimeZone());
  absl::MutexLock lock(&mu_);
  if (file_ == nullptr) return;
  // Errors are ignored on purpose (see the header): a full disk loses lines.
  std::fprintf(file_, "%s %lx %s\n", when.c_str(), static_cast<unsigned long>(pthread_self()),
               message);
}

void InfoLog::Flush() {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) std::fflush(file_);
}

rocksdb::Status InfoLog::CloseImpl() {
  absl::MutexLock lock(&mu_);
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
  return rocksdb::Status::OK();
}

}  // namespace trialog::storage
