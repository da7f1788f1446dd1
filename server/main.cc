// trialogd: serves trial ledgers over gRPC. See --help.

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/key_file.h"
#include "core/trial/state_machine.h"
#include "core/util/bytes.h"
#include "core/util/mutex_debug.h"
#include "server/config.h"
#include "server/ledger_set.h"
#include "server/server.h"
#include "server/state_machines.h"

ABSL_FLAG(std::string, config, "",
          "Text-format trialog.server.ServerConfig file (see server/config.proto). Flags given "
          "on the command line override its fields.");
ABSL_FLAG(std::string, data_dir, "", "Data directory; trial T lives in <data_dir>/trials/T/.");
ABSL_FLAG(std::string, listen, "127.0.0.1:7443",
          "gRPC listen address host:port (port 0 = pick a free one; see --ready_file).");
ABSL_FLAG(std::string, metrics_listen, "",
          "Prometheus metrics HTTP address host:port (GET /metrics); empty = no metrics.");
ABSL_FLAG(std::string, ledger_key_file, "",
          "Encrypted Ed25519 key file that signs every checkpoint (made by `trialogd --new_ledger_key`).");
ABSL_FLAG(std::string, ledger_key_passphrase_file, "",
          "File whose first line is the ledger key's passphrase. Without it the passphrase is "
          "read from $TRIALOG_LEDGER_PASSPHRASE (never from a flag value).");
ABSL_FLAG(std::string, ledger_name, "",
          "Ledger name: checkpoint origins are <ledger_name>/<trial_id>, and the checkpoint "
          "signature's key name is that whole origin. Default: the key file's key name.");
ABSL_FLAG(bool, accept_new_trials, false,
          "Let a genesis envelope for an unknown trial id create that trial. Off: appends to "
          "unknown trials fail NOT_FOUND.");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate chain of the server (TLS).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of the server (TLS).");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle; when set, clients must present a certificate signed by it (mutual "
          "TLS).");
ABSL_FLAG(bool, plaintext, false,
          "Serve without TLS. Refused unless --listen is a loopback address (127.0.0.0/8, "
          "[::1], localhost).");
ABSL_FLAG(uint32_t, max_batch_envelopes, 0, "Envelopes per AppendBatch call (default 1024).");
ABSL_FLAG(uint32_t, max_message_bytes, 0, "Largest gRPC message in bytes (default 64 MiB).");
ABSL_FLAG(uint32_t, max_sequencer_batch, 0, "Envelopes per group commit (default 512).");
ABSL_FLAG(bool, sync, true, "fsync every group commit (turn off only for throwaway tests).");
ABSL_FLAG(uint32_t, min_free_disk_mb, 64,
          "Refuse appends with UNAVAILABLE while the data directory's file system has less free "
          "space than this (MiB), so the store never meets a full disk mid-write; 0 = no check.");
ABSL_FLAG(bool, full_replay_on_open, false,
          "On start, ignore the trials' projection snapshots and replay and check every entry "
          "(re-hash, chain, stored Merkle nodes, signed root). Off: restore the latest snapshot "
          "signed by the ledger key and replay only the entries after it.");
ABSL_FLAG(uint64_t, snapshot_every_entries, 10000,
          "Write a trial's projection snapshot every this many appended entries (0 = not by "
          "count), but not sooner after the previous one than 20 times the time that one took "
          "(so snapshots cost at most ~5% of the writer's time as a trial's state grows). A "
          "restart replays at most the entries since the last snapshot.");
ABSL_FLAG(uint32_t, snapshot_interval_seconds, 300,
          "Write a trial's projection snapshot every this many seconds when it has new entries "
          "(0 = not by time). A snapshot is also written when a trial closes.");
ABSL_FLAG(std::string, backup_dir, "",
          "Directory (existing, outside --data_dir) that AdminService.CreateBackup writes "
          "consistent online backups into (`trialog backup`); empty = backups refused.");
