// trialogd configuration: loading the text-format config file, defaults,
// and the checks that refuse unsafe settings before anything starts.

#ifndef TRIALOG_SERVER_CONFIG_H_
#define TRIALOG_SERVER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/config.pb.h"

namespace trialog::server {

inline constexpr uint32_t kDefaultMaxBatchEnvelopes = 1024;
inline constexpr uint32_t kDefaultMaxMessageBytes = 64 << 20;
inline constexpr uint32_t kDefaultMaxSequencerBatch = 512;
// Free space (MiB) below which appends are refused with UNAVAILABLE.
inline constexpr uint32_t kDefaultMinFreeDiskMb = 64;

// Reads `path` as a text-format ServerConfig. NOT_FOUND if the file cannot
// be read; INVALID_ARGUMENT (with line and column) if it does not parse.
absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path);

// Fills unset numeric fields with their defaults.
void ApplyDefaults(ServerConfig& config);

// Whether `host_port` ("127.0.0.1:7443", "[::1]:0", "localhost:80") names a
// loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(absl::string_view host_port);

// Checks a complete configuration: data_dir, listen_address and
// ledger_key_file set; either TLS (cert and key) or plaintext, not both and
// not neither; plaintext only on a loopback listen address; mutual TLS
// needs TLS. INVALID_ARGUMENT naming the setting otherwise.
absl::Status ValidateConfig(const ServerConfig& config);

// Reads a whole file (NOT_FOUND / INTERNAL with the path on failure).
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The passphrase of the ledger key: the first line of
// `config.ledger_key_passphrase_file`, else $TRIALOG_LEDGER_PASSPHRASE.
// FAILED_PRECONDITION when neither is given.
absl::StatusOr<std::string> LedgerKeyPassphrase(const ServerConfig& config);

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_CONFIG_H_
