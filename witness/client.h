// A tlog-witness v1.0.0 client (libcurl): submits a checkpoint with its
// consistency proof to one witness and returns the witness's cosignature
// lines. Used by the tests, and meant for the ledger server's submitter.
//
// Thread-safety: a WitnessClient is thread-safe (calls are serialised on
// one keep-alive connection); use one client per witness and thread for
// parallelism.

#ifndef TRIALOG_WITNESS_CLIENT_H_
#define TRIALOG_WITNESS_CLIENT_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "witness/protocol.h"

namespace trialog::witness {

class WitnessClient {
 public:
  // `submission_prefix` is the witness's URL prefix, e.g.
  // "http://witness.example:7380" (add-checkpoint is appended).
  // INVALID_ARGUMENT unless it starts with http:// or https://;
  // INTERNAL if libcurl cannot start.
  static absl::StatusOr<std::unique_ptr<WitnessClient>> Create(std::string submission_prefix,
                                                               absl::Duration timeout = absl::Seconds(10));
  ~WitnessClient();

  WitnessClient(const WitnessClient&) = delete;
  WitnessClient& operator=(const WitnessClient&) = delete;

  // POSTs the request. On 200 returns the cosignature lines (each ending in
  // "\n"; not verified here: the caller checks them against the witness's
  // key, e.g. note::VerifyCosignatures). Otherwise the status from
  // StatusFromHttp (409: ABORTED with ConflictSize set to the witness's
  // size), or UNAVAILABLE when the witness cannot be reached or times out
  // (connecting: at most 3 s), CANCELLED after Cancel(), or
  // INVALID_ARGUMENT for a 200 body that is not signature lines.
  absl::StatusOr<std::vector<std::string>> AddCheckpoint(const AddCheckpointRequest& request);

  // As above with a ready-made body (for tests of malformed requests).
  // Returns the HTTP status and body without interpreting them.
  struct RawReply {
    long status = 0;
    std::string content_type;
    std::string body;
  };
  absl::StatusOr<RawReply> PostRaw(const std::string& path, const std::string& body);

  const std::string& url() const { return prefix_; }

  // Aborts the request in flight (if any) and every later one with
  // CANCELLED. Thread-safe; for shutting down without waiting for timeouts.
  void Cancel() { cancelled_.store(true); }

 private:
  WitnessClient(std::string prefix, absl::Duration timeout, void* curl)
      : prefix_(std::move(prefix)), timeout_(timeout), curl_(curl) {}

  const std::string prefix_;
  const absl::Duration timeout_;
  std::atomic<bool> cancelled_{false};
  absl::Mutex mu_;
  void* curl_ ABSL_GUARDED_BY(mu_);  // CURL*
};

}  // namespace trialog::witness

#endif  // TRIALOG_WITNESS_CLIENT_H_
