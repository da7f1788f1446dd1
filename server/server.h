// trialogd assembled: ledgers, the LedgerService, health checking,
// reflection, TLS, the metrics HTTP endpoint and orderly shutdown.

#ifndef TRIALOG_SERVER_SERVER_H_
#define TRIALOG_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"
#include "server/access_control.h"
#include "server/access_log.h"
#include "server/admin_service.h"
#include "server/bulk_import.h"
#include "server/config.pb.h"
#include "server/ledger_service.h"
#include "server/ledger_set.h"
#include "server/metrics.h"
#include "server/metrics_http.h"
#include "server/state_machines.h"
#include "server/trial_state_service.h"
#include "server/witnessing.h"

namespace trialog::server {

class Server {
 public:
  // Validates `config` (ValidateConfig), loads the ledger key, opens every
  // trial, starts serving and writes config.ready_file if set. The first
  // error is returned with a message meant for the operator.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerConfig config,
                                                       StateMachineFactory machines);
  ~Server();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }

  // Stops accepting calls, lets appends in flight finish (waiting at most
  // `grace`, then cancelling what is left), ends subscriptions with
  // UNAVAILABLE, closes every ledger. Idempotent.
  absl::Status Shutdown(absl::Duration grace);

 private:
  Server() = default;

  ServerConfig config_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<LedgerSet> ledgers_;
  std::unique_ptr<Witnessing> witnessing_;  // null without witnesses
  std::unique_ptr<AccessLog> access_log_;   // null without --access_log
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<LedgerServiceImpl> service_;
  std::unique_ptr<TrialStateServiceImpl> trial_state_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<BulkImportServiceImpl> bulk_import_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  int grpc_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_SERVER_H_
