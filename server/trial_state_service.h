// trialog.v1.TrialStateService: read-only queries of a trial's clinical
// state (subjects, summary), current or "as of" an entry index or a time.
//
// Every answer is a replay (core/trial/replay.h) of the trial's entries
// 0..N from the ledger's storage, where N is the as-of index, the last
// entry recorded at or before the as-of time, or the last entry now.
//
// Statuses: NOT_FOUND for an unknown trial or subject, or an as-of time
// before the genesis; INVALID_ARGUMENT when both as-of fields are set;
// OUT_OF_RANGE for an as-of index past the end of the ledger.
//
// Thread-safety: the handlers may run concurrently.
#ifndef TRIALOG_SERVER_TRIAL_STATE_SERVICE_H_
#define TRIALOG_SERVER_TRIAL_STATE_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "core/trial/state_machine.h"
#include "server/ledger_set.h"
#include "trialog/v1/trial_service.grpc.pb.h"

namespace trialog::server {

class TrialStateServiceImpl final : public v1::TrialStateService::Service {
 public:
  // `ledgers` must outlive the service.
  explicit TrialStateServiceImpl(LedgerSet* ledgers) : ledgers_(ledgers) {}

  grpc::Status GetSubject(grpc::ServerContext* context, const v1::GetSubjectRequest* request,
                          v1::GetSubjectResponse* response) override;
  grpc::Status ListSubjects(grpc::ServerContext* context, const v1::ListSubjectsRequest* request,
                            v1::ListSubjectsResponse* response) override;
  grpc::Status GetSummary(grpc::ServerContext* context, const v1::GetSummaryRequest* request,
                          v1::GetSummaryResponse* response) override;

  // The trial's state as `as_of` selects it (see the file comment).
  absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> StateOf(absl::string_view trial_id,
                                                                    const v1::AsOf& as_of) const;

 private:
  LedgerSet* ledgers_;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_TRIAL_STATE_SERVICE_H_
