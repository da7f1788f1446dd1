// trialogd's witness policy in action: every trial's new checkpoints are
// submitted in the background to the configured witnesses (C2SP
// tlog-witness v1.0.0, witness/submitter.h), and the newest checkpoint that
// `quorum` of them cosigned is kept, with their cosignature lines, for
// GetCheckpoint/GetEntry requests that ask for it (`cosigned = true`).
// Appends never wait on witnesses: a poller notices new checkpoints.
// The newest cosigned checkpoint of each trial is also written (atomically,
// fsynced) to <state_dir>/<trial_id>.cosigned, so it is served again after
// a restart and `trialog verify --data` can check it offline.
//
// Thread-safety: all methods are thread-safe.

#ifndef TRIALOG_SERVER_WITNESSING_H_
#define TRIALOG_SERVER_WITNESSING_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/ledger_set.h"
#include "server/trial_ledger.h"
#include "witness/policy.h"
#include "witness/submitter.h"

namespace trialog::server {

struct WitnessingOptions {
  // "COSIGNER_VKEY@URL" per witness (witness::ParseWitnessEndpoint).
  std::vector<std::string> witnesses;
  // Cosignatures a checkpoint needs before it is served as cosigned;
  // 0 = all the witnesses.
  size_t quorum = 0;
  // How often every trial's latest checkpoint is looked at.
  absl::Duration poll_interval = absl::Milliseconds(100);
  // Per witness request.
  absl::Duration request_timeout = absl::Seconds(10);
  // Operator log lines (witness failures, fork alarms). Thread-safe.
  std::function<void(absl::string_view)> log;
  // Where cosigned checkpoints are kept (created if missing); empty: memory
  // only. trialogd uses <data_dir>/witnessing.
  std::string state_dir;
};

// The file holding trial `trial_id`'s newest cosigned checkpoint under
// `state_dir`.
std::string CosignedCheckpointPath(absl::string_view state_dir, absl::string_view trial_id);

class Witnessing {
 public:
  // INVALID_ARGUMENT for a bad witness spec, a witness listed twice, or a
  // quorum larger than the list. `ledgers` must outlive the Witnessing.
  static absl::StatusOr<std::unique_ptr<Witnessing>> Start(WitnessingOptions options,
                                                           const LedgerSet* ledgers);
  ~Witnessing();  // stops the poller and every submitter

  // The newest checkpoint of `trial_id` cosigned by the quorum: the ledger's
  // note followed by the witnesses' cosignature lines. FAILED_PRECONDITION
  // if none is cosigned yet; NOT_FOUND for an unknown trial.
  absl::StatusOr<CheckpointView> LatestCosigned(absl::string_view trial_id) const;

  // Prometheus text: per trial and witness, the size last cosigned and the
  // failures; per trial, the size of the newest quorum-cosigned checkpoint.
  std::string RenderMetrics() const;

  size_t quorum() const { return quorum_; }

 private:
  Witnessing() = default;
  void Poll();
  void PollOnce();
  // Keeps `note` (size `size`) as the trial's cosigned checkpoint if newer,
  // and persists it.
  void Record(const std::string& trial_id, const std::string& note, uint64_t size);
  // Loads the persisted checkpoints that still satisfy the policy.
  void LoadPersisted();

  std::vector<witness::WitnessEndpoint> endpoints_;
  size_t quorum_ = 0;
  WitnessingOptions options_;
  const LedgerSet* ledgers_ = nullptr;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<witness::CheckpointSubmitter>, std::less<>> submitters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t, std::less<>> offered_size_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, CheckpointView, std::less<>> cosigned_ ABSL_GUARDED_BY(mu_);
  witness::WitnessPolicy policy_;
  absl::Mutex file_mu_;  // serialises writes of the persisted files
  std::thread poller_;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_WITNESSING_H_
