#include "server/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/util/thread_name.h"
#include "nlohmann/json.hpp"

namespace trialog::server {

AccessLog::AccessLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {
  syncer_ = std::thread([this] {
    NameThisThread("tl-accesslog");
    SyncLoop();
  });
}

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("access_log path is empty");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int err = errno;
    const std::string msg = absl::StrCat("cannot open access log ", path, ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
    return absl::InternalError(msg);
  }
  return std::unique_ptr<AccessLog>(new AccessLog(path, fd));
}

AccessLog::~AccessLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  syncer_.join();
  ::fdatasync(fd_);
  ::close(fd_);
}

void AccessLog::SyncLoop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Seconds(1));
    if (dirty_) {
      dirty_ = false;
      mu_.Unlock();
      ::fdatasync(fd_);
      mu_.Lock();
    }
  }
}

std::string AccessLog::ToJson(const AccessRecord& r) {
  nlohmann::ordered_json j;
  j["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", r.time, absl::UTCTimeZone());
  j["kind"] = r.kind;
  j["peer"] = r.peer;
  j["auth"] = r.auth;
  j["principal"] = r.principal;
  j["role"] = r.role;
  j["method"] = r.method;
  j["trial"] = r.trial;
  j["subjects"] = r.subjects;
  if (!r.event.empty()) j["event"] = r.event;
  if (!r.signer.empty()) j["signer"] = r.signer;
  j["code"] = r.code;
  j["reason"] = r.reason;
  // Invalid UTF-8 (ids come from requests) is replaced, never thrown on.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

absl::Status AccessLog::Write(const AccessRecord& record) {
  const std::string line = ToJson(record) + "\n";
  absl::MutexLock lock(&mu_);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot write access log ", path_, ": ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  dirty_ = true;
  return absl::OkStatus();
}

}  // namespace trialog::server
