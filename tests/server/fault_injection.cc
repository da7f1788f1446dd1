// An LD_PRELOAD library that makes storage calls fail, so tests can watch
// the real trialogd (and the real RocksDB inside it) meet I/O errors.
//
// Configured by environment variables, read on every call:
//   TRIALOG_FAULT_DIR    only files whose path starts with this prefix fail
//   TRIALOG_FAULT_ARMED  a path: faults are injected while this file exists,
//                        so a test arms and disarms them without signals
//   TRIALOG_FAULT_OPS    "write" (write/pwrite/writev fail, nothing reaches
//                        the file), "sync" (fsync/fdatasync/sync_file_range
//                        fail after the data reached the page cache), or
//                        "all"; default "all"
// A failing call returns -1 with errno = EIO (as a dying disk does).
// RocksDB's info log file (LOG) never fails: see ShouldFail.
// Without TRIALOG_FAULT_DIR and TRIALOG_FAULT_ARMED set, every call passes
// straight through.

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

enum class Op { kWrite, kSync };

template <typename Fn>
Fn Next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

// True when the call on `fd` of kind `op` must fail.
bool ShouldFail(int fd, Op op) {
  const char* dir = getenv("TRIALOG_FAULT_DIR");
  const char* armed = getenv("TRIALOG_FAULT_ARMED");
  if (dir == nullptr || armed == nullptr || *dir == '\0') return false;
  if (access(armed, F_OK) != 0) return false;
  const char* ops = getenv("TRIALOG_FAULT_OPS");
  if (ops != nullptr && strcmp(ops, "all") != 0) {
    if (op == Op::kWrite && strcmp(ops, "write") != 0) return false;
    if (op == Op::kSync && strcmp(ops, "sync") != 0) return false;
  }
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[PATH_MAX];
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  bool fail = strncmp(path, dir, strlen(dir)) == 0;
  // RocksDB's own info log ("LOG", "LOG.old.*") is spared: Debian's
  // librocksdb keeps its assertions, and its logger asserts (aborting the
  // process) when written again after a failed write. The data files (WAL,
  // SST, MANIFEST, CURRENT, OPTIONS) are what the tests are about.
  const char* base = strrchr(path, '/');
  if (fail && base != nullptr && strncmp(base + 1, "LOG", 3) == 0) fail = false;
  if (fail && getenv("TRIALOG_FAULT_DEBUG") != nullptr) {
    char line[PATH_MAX + 64];
    const int len = snprintf(line, sizeof line, "fault_injection: EIO for %s on %s\n",
                             op == Op::kWrite ? "write" : "sync", path);
    static auto raw_write = Next<ssize_t (*)(int, const void*, size_t)>("write");
    if (len > 0) (void)!raw_write(2, line, static_cast<size_t>(len));
  }
  return fail;
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  static auto next = Next<ssize_t (*)(int, const void*, size_t)>("write");
  if (ShouldFail(fd, Op::kWrite)) {
    errno = EIO;
    return -1;
  }
  return next(fd, buf, count);
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  static auto next = Next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (ShouldFail(fd, Op::kWrite)) {
    errno = EIO;
    return -1;
  }
  return next(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  static auto next = Next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  if (ShouldFail(fd, Op::kWrite)) {
    errno = EIO;
    return -1;
  }
  return next(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  static auto next = Next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  if (ShouldFail(fd, Op::kWrite)) {
    errno = EIO;
    return -1;
  }
  return next(fd, iov, iovcnt);
}

int fsync(int fd) {
  static auto next = Next<int (*)(int)>("fsync");
  if (ShouldFail(fd, Op::kSync)) {
    errno = EIO;
    return -1;
  }
  return next(fd);
}

int fdatasync(int fd) {
  static auto next = Next<int (*)(int)>("fdatasync");
  if (ShouldFail(fd, Op::kSync)) {
    errno = EIO;
    return -1;
  }
  return next(fd);
}

int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags) {
  static auto next = Next<int (*)(int, off64_t, off64_t, unsigned int)>("sync_file_range");
  if (ShouldFail(fd, Op::kSync)) {
    errno = EIO;
    return -1;
  }
  return next(fd, offset, nbytes, flags);
}

}  // extern "C"
