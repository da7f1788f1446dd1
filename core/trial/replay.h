// Replays: the trial state "as of entry N" (a replay of entries 0..N, from
// the nearest snapshot at or before N when one is given) and "as of time
// T" (N = the last entry whose recorded_at <= T).

#ifndef TRIALOG_CORE_TRIAL_REPLAY_H_
#define TRIALOG_CORE_TRIAL_REPLAY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/ledger/entry.h"
#include "core/trial/state_machine.h"

namespace trialog::trial {

// Read access to a ledger's entries by index (storage implements it over
// RocksDB, tests over a vector).
class EntrySource {
 public:
  virtual ~EntrySource() = default;
  // Number of entries (indexes 0..size()-1).
  virtual uint64_t size() const = 0;
  // REQUIRES: index < size(). NOT_FOUND otherwise.
  virtual absl::StatusOr<ledger::ParsedEntry> Read(uint64_t index) const = 0;
};

// An EntrySource over entries held in memory, in index order. `entries`
// must outlive it.
class VectorEntrySource : public EntrySource {
 public:
  explicit VectorEntrySource(const std::vector<ledger::ParsedEntry>* entries) : entries_(entries) {}
  uint64_t size() const override { return entries_->size(); }
  absl::StatusOr<ledger::ParsedEntry> Read(uint64_t index) const override;

 private:
  const std::vector<ledger::ParsedEntry>* entries_;
};

struct ReplayOptions {
  // Run Check before each Apply and stop at the first refusal
  // (FAILED_PRECONDITION "entry N: <reason>"): what an auditor's verifier does.
  bool check_rules = false;
  // Snapshots (TrialStateMachine::Snapshot()) keyed by the index of the last
  // entry they include; the replay starts from the greatest key <= N.
  const std::map<uint64_t, std::string>* snapshots = nullptr;
  // When both are set: after folding in each entry i with (i + 1) %
  // snapshot_every == 0, a Snapshot() keyed i is added to *snapshots_out
  // (unless the key is present), so later replays can start there.
  std::map<uint64_t, std::string>* snapshots_out = nullptr;
  uint64_t snapshot_every = 0;
};

// The state after entries 0..last_index. NOT_FOUND if last_index >= size();
// DATA_LOSS if a snapshot's own last index differs from its key; errors of
// Read and FromSnapshot are returned as they are.
absl::StatusOr<std::unique_ptr<TrialStateMachine>> StateAsOfEntry(const EntrySource& source,
                                                                  uint64_t last_index,
                                                                  const ReplayOptions& options = {});

// The index of the last entry recorded at or before `unix_micros` (entries'
// recorded_at never decreases, so this is a binary search). NOT_FOUND when
// the first entry is later.
absl::StatusOr<uint64_t> LastEntryAtOrBefore(const EntrySource& source, int64_t unix_micros);

// StateAsOfEntry(LastEntryAtOrBefore(t)).
absl::StatusOr<std::unique_ptr<TrialStateMachine>> StateAsOfTime(const EntrySource& source,
                                                                 int64_t unix_micros,
                                                                 const ReplayOptions& options = {});

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_REPLAY_H_
