// One trial's ledger as the server serves it: the durable storage::Ledger
// (group-commit sequencer) composed with the principal registry and the
// domain's state machines, plus admission (parse, key lookup, signature)
// and receipts. All of trialogd's use of storage goes through here.
//
// Thread-safety: every method may be called concurrently.

#ifndef TRIALOG_SERVER_TRIAL_LEDGER_H_
#define TRIALOG_SERVER_TRIAL_LEDGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/crypto/crypto.h"
#include "core/ledger/admission.h"
#include "core/ledger/registry.h"
#include "core/note/checkpoint.h"
#include "core/note/keys.h"
#include "server/refusal_log.h"
#include "server/state_machines.h"
#include "storage/ledger.h"
#include "trialog/v1/service.pb.h"

namespace trialog::server {

struct TrialLedgerOptions {
  std::string dir;       // the trial's RocksDB directory
  std::string trial_id;
  std::string origin;    // "<ledger name>/<trial_id>"; also the checkpoint key name
  crypto::SigningKey ledger_key = crypto::SigningKey::Generate();
  StateMachineFactory machines = NoDomainMachines;
  bool sync = true;
  size_t max_batch = 512;
  uint64_t min_free_bytes = 0;  // see storage::LedgerOptions
  bool create_if_missing = false;
  // Projection snapshots; see storage::LedgerOptions.
  bool use_snapshot = true;
  uint64_t snapshot_every_entries = 10000;
  absl::Duration snapshot_interval = absl::Minutes(5);
  // Where the operator's log lines go (refused appends, see RefusalLog);
  // stderr with a "trialogd: " prefix when unset.
  RefusalLog::Sink log;
};

// The latest signed checkpoint of a ledger.
struct CheckpointView {
  std::string note;   // C2SP signed note
  uint64_t size = 0;
  std::string root;   // 32 bytes
};

class TrialLedger {
 public:
  static absl::StatusOr<std::unique_ptr<TrialLedger>> Open(TrialLedgerOptions options);
  ~TrialLedger();

  const std::string& trial_id() const { return trial_id_; }
  const std::string& origin() const { return origin_; }
  // The C2SP verifier key of this ledger's checkpoints.
  std::string verifier_key() const { return signer_->verifier_key(); }

  // If `signed_envelope` carries an event id already in the ledger with
  // identical bytes: its original receipt (duplicate = true). With
  // different bytes: ALREADY_EXISTS naming the entry. Otherwise NOT_FOUND
  // (meaning "not a repeat"). Lets retries succeed even after the signer's
  // key was rotated or revoked.
  absl::StatusOr<v1::AppendResponse> FindRepeat(const v1::SignedEnvelope& signed_envelope) const;

  // Admission: PrepareAdmission under the registry lock only
  // (storage::Ledger::ReadRegistry: no wait for a durable boundary, so it
  // overlaps the group commit being written), then the Ed25519 check
  // outside any lock. A genesis must name this ledger's origin
  // (FAILED_PRECONDITION otherwise). Statuses as ledger::Admit.
  absl::StatusOr<ledger::AdmittedEnvelope> Admit(v1::SignedEnvelope signed_envelope) const;
  // The two halves of Admit, for callers that verify many in parallel:
  // Prepare (parse, key lookup, genesis origin) and the signature check.
  absl::StatusOr<ledger::AdmittedEnvelope> Prepare(v1::SignedEnvelope signed_envelope) const;
  static absl::Status Verify(const ledger::AdmittedEnvelope& prepared);

  // Sequences admitted envelopes; blocks until durable or rejected; the
  // answer carries a receipt (checkpoint + inclusion proof).
  absl::StatusOr<v1::AppendResponse> Append(ledger::AdmittedEnvelope admitted);
  // Each envelope is answered on its own, in order.
  std::vector<absl::StatusOr<v1::AppendResponse>> AppendAll(
      std::vector<ledger::AdmittedEnvelope> admitted);

  // Asynchronous append: `done` runs (on the sequencer's thread: keep it
  // short) with the raw storage result; turn it into a response with
  // ToResponse on another thread.
  void AppendAsync(ledger::AdmittedEnvelope admitted,
                   std::function<void(absl::StatusOr<storage::AppendResult>)> done);
  absl::StatusOr<v1::AppendResponse> ToResponse(const storage::AppendResult& result) const;

