// trialog.v1.AdminService: operator requests (proto/trialog/v1/admin.proto).
//
// CreateBackup writes a consistent online backup of served trials to
// <backup_dir>/<name>/trials/<trial_id>/ (storage/backup.h), while appends
// go on, and answers with what each copy holds, read back from the copy.
// Statuses: FAILED_PRECONDITION when trialogd has no backup_dir;
// INVALID_ARGUMENT for a bad name or trial id; NOT_FOUND for a trial not
// served; ALREADY_EXISTS for a name used before; the storage status on I/O
// errors (then nothing is left under <backup_dir>/<name>). Backups run one
// at a time.
//
// Thread-safety: the handlers may run concurrently.

#ifndef TRIALOG_SERVER_ADMIN_SERVICE_H_
#define TRIALOG_SERVER_ADMIN_SERVICE_H_

#include <string>

#include "absl/synchronization/mutex.h"
#include "server/access_control.h"
#include "server/ledger_set.h"
#include "trialog/v1/admin.grpc.pb.h"

namespace trialog::server {

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  // `ledgers` must outlive the service. Empty `backup_dir` refuses backups.
  AdminServiceImpl(LedgerSet* ledgers, std::string backup_dir)
      : ledgers_(ledgers), backup_dir_(std::move(backup_dir)) {}

  // Checks every call with `access` (not owned; null = no checks). Call
  // before serving.
  void set_access_control(AccessControl* access) { access_ = access; }

  grpc::Status CreateBackup(grpc::ServerContext* context, const v1::CreateBackupRequest* request,
                            v1::CreateBackupResponse* response) override;

 private:
  LedgerSet* const ledgers_;
  const std::string backup_dir_;
  AccessControl* access_ = nullptr;
  absl::Mutex backup_mu_;  // one backup at a time
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_ADMIN_SERVICE_H_
