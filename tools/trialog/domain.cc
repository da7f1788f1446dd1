#include "tools/trialog/domain.h"

#include "core/trial/state_machine.h"

namespace trialog::cli {
namespace {

// The IMT crizotinib trial's rules and projections (core/trial). The
// protocol itself comes from the ledger's genesis entry.
class TrialRules : public DomainRules {
 public:
  std::vector<ledger::StateMachine*> machines() override { return {&trial_}; }

 private:
  trial::TrialStateMachine trial_;
};

}  // namespace

std::unique_ptr<DomainRules> NewDomainRules() { return std::make_unique<TrialRules>(); }

}  // namespace trialog::cli
