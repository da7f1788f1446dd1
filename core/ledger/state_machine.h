// The seam between the generic ledger and what it records. The sequencer
// runs every envelope through the ledger's state machines in index order;
// the auditor's verifier replays the same machines offline. A new domain
// (another protocol) plugs in here without touching the ledger.

#ifndef TRIALOG_CORE_LEDGER_STATE_MACHINE_H_
#define TRIALOG_CORE_LEDGER_STATE_MACHINE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/ledger/entry.h"
#include "trialog/v1/ledger.pb.h"

namespace trialog::ledger {

// What the sequencer knows about an envelope it is about to append.
struct Candidate {
  const v1::Envelope& envelope;
  uint64_t index;                 // the index it would get
  int64_t recorded_at_unix_micros;
  uint64_t stream_version;        // the version it would get
};

// A deterministic fold over the entries of one ledger.
//
// Contract: Check never changes state; Apply is called exactly once per
// appended entry, in index order, and only for entries whose Check passed
// (live) or that are being replayed (offline). Apply must not fail: any
// condition that could make it fail belongs in Check. Replaying the same
// entries from an empty state gives the same state (byte-identical
// snapshots).
//
// Thread-safety: callers serialise all calls (the sequencer is one thread).
class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // Whether `c` may be appended now. Returns OK, PERMISSION_DENIED (the
  // actor's role may not do this) or FAILED_PRECONDITION (a protocol rule;
  // the message names the rule and what is wrong).
  virtual absl::Status Check(const Candidate& c) const = 0;

  // Folds an appended entry into the state. Reads only entry.envelope,
  // entry.leaf_hash and, of entry.entry, index, recorded_at_unix_micros
  // and stream_version: bulk import's dry run (server/bulk_import.cc)
  // leaves the bytes, the chain link and the signed envelope empty.
  virtual void Apply(const ParsedEntry& entry) = 0;

  // Optional replay hint: between BeginReplay() and EndReplay() the caller
  // only calls Apply (no Check, no reads), so a machine may defer derived
  // work (e.g. recomputing projections) to EndReplay. The state after
  // EndReplay must equal the state without the hint.
  virtual void BeginReplay() {}
  virtual void EndReplay() {}

  // Optional snapshot hooks, so a ledger can persist its projections and
  // replay only the entries after them on open (storage/snapshot.h). A
  // machine that does not override them is always rebuilt by a full
  // replay (and no snapshot is written for its ledger).
  //
  // The format name of SaveState's bytes, e.g. "trialog.trial/1"; empty =
  // snapshots not supported. RestoreState refuses bytes of another kind.
  virtual std::string StateKind() const { return std::string(); }
  // The whole state, deterministically serialised: equal states give equal
  // bytes, and RestoreState(SaveState()) gives an equal state.
  virtual std::string SaveState() const { return std::string(); }
  // Replaces the whole state with `bytes` from SaveState of a machine of
  // the same StateKind(). On error (INVALID_ARGUMENT: malformed or unknown
  // format; DATA_LOSS: internally inconsistent) the state is unchanged.
  virtual absl::Status RestoreState(absl::string_view bytes) {
    (void)bytes;
    return absl::UnimplementedError("this state machine has no snapshot support");
  }

  // An independent copy of the state (bulk import checks a whole batch on
  // copies before appending any of it: server/bulk_import.h); nullptr if
  // the machine cannot be copied (bulk import is then refused).
  virtual std::unique_ptr<StateMachine> Clone() const { return nullptr; }
};

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_STATE_MACHINE_H_
