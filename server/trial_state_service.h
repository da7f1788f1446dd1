// trialog.v1.TrialStateService: read-only queries of a trial's clinical
// state (subjects, summary, a subject's history), current or "as of" an
// entry index or a time.
//
// Current state comes from the LIVE trial::TrialStateMachine that the
// trial's ledger keeps for admission (TrialLedger::ReadDomain): under the
// ledger's state lock the service takes a trial::TrialView (O(subjects)
// pointer copies, microseconds), then computes the summary outside the
// lock and caches both until the ledger grows. Readers hold the lock only
// for the copy, so appends are never kept waiting long; concurrent readers
// of an unchanged ledger share the cached view without locking it at all.
//
// "As of" state (index N = the as-of index, or the last entry recorded at
// or before the as-of time) is a replay (core/trial/replay.h) of the
// ledger's entries, starting from the nearest cached snapshot at or before
// N. Replays leave snapshots behind every max(256, size/16) entries (at
// most 64 per trial, in memory), so later as-of queries replay at most
// that many entries; the 4 states replayed last are kept, so repeating an
// as-of (e.g. paging a history) does not replay again. An as-of that
// selects the live state's last entry is answered from the live view.
//
// Statuses: NOT_FOUND for an unknown trial or subject, or an as-of time
// before the genesis; INVALID_ARGUMENT when both as-of fields are set, for
// a malformed subject id, page token or page size; OUT_OF_RANGE for an
// as-of index past the end of the ledger.
//
// Thread-safety: the handlers may run concurrently.
#ifndef TRIALOG_SERVER_TRIAL_STATE_SERVICE_H_
#define TRIALOG_SERVER_TRIAL_STATE_SERVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/trial/state_machine.h"
#include "server/access_control.h"
#include "server/ledger_set.h"
#include "trialog/v1/trial_service.grpc.pb.h"

namespace trialog::server {

// A trial's state at one ledger prefix, as the service answers from it:
// either the live view or a replay.
class TrialStateAt {
 public:
  // Index of the last entry included.
  uint64_t last_index() const { return last_index_; }
  // True when answered from the live state machine's view.
  bool live() const { return live_ != nullptr; }
  // The subject's projection; NOT_FOUND if not registered by last_index().
  absl::StatusOr<v1::SubjectState> Subject(absl::string_view subject_id) const;
  std::vector<std::string> SubjectIds() const;  // sorted
  v1::TrialSummary Summary() const;

 private:
  friend class TrialStateServiceImpl;

 public:
  struct Live;  // opaque: the cached live view

 private:
  uint64_t last_index_ = 0;
  std::shared_ptr<const Live> live_;                    // either this
  std::shared_ptr<const trial::TrialStateMachine> replayed_;  // or this
};

class TrialStateServiceImpl final : public v1::TrialStateService::Service {
 public:
  // `ledgers` must outlive the service.
  explicit TrialStateServiceImpl(LedgerSet* ledgers) : ledgers_(ledgers) {}
  ~TrialStateServiceImpl() override;

  // Checks every call with `access` (not owned; null = no checks, no
  // access log). Call before serving.
  void set_access_control(AccessControl* access) { access_ = access; }

  grpc::Status GetSubject(grpc::ServerContext* context, const v1::GetSubjectRequest* request,
                          v1::GetSubjectResponse* response) override;
  grpc::Status ListSubjects(grpc::ServerContext* context, const v1::ListSubjectsRequest* request,
                            v1::ListSubjectsResponse* response) override;
  grpc::Status GetSummary(grpc::ServerContext* context, const v1::GetSummaryRequest* request,
                          v1::GetSummaryResponse* response) override;
  grpc::Status GetSubjectHistory(grpc::ServerContext* context,
                                 const v1::GetSubjectHistoryRequest* request,
                                 v1::GetSubjectHistoryResponse* response) override;

  // The trial's state as `as_of` selects it (see the file comment).
  absl::StatusOr<TrialStateAt> StateOf(absl::string_view trial_id, const v1::AsOf& as_of) const;
  // The state after entries 0..last_index (OUT_OF_RANGE past the end).
  absl::StatusOr<TrialStateAt> StateAtIndex(absl::string_view trial_id, uint64_t last_index) const;
  // The subject's history (the GetSubjectHistory answer).
  absl::StatusOr<v1::GetSubjectHistoryResponse> History(
      const v1::GetSubjectHistoryRequest& request) const;

 private:
  struct TrialCache;
  absl::StatusOr<std::shared_ptr<TrialCache>> CacheFor(const std::shared_ptr<TrialLedger>& ledger) const;
  absl::StatusOr<TrialStateAt> LiveState(const std::shared_ptr<TrialLedger>& ledger,
                                         TrialCache* cache) const;
  absl::StatusOr<TrialStateAt> Replay(const std::shared_ptr<TrialLedger>& ledger, TrialCache* cache,
                                      uint64_t size, uint64_t last_index) const;
  absl::StatusOr<TrialStateAt> StateAtIndexIn(const std::shared_ptr<TrialLedger>& ledger,
                                              uint64_t last_index) const;

  LedgerSet* ledgers_;
  AccessControl* access_ = nullptr;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, std::shared_ptr<TrialCache>> caches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_TRIAL_STATE_SERVICE_H_
