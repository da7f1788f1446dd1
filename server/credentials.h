// Transport security of trialogd: TLS or mutual TLS from PEM files, or
// plaintext (only ever on loopback; ValidateConfig enforces that).

#ifndef TRIALOG_SERVER_CREDENTIALS_H_
#define TRIALOG_SERVER_CREDENTIALS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "server/config.pb.h"

namespace trialog::server {

// Server credentials for a validated config. With tls.client_ca_file set,
// clients must present a certificate signed by that CA (mutual TLS).
// NOT_FOUND when a PEM file cannot be read; INVALID_ARGUMENT when it does not
// look like PEM.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerConfig& config);

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_CREDENTIALS_H_
