#include "server/admin_service.h"

#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/status_util.h"

namespace trialog::server {

grpc::Status AdminServiceImpl::CreateBackup(grpc::ServerContext* context,
                                            const v1::CreateBackupRequest* request,
                                            v1::CreateBackupResponse* response) {
  std::vector<std::shared_ptr<TrialLedger>> trials;
  if (request->trial_ids().empty()) {
    trials = ledgers_->List();
  } else {
    for (const std::string& id : request->trial_ids()) {
      absl::StatusOr<std::shared_ptr<TrialLedger>> trial = ledgers_->Find(id);
      if (!trial.ok()) return ToGrpcStatus(trial.status());
      trials.push_back(*std::move(trial));
    }
  }
  // The caller must be allowed CreateBackup (an administrator) in every
  // trial the backup copies.
  for (const std::shared_ptr<TrialLedger>& trial : trials) {
    if (absl::StatusOr<Caller> c =
            AuthorizeCall(access_, *context, Rpc::kCreateBackup, trial->trial_id(), {});
        !c.ok()) {
      return ToGrpcStatus(c.status());
    }
  }
  if (backup_dir_.empty()) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        "backups are not enabled on this server: start trialogd with --backup_dir=DIR"));
  }
  // A backup name follows the trial-id rule: one safe path component.
  if (absl::Status s = CheckTrialId(request->name()); !s.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("backup name \"", request->name(),
                     "\" is not 1..64 bytes of [A-Za-z0-9._-] (nor \".\" or \"..\")")));
  }
  if (trials.empty()) {
    return ToGrpcStatus(absl::FailedPreconditionError("no trial is served here: nothing to back up"));
  }

  absl::MutexLock lock(&backup_mu_);
  const std::filesystem::path dest = std::filesystem::path(backup_dir_) / request->name();
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) {
    return ToGrpcStatus(absl::AlreadyExistsError(
        absl::StrCat("backup ", request->name(), " already exists in ", backup_dir_)));
  }
  if (!std::filesystem::create_directories(dest / "trials", ec)) {
    return ToGrpcStatus(absl::UnavailableError(
        absl::StrCat("cannot create ", (dest / "trials").string(), ": ", ec.message())));
  }
  response->set_directory(dest.string());
  for (const std::shared_ptr<TrialLedger>& trial : trials) {
    const std::string trial_dir = (dest / "trials" / trial->trial_id()).string();
    absl::StatusOr<storage::BackupInfo> info = trial->Backup(trial_dir);
    if (!info.ok()) {
      std::filesystem::remove_all(dest, ec);
      return ToGrpcStatus(absl::Status(
          info.status().code(),
          absl::StrCat("backup of trial ", trial->trial_id(), " failed (nothing kept): ",
                       info.status().message())));
    }
    v1::TrialBackup* out = response->add_trials();
    out->set_trial_id(trial->trial_id());
    out->set_directory(trial_dir);
    out->set_checkpoint_note(info->checkpoint_note);
    out->set_entries(info->entries);
  }
  return grpc::Status::OK;
}

}  // namespace trialog::server
