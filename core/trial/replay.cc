#include "core/trial/replay.h"

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace trialog::trial {

absl::StatusOr<ledger::ParsedEntry> VectorEntrySource::Read(uint64_t index) const {
  if (index >= entries_->size()) {
    return absl::NotFoundError(absl::StrCat("no entry ", index, " (size ", entries_->size(), ")"));
  }
  return (*entries_)[index];
}

absl::StatusOr<std::unique_ptr<TrialStateMachine>> StateAsOfEntry(const EntrySource& source,
                                                                  uint64_t last_index,
                                                                  const ReplayOptions& options) {
  if (last_index >= source.size()) {
    return absl::NotFoundError(
        absl::StrCat("no entry ", last_index, " (the ledger has ", source.size(), ")"));
  }
  std::unique_ptr<TrialStateMachine> machine;
  uint64_t next = 0;
  if (options.snapshots != nullptr) {
    auto it = options.snapshots->upper_bound(last_index);
    if (it != options.snapshots->begin()) {
      --it;
      TRIALOG_ASSIGN_OR_RETURN(machine, TrialStateMachine::FromSnapshot(it->second));
      if (!machine->has_applied() || machine->last_index() != it->first) {
        return absl::DataLossError(absl::StrCat("snapshot keyed ", it->first, " holds state through entry ",
                                                machine->last_index()));
      }
      next = it->first + 1;
    }
  }
  if (machine == nullptr) machine = std::make_unique<TrialStateMachine>();
  for (uint64_t i = next; i <= last_index; ++i) {
    TRIALOG_ASSIGN_OR_RETURN(ledger::ParsedEntry entry, source.Read(i));
    if (options.check_rules) {
      ledger::Candidate c{entry.envelope, entry.entry.index(), entry.entry.recorded_at_unix_micros(),
                          entry.entry.stream_version()};
      absl::Status s = machine->Check(c);
      if (!s.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("entry ", i, ": ", s.message()));
      }
    }
    machine->Apply(entry);
    if (options.snapshots_out != nullptr && options.snapshot_every > 0 &&
        (i + 1) % options.snapshot_every == 0 && !options.snapshots_out->count(i)) {
      options.snapshots_out->emplace(i, machine->Snapshot());
    }
  }
  return machine;
}

absl::StatusOr<uint64_t> LastEntryAtOrBefore(const EntrySource& source, int64_t unix_micros) {
  uint64_t lo = 0, hi = source.size();  // first entry recorded after t is in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    TRIALOG_ASSIGN_OR_RETURN(ledger::ParsedEntry e, source.Read(mid));
    if (e.entry.recorded_at_unix_micros() <= unix_micros) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return absl::NotFoundError(absl::StrCat("no entry recorded at or before ", unix_micros));
  return lo - 1;
}

absl::StatusOr<std::unique_ptr<TrialStateMachine>> StateAsOfTime(const EntrySource& source,
                                                                 int64_t unix_micros,
                                                                 const ReplayOptions& options) {
  TRIALOG_ASSIGN_OR_RETURN(uint64_t n, LastEntryAtOrBefore(source, unix_micros));
  return StateAsOfEntry(source, n, options);
}

}  // namespace trialog::trial
