// Durable witness state: the latest cosigned checkpoint of every log, one
// fsynced file per origin in the witness's directory.
//
// Layout of the directory (created if missing, mode 0700):
//   LOCK                         flock(2)ed exclusively while a store is open,
//                                so two witnesses never share a directory
//   logs/<H>.checkpoint          the latest cosigned checkpoint of the log
//                                whose origin hashes to H: a signed note (the
//                                log's signature(s) and the witness's
//                                cosignature), readable with `cat`
//   evidence/<H>/<D>.request     add-checkpoint request bodies the witness
//                                refused although the log's signature on them
//                                verified (possible proof of a fork), kept
//                                verbatim so anyone can re-verify them
// H = lower-case hex SHA-256 of the origin line; D = lower-case hex SHA-256
// of the request body (a replayed request overwrites its own file).
//
// Why files and not RocksDB: the state is one small record per log, written
// at most once per checkpoint; a file per log written to a temporary name,
// fsynced, renamed over the old one and made durable with an fsync of the
// directory is atomic and durable on POSIX file systems, needs no library,
// and leaves the regulator a plain signed note it can inspect, copy and
// verify with any C2SP tool. The note is self-authenticating: the witness
// re-verifies the log's signature on every file when it starts.
//
// Thread-safety: Store/Load/RecordEvidence may be called concurrently for
// different origins; callers serialise calls for the same origin.

#ifndef TRIALOG_TOOLS_WITNESS_CHECKPOINT_STORE_H_
#define TRIALOG_TOOLS_WITNESS_CHECKPOINT_STORE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trialog::witness {

class CheckpointStore {
 public:
  // Opens (creating if needed) the store in `dir` and locks it.
  // FAILED_PRECONDITION if another open store (in any process) holds the
  // lock; other errors carry the errno of the failing file operation.
  static absl::StatusOr<std::unique_ptr<CheckpointStore>> Open(const std::string& dir);
  ~CheckpointStore();  // releases the lock

  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;

  // The stored note for `origin`, or nullopt if there is none. Errors: the
  // errno of a failing read; DATA_LOSS if the file is larger than
  // kMaxNoteBytes.
  absl::StatusOr<std::optional<std::string>> Load(absl::string_view origin) const;

  // Atomically replaces the note for `origin` and makes it durable before
  // returning (write temp, fsync, rename, fsync directory).
  absl::Status Store(absl::string_view origin, absl::string_view note);

  // Keeps a refused request body as evidence (durably, best effort about the
  // directory entry). Errors: errno of the failing operation.
  absl::Status RecordEvidence(absl::string_view origin, absl::string_view request_body);

  // The path of the note file for `origin` (whether or not it exists).
  std::string NotePath(absl::string_view origin) const;
  const std::string& dir() const { return dir_; }

  // Stored notes above this size are refused as damaged.
  static constexpr size_t kMaxNoteBytes = 1 << 20;

 private:
  CheckpointStore(std::string dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}

  std::string dir_;
  int lock_fd_;
};

}  // namespace trialog::witness

#endif  // TRIALOG_TOOLS_WITNESS_CHECKPOINT_STORE_H_
