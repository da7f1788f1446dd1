#include "server/trial_state_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/ledger/entry.h"
#include "core/trial/replay.h"
#include "core/util/status_macros.h"
#include "server/status_util.h"

namespace trialog::server {
namespace {

// The entries of one TrialLedger, frozen at the size it had when made (so a
// replay sees one consistent prefix while appends go on).
class LedgerEntrySource : public trial::EntrySource {
 public:
  explicit LedgerEntrySource(std::shared_ptr<TrialLedger> ledger)
      : ledger_(std::move(ledger)), size_(ledger_->size()) {}
  uint64_t size() const override { return size_; }
  absl::StatusOr<ledger::ParsedEntry> Read(uint64_t index) const override {
    if (index >= size_) {
      return absl::NotFoundError(absl::StrCat("entry ", index, " is past the end (size ", size_, ")"));
    }
    TRIALOG_ASSIGN_OR_RETURN(std::string bytes, ledger_->ReadEntry(index));
    return ledger::ParseEntry(bytes);
  }

 private:
  std::shared_ptr<TrialLedger> ledger_;
  uint64_t size_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> TrialStateServiceImpl::StateOf(
    absl::string_view trial_id, const v1::AsOf& as_of) const {
  if (as_of.has_as_of_index() && as_of.has_as_of_time_unix_micros()) {
    return absl::InvalidArgumentError("set at most one of as_of_index and as_of_time_unix_micros");
  }
  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<TrialLedger> ledger, ledgers_->Find(trial_id));
  LedgerEntrySource source(std::move(ledger));
  if (source.size() == 0) {
    return absl::NotFoundError(absl::StrCat("trial ", trial_id, " has no entries"));
  }
  if (as_of.has_as_of_time_unix_micros()) {
    return trial::StateAsOfTime(source, as_of.as_of_time_unix_micros());
  }
  uint64_t last = source.size() - 1;
  if (as_of.has_as_of_index()) {
    if (as_of.as_of_index() >= source.size()) {
      return absl::OutOfRangeError(absl::StrCat("as_of_index ", as_of.as_of_index(),
                                                " is past the end of trial ", trial_id, " (size ",
                                                source.size(), ")"));
    }
    last = as_of.as_of_index();
  }
  return trial::StateAsOfEntry(source, last);
}

grpc::Status TrialStateServiceImpl::GetSubject(grpc::ServerContext*,
                                               const v1::GetSubjectRequest* request,
                                               v1::GetSubjectResponse* response) {
  absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> state =
      StateOf(request->trial_id(), request->as_of());
  if (!state.ok()) return ToGrpcStatus(state.status());
  absl::StatusOr<v1::SubjectState> subject = (*state)->Subject(request->subject_id());
  if (!subject.ok()) return ToGrpcStatus(subject.status());
  *response->mutable_subject() = *std::move(subject);
  response->set_last_index((*state)->last_index());
  return grpc::Status::OK;
}

grpc::Status TrialStateServiceImpl::ListSubjects(grpc::ServerContext*,
                                                 const v1::ListSubjectsRequest* request,
                                                 v1::ListSubjectsResponse* response) {
  absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> state =
      StateOf(request->trial_id(), request->as_of());
  if (!state.ok()) return ToGrpcStatus(state.status());
  for (std::string& id : (*state)->SubjectIds()) response->add_subject_ids(std::move(id));
  response->set_last_index((*state)->last_index());
  return grpc::Status::OK;
}

grpc::Status TrialStateServiceImpl::GetSummary(grpc::ServerContext*,
                                               const v1::GetSummaryRequest* request,
                                               v1::GetSummaryResponse* response) {
  absl::StatusOr<std::unique_ptr<trial::TrialStateMachine>> state =
      StateOf(request->trial_id(), request->as_of());
  if (!state.ok()) return ToGrpcStatus(state.status());
  *response->mutable_summary() = (*state)->Summary();
  response->set_last_index((*state)->last_index());
  return grpc::Status::OK;
}

}  // namespace trialog::server
