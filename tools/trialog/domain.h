// The domain rules an audit replays: the trial's state machines, owned.

#ifndef TRIALOG_TOOLS_TRIALOG_DOMAIN_H_
#define TRIALOG_TOOLS_TRIALOG_DOMAIN_H_

#include <memory>
#include <vector>

#include "core/ledger/state_machine.h"

namespace trialog::cli {

class DomainRules {
 public:
  virtual ~DomainRules() = default;
  // The machines to pass to ChainVerifier / AuditLedger (owned by this).
  virtual std::vector<ledger::StateMachine*> machines() = 0;
};

// The rules of the trial domain (core/trial), fresh (no entries applied).
std::unique_ptr<DomainRules> NewDomainRules();

}  // namespace trialog::cli

#endif  // TRIALOG_TOOLS_TRIALOG_DOMAIN_H_
