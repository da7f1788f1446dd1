#include "client/bulk_import.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/ledger/batch.h"
#include "core/ledger/envelope_signer.h"
#include "core/ledger/receipt.h"
#include "core/util/status_macros.h"
#include "grpcpp/client_context.h"

namespace trialog::client {

void BatchBuilder::Add(v1::Envelope envelope) {
  envelope.set_trial_id(trial_id_);
  *envelope.mutable_actor() = signer_.actor();
  if (envelope.event_id().empty()) envelope.set_event_id(ledger::NewEventId());
  const int64_t now = absl::ToUnixMicros(absl::Now());
  envelope.set_client_unix_micros(now);
  if (!envelope.has_observed_at()) envelope.mutable_observed_at()->set_unix_micros(now);
  envelopes_.push_back(envelope.SerializeAsString());
}

absl::StatusOr<v1::SignedBatch> BatchBuilder::Finish() {
  std::vector<std::string> envelopes = std::move(envelopes_);
  envelopes_.clear();
  return ledger::SignBatch(trial_id_, std::move(envelopes), signer_.key());
}

absl::StatusOr<ImportResult> ImportBatch(v1::BulkImportService::StubInterface& stub,
                                         absl::string_view trial_id,
                                         const v1::SignedBatch& batch,
                                         const note::Verifier& ledger_key,
                                         const ImportOptions& options) {
  v1::ImportBatchRequest request;
  request.set_trial_id(std::string(trial_id));
  *request.mutable_batch() = batch;
  request.set_want_receipts(options.want_receipts);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  ImportResult out;
  grpc::Status s = stub.ImportBatch(&context, request, &out.response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  }
  const v1::ImportBatchResponse& r = out.response;
  absl::StatusOr<note::Checkpoint> cp = ledger::OpenLedgerCheckpoint(r.checkpoint(), ledger_key);
  if (!cp.ok()) {
    return absl::DataLossError(absl::StrCat("import answer's checkpoint does not verify: ",
                                            cp.status().message()));
  }
  out.checkpoint = *std::move(cp);
  const uint64_t n = static_cast<uint64_t>(batch.envelopes_size());
  if (r.count() != n || r.first_index() + n > out.checkpoint.size) {
    return absl::DataLossError(absl::StrCat("import answer says ", r.count(), " entries from ",
                                            r.first_index(), " under a checkpoint of size ",
                                            out.checkpoint.size, " for a batch of ", n));
  }
  if (options.want_receipts) {
    if (static_cast<uint64_t>(r.receipts_size()) != n) {
      return absl::DataLossError(absl::StrCat("import answer has ", r.receipts_size(),
                                              " receipts for ", n, " envelopes"));
    }
    for (uint64_t i = 0; i < n; ++i) {
      absl::StatusOr<ledger::VerifiedReceipt> v =
          ledger::VerifyReceipt(r.receipts(static_cast<int>(i)), ledger_key);
      if (!v.ok()) {
        return absl::DataLossError(
            absl::StrCat("receipt of envelope ", i, " does not verify: ", v.status().message()));
      }
      const v1::SignedEnvelope& se = v->entry.entry.signed_envelope();
      if (se.envelope() != batch.envelopes(static_cast<int>(i)) || !se.has_batch_proof() ||
          se.batch_proof().signature() != batch.signature() || se.batch_proof().position() != i) {
        return absl::DataLossError(absl::StrCat(
            "receipt of envelope ", i, " holds another envelope or batch proof"));
      }
    }
  }
  return out;
}

}  // namespace trialog::client