  uint64_t size() const;
  // The principal as the ledger's registry holds it now (NOT_FOUND if
  // never registered); used to map a caller's certificate to its role.
  absl::StatusOr<ledger::Principal> FindPrincipal(absl::string_view principal_id) const {
    return store_->ReadState([&] { return registry_->Find(principal_id); });
  }
  // Group-commit counters of the sequencer.
  storage::SequencerStats sequencer_stats() const;
  absl::StatusOr<CheckpointView> LatestCheckpoint() const;
  // Entry bytes at `index`; OUT_OF_RANGE past the end.
  absl::StatusOr<std::string> ReadEntry(uint64_t index) const;
  // The leaf hash of entry `index` (storage::Ledger::LeafHash: cheap right
  // after its inclusion proof); OUT_OF_RANGE past the end.
  absl::StatusOr<std::string> LeafHash(uint64_t index) const;
  // Calls fn(index, bytes) for [from, from + limit) clipped to the size,
  // until fn returns false.
  absl::Status ReadRange(uint64_t from, uint64_t limit,
                         const std::function<bool(uint64_t, absl::string_view)>& fn) const;
  absl::StatusOr<uint64_t> FindEventId(absl::string_view event_id) const;
  absl::StatusOr<std::vector<uint64_t>> StreamIndexes(absl::string_view stream_id) const;
  absl::StatusOr<v1::InclusionProof> InclusionProof(uint64_t index, uint64_t tree_size) const;
  absl::StatusOr<v1::ConsistencyProof> ConsistencyProof(uint64_t old_size,
                                                        uint64_t new_size) const;
  // A receipt for `index` under `checkpoint` (index < checkpoint.size).
  absl::StatusOr<v1::Receipt> ReceiptFor(uint64_t index, const CheckpointView& checkpoint) const;
  // True once size() >= at_least, false after `timeout`.
  bool WaitForSize(uint64_t at_least, absl::Duration timeout) const;

  // Runs fn(machines) with the domain's live state machines (those the
  // factory made; they enforce the rules at append) consistent with size():
  // no Apply runs meanwhile and everything folded in is durable. Returns
  // fn's result. fn must be short (the next group commit waits for it: copy
  // what you need, e.g. trial::TrialStateMachine::View(), and return) and
  // must not append.
  template <typename F>
  auto ReadDomain(F&& fn) const {
    return store_->ReadState([&] {
      return std::forward<F>(fn)(
          static_cast<const std::vector<std::unique_ptr<ledger::StateMachine>>&>(domain_));
    });
  }

  // Bulk import (server/bulk_import.h). While an ExclusiveAppend is alive
  // no other append of this trial is queued (Append, AppendAll and
  // AppendAsync wait at their start) and every append queued before it has
  // been answered, so a batch checked on copies of the state is appended
  // exactly as checked. fn(registry, domain) runs under ReadState.
  class ExclusiveAppend {
   public:
    explicit ExclusiveAppend(TrialLedger* t);
    ~ExclusiveAppend();
    ExclusiveAppend(const ExclusiveAppend&) = delete;
    ExclusiveAppend& operator=(const ExclusiveAppend&) = delete;

   private:
    TrialLedger* t_;
  };
  template <typename F>
  auto ReadLedgerState(F&& fn) const {
    return store_->ReadState([&] {
      return std::forward<F>(fn)(
          static_cast<const ledger::PrincipalRegistry&>(*registry_),
          static_cast<const std::vector<std::unique_ptr<ledger::StateMachine>>&>(domain_));
    });
  }
  // Storage-level append of many envelopes for the holder of an
  // ExclusiveAppend (no per-entry receipts are built).
  std::vector<absl::StatusOr<storage::AppendResult>> AppendAllRaw(
      std::vector<ledger::AdmittedEnvelope> admitted);
  absl::StatusOr<uint64_t> StreamVersion(absl::string_view stream_id) const {
    return store_->StreamVersion(stream_id);
  }
  absl::StatusOr<std::vector<uint64_t>> StreamVersions(
      absl::Span<const absl::string_view> stream_ids) const {
    return store_->StreamVersions(stream_ids);
  }

  // A consistent online copy of the trial's store in `dest_dir`
  // (storage/backup.h).
  absl::StatusOr<storage::BackupInfo> Backup(const std::string& dest_dir) const {
    return store_->Backup(dest_dir);
  }

  // Finishes the batches in flight and refuses new appends (UNAVAILABLE).
  absl::Status Close();

 private:
  TrialLedger() = default;
  // OUT_OF_RANGE naming the trial and its size when index >= size().
  absl::Status CheckEntryIndex(uint64_t index) const;

  std::string trial_id_;
  std::string origin_;
  std::unique_ptr<note::NoteSigner> signer_;
  std::unique_ptr<ledger::PrincipalRegistry> registry_;
  std::vector<std::unique_ptr<ledger::StateMachine>> domain_;
  std::unique_ptr<storage::Ledger> store_;
  std::unique_ptr<RefusalLog> refusals_;  // every append outcome passes through

  // The ExclusiveAppend gate: appends in flight (queued, not answered) and
  // whether a bulk import holds the trial.
  void EnterAppend(int64_t n);
  void LeaveAppend(int64_t n);
  absl::Mutex gate_mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(gate_mu_) = 0;
  bool exclusive_ ABSL_GUARDED_BY(gate_mu_) = false;
};

// Parses the text of a signed checkpoint note (no signature check: the
// server signed it itself).
absl::StatusOr<CheckpointView> ParseOwnCheckpoint(std::string note);

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_TRIAL_LEDGER_H_
