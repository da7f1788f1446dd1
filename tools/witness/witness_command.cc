#include "tools/witness/witness_command.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/crypto/key_file.h"
#include "core/note/cosignature.h"
#include "tools/witness/config.h"
#include "tools/witness/http_server.h"
#include "tools/witness/witness.h"

namespace trialog::witness {
namespace {

constexpr char kDefaultListen[] = "127.0.0.1:7380";

constexpr char kDescription[] =
    "Run a witness: an independent cosigner of trialog checkpoints (C2SP tlog-witness v1.0.0).\n"
    "It cosigns a ledger's checkpoint only if it extends the last one it cosigned, so nobody\n"
    "(the sponsor included) can fork or rewrite a trial's history without every witness\n"
    "refusing it.";

constexpr char kFooter[] = R"(How it works:
  The ledger server POSTs each new checkpoint to <url>/add-checkpoint with the size of the
  last checkpoint this witness cosigned for it and an RFC 6962 consistency proof from that
  size. The witness checks the ledger's signature (--log key), checks the proof against the
  checkpoint it stored, stores the new one durably (fsync) in --dir, and answers with a
  tlog-cosignature/v1 line. A checkpoint that does not extend the stored one is refused
  (409 Conflict or 422) and, when the ledger's signature on it is valid, the request is kept
  in DIR/evidence/ as proof of the fork. DIR/logs/*.checkpoint holds the last checkpoint
  cosigned for each ledger, as a signed note anyone can read and verify.

Set up a witness for one trial:
  1. Make the witness key once (prints the witness's cosigner key, name+id+key: give it to
     the sponsor, who configures trialogd with it, and to everyone who verifies):
       trialog witness --key-file witness.key --new-key witness.regulator.example/w1 \
           --passphrase-file witness.pass
  2. Get the ledger's verifier key line from the sponsor (`name+hex8+base64`; for trialog
     ledgers the key name is the checkpoint origin).
  3. Run it (keep DIR on durable storage and back it up):
       trialog witness --listen 0.0.0.0:7380 --dir /var/lib/trialog-witness \
           --key-file witness.key --passphrase-file witness.pass \
           --log 'trialog.example/imt-crizotinib-01+1a2b3c4d+ARV...'
     --log ORIGIN=VKEY witnesses a log whose origin differs from its key name; repeat
     --log for more ledgers, or for a second key of the same ledger during a rotation.

Passphrase: first line of --passphrase-file, else $TRIALOG_WITNESS_PASSPHRASE.
Config file (--config FILE): "key = value" lines with the long flag names (listen, dir,
key-file, passphrase-file, prefix; log may repeat); '#' starts a comment. Flags override it.
Stop with SIGINT or SIGTERM; state survives restarts.)";

struct Flags {
  std::string listen, dir, key_file, passphrase_file, prefix, config, new_key;
  std::vector<std::string> logs;
  bool print_key = false;
  CLI::Option* listen_opt = nullptr;
  CLI::Option* dir_opt = nullptr;
  CLI::Option* key_file_opt = nullptr;
  CLI::Option* passphrase_opt = nullptr;
  CLI::Option* prefix_opt = nullptr;
};

// Serialises stderr lines from the server's threads.
void LogLine(absl::string_view line) {
  static absl::Mutex mu(absl::kConstInit);
  absl::MutexLock lock(&mu);
  std::cerr << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone())
            << " witness: " << line << std::endl;
}

int Fail(int code, absl::string_view message) {
  std::cerr << "trialog witness: " << message << "\n";
  return code;
}

// Fills flags not given on the command line from the config file.
absl::Status ApplyConfig(Flags* f) {
  if (f->config.empty()) return absl::OkStatus();
  absl::StatusOr<ConfigFile> config = ReadConfigFile(f->config);
  if (!config.ok()) return config.status();
  auto take = [&](const char* key, CLI::Option* opt, std::string* value) {
    auto it = config->values.find(key);
    if (it != config->values.end() && opt->count() == 0) *value = it->second;
  };
  take("listen", f->listen_opt, &f->listen);
  take("dir", f->dir_opt, &f->dir);
  take("key-file", f->key_file_opt, &f->key_file);
  take("passphrase-file", f->passphrase_opt, &f->passphrase_file);
  take("prefix", f->prefix_opt, &f->prefix);
  std::vector<std::string> logs = config->logs;
  logs.insert(logs.end(), f->logs.begin(), f->logs.end());
  f->logs = std::move(logs);
  return absl::OkStatus();
}

int PrintKey(const Flags& f) {
  absl::StatusOr<std::string> name = crypto::ReadKeyFileName(f.key_file);
  if (!name.ok()) return Fail(kExitError, name.status().message());
  absl::StatusOr<std::string> pub = crypto::ReadKeyFilePublicKey(f.key_file);
  if (!pub.ok()) return Fail(kExitError, pub.status().message());
  std::cout << note::FormatCosignerKey(*name, *pub) << std::endl;
  return kExitOk;
}

int NewKey(const Flags& f) {
  absl::StatusOr<std::string> passphrase = ReadPassphrase(f.passphrase_file);
  if (!passphrase.ok()) return Fail(kExitUsage, passphrase.status().message());
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  absl::Status written = crypto::WriteKeyFile(f.key_file, f.new_key, key, *passphrase);
  crypto::Wipe(&*passphrase);
  if (!written.ok()) {
    return Fail(written.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitError,
                written.message());
  }
  std::cout << note::FormatCosignerKey(f.new_key, key.public_key()) << std::endl;
  std::cerr << "trialog witness: wrote " << f.key_file
            << "; the line above is the witness's cosigner key (tlog-cosignature v1)\n";
  return kExitOk;
}

int Serve(const Flags& f) {
  if (f.dir.empty()) return Fail(kExitUsage, "--dir is required (the witness's state directory)");
  absl::StatusOr<std::vector<LogConfig>> logs = LogsFromSpecs(f.logs);
  if (!logs.ok()) return Fail(kExitUsage, logs.status().message());
  absl::StatusOr<std::string> name = crypto::ReadKeyFileName(f.key_file);
  if (!name.ok()) return Fail(kExitError, name.status().message());
  absl::StatusOr<std::string> passphrase = ReadPassphrase(f.passphrase_file);
  if (!passphrase.ok()) return Fail(kExitUsage, passphrase.status().message());
  absl::StatusOr<crypto::SigningKey> key = crypto::LoadKeyFile(f.key_file, *passphrase);
  crypto::Wipe(&*passphrase);
  if (!key.ok()) {
    return Fail(kExitError, absl::StrCat("witness key ", f.key_file, ": ", key.status().message()));
  }

  WitnessOptions options;
  options.dir = f.dir;
  options.name = *name;
  options.logs = *std::move(logs);
  options.log = LogLine;
  absl::StatusOr<std::unique_ptr<Witness>> witness = Witness::Open(std::move(options), *key);
  if (!witness.ok()) {
    return Fail(witness.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                               : kExitError,
                witness.status().message());
  }

  // Block the stop signals in this thread before the server's threads start
  // (they inherit the mask), then wait for one here.
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, &old);

  HttpServerOptions http;
  http.listen = f.listen.empty() ? kDefaultListen : f.listen;
  http.prefix = f.prefix;
  absl::StatusOr<std::unique_ptr<WitnessHttpServer>> server =
      WitnessHttpServer::Start(http, witness->get());
  if (!server.ok()) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return Fail(server.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                              : kExitError,
                server.status().message());
  }
  std::cout << "trialog witness: cosigner key " << (*witness)->cosigner_key() << "\n";
  for (const std::string& origin : (*witness)->origins()) {
    std::cout << "trialog witness: witnessing " << origin << "\n";
  }
  std::cout << "trialog witness: state in " << f.dir << "\n";
  std::cout << "trialog witness: listening on " << (*server)->url() << " (POST "
            << http.prefix << kAddCheckpointPath << ")" << std::endl;

  int signal_number = 0;
  sigwait(&stop, &signal_number);
  LogLine(absl::StrCat("stopping on signal ", signal_number));
  server->reset();   // waits for requests in flight
  witness->reset();  // releases the directory lock
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return kExitOk;
}

int Run(Flags* f) {
  if (absl::Status s = ApplyConfig(f); !s.ok()) return Fail(kExitUsage, s.message());
  if (f->key_file.empty()) return Fail(kExitUsage, "--key-file is required");
  if (f->print_key) return PrintKey(*f);
  if (!f->new_key.empty()) return NewKey(*f);
  return Serve(*f);
}

}  // namespace

void ConfigureWitnessCommand(CLI::App* cmd, int* exit_code) {
  auto f = std::make_shared<Flags>();
  cmd->description(kDescription);
  cmd->footer(kFooter);
  f->listen_opt = cmd->add_option("--listen", f->listen,
                                  "Address to serve HTTP on: IP:PORT, localhost:PORT or [IPv6]:PORT "
                                  "(default 127.0.0.1:7380; 0.0.0.0:7380 for every interface; "
                                  "port 0 picks a free one)");
  f->dir_opt = cmd->add_option("--dir", f->dir,
                               "State directory: the last cosigned checkpoint per ledger, refused "
                               "requests kept as evidence; created if missing, locked while running");
  f->key_file_opt = cmd->add_option("--key-file", f->key_file,
                                    "The witness's passphrase-encrypted Ed25519 key file (its key "
                                    "name is the witness's name)");
  f->passphrase_opt = cmd->add_option(
      "--passphrase-file", f->passphrase_file,
      "File whose first line is the key's passphrase (else $TRIALOG_WITNESS_PASSPHRASE)");
  cmd->add_option("--log", f->logs,
                  "A ledger to witness: VKEY (its verifier key; the origin is the key's name) or "
                  "ORIGIN=VKEY. Repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  f->prefix_opt = cmd->add_option("--prefix", f->prefix,
                                  "URL path prefix for the API, e.g. /witness (default: none, "
                                  "so POST /add-checkpoint)");
  cmd->add_option("--config", f->config, "Config file of key = value lines (see below)");
  cmd->add_option("--new-key", f->new_key,
                  "Create --key-file with a new key of this name (e.g. witness.example/w1), print "
                  "its cosigner key and exit");
  cmd->add_flag("--print-key", f->print_key,
                "Print the cosigner key of --key-file (no passphrase needed) and exit");
  cmd->callback([f, exit_code] { *exit_code = Run(f.get()); });
}

}  // namespace trialog::witness

void RegisterWitness(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("witness", "Run a witness that cosigns ledger checkpoints");
  trialog::witness::ConfigureWitnessCommand(cmd, exit_code);
}
