// The operator's log line for refused appends. When storage refuses
// appends (UNAVAILABLE: disk below the free-space reserve, a failed write,
// a ledger closed after an I/O error) every client sees the status, but the
// operator must see it too, once, without one line per request: the first
// refusal is logged at once, later ones at most every `repeat_every` with
// how many were refused meanwhile, and the first success after refusals
// logs that appends are accepted again.
//
// Thread-safety: Record may be called from any thread (including the
// sequencer's callback thread: it never blocks on the ledger).

#ifndef TRIALOG_SERVER_REFUSAL_LOG_H_
#define TRIALOG_SERVER_REFUSAL_LOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace trialog::server {

class RefusalLog {
 public:
  using Sink = std::function<void(absl::string_view line)>;
  // `subject` names what refuses ("trial imt-01"); `sink` writes one line.
  RefusalLog(std::string subject, Sink sink, absl::Duration repeat_every = absl::Seconds(10));

  // Records the outcome of one append. Only UNAVAILABLE counts as a
  // refusal; other errors are the client's and are not logged here.
  void Record(const absl::Status& status);

 private:
  const std::string subject_;
  const Sink sink_;
  const absl::Duration repeat_every_;
  std::atomic<bool> refusing_{false};  // fast path for the common success
  absl::Mutex mu_;
  uint64_t refused_since_logged_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_logged_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_message_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_REFUSAL_LOG_H_