ABSL_FLAG(std::string, access_log, "",
          "Append-only JSON Lines access log: one line per refused call (who, what, when, why) "
          "and per granted read of subject data; reopened for appending on restart. With "
          "--tls_client_ca_file every call is authorised by the principal its client "
          "certificate names (docs/SECURITY.md).");
ABSL_FLAG(std::string, ready_file, "",
          "Once serving, write \"grpc_port=N\\nmetrics_port=M\\n\" to this file (atomically).");
ABSL_FLAG(bool, print_verifier_key, false,
          "Print the C2SP verifier key of --trial_id's checkpoints (clients pin it) and exit. "
          "Needs only --ledger_key_file (no passphrase) and --ledger_name if not the default.");
ABSL_FLAG(std::string, trial_id, "", "Trial id for --print_verifier_key.");
ABSL_FLAG(bool, new_ledger_key, false,
          "Create a new encrypted ledger key at --ledger_key_file named --ledger_name, with the "
          "passphrase from --ledger_key_passphrase_file or $TRIALOG_LEDGER_PASSPHRASE, and exit. "
          "Never overwrites an existing file.");
ABSL_FLAG(std::vector<std::string>, witness, {},
          "Witnesses to submit every checkpoint to (C2SP tlog-witness), comma-separated, each "
          "COSIGNER_VKEY@URL, e.g. w1.example+1a2b3c4d+BA...@http://w1.example:7380. Appends "
          "never wait for them; GetCheckpoint(cosigned) serves the newest checkpoint cosigned "
          "by --witness_quorum of them. See docs/WITNESS.md.");
ABSL_FLAG(uint32_t, witness_quorum, 0,
          "Cosignatures a checkpoint needs to be served as cosigned (default: all witnesses).");
ABSL_FLAG(int32_t, shutdown_grace_ms, 10000,
          "On SIGTERM/SIGINT: how long appends in flight may take before they are cancelled.");

namespace {

using trialog::server::ServerConfig;

// Names of the flags given on the command line ("--x=1", "--x 1", "--nox").
std::set<std::string>& GivenFlags() {
  static std::set<std::string>* given = new std::set<std::string>();
  return *given;
}

void RecordGivenFlags(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg = arg.substr(arg[1] == '-' ? 2 : 1);
    arg = arg.substr(0, arg.find('='));
    if (absl::FindCommandLineFlag(arg) == nullptr && arg.rfind("no", 0) == 0) arg = arg.substr(2);
    GivenFlags().insert(arg);
  }
}

bool Given(const char* name) { return GivenFlags().count(name) > 0; }

