#include "tools/witness/checkpoint_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/crypto/crypto.h"
#include "core/util/bytes.h"
#include "core/util/status_macros.h"

namespace trialog::witness {
namespace {

absl::Status ErrnoError(int err, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

// Closes a file descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

absl::Status MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ErrnoError(errno, "cannot stat", path);
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(path, " exists and is not a directory"));
    }
    return absl::OkStatus();
  }
  return ErrnoError(errno, "cannot create directory", path);
}

absl::Status FsyncDir(const std::string& path) {
  Fd dir{open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (dir.fd < 0) return ErrnoError(errno, "cannot open directory", path);
  if (fsync(dir.fd) != 0) return ErrnoError(errno, "cannot fsync directory", path);
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Writes `data` to `dir`/`name` atomically and durably: a temporary file
// beside it is written, fsynced and renamed over the old one, then the
// directory is fsynced so that the rename survives a crash.
absl::Status ReplaceFileDurably(const std::string& dir, const std::string& name,
                                absl::string_view data) {
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    Fd out{open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
    if (out.fd < 0) return ErrnoError(errno, "cannot create", tmp);
    TRIALOG_RETURN_IF_ERROR(WriteAll(out.fd, data, tmp));
    if (fsync(out.fd) != 0) return ErrnoError(errno, "cannot fsync", tmp);
    const int fd = out.fd;
    out.fd = -1;
    if (close(fd) != 0) return ErrnoError(errno, "cannot close", tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoError(err, "cannot rename into place", path);
  }
  return FsyncDir(dir);
}

std::string OriginKey(absl::string_view origin) { return HexEncode(crypto::Sha256(origin)); }

}  // namespace

absl::StatusOr<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("witness directory is empty");
  TRIALOG_RETURN_IF_ERROR(MakeDir(dir));
  TRIALOG_RETURN_IF_ERROR(MakeDir(absl::StrCat(dir, "/logs")));
  TRIALOG_RETURN_IF_ERROR(MakeDir(absl::StrCat(dir, "/evidence")));
  const std::string lock_path = absl::StrCat(dir, "/LOCK");
  const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError(errno, "cannot open", lock_path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "witness directory ", dir, " is in use by another witness (", lock_path, " is locked)"));
    }
    return ErrnoError(err, "cannot lock", lock_path);
  }
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(dir, fd));
}

CheckpointStore::~CheckpointStore() {
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

std::string CheckpointStore::NotePath(absl::string_view origin) const {
  return absl::StrCat(dir_, "/logs/", OriginKey(origin), ".checkpoint");
}

absl::StatusOr<std::optional<std::string>> CheckpointStore::Load(absl::string_view origin) const {
  const std::string path = NotePath(origin);
  Fd in{open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (in.fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return ErrnoError(errno, "cannot open", path);
  }
  std::string data;
  char buf[8192];
  while (true) {
    const ssize_t n = read(in.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot read", path);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxNoteBytes) {
      return absl::DataLossError(
          absl::StrCat(path, " is larger than ", kMaxNoteBytes, " bytes: not a checkpoint"));
    }
  }
  return data;
}

absl::Status CheckpointStore::Store(absl::string_view origin, absl::string_view note) {
  return ReplaceFileDurably(absl::StrCat(dir_, "/logs"), OriginKey(origin) + ".checkpoint", note);
}

absl::Status CheckpointStore::RecordEvidence(absl::string_view origin,
                                             absl::string_view request_body) {
  const std::string dir = absl::StrCat(dir_, "/evidence/", OriginKey(origin));
  TRIALOG_RETURN_IF_ERROR(MakeDir(dir));
  return ReplaceFileDurably(dir, HexEncode(crypto::Sha256(request_body)) + ".request",
                            request_body);
}

}  // namespace trialog::witness
