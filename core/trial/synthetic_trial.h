// A deterministic synthetic IMT crizotinib trial for the demo and tests:
// ~20 subjects over about a year of simulated time at two sites, with
// consents and assents (ages that need and do not need assent), screen
// failures, growing children (changing BSA) dosed per cycle, adverse events
// of grades 1-5 including serious ones with the SAE clock, RECIST
// assessments giving CR, PR, SD and PD with confirmation, a protocol
// amendment with re-consent, corrections with reasons (one outdating a
// signature, which is then re-signed), sign-offs, queries, a withdrawal, a
// database lock/unlock, and exactly ONE planted rule violation (a dose above
// the cap) that the state machine must refuse.

#ifndef TRIALOG_CORE_TRIAL_SYNTHETIC_TRIAL_H_
#define TRIALOG_CORE_TRIAL_SYNTHETIC_TRIAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trialog/v1/events.pb.h"
#include "trialog/v1/ledger.pb.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::trial {

// One envelope to sign and append, in order.
struct SyntheticStep {
  v1::Actor actor;
  std::string stream_id;
  std::string event_id;        // 16 bytes, deterministic
  v1::Event event;             // event.trial() is set
  v1::ObservedAt observed_at;
  std::string reason;          // set on corrections, voids, modifications, unlocks
  // ESignature steps carry record event ids with empty record_hash (and a
  // casebook signature no record): the appender fills them from its state
  // (TrialStateMachine::FillSignatureHashes) right before signing.
  bool needs_signature_hashes = false;
  bool expect_refused = false; // the planted violation
  std::string expected_rule;   // e.g. "dose.cap"
  std::string description;     // one line for the demo's log
};

struct SyntheticTrialPlan {
  std::string trial_id;
  std::string ledger_origin;
  v1::ProtocolDefinition protocol;      // for Genesis.protocol
  v1::Actor admin;                      // the genesis signer (ROLE_SPONSOR_ADMIN)
  std::vector<v1::Actor> principals;    // to register before the steps (keys are the appender's)
  std::vector<SyntheticStep> steps;
};

// The plan for `seed` (same seed, same plan, byte for byte) and
// `n_subjects` subjects. INVALID_ARGUMENT unless 13 <= n_subjects <= 500
// (13 subjects cover every scenario once).
absl::StatusOr<SyntheticTrialPlan> SyntheticTrial(uint64_t seed, int n_subjects);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_SYNTHETIC_TRIAL_H_
