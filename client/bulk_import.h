// Client side of batch-signed bulk import (proto/trialog/v1/
// bulk_import.proto, docs/FORMAT.md §1.1): builds a batch of envelopes for
// one system principal, signs its Merkle root once, sends it, and checks
// the answer (checkpoint signed by the pinned ledger key and covering the
// batch; with receipts, every entry's bytes carry exactly the envelope sent
// and verify in the checkpoint).
//
// Thread-safety: BatchBuilder is not thread-safe; ImportBatch is.

#ifndef TRIALOG_CLIENT_BULK_IMPORT_H_
#define TRIALOG_CLIENT_BULK_IMPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "core/note/keys.h"
#include "trialog/v1/bulk_import.grpc.pb.h"

namespace trialog::client {

// Accumulates envelopes of one signer for one trial.
class BatchBuilder {
 public:
  // `signer` must outlive the builder; its actor must be registered as
  // ROLE_EXTERNAL_SYSTEM in the trial for the server to accept the batch.
  BatchBuilder(const Signer& signer, std::string trial_id)
      : signer_(signer), trial_id_(std::move(trial_id)) {}

  // Completes `envelope` as Signer::Sign does (trial id, actor, a fresh
  // event id if none, client time, observed_at if unset) without signing
  // it, and adds its bytes to the batch.
  void Add(v1::Envelope envelope);
  // Adds envelope bytes as they are (e.g. read from an export); the server
  // checks they are for this trial and name the signer.
  void AddBytes(std::string envelope_bytes) { envelopes_.push_back(std::move(envelope_bytes)); }
  size_t size() const { return envelopes_.size(); }
  // Signs the batch root and empties the builder. INVALID_ARGUMENT for an
  // empty batch or more than ledger::kMaxBatchEnvelopes envelopes.
  absl::StatusOr<v1::SignedBatch> Finish();

 private:
  const Signer& signer_;
  std::string trial_id_;
  std::vector<std::string> envelopes_;
};

struct ImportOptions {
  absl::Duration deadline = absl::Seconds(120);
  bool want_receipts = false;
};

// What an import proved.
struct ImportResult {
  v1::ImportBatchResponse response;
  note::Checkpoint checkpoint;  // opened under the pinned key; size > last index
};

// Sends `batch` and verifies the answer under `ledger_key`: the checkpoint
// signature, count == batch size, first_index + count <= checkpoint size,
// and, with receipts, each receipt (VerifyReceipt) holding envelope i's
// exact bytes at index first_index + i (unless a resumed import). Server
// errors come back with their gRPC code as absl status; a bad answer is
// DATA_LOSS.
absl::StatusOr<ImportResult> ImportBatch(v1::BulkImportService::StubInterface& stub,
                                         absl::string_view trial_id,
                                         const v1::SignedBatch& batch,
                                         const note::Verifier& ledger_key,
                                         const ImportOptions& options = {});

}  // namespace trialog::client

#endif  // TRIALOG_CLIENT_BULK_IMPORT_H_
