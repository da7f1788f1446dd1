// trialogd's access log (--access_log): an append-only JSON Lines file with
// one line per refused call and one per granted read of subject data
// (ICH E6(R3) 4.2.2(a)(i) "user access"). The line format is in
// docs/SECURITY.md. Never holds secrets or envelope payloads.
//
// Durability: each line is written with one write(2) on an O_APPEND file
// before the call is answered (it survives a crash of trialogd); a
// background thread fdatasyncs the file at most 1 s after a write (it
// survives power loss after that second), and the destructor syncs.
//
// Thread-safety: Write may be called concurrently.

#ifndef TRIALOG_SERVER_ACCESS_LOG_H_
#define TRIALOG_SERVER_ACCESS_LOG_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace trialog::server {

struct AccessRecord {
  absl::Time time;                    // server clock; written as UTC RFC 3339 with microseconds
  std::string kind;                   // "refused" or "subject_read"
  std::string peer;                   // gRPC peer, e.g. "ipv4:127.0.0.1:50312"
  std::string auth;                   // "mtls" (certificate identity) or "none"
  std::string principal;              // certificate principal; "" without caller authentication
  std::string role;                   // e.g. "ROLE_MONITOR"; "" when unknown
  std::string method;                 // full gRPC method name
  std::string trial;                  // trial id of the request; "" when none
  std::vector<std::string> subjects;  // subject ids concerned; "*" = every subject of the trial
  std::string event;                  // appends: the event refused, e.g. "DosePrescribed"
  std::string signer;                 // appends: the principal the envelope claims as signer
  std::string code;                   // status code name: "PERMISSION_DENIED", "OK", ...
  std::string reason;                 // why refused ("" when granted)
};

class AccessLog {
 public:
  // Opens (creating if missing, mode 0640) `path` for appending; lines
  // already there are kept. NOT_FOUND / PERMISSION_DENIED / INTERNAL with
  // the path and errno text when it cannot be opened.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(const std::string& path);
  ~AccessLog();  // syncs and closes

  // Appends one line. UNAVAILABLE (naming the path) when the write fails;
  // the caller decides what that means (trialogd refuses the read).
  absl::Status Write(const AccessRecord& record);

  // The JSON object of one line, without the newline.
  static std::string ToJson(const AccessRecord& record);

  const std::string& path() const { return path_; }

 private:
  AccessLog(std::string path, int fd);
  void SyncLoop();

  const std::string path_;
  const int fd_;
  absl::Mutex mu_;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread syncer_;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_ACCESS_LOG_H_
