#include "server/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace trialog::server {
namespace {

// Collects TextFormat parse errors instead of logging them.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (errors_.empty()) {
      errors_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat("error reading ", path));
  return ss.str();
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  ServerConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(*text, &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", path, " is not a valid trialog.server.ServerConfig: ",
                     errors.errors()));
  }
  return config;
}

void ApplyDefaults(ServerConfig& config) {
  if (config.max_batch_envelopes() == 0) config.set_max_batch_envelopes(kDefaultMaxBatchEnvelopes);
  if (config.max_message_bytes() == 0) config.set_max_message_bytes(kDefaultMaxMessageBytes);
  if (config.max_sequencer_batch() == 0) {
    config.set_max_sequencer_batch(kDefaultMaxSequencerBatch);
  }
  if (!config.has_sync()) config.set_sync(true);
}

bool IsLoopbackAddress(absl::string_view host_port) {
  std::string host;
  if (!host_port.empty() && host_port.front() == '[') {
    size_t close = host_port.find(']');
    if (close == absl::string_view::npos) return false;
    host = std::string(host_port.substr(1, close - 1));
  } else {
    size_t colon = host_port.rfind(':');
    host = std::string(colon == absl::string_view::npos ? host_port : host_port.substr(0, colon));
  }
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

absl::Status ValidateConfig(const ServerConfig& config) {
  if (config.data_dir().empty()) {
    return absl::InvalidArgumentError("data_dir is not set (--data_dir or config data_dir)");
  }
  if (config.listen_address().empty()) {
    return absl::InvalidArgumentError("listen_address is not set (--listen)");
  }
  if (config.ledger_key_file().empty()) {
    return absl::InvalidArgumentError(
        "ledger_key_file is not set (--ledger_key_file); create one with `trialogd --new_ledger_key`");
  }
  const bool tls = !config.tls().cert_file().empty() || !config.tls().key_file().empty();
  if (tls && (config.tls().cert_file().empty() || config.tls().key_file().empty())) {
    return absl::InvalidArgumentError("TLS needs both tls_cert_file and tls_key_file");
  }
  if (!config.tls().client_ca_file().empty() && !tls) {
    return absl::InvalidArgumentError(
        "tls_client_ca_file (mutual TLS) needs tls_cert_file and tls_key_file too");
  }
  if (tls && config.plaintext()) {
    return absl::InvalidArgumentError("choose TLS (tls_cert_file/tls_key_file) or --plaintext, not both");
  }
  if (!tls && !config.plaintext()) {
    return absl::InvalidArgumentError(
        "no transport security configured: give --tls_cert_file and --tls_key_file, or "
        "--plaintext for a loopback-only listener");
  }
  if (config.plaintext() && !IsLoopbackAddress(config.listen_address())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing --plaintext on non-loopback address ", config.listen_address(),
        ": plaintext is allowed only on 127.0.0.0/8, [::1] or localhost; use TLS elsewhere"));
  }
  if (!config.metrics_address().empty() &&
      config.metrics_address().find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_address ", config.metrics_address(), " is not host:port"));
  }
  if (!config.backup_dir().empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(config.backup_dir(), ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("backup_dir ", config.backup_dir(), " is not an existing directory"));
    }
    const std::filesystem::path backups = std::filesystem::weakly_canonical(config.backup_dir(), ec);
    const std::filesystem::path data = std::filesystem::weakly_canonical(config.data_dir(), ec);
    const auto mismatch = std::mismatch(data.begin(), data.end(), backups.begin(), backups.end());
    if (mismatch.first == data.end()) {
      return absl::InvalidArgumentError(absl::StrCat("backup_dir ", config.backup_dir(),
                                                     " is inside data_dir ", config.data_dir(),
                                                     ": keep backups apart from the live data"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LedgerKeyPassphrase(const ServerConfig& config) {
  if (!config.ledger_key_passphrase_file().empty()) {
    absl::StatusOr<std::string> text = ReadFile(config.ledger_key_passphrase_file());
    if (!text.ok()) return text.status();
    std::string pass = *text;
    size_t nl = pass.find('\n');
    if (nl != std::string::npos) pass.resize(nl);
    if (!pass.empty() && pass.back() == '\r') pass.pop_back();
    return pass;
  }
  if (const char* env = std::getenv("TRIALOG_LEDGER_PASSPHRASE"); env != nullptr) {
    return std::string(env);
  }
  return absl::FailedPreconditionError(
      "no ledger key passphrase: set --ledger_key_passphrase_file or $TRIALOG_LEDGER_PASSPHRASE");
}

}  // namespace trialog::server
