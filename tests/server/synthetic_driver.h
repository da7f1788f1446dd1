// Drives the deterministic synthetic trial (core/trial/synthetic_trial.h)
// through the real client (client::LedgerClient) against a running
// trialogd, as `trialog demo` does: genesis with the protocol, the
// principals, then every step signed by its principal's key, every receipt
// verified, the planted violation required to be refused. For tests and
// benchmarks of the trial state service.

#ifndef TRIALOG_TESTS_SERVER_SYNTHETIC_DRIVER_H_
#define TRIALOG_TESTS_SERVER_SYNTHETIC_DRIVER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace trialog::testing {

struct SyntheticRun {
  uint64_t entries = 0;   // ledger size after the run
  uint64_t refused = 0;   // planted violations refused as planned
};

// Runs the plan for (`seed`, `subjects`) as trial `trial_id` whose
// checkpoints verify under `verifier_key` (its name is the ledger origin).
// Errors: the first append that failed unexpectedly (with the step), or
// INTERNAL if the planted violation was not refused by its rule.
absl::StatusOr<SyntheticRun> RunSyntheticTrial(const std::string& target,
                                               const std::string& trial_id,
                                               const std::string& verifier_key, uint64_t seed,
                                               int subjects);

}  // namespace trialog::testing

#endif  // TRIALOG_TESTS_SERVER_SYNTHETIC_DRIVER_H_
