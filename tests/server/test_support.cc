#include "tests/server/test_support.h"

#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/metrics_scrape.h"
#include "core/crypto/key_file.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tools/process/child_process.h"

namespace trialog::testing {
namespace {

using process::ReadFileOrEmpty;

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Distinct names and channel arguments; tests call the helpers from
// several threads at once (server_test's concurrent appenders each make a
// PlainStub), so the counter is atomic.
std::atomic<int> counter{0};

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/trialog-test-XXXXXX");
  char* made = mkdtemp(tmpl.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (std::getenv("TRIALOG_KEEP_TEST_FILES") != nullptr) {
    std::cerr << "TRIALOG_KEEP_TEST_FILES: kept " << path_ << "\n";
    return;
  }
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

absl::StatusOr<LedgerKey> MakeLedgerKey(const TempDir& dir, const std::string& name) {
  LedgerKey k;
  k.name = name;
  k.key_file = dir.File(name + ".key");
  k.passphrase_file = dir.File(name + ".pass");
  k.passphrase = absl::StrCat("pass-", crypto::RandomBytes(4).size(), "-", ++counter, "-x");
  crypto::SigningKey key = crypto::SigningKey::Generate();
  k.public_key = key.public_key();
  crypto::KeyFileParams params;
  params.opslimit = crypto_pwhash_OPSLIMIT_MIN;
  params.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  absl::Status s = crypto::WriteKeyFile(k.key_file, name, key, k.passphrase, params);
  if (!s.ok()) return s;
  s = WriteText(k.passphrase_file, k.passphrase + "\n");
  if (!s.ok()) return s;
  return k;
}

absl::StatusOr<Certs> MakeCerts(const TempDir& dir) {
  const std::string d = dir.path();
  const std::string script = absl::StrCat(
      "set -e; cd '", d, "'\n",
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext\n",
      "for ca in ca otherca; do openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -keyout $ca.key -out $ca.pem -days 2 -subj /CN=trialog-test-$ca 2>/dev/null; done\n",
      "for who in server client other; do openssl req -newkey ec -pkeyopt "
      "ec_paramgen_curve:prime256v1 -nodes -keyout $who.key -out $who.csr -subj /CN=$who "
      "2>/dev/null; done\n",
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem "
      "-days 2 -extfile san.ext 2>/dev/null\n",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem "
      "-days 2 2>/dev/null\n",
      "openssl x509 -req -in other.csr -CA otherca.pem -CAkey otherca.key -CAcreateserial "
      "-out other.pem -days 2 2>/dev/null\n");
  const std::string script_file = dir.File("certs.sh");
  absl::Status s = WriteText(script_file, script);
  if (!s.ok()) return s;
  int rc = std::system(absl::StrCat("/bin/sh '", script_file, "'").c_str());
  if (rc != 0) return absl::InternalError("openssl failed to make test certificates");
  Certs c;
  c.ca_file = dir.File("ca.pem");
  c.ca_pem = ReadFileOrEmpty(c.ca_file);
  c.server_cert_file = dir.File("server.pem");
  c.server_key_file = dir.File("server.key");
  c.client_cert_pem = ReadFileOrEmpty(dir.File("client.pem"));
  c.client_key_pem = ReadFileOrEmpty(dir.File("client.key"));
  c.other_client_cert_pem = ReadFileOrEmpty(dir.File("other.pem"));
  c.other_client_key_pem = ReadFileOrEmpty(dir.File("other.key"));
  return c;
}

// $TRIALOG_TRIALOGD overrides (benchmarks comparing server builds).
std::string TrialogdPath() {
  const char* override_path = std::getenv("TRIALOG_TRIALOGD");
  if (override_path != nullptr && *override_path != '\0') return override_path;
  return std::string(TRIALOG_BINARY_DIR) + "/server/trialogd";
}

std::vector<std::string> PlainTrialogdArgs(const TempDir& dir, const LedgerKey& key,
                                           const std::vector<std::string>& extra,
                                           const std::string& data_subdir) {
  std::vector<std::string> args = {"--data_dir=" + dir.File(data_subdir),
                                   "--listen=127.0.0.1:0",
                                   "--plaintext",
                                   "--accept_new_trials",
                                   "--ledger_key_file=" + key.key_file,
                                   "--ledger_key_passphrase_file=" + key.passphrase_file};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

absl::StatusOr<std::unique_ptr<SuiteTrialogd>> SuiteTrialogd::Start(
    const std::string& ledger_name, const std::vector<std::string>& extra) {
  std::unique_ptr<SuiteTrialogd> s(new SuiteTrialogd());
  absl::StatusOr<LedgerKey> key = MakeLedgerKey(s->dir_, ledger_name);
  if (!key.ok()) return key.status();
  s->key_ = *std::move(key);
  absl::StatusOr<std::unique_ptr<Trialogd>> d =
      Trialogd::Start(s->dir_, PlainTrialogdArgs(s->dir_, s->key_, extra));
  if (!d.ok()) return d.status();
  s->server_ = *std::move(d);
  return s;
}

SuiteTrialogd::~SuiteTrialogd() {
  if (server_ != nullptr) {
    EXPECT_EQ(server_->Stop(SIGTERM), 0) << server_->Stderr();
  }
}

absl::StatusOr<std::unique_ptr<Trialogd>> Trialogd::Start(const TempDir& dir,
                                                          std::vector<std::string> args,
                                                          const std::vector<std::string>& env) {
  const int n = ++counter;
  args.insert(args.begin(), TrialogdPath());
  absl::StatusOr<process::Daemon> d =
      process::Daemon::Start(std::move(args),
                             {.ready_file = dir.File(absl::StrCat("ready.", n)),
                              .log_file = dir.File(absl::StrCat("trialogd.", n, ".log")),
                              .timeout = absl::Seconds(30),
                              .extra_env = env});
  if (!d.ok()) return d.status();
  return std::unique_ptr<Trialogd>(new Trialogd(*std::move(d)));
}

int Trialogd::Stop(int sig, absl::Duration timeout) { return daemon_.Stop(sig, timeout); }

std::string Trialogd::Stderr() const { return ReadFileOrEmpty(daemon_.log_file()); }

CliResult RunTrialogCli(const std::vector<std::string>& args) {
  std::string cmd = std::string(TRIALOG_BINARY_DIR) + "/tools/trialog";
  for (const std::string& a : args) cmd += " '" + a + "'";
  CliResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

RunResult RunTrialogd(const TempDir& dir, const std::vector<std::string>& args,
                      const std::vector<std::string>& env) {
  RunResult r;
  std::vector<std::string> argv = args;
  argv.insert(argv.begin(), TrialogdPath());
  const std::string out = dir.File(absl::StrCat("run.", ++counter, ".log"));
  absl::StatusOr<pid_t> pid = process::Spawn(argv, out, env);
  if (!pid.ok()) return r;
  int status = 0;
  waitpid(*pid, &status, 0);
  r.exit_code = process::ExitCode(status);
  r.output = ReadFileOrEmpty(out);
  return r;
}

Principal MakePrincipal(const std::string& id, v1::Role role, const std::string& site) {
  Principal p;
  p.actor.set_principal_id(id);
  p.actor.set_printed_name("Dr " + id);
  p.actor.set_role(role);
  p.actor.set_site_id(site);
  return p;
}

v1::SignedEnvelope Genesis(const std::string& trial_id, const std::string& origin,
                           const Principal& admin) {
  v1::Envelope e;
  e.set_stream_id("principals");
  v1::Genesis* g = e.mutable_event()->mutable_genesis();
  g->set_ledger_origin(origin);
  g->set_trial_title("test trial " + trial_id);
  v1::PrincipalRegistered* fa = g->mutable_first_admin();
  fa->set_principal_id(admin.actor.principal_id());
  fa->set_printed_name(admin.actor.printed_name());
  fa->set_role(admin.actor.role());
  fa->set_site_id(admin.actor.site_id());
  fa->set_public_key(admin.key.public_key());
  return admin.signer().Sign(trial_id, e);
}

v1::SignedEnvelope Register(const std::string& trial_id, const Principal& admin,
                            const Principal& p) {
  v1::Envelope e;
  e.set_stream_id("principals");
  v1::PrincipalRegistered* r = e.mutable_event()->mutable_principal_registered();
  r->set_principal_id(p.actor.principal_id());
  r->set_printed_name(p.actor.printed_name());
  r->set_role(p.actor.role());
  r->set_site_id(p.actor.site_id());
  r->set_public_key(p.key.public_key());
  return admin.signer().Sign(trial_id, e);
}

v1::SignedEnvelope Revoke(const std::string& trial_id, const Principal& admin,
                          const std::string& principal_id) {
  v1::Envelope e;
  e.set_stream_id("principals");
  e.set_reason("left the study");
  e.mutable_event()->mutable_principal_revoked()->set_principal_id(principal_id);
  return admin.signer().Sign(trial_id, e);
}

v1::SignedEnvelope Rotate(const std::string& trial_id, const Principal& admin,
                          const std::string& principal_id, const std::string& new_public_key) {
  v1::Envelope e;
  e.set_stream_id("principals");
  e.set_reason("key rotation");
  v1::PrincipalKeyRotated* r = e.mutable_event()->mutable_principal_key_rotated();
  r->set_principal_id(principal_id);
  r->set_new_public_key(new_public_key);
  return admin.signer().Sign(trial_id, e);
}

v1::SignedEnvelope Note(const std::string& trial_id, const Principal& by,
                        const std::string& stream_id, const std::string& text,
                        std::optional<uint64_t> expected_version) {
  v1::Envelope e;
  e.set_stream_id(stream_id);
  if (expected_version.has_value()) e.set_expected_stream_version(*expected_version);
  e.mutable_event()->mutable_trial()->mutable_note()->set_text(text);
  return by.signer().Sign(trial_id, e);
}

std::unique_ptr<v1::LedgerService::Stub> PlainStub(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("trialog.test_channel", ++counter);
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::LedgerService::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
}

std::vector<ledger::ParsedEntry> ReadLedgerEntries(v1::LedgerService::Stub& stub,
                                                   const std::string& trial_id) {
  grpc::ClientContext ctx;
  v1::ReadRequest req;
  req.set_trial_id(trial_id);
  std::unique_ptr<grpc::ClientReader<v1::ReadResponse>> reader = stub.Read(&ctx, req);
  std::vector<ledger::ParsedEntry> out;
  v1::ReadResponse resp;
  while (reader->Read(&resp)) {
    absl::StatusOr<ledger::ParsedEntry> e = ledger::ParseEntry(resp.entry());
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) out.push_back(*std::move(e));
  }
  grpc::Status finished = reader->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  return out;
}

absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  return client::HttpGetLoopback(port, path);
}

}  // namespace trialog::testing
