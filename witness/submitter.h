// The log side of tlog-witness v1.0.0: submits a ledger's checkpoints to
// its witnesses in the background and keeps the newest checkpoint that
// enough of them cosigned.
//
// Offer() only records the newest signed checkpoint and returns: appends
// never wait on witnesses. Submission runs in *rounds*: a round's target is
// one checkpoint, sent to every witness by that witness's own thread (so
// that witnesses cosign the same checkpoint and a quorum can form while the
// ledger keeps growing, and a slow witness delays nobody). A new round, on
// the newest offered checkpoint, starts at least `min_interval` after the
// previous one, once the previous round has its quorum or every witness has
// answered it. A witness still busy with an older round joins the newest
// round when it is done. Each witness is sent its own last cosigned size and
// the consistency proof from it (the `prove` callback); a witness this
// process has not talked to yet is first asked with old size 0 and answers
// 409 with its size, which is then used. A witness that fails is retried
// with exponential backoff.
//
// A witness that answers 409 a second time with the size just sent, or
// 422, holds a checkpoint this ledger's history does not extend: the
// submitter reports it through `log` as a possible fork (retrying cannot
// fix it) and keeps trying with later checkpoints.
//
// Thread-safety: all public methods are thread-safe.

#ifndef TRIALOG_WITNESS_SUBMITTER_H_
#define TRIALOG_WITNESS_SUBMITTER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/note/cosignature.h"
#include "core/note/keys.h"
#include "witness/client.h"

namespace trialog::witness {

// One witness: where to reach it and the key its cosignatures must verify
// under.
struct WitnessEndpoint {
  std::string url;     // submission prefix, e.g. "http://witness.example:7380"
  note::Cosigner key;  // name, key id, 32-byte public key
};

// Parses "COSIGNER_VKEY@URL" (e.g.
// "w1.example+1a2b3c4d+BA...@http://w1.example:7380"): the form trialogd's
// configuration and flags use. INVALID_ARGUMENT saying what is wrong.
absl::StatusOr<WitnessEndpoint> ParseWitnessEndpoint(absl::string_view spec);

struct SubmitterOptions {
  // The ledger's checkpoint key: offered notes must verify under it.
  note::Verifier ledger_key;
  std::vector<WitnessEndpoint> witnesses;
  // Cosignatures needed (1 <= quorum <= witnesses.size()).
  size_t quorum = 1;
  // The RFC 6962 consistency proof from old_size to new_size of this
  // ledger (0 < old_size < new_size), 32-byte hashes. Called from the
  // submitter's threads.
  std::function<absl::StatusOr<std::vector<std::string>>(uint64_t old_size, uint64_t new_size)>
      prove;
  absl::Duration request_timeout = absl::Seconds(10);
  // Least time between the starts of two rounds.
  absl::Duration min_interval = absl::Milliseconds(200);
  // Backoff after a failed round: doubles from `retry_min` up to `retry_max`.
  absl::Duration retry_min = absl::Milliseconds(500);
  absl::Duration retry_max = absl::Seconds(30);
  // One line per noteworthy event (witness errors, fork alarms). Thread-safe.
  std::function<void(absl::string_view)> log;
  // Called each time a newer checkpoint reaches the quorum, with the
  // cosigned note. Runs on a submitter thread, possibly on two at once, and
  // may see an older size after a newer one: keep the largest. Must not
  // call back into the submitter's destructor.
  std::function<void(const std::string& cosigned_note, uint64_t size)> on_cosigned;
};

class CheckpointSubmitter {
 public:
  // Validates the options and starts the round thread. INVALID_ARGUMENT for
  // no witnesses, a quorum out of range, a witness listed twice, a bad URL
  // or no `prove`.
  static absl::StatusOr<std::unique_ptr<CheckpointSubmitter>> Start(SubmitterOptions options);
  // Cancels requests in flight and stops.
  ~CheckpointSubmitter();

  CheckpointSubmitter(const CheckpointSubmitter&) = delete;
  CheckpointSubmitter& operator=(const CheckpointSubmitter&) = delete;

  // Records `signed_note` (a checkpoint signed by the ledger key) as the
  // newest, to be cosigned. Never blocks on the network. A note not larger
  // than the newest offered is ignored. INVALID_ARGUMENT /
  // UNAUTHENTICATED if the note does not open under the ledger key.
  absl::Status Offer(const std::string& signed_note);

  // The newest checkpoint cosigned by at least `quorum` witnesses: the
  // ledger's note followed by their cosignature lines. NOT_FOUND if none.
  absl::StatusOr<std::string> LatestCosigned() const;
  // Its size (0 if none).
  uint64_t cosigned_size() const;
  // Blocks until a checkpoint of size >= `size` is cosigned or `timeout`
  // passes; returns whether it was.
  bool WaitForCosigned(uint64_t size, absl::Duration timeout) const;

  struct WitnessState {
    std::string name;
    std::string url;
    bool size_known = false;
    uint64_t size = 0;          // the witness's last cosigned size, as last learnt
    uint64_t cosignatures = 0;  // cosignatures received
    uint64_t failures = 0;      // failed submissions
    std::string last_error;     // empty after a success
  };
  std::vector<WitnessState> witness_states() const;

 private:
  struct Target {
    std::string note;  // the ledger's signed checkpoint
    std::string text;
    uint64_t size = 0;
  };
  struct Witness {
    WitnessEndpoint endpoint;
    std::unique_ptr<WitnessClient> client;
    std::thread thread;
    // The rest is guarded by the submitter's mu_.
    WitnessState state;
    std::string attempted_text;  // the round target it last finished with
    bool busy = false;
    absl::Time retry_at = absl::InfinitePast();
    absl::Duration backoff = absl::ZeroDuration();
  };

  explicit CheckpointSubmitter(SubmitterOptions options) : options_(std::move(options)) {}
  void Coordinate();
  void Work(size_t i);
  // Starts a round on the newest offer when due. Returns whether it did.
  bool MaybeAdvanceRound() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t RoundCount() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Submits `target` to witness `i`; returns its cosignature line.
  absl::StatusOr<std::string> SubmitTo(size_t i, const Target& target, uint64_t old_size,
                                       bool size_known, uint64_t* learnt_size);
  void Log(absl::string_view line) const;

  const SubmitterOptions options_;
  std::vector<std::unique_ptr<Witness>> witnesses_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Target offered_ ABSL_GUARDED_BY(mu_);
  Target round_ ABSL_GUARDED_BY(mu_);
  absl::Time round_started_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::vector<std::string> round_lines_ ABSL_GUARDED_BY(mu_);  // index: witness
  std::string cosigned_note_ ABSL_GUARDED_BY(mu_);
  uint64_t cosigned_size_ ABSL_GUARDED_BY(mu_) = 0;
  bool has_cosigned_ ABSL_GUARDED_BY(mu_) = false;

  std::thread coordinator_;
};

}  // namespace trialog::witness

#endif  // TRIALOG_WITNESS_SUBMITTER_H_
