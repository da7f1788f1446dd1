// The trial ledgers one trialogd serves from one data directory:
// <data_dir>/trials/<trial_id>/ holds one RocksDB per trial. Every ledger's
// checkpoints are signed with the one ledger key; the origin of trial T is
// "<ledger name>/T" and the checkpoint note's key name is that whole origin
// (so each trial has its own C2SP verifier key string over the same public
// key; see VerifierKeyFor).
//
// Thread-safety: every method may be called concurrently.

#ifndef TRIALOG_SERVER_LEDGER_SET_H_
#define TRIALOG_SERVER_LEDGER_SET_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/crypto/crypto.h"
#include "server/state_machines.h"
#include "server/trial_ledger.h"

namespace trialog::server {

struct LedgerSetOptions {
  std::string data_dir;
  std::string ledger_name;  // origin = ledger_name + "/" + trial_id
  crypto::SigningKey ledger_key = crypto::SigningKey::Generate();
  StateMachineFactory machines = NoDomainMachines;
  bool accept_new_trials = false;
  bool sync = true;
  size_t max_sequencer_batch = 512;
  uint64_t min_free_bytes = 0;  // per trial ledger; see storage::LedgerOptions
  // Projection snapshots; see storage::LedgerOptions.
  bool use_snapshot = true;
  uint64_t snapshot_every_entries = 10000;
  absl::Duration snapshot_interval = absl::Minutes(5);
};

// Checks a trial id names a safe directory: 1..64 bytes of [A-Za-z0-9._-],
// not "." or "..". INVALID_ARGUMENT otherwise.
absl::Status CheckTrialId(absl::string_view trial_id);

// The checkpoint origin of `trial_id` under ledger name `ledger_name`.
std::string OriginFor(absl::string_view ledger_name, absl::string_view trial_id);
// The C2SP verifier key ("origin+hex8(id)+base64(0x01||pub)") clients pin
// for `trial_id`'s checkpoints.
std::string VerifierKeyFor(absl::string_view ledger_name, absl::string_view trial_id,
                           absl::string_view ledger_public_key);

class LedgerSet {
 public:
  // Opens every trial under <data_dir>/trials/ (creating the directories
  // if needed). Fails if any trial's ledger fails to open.
  static absl::StatusOr<std::unique_ptr<LedgerSet>> Open(LedgerSetOptions options);
  ~LedgerSet();

  // The served trial, or NOT_FOUND ("trial X is not served here").
  absl::StatusOr<std::shared_ptr<TrialLedger>> Find(absl::string_view trial_id) const;

  // Whether an unknown trial may be created by its genesis.
  bool accept_new_trials() const { return options_.accept_new_trials; }

  // Creates trial `trial_id` by appending its genesis envelope. NOT_FOUND
  // unless accept_new_trials; INVALID_ARGUMENT for a bad trial id; the
  // admission and sequencer statuses otherwise. If the trial appeared
  // meanwhile, the envelope is appended to it like any other. On failure
  // nothing is left on disk.
  absl::StatusOr<v1::AppendResponse> CreateWithGenesis(absl::string_view trial_id,
                                                       v1::SignedEnvelope genesis);

  std::vector<std::shared_ptr<TrialLedger>> List() const;
  const std::string& ledger_name() const { return options_.ledger_name; }

  // Closes every ledger (finishing batches in flight); later appends fail
  // UNAVAILABLE. Returns the first error.
  absl::Status CloseAll();

 private:
  explicit LedgerSet(LedgerSetOptions options) : options_(std::move(options)) {}
  absl::StatusOr<std::unique_ptr<TrialLedger>> OpenTrial(const std::string& trial_id,
                                                         bool create) const;
  std::string TrialDir(absl::string_view trial_id) const;

  const LedgerSetOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<TrialLedger>, std::less<>> trials_ ABSL_GUARDED_BY(mu_);
  absl::Mutex create_mu_;  // serialises trial creation
};

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_LEDGER_SET_H_