// Config file first, then every flag given on the command line.
absl::StatusOr<ServerConfig> BuildConfig() {
  ServerConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    absl::StatusOr<ServerConfig> loaded =
        trialog::server::LoadConfigFile(absl::GetFlag(FLAGS_config));
    if (!loaded.ok()) return loaded.status();
    config = *std::move(loaded);
  }
  if (Given("data_dir")) config.set_data_dir(absl::GetFlag(FLAGS_data_dir));
  if (Given("listen") || config.listen_address().empty()) {
    config.set_listen_address(absl::GetFlag(FLAGS_listen));
  }
  if (Given("metrics_listen")) config.set_metrics_address(absl::GetFlag(FLAGS_metrics_listen));
  if (Given("ledger_key_file")) config.set_ledger_key_file(absl::GetFlag(FLAGS_ledger_key_file));
  if (Given("ledger_key_passphrase_file")) {
    config.set_ledger_key_passphrase_file(absl::GetFlag(FLAGS_ledger_key_passphrase_file));
  }
  if (Given("ledger_name")) config.set_ledger_name(absl::GetFlag(FLAGS_ledger_name));
  if (Given("accept_new_trials")) config.set_accept_new_trials(absl::GetFlag(FLAGS_accept_new_trials));
  if (Given("tls_cert_file")) config.mutable_tls()->set_cert_file(absl::GetFlag(FLAGS_tls_cert_file));
  if (Given("tls_key_file")) config.mutable_tls()->set_key_file(absl::GetFlag(FLAGS_tls_key_file));
  if (Given("tls_client_ca_file")) {
    config.mutable_tls()->set_client_ca_file(absl::GetFlag(FLAGS_tls_client_ca_file));
  }
  if (Given("plaintext")) config.set_plaintext(absl::GetFlag(FLAGS_plaintext));
  if (Given("max_batch_envelopes")) {
    config.set_max_batch_envelopes(absl::GetFlag(FLAGS_max_batch_envelopes));
  }
  if (Given("max_message_bytes")) config.set_max_message_bytes(absl::GetFlag(FLAGS_max_message_bytes));
  if (Given("max_sequencer_batch")) {
    config.set_max_sequencer_batch(absl::GetFlag(FLAGS_max_sequencer_batch));
  }
  if (Given("sync")) config.set_sync(absl::GetFlag(FLAGS_sync));
  if (Given("ready_file")) config.set_ready_file(absl::GetFlag(FLAGS_ready_file));
  if (Given("access_log")) config.set_access_log(absl::GetFlag(FLAGS_access_log));
  if (Given("witness")) {
    config.clear_witness();
    for (const std::string& w : absl::GetFlag(FLAGS_witness)) config.add_witness(w);
  }
  if (Given("witness_quorum")) config.set_witness_quorum(absl::GetFlag(FLAGS_witness_quorum));
  if (Given("backup_dir")) config.set_backup_dir(absl::GetFlag(FLAGS_backup_dir));
  if (Given("min_free_disk_mb")) config.set_min_free_disk_mb(absl::GetFlag(FLAGS_min_free_disk_mb));
  if (Given("full_replay_on_open")) {
    config.set_full_replay_on_open(absl::GetFlag(FLAGS_full_replay_on_open));
  }
  if (Given("snapshot_every_entries")) {
    config.set_snapshot_every_entries(absl::GetFlag(FLAGS_snapshot_every_entries));
  }
  if (Given("snapshot_interval_seconds")) {
    config.set_snapshot_interval_seconds(absl::GetFlag(FLAGS_snapshot_interval_seconds));
  }
  return config;
}

int PrintVerifierKey(const ServerConfig& config) {
  const std::string trial_id = absl::GetFlag(FLAGS_trial_id);
  if (absl::Status s = trialog::server::CheckTrialId(trial_id); !s.ok()) {
    std::cerr << "trialogd: --print_verifier_key needs --trial_id: " << s.message() << "\n";
    return 2;
  }
  if (config.ledger_key_file().empty()) {
    std::cerr << "trialogd: --print_verifier_key needs --ledger_key_file\n";
    return 2;
  }
  absl::StatusOr<std::string> pub = trialog::crypto::ReadKeyFilePublicKey(config.ledger_key_file());
  if (!pub.ok()) {
    std::cerr << "trialogd: " << pub.status().message() << "\n";
    return 1;
  }
  std::string name = config.ledger_name();
  if (name.empty()) {
    absl::StatusOr<std::string> n = trialog::crypto::ReadKeyFileName(config.ledger_key_file());
    if (!n.ok()) {
      std::cerr << "trialogd: " << n.status().message() << "\n";
      return 1;
    }
    name = *n;
  }
  std::cout << trialog::server::VerifierKeyFor(name, trial_id, *pub) << "\n";
  return 0;
}

