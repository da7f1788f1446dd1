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

  // Folds an appended entry into the state.
  virtual void Apply(const ParsedEntry& entry) = 0;

  // An independent copy of the state (bulk import checks a whole batch on
  // copies before appending any of it: server/bulk_import.h); nullptr if
  // the machine cannot be copied (bulk import is then refused).
  virtual std::unique_ptr<StateMachine> Clone() const { return nullptr; }
};

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_STATE_MACHINE_H_
