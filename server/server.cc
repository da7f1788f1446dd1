#include "server/server.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/crypto/key_file.h"
#include "core/util/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "server/config.h"
#include "server/credentials.h"

namespace trialog::server {
namespace {

absl::Status WriteReadyFile(const std::string& path, int grpc_port, int metrics_port) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "grpc_port=" << grpc_port << "\nmetrics_port=" << metrics_port << "\n";
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

// Per-trial gauges and group-commit counters, in the text format.
std::string LedgerMetrics(const LedgerSet& ledgers) {
  std::string size, commits, entries, largest;
  for (const std::shared_ptr<TrialLedger>& t : ledgers.List()) {
    const std::string label = absl::StrCat("{trial=\"", t->trial_id(), "\"} ");
    const storage::SequencerStats stats = t->sequencer_stats();
    absl::StrAppend(&size, "trialog_ledger_entries", label, t->size(), "\n");
    absl::StrAppend(&commits, "trialog_group_commits_total", label, stats.batches_written, "\n");
    absl::StrAppend(&entries, "trialog_group_commit_entries_total", label,
                    stats.entries_appended, "\n");
    absl::StrAppend(&largest, "trialog_group_commit_largest_batch", label, stats.largest_batch,
                    "\n");
  }
  return absl::StrCat(
      "# HELP trialog_ledger_entries Entries in each trial's ledger.\n"
      "# TYPE trialog_ledger_entries gauge\n",
      size,
      "# HELP trialog_group_commits_total Group commits (synced RocksDB writes) since start.\n"
      "# TYPE trialog_group_commits_total counter\n",
      commits,
      "# HELP trialog_group_commit_entries_total Entries written by group commits since start "
      "(divide by trialog_group_commits_total for the mean batch size).\n"
      "# TYPE trialog_group_commit_entries_total counter\n",
      entries,
      "# HELP trialog_group_commit_largest_batch Most requests taken in one group commit.\n"
      "# TYPE trialog_group_commit_largest_batch gauge\n",
      largest);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerConfig config,
                                                      StateMachineFactory machines) {
  ApplyDefaults(config);
  TRIALOG_RETURN_IF_ERROR(ValidateConfig(config));
  std::unique_ptr<Server> server(new Server());
  server->config_ = config;

  TRIALOG_ASSIGN_OR_RETURN(std::string passphrase, LedgerKeyPassphrase(config));
  absl::StatusOr<crypto::SigningKey> key = crypto::LoadKeyFile(config.ledger_key_file(), passphrase);
  if (!key.ok()) {
    return absl::Status(key.status().code(),
                        absl::StrCat("ledger key ", config.ledger_key_file(), ": ",
                                     key.status().message()));
  }
  LedgerSetOptions lo;
  lo.data_dir = config.data_dir();
  lo.ledger_name = config.ledger_name();
  if (lo.ledger_name.empty()) {
    TRIALOG_ASSIGN_OR_RETURN(lo.ledger_name, crypto::ReadKeyFileName(config.ledger_key_file()));
  }
  lo.ledger_key = *key;
  lo.machines = std::move(machines);
  lo.accept_new_trials = config.accept_new_trials();
  lo.sync = config.sync();
  lo.max_sequencer_batch = config.max_sequencer_batch();
  lo.use_snapshot = !config.full_replay_on_open();
  if (config.has_snapshot_every_entries()) lo.snapshot_every_entries = config.snapshot_every_entries();
  if (config.has_snapshot_interval_seconds()) {
    lo.snapshot_interval = absl::Seconds(config.snapshot_interval_seconds());
  }
  lo.min_free_bytes = static_cast<uint64_t>(
                          config.has_min_free_disk_mb() ? config.min_free_disk_mb()
                                                        : kDefaultMinFreeDiskMb)
                      << 20;
  TRIALOG_ASSIGN_OR_RETURN(server->ledgers_, LedgerSet::Open(std::move(lo)));

  server->metrics_ = std::make_unique<Metrics>();
  ServiceLimits limits;
  limits.max_batch_envelopes = config.max_batch_envelopes();
  server->service_ =
      std::make_unique<LedgerServiceImpl>(server->ledgers_.get(), server->metrics_.get(), limits);
  if (config.witness_size() > 0) {
    WitnessingOptions wo;
    wo.witnesses.assign(config.witness().begin(), config.witness().end());
    wo.quorum = config.witness_quorum();
    wo.state_dir = absl::StrCat(config.data_dir(), "/witnessing");
    wo.log = [](absl::string_view line) { std::cerr << "trialogd: " << line << std::endl; };
    TRIALOG_ASSIGN_OR_RETURN(server->witnessing_,
                             Witnessing::Start(std::move(wo), server->ledgers_.get()));
    server->service_->set_witnessing(server->witnessing_.get());
  } else if (config.witness_quorum() > 0) {
    return absl::InvalidArgumentError("witness_quorum is set but no --witness is given");
  }

  // Caller authentication is on exactly when clients must present a
  // certificate (mutual TLS); then every RPC is authorised (access_control.h).
  const bool authenticate = !config.plaintext() && !config.tls().client_ca_file().empty();
  if (!config.access_log().empty()) {
    TRIALOG_ASSIGN_OR_RETURN(server->access_log_, AccessLog::Open(config.access_log()));
  }
  server->access_ = std::make_unique<AccessControl>(server->ledgers_.get(), authenticate,
                                                    server->access_log_.get());
  std::cerr << "trialogd: caller authentication: "
            << (authenticate
                    ? "mutual TLS; every call is authorised as the principal its client "
                      "certificate names (URI SAN trialog:principal/<id>, else CN)"
                    : "NONE (plaintext or TLS without client certificates): every call is "
                      "allowed to anyone who can connect; appends are still checked against "
                      "their envelope signatures")
            << "; access log: "
            << (config.access_log().empty() ? std::string("none") : config.access_log()) << "\n";
  server->service_->set_access_control(server->access_.get());

  TRIALOG_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                           MakeServerCredentials(config));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address(), creds, &server->grpc_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes()));
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes()));
  builder.RegisterService(server->service_.get());
  server->trial_state_service_ = std::make_unique<TrialStateServiceImpl>(server->ledgers_.get());
  server->trial_state_service_->set_access_control(server->access_.get());
  builder.RegisterService(server->trial_state_service_.get());
  server->admin_service_ =
      std::make_unique<AdminServiceImpl>(server->ledgers_.get(), config.backup_dir());
  server->admin_service_->set_access_control(server->access_.get());
  builder.RegisterService(server->admin_service_.get());
  server->bulk_import_service_ = std::make_unique<BulkImportServiceImpl>(server->ledgers_.get());
  server->bulk_import_service_->set_access_control(server->access_.get());
  builder.RegisterService(server->bulk_import_service_.get());
  // Sync-server pollers notice shutdown within this time (default 1 s).
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 100);
  // A sync-server thread that finishes a call exits when MAX_POLLERS threads
  // are already polling (default 2), and a new one is spawned when the next
  // call arrives. Appends block their handler thread until the group commit is
  // durable, so with tens of concurrent clients that churned threads on every
  // call; keeping up to kMaxIdlePollers idle threads avoids it.
  constexpr int kMaxIdlePollers = 64;
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              kMaxIdlePollers);
  server->grpc_server_ = builder.BuildAndStart();
  if (server->grpc_server_ == nullptr || server->grpc_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen_address(),
                     " (address in use, or not an address of this machine?)"));
  }
  if (!config.metrics_address().empty()) {
    Metrics* metrics = server->metrics_.get();
    LedgerSet* ledgers = server->ledgers_.get();
    Witnessing* witnessing = server->witnessing_.get();
    std::function<std::string()> render = [metrics, ledgers, witnessing] {
      return metrics->RenderPrometheus(absl::StrCat(
          LedgerMetrics(*ledgers), witnessing != nullptr ? witnessing->RenderMetrics() : ""));
    };
    TRIALOG_ASSIGN_OR_RETURN(server->metrics_http_,
                             MetricsHttpServer::Start(config.metrics_address(), std::move(render)));
  }
  if (!config.ready_file().empty()) {
    TRIALOG_RETURN_IF_ERROR(
        WriteReadyFile(config.ready_file(), server->grpc_port_, server->metrics_port()));
  }
  return server;
}

absl::Status Server::Shutdown(absl::Duration grace) {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  if (grpc::HealthCheckServiceInterface* health = grpc_server_->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  // Refuse new appends, let admitted ones become durable and be answered,
  // then close every call and connection at once (gRPC would otherwise
  // wait out the deadline for idle client connections).
  const absl::Time deadline = absl::Now() + grace;
  service_->BeginShutdown(grace);
  grpc_server_->Shutdown(absl::ToChronoTime(std::min(deadline, absl::Now() + absl::Milliseconds(100))));
  grpc_server_->Wait();
  witnessing_.reset();  // stops submitting before the ledgers close
  absl::Status closed = ledgers_->CloseAll();
  metrics_http_.reset();
  access_log_.reset();  // syncs the access log; no call runs any more
  return closed;
}

Server::~Server() {
  if (grpc_server_ != nullptr) Shutdown(absl::Seconds(5)).IgnoreError();
}

}  // namespace trialog::server
