// Where a ledger to audit comes from: a live server, a data directory or an
// export bundle. Each source yields its latest signed checkpoint and its
// entries in index order, as stored (never re-encoded).

#ifndef TRIALOG_TOOLS_TRIALOG_SOURCES_H_
#define TRIALOG_TOOLS_TRIALOG_SOURCES_H_

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/ledger/parallel_verifier.h"
#include "grpcpp/channel.h"

namespace trialog::cli {

class LedgerSource {
 public:
  virtual ~LedgerSource() = default;
  // A human-readable name ("server 127.0.0.1:7443 trial X", a path).
  virtual std::string Describe() const = 0;
  // The latest signed checkpoint note, exactly as signed.
  virtual absl::StatusOr<std::string> CheckpointNote() = 0;
  // The newest checkpoint cosigned by the ledger server's witnesses, with
  // their cosignature lines: from a server, GetCheckpoint(cosigned); from a
  // data directory, the file trialogd keeps (<data>/witnessing/<trial>.cosigned).
  // FAILED_PRECONDITION when there is none (the default, for sources that
  // cannot hold one).
  virtual absl::StatusOr<std::string> CosignedCheckpointNote() {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(), " holds no witness-cosigned checkpoint"));
  }
  // Number of entries the source holds (may exceed the checkpoint's size).
  virtual absl::StatusOr<uint64_t> Size() = 0;
  // Entries in index order from `from`.
  virtual ledger::EntryReader Reader() = 0;
  // Consistency proof between two sizes, when the source can make one
  // (a server can; a bundle cannot: UNIMPLEMENTED).
  virtual absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t old_size,
                                                                    uint64_t new_size) = 0;
};

// Flags that choose and reach a source; shared by verify and checkpoint.
struct SourceFlags {
  std::string server, trial, data, bundle;
  std::string exporter_key;  // --exporter-key: pins a bundle's exporter key
  bool plaintext = false;
  std::string ca_file, cert_file, client_key_file, server_name;
};
void AddSourceFlags(CLI::App* cmd, SourceFlags* flags);
// Exactly one of --server, --data or --bundle (INVALID_ARGUMENT otherwise).
absl::StatusOr<std::unique_ptr<LedgerSource>> OpenSource(const SourceFlags& flags);

// A channel to flags.server with the TLS settings of `flags` (plaintext,
// CA, client certificate, server name).
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenServerChannel(const SourceFlags& flags);

}  // namespace trialog::cli

#endif  // TRIALOG_TOOLS_TRIALOG_SOURCES_H_
