// Helpers for tests that run the real trialogd binary: temp dirs, ledger
// keys and TLS certificates made at test time, the server process, and
// envelope builders signed with real keys.

#ifndef TRIALOG_TESTS_SERVER_TEST_SUPPORT_H_
#define TRIALOG_TESTS_SERVER_TEST_SUPPORT_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "core/crypto/crypto.h"
#include "core/ledger/entry.h"
#include "gtest/gtest.h"
#include "tools/process/child_process.h"
#include "trialog/v1/service.grpc.pb.h"

namespace trialog::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction
// unless $TRIALOG_KEEP_TEST_FILES is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A ledger key file (fast Argon2 limits) and its passphrase file.
struct LedgerKey {
  std::string key_file;
  std::string passphrase_file;
  std::string passphrase;
  std::string public_key;
  std::string name;
};
absl::StatusOr<LedgerKey> MakeLedgerKey(const TempDir& dir, const std::string& name);

// A CA, a server certificate for localhost/127.0.0.1 and a client
// certificate, made with the openssl CLI.
struct Certs {
  std::string ca_pem, ca_file;
  std::string server_cert_file, server_key_file;
  std::string client_cert_pem, client_key_pem;
  std::string other_client_cert_pem, other_client_key_pem;  // signed by a different CA
};
absl::StatusOr<Certs> MakeCerts(const TempDir& dir);

// The trialogd binary of this build.
std::string TrialogdPath();

// A running trialogd (a process::Daemon started with this build's binary);
// destroying it SIGKILLs a trialogd still running.
class Trialogd {
 public:
  // Starts trialogd with `args` (plus --ready_file) and this process's
  // environment plus `env`, and waits (up to 30 s) until it serves. On
  // early exit returns its stderr in the error.
  static absl::StatusOr<std::unique_ptr<Trialogd>> Start(const TempDir& dir,
                                                         std::vector<std::string> args,
                                                         const std::vector<std::string>& env = {});

  int port() const { return daemon_.port(); }
  int metrics_port() const { return daemon_.metrics_port(); }
  std::string target() const { return daemon_.target(); }
  pid_t pid() const { return daemon_.pid(); }
  // Sends `sig` and waits for exit (SIGKILL after `timeout`); returns the
  // exit code (128 + signal when a signal ended it).
  int Stop(int sig, absl::Duration timeout = absl::Seconds(20));
  std::string Stderr() const;  // its stdout and stderr so far

 private:
  explicit Trialogd(process::Daemon daemon) : daemon_(std::move(daemon)) {}
  process::Daemon daemon_;
};

// The flags of a test trialogd: data in dir/`data_subdir`, plaintext gRPC
// on a free loopback port, new trials accepted, checkpoints signed with
// `key`; then `extra` (e.g. "--sync=false", "--metrics_listen=127.0.0.1:0").
std::vector<std::string> PlainTrialogdArgs(const TempDir& dir, const LedgerKey& key,
                                           const std::vector<std::string>& extra = {},
                                           const std::string& data_subdir = "data");

// One trialogd shared by a whole test suite: a fresh temp dir, a ledger key
// made in it for `ledger_name`, and the server started with
// PlainTrialogdArgs(dir, key, extra). Destroying it stops the server with
// SIGTERM and EXPECTs a clean exit (its output in the failure message).
class SuiteTrialogd {
 public:
  static absl::StatusOr<std::unique_ptr<SuiteTrialogd>> Start(
      const std::string& ledger_name, const std::vector<std::string>& extra = {});
  ~SuiteTrialogd();

  TempDir& dir() { return dir_; }
  const LedgerKey& key() const { return key_; }
  Trialogd& server() { return *server_; }

 private:
  SuiteTrialogd() = default;
  TempDir dir_;
  LedgerKey key_;
  std::unique_ptr<Trialogd> server_;
};

// A gtest fixture base for suites that share one SuiteTrialogd. Derived
// fixtures call StartSuiteTrialogd from SetUpTestSuite and
// StopSuiteTrialogd from TearDownTestSuite; tests use dir_, key_, server_.
// (A template so that each derived suite has its own statics.)
template <typename Derived>
class SuiteTrialogdTest : public ::testing::Test {
 protected:
  static void StartSuiteTrialogd(const std::string& ledger_name,
                                 const std::vector<std::string>& extra = {}) {
    absl::StatusOr<std::unique_ptr<SuiteTrialogd>> s = SuiteTrialogd::Start(ledger_name, extra);
    ASSERT_TRUE(s.ok()) << s.status();
    suite_ = s->release();
    dir_ = &suite_->dir();
    key_ = &suite_->key();
    server_ = &suite_->server();
  }
  static void StopSuiteTrialogd() {
    delete suite_;
    suite_ = nullptr;
    dir_ = nullptr;
    key_ = nullptr;
    server_ = nullptr;
  }

  static inline SuiteTrialogd* suite_ = nullptr;
  static inline TempDir* dir_ = nullptr;
  static inline const LedgerKey* key_ = nullptr;
  static inline Trialogd* server_ = nullptr;
};

// Runs trialogd to completion with `args`; returns exit code and stderr+stdout.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult RunTrialogd(const TempDir& dir, const std::vector<std::string>& args,
                      const std::vector<std::string>& env = {});

// Runs the trialog CLI of this build with `args` (each passed as one
// argument); stdout is captured, stderr goes to the test's log.
struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout only
};
CliResult RunTrialogCli(const std::vector<std::string>& args);

// A principal with a fresh key.
struct Principal {
  v1::Actor actor;
  crypto::SigningKey key = crypto::SigningKey::Generate();
  client::Signer signer() const { return client::Signer(actor, key); }
};
Principal MakePrincipal(const std::string& id, v1::Role role, const std::string& site = "");

// Envelopes (signed by the principal given).
v1::SignedEnvelope Genesis(const std::string& trial_id, const std::string& origin,
                           const Principal& admin);
v1::SignedEnvelope Register(const std::string& trial_id, const Principal& admin,
                            const Principal& p);
v1::SignedEnvelope Revoke(const std::string& trial_id, const Principal& admin,
                          const std::string& principal_id);
v1::SignedEnvelope Rotate(const std::string& trial_id, const Principal& admin,
                          const std::string& principal_id, const std::string& new_public_key);
v1::SignedEnvelope Note(const std::string& trial_id, const Principal& by,
                        const std::string& stream_id, const std::string& text,
                        std::optional<uint64_t> expected_version = std::nullopt);

// A plaintext stub on `target`.
std::unique_ptr<v1::LedgerService::Stub> PlainStub(const std::string& target);

// Every entry of `trial_id`, read back over the Read RPC and parsed (a
// failed parse or a failed stream is a test failure; the entries read
// until then are returned).
std::vector<ledger::ParsedEntry> ReadLedgerEntries(v1::LedgerService::Stub& stub,
                                                   const std::string& trial_id);

// Simple HTTP GET on 127.0.0.1:port; returns the whole response.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

}  // namespace trialog::testing

#endif  // TRIALOG_TESTS_SERVER_TEST_SUPPORT_H_
