#include "tools/trialog/domain.h"

namespace trialog::cli {
namespace {

// Until core/trial lands, the ledger's generic rules (registry, chain,
// versions) are all that is replayed.
class GenericRules : public DomainRules {
 public:
  std::vector<ledger::StateMachine*> machines() override { return {}; }
};

}  // namespace

std::unique_ptr<DomainRules> NewDomainRules() { return std::make_unique<GenericRules>(); }

}  // namespace trialog::cli
