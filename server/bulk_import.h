// BulkImportService: batch-signed bulk import (proto/trialog/v1/
// bulk_import.proto; docs/FORMAT.md §1.1; docs/SECURITY.md "Bulk import").
//
// A batch is appended all-or-nothing, in batch order:
//   1. admission (core/ledger/admission.h PrepareBatchAdmission, under the
//      ledger's read lock): every envelope parses, is for this trial, names
//      the batch signer as actor, and the signer is an active
//      ROLE_EXTERNAL_SYSTEM principal; then ONE Ed25519 verification of the
//      batch signature (outside any lock);
//   2. with the trial held exclusively (TrialLedger::ExclusiveAppend: no
//      other append is queued or in flight), a dry run on copies of the
//      principal registry and of every domain state machine: event ids
//      (none already in the ledger, none twice in the batch), expected
//      stream versions, and every machine's Check in batch order, each
//      envelope folded into the copies before the next is checked;
//   3. only if every envelope passed, the whole batch is queued to the
//      sequencer at once and answered when all of it is durable.
// A refusal names the first bad envelope's position and appends nothing.
// A batch whose every envelope is already in the ledger identically (same
// bytes, same batch signature) is a retry: answered with duplicate = true.
// Envelopes of the batch already stored identically are skipped (a retry
// after a crash that cut the batch between two group commits completes it).
//
// Thread-safety: the service may be called concurrently; imports into one
// trial are serialised by the trial's ExclusiveAppend.

#ifndef TRIALOG_SERVER_BULK_IMPORT_H_
#define TRIALOG_SERVER_BULK_IMPORT_H_

#include "absl/status/statusor.h"
#include "server/access_control.h"
#include "server/ledger_set.h"
#include "server/trial_ledger.h"
#include "trialog/v1/bulk_import.grpc.pb.h"

namespace trialog::server {

// Most bytes one ImportBatch request may carry (RESOURCE_EXHAUSTED beyond).
inline constexpr size_t kMaxImportBatchBytes = size_t{64} << 20;

// Imports `batch` into `trial` as described above. Errors (absl codes):
// those of PrepareBatchAdmission and VerifyBatchAdmission; ALREADY_EXISTS
// (event id used by an earlier entry with other bytes, or twice in the
// batch); ABORTED (expected stream version); PERMISSION_DENIED /
// FAILED_PRECONDITION (a Check); UNIMPLEMENTED (a state machine that cannot
// be copied); the sequencer's errors (UNAVAILABLE ...). Every message
// starts with "envelope N: " when one envelope is at fault.
absl::StatusOr<v1::ImportBatchResponse> ImportBatch(TrialLedger& trial,
                                                    const v1::SignedBatch& batch,
                                                    bool want_receipts);

class BulkImportServiceImpl final : public v1::BulkImportService::Service {
 public:
  // `ledgers` must outlive the service.
  explicit BulkImportServiceImpl(LedgerSet* ledgers) : ledgers_(ledgers) {}
  // Checks every call with `access` (not owned; null = no checks). With
  // caller authentication the caller must be the batch signer.
  void set_access_control(AccessControl* access) { access_ = access; }

  grpc::Status ImportBatch(grpc::ServerContext* context, const v1::ImportBatchRequest* request,
                           v1::ImportBatchResponse* response) override;

 private:
  LedgerSet* const ledgers_;
  AccessControl* access_ = nullptr;
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_BULK_IMPORT_H_
