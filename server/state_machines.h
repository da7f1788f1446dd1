// The hook through which a domain (the clinical-trial rules of core/trial,
// or another protocol) plugs its state machines into every trial ledger.

#ifndef TRIALOG_SERVER_STATE_MACHINES_H_
#define TRIALOG_SERVER_STATE_MACHINES_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/ledger/state_machine.h"

namespace trialog::server {

// Makes fresh (empty-state) domain machines for ledger `trial_id`. They are
// checked and applied after the built-in principal registry, in order.
using StateMachineFactory =
    std::function<std::vector<std::unique_ptr<ledger::StateMachine>>(absl::string_view trial_id)>;

// No domain machines: the generic ledger only (principal registry).
inline std::vector<std::unique_ptr<ledger::StateMachine>> NoDomainMachines(absl::string_view) {
  return {};
}

}  // namespace trialog::server

#endif  // TRIALOG_SERVER_STATE_MACHINES_H_
