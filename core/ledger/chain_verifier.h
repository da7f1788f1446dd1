// Offline re-verification of a ledger, entry by entry: everything the
// sequencer guaranteed when it appended, re-derived from the stored bytes
// alone — indexes, chain links, recorded-at order, stream versions, event-id
// uniqueness, envelope signatures under the registry as of each entry, and
// the domain's rules (each StateMachine's Check, then Apply).
//
// Thread-safety: not thread-safe; feed entries from one thread.

#ifndef TRIALOG_CORE_LEDGER_CHAIN_VERIFIER_H_
#define TRIALOG_CORE_LEDGER_CHAIN_VERIFIER_H_

#include <cstdint>
#include <map>  // (kept for includers)
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/ledger/batch.h"
#include "core/ledger/entry.h"
#include "core/ledger/registry.h"
#include "core/ledger/state_machine.h"
#include "core/merkle/merkle.h"

namespace trialog::ledger {

class ChainVerifier {
 public:
  // `domain` machines (not owned; may be empty) are checked and applied
  // after the built-in principal registry. With `check_signatures` false,
  // signatures are assumed checked elsewhere (e.g. in parallel) and only
  // the registry's key lookup is done.
  explicit ChainVerifier(std::vector<StateMachine*> domain = {}, bool check_signatures = true);

  // Verifies and folds the entry at position size(). The first failure is
  // returned and the verifier stays where it was:
  //   DATA_LOSS           unparseable bytes, wrong index, broken chain link,
  //                       recorded_at going backwards, wrong stream version,
  //                       repeated event id;
  //   UNAUTHENTICATED     envelope (or batch) signature does not verify, or
  //                       the signer was unknown or revoked at that point;
  //   INVALID_ARGUMENT    a batch proof whose path does not fit its size;
  //   PERMISSION_DENIED   also: a batch-signed entry whose signer is not
  //                       ROLE_EXTERNAL_SYSTEM;
  //   PERMISSION_DENIED / FAILED_PRECONDITION  a rule the sequencer enforces
  //                       was broken (the machine's own message).
  // Every message starts with "entry N: ".
  absl::Status Add(absl::string_view entry_bytes);
  // As Add, for bytes the caller already parsed with ParseEntry.
  absl::Status AddParsed(const ParsedEntry& entry);

  uint64_t size() const { return tree_.size(); }
  // Leaf hash of the last entry (32 zero bytes when empty).
  const std::string& head() const { return head_; }
  std::string root() const { return tree_.Root(); }
  const merkle::CompactTree& tree() const { return tree_; }
  const PrincipalRegistry& registry() const { return registry_; }

  // The key an entry's signature must verify under (for parallel
  // verification by callers that pass check_signatures = false):
  // registry key of its actor, or the genesis payload's key.
  absl::StatusOr<std::string> SignerKey(const ParsedEntry& entry) const;

 private:
  std::vector<StateMachine*> domain_;
  bool check_signatures_;
  PrincipalRegistry registry_;
  merkle::CompactTree tree_;
  std::string head_;
  int64_t last_recorded_at_ = 0;
  // Hash containers: at a million entries an ordered set's lookups are
  // ~20 cache misses each (verify_bench, docs/PERFORMANCE.md).
  absl::flat_hash_map<std::string, uint64_t> stream_versions_;
  absl::flat_hash_set<std::string> event_ids_;
  // Batch signatures already verified (bulk import: one per batch).
  BatchSignatureCache batch_cache_;
};

}  // namespace trialog::ledger

#endif  // TRIALOG_CORE_LEDGER_CHAIN_VERIFIER_H_