int NewLedgerKey(const ServerConfig& config) {
  if (config.ledger_key_file().empty() || config.ledger_name().empty()) {
    std::cerr << "trialogd: --new_ledger_key needs --ledger_key_file and --ledger_name\n";
    return 2;
  }
  absl::StatusOr<std::string> passphrase = trialog::server::LedgerKeyPassphrase(config);
  if (!passphrase.ok()) {
    std::cerr << "trialogd: " << passphrase.status().message() << "\n";
    return 2;
  }
  trialog::crypto::SigningKey key = trialog::crypto::SigningKey::Generate();
  absl::Status s = trialog::crypto::WriteKeyFile(config.ledger_key_file(), config.ledger_name(),
                                                 key, *passphrase);
  if (!s.ok()) {
    std::cerr << "trialogd: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "trialogd: wrote " << config.ledger_key_file() << " (public key "
            << trialog::Base64Encode(key.public_key()) << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  trialog::DisableMutexDeadlockDetectionUnlessAsked();
  absl::SetProgramUsageMessage(
      "the trialog ledger server.\n\n"
      "Serves signed, hash-chained clinical-trial ledgers over gRPC (trialog.v1.LedgerService,\n"
      "grpc.health.v1.Health, server reflection), one RocksDB per trial under --data_dir, with\n"
      "every checkpoint signed by the ledger key.\n\n"
      "Typical use:\n"
      "  TRIALOG_LEDGER_PASSPHRASE=... trialogd --data_dir=/var/lib/trialog \\\n"
      "      --ledger_key_file=/etc/trialog/ledger.key --listen=0.0.0.0:7443 \\\n"
      "      --tls_cert_file=server.pem --tls_key_file=server.key [--tls_client_ca_file=ca.pem] \\\n"
      "      --metrics_listen=127.0.0.1:9464 [--accept_new_trials]\n"
      "  trialogd --plaintext --listen=127.0.0.1:7443 ...    (development, loopback only)\n"
      "  trialogd --new_ledger_key --ledger_key_file=ledger.key --ledger_name=trialog.example\n"
      "      creates the ledger key (passphrase from --ledger_key_passphrase_file or the env).\n"
      "  trialogd --print_verifier_key --ledger_key_file=ledger.key --trial_id=T\n"
      "      prints the key clients pin to verify trial T's checkpoints and receipts.\n\n"
      "All flags may also be set in a text-format config file (--config; fields of\n"
      "trialog.server.ServerConfig); flags on the command line win. SIGTERM/SIGINT stop\n"
      "accepting calls, finish the appends in flight, close the ledgers and exit 0.");
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view path) {
    return absl::StrContains(path, "server/main.cc");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  RecordGivenFlags(argc, argv);
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<ServerConfig> config = BuildConfig();
  if (!config.ok()) {
    std::cerr << "trialogd: " << config.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_print_verifier_key)) return PrintVerifierKey(*config);
  if (absl::GetFlag(FLAGS_new_ledger_key)) return NewLedgerKey(*config);

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The domain's state machines: the clinical-trial rules and projections.
  trialog::server::StateMachineFactory machines = [](absl::string_view) {
    std::vector<std::unique_ptr<trialog::ledger::StateMachine>> v;
    v.push_back(std::make_unique<trialog::trial::TrialStateMachine>());
    return v;
  };

  absl::StatusOr<std::unique_ptr<trialog::server::Server>> server =
      trialog::server::Server::Start(*config, machines);
  if (!server.ok()) {
    std::cerr << "trialogd: " << server.status().message() << "\n";
    return server.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cerr << "trialogd: serving on port " << (*server)->grpc_port()
            << ((*server)->metrics_port() ? absl::StrCat(", metrics on port ",
                                                         (*server)->metrics_port())
                                          : std::string())
            << "\n";
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cerr << "trialogd: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
            << ": finishing appends in flight\n";
  absl::Status s = (*server)->Shutdown(absl::Milliseconds(absl::GetFlag(FLAGS_shutdown_grace_ms)));
  server->reset();
  if (!s.ok()) {
    std::cerr << "trialogd: shutdown: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "trialogd: stopped cleanly\n" << std::flush;
  // Every ledger is closed and durable. Skip static destructors: gRPC's
  // library teardown can take seconds waiting on its internal threads.
  std::_Exit(0);
}
