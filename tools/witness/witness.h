// A tlog-witness v1.0.0 witness (https://c2sp.org/tlog-witness@v1.0.0): it
// cosigns a log's checkpoint (tlog-cosignature v1, core/note/cosignature.h)
// only after checking that it extends the latest checkpoint it cosigned for
// that log, which it keeps durably (checkpoint_store.h).
//
// For each add-checkpoint request, in this order (codes: protocol.h):
//   1. parse the body                                 else INVALID_ARGUMENT (400)
//   2. the origin (first note line) is configured     else NOT_FOUND (404)
//   3. a signature by a key configured for the origin
//      verifies, and the checkpoint text parses       else UNAUTHENTICATED (403) /
//                                                          INVALID_ARGUMENT (400)
//   4. old size <= checkpoint size; no proof lines
//      when old size is 0                             else INVALID_ARGUMENT (400)
//   -- under the log's lock, so that check and update are atomic --
//   5. old size == size of the latest cosigned
//      checkpoint (0 if none)                         else ABORTED (409, with that size)
//   6. same size: same root hash                      else ABORTED (409)
//      larger:    the RFC 6962 consistency proof from
//                 the stored root verifies            else FAILED_PRECONDITION (422)
//   7. cosign, persist the new checkpoint (fsync), answer the cosignature line.
// Refusals at steps 6 (a validly signed checkpoint that does not extend the
// stored one: evidence of a fork or a rollback) are recorded in the store's
// evidence directory and reported through the log callback.
//
// A log seen for the first time is accepted with old size 0 and no proof
// (trust on first use, as the spec says); core/merkle's VerifyConsistency
// refuses proofs from size 0 by policy, so that case never reaches it.
//
// Thread-safety: AddCheckpoint and HandleAddCheckpoint are thread-safe;
// requests for different logs run in parallel, requests for one log are
// serialised from step 5 to the end.

#ifndef TRIALOG_TOOLS_WITNESS_WITNESS_H_
#define TRIALOG_TOOLS_WITNESS_WITNESS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/crypto/crypto.h"
#include "core/note/keys.h"
#include "tools/witness/checkpoint_store.h"
#include "witness/protocol.h"

namespace trialog::witness {

// A log the witness cosigns: its origin line and the keys it trusts for it
// (a checkpoint needs a valid signature by at least one of them).
struct LogConfig {
  std::string origin;
  std::vector<note::Verifier> keys;
};

struct WitnessOptions {
  // The witness's directory (CheckpointStore).
  std::string dir;
  // The witness's cosigner name (the key name of its cosignature lines, a
  // schema-less URL such as "witness.regulator.example/w1").
  std::string name;
  // The logs it witnesses. Origins must be distinct.
  std::vector<LogConfig> logs;
  // Current POSIX time in seconds, for cosignature timestamps. Default: the
  // system clock.
  std::function<uint64_t()> clock;
  // Receives one line (without "\n") per noteworthy event: refusals that may
  // be evidence of a fork, store failures. Default: discard. Must be
  // thread-safe.
  std::function<void(absl::string_view)> log;
};

// An HTTP answer: status code, Content-Type and body.
struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class Witness {
 public:
  // Opens the store in options.dir, loads and re-verifies the stored
  // checkpoint of every configured log, and keeps `key` for cosigning.
  // INVALID_ARGUMENT: bad name (key-name rules), no logs, an empty or
  // duplicate origin, a log without keys, or an invalid key.
  // FAILED_PRECONDITION: the directory is in use by another witness.
  // DATA_LOSS: a stored checkpoint is damaged, does not verify under the
  // log's configured keys, or names another origin (the witness will not
  // start rather than forget what it cosigned).
  static absl::StatusOr<std::unique_ptr<Witness>> Open(WitnessOptions options,
                                                       const crypto::SigningKey& key);

  // Processes one add-checkpoint request (steps 2-7 above). Returns the
  // cosignature line (one "— ..." line ending in "\n") or the error whose
  // code protocol.h maps to the HTTP status. `raw_body`, when non-empty, is
  // the request body as received, kept as evidence on a fork-like refusal.
  absl::StatusOr<std::string> AddCheckpoint(const AddCheckpointRequest& request,
                                            absl::string_view raw_body = {});

  // Parses `body` (step 1), runs AddCheckpoint and builds the HTTP answer:
  // 200 with the cosignature line; 409 with FormatSizeBody(stored size) and
  // Content-Type text/x.tlog.size; other errors with their message.
  HttpReply HandleAddCheckpoint(absl::string_view body);

  const std::string& name() const { return name_; }
  // The witness's cosigner verifier key, "name+hex8(id)+base64(0x04||pub)".
  std::string cosigner_key() const;
  // The configured origins, sorted.
  std::vector<std::string> origins() const;

 private:
  struct LogState {
    LogConfig config;
    absl::Mutex mu;
    uint64_t size ABSL_GUARDED_BY(mu) = 0;    // 0 if never cosigned
    std::string root ABSL_GUARDED_BY(mu);     // 32 bytes; empty if never cosigned
    std::string text ABSL_GUARDED_BY(mu);     // checkpoint text; empty if never cosigned
  };

  Witness(WitnessOptions options, const crypto::SigningKey& key,
          std::unique_ptr<CheckpointStore> store);
  absl::Status LoadState(LogState* log);
  void Log(absl::string_view line) const;

  const std::string name_;
  const crypto::SigningKey key_;
  const std::function<uint64_t()> clock_;
  const std::function<void(absl::string_view)> log_;
  std::unique_ptr<CheckpointStore> store_;
  // Fixed after Open: origin -> state.
  std::map<std::string, std::unique_ptr<LogState>, std::less<>> logs_;
};

}  // namespace trialog::witness

#endif  // TRIALOG_TOOLS_WITNESS_WITNESS_H_
