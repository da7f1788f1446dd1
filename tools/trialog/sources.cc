#include "tools/trialog/sources.h"

#include "absl/strings/str_cat.h"
#include "tools/export/bundle_source.h"
#include "tools/trialog/cli_util.h"

namespace trialog::cli {

absl::StatusOr<std::unique_ptr<LedgerSource>> OpenServerSource(const SourceFlags& flags);
absl::StatusOr<std::unique_ptr<LedgerSource>> OpenDataSource(const SourceFlags& flags);

void AddSourceFlags(CLI::App* cmd, SourceFlags* flags) {
  cmd->add_option("--server", flags->server, "A live trialogd, HOST:PORT")->group("Source");
  cmd->add_option("--trial", flags->trial, "Trial id (with --server or --data)")->group("Source");
  cmd->add_option("--data", flags->data,
                  "A trialogd data directory (read-only; stop the server first)")
      ->group("Source");
  cmd->add_option("--bundle", flags->bundle, "An export bundle directory (trialog export bundle|subject)")
      ->group("Source");
  cmd->add_option("--exporter-key", flags->exporter_key,
                  "With --bundle: the exporter's verifier key, or @FILE (else the bundle's own is used)")
      ->group("Source");
  cmd->add_flag("--plaintext", flags->plaintext, "No TLS (loopback servers only)")
      ->group("Connection");
  cmd->add_option("--ca", flags->ca_file, "PEM CA certificate that signed the server's")
      ->group("Connection");
  cmd->add_option("--cert", flags->cert_file, "PEM client certificate, for mutual TLS")
      ->group("Connection");
  cmd->add_option("--client-key", flags->client_key_file, "PEM client private key, for mutual TLS")
      ->group("Connection");
  cmd->add_option("--server-name", flags->server_name, "Expected name in the server certificate")
      ->group("Connection");
}

absl::StatusOr<std::unique_ptr<LedgerSource>> OpenSource(const SourceFlags& flags) {
  int chosen = !flags.server.empty() + !flags.data.empty() + !flags.bundle.empty();
  if (chosen != 1) {
    return absl::InvalidArgumentError("give exactly one of --server, --data or --bundle");
  }
  if (!flags.bundle.empty()) {
    exporter::BundleTrust trust;
    if (!flags.exporter_key.empty()) {
      absl::StatusOr<std::string> key = ValueOrFile(flags.exporter_key);
      if (!key.ok()) return absl::InvalidArgumentError(key.status().message());
      trust.exporter_vkey = *key;
    }
    return exporter::OpenBundleSource(flags.bundle, trust);
  }
  if (!flags.server.empty()) return OpenServerSource(flags);
  return OpenDataSource(flags);
}

}  // namespace trialog::cli
