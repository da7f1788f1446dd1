// The protocol definition as data: the IMT crizotinib protocol (version 1
// and its amendment) and the validation every ProtocolDefinition must pass
// before the engine uses it. Nothing trial-specific is hard-coded elsewhere
// in core/trial: another single-arm oncology protocol is another
// ProtocolDefinition.

#ifndef TRIALOG_CORE_TRIAL_PROTOCOL_H_
#define TRIALOG_CORE_TRIAL_PROTOCOL_H_

#include "absl/status/status.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::trial {

// The seed protocol (research/seed-protocol-summary.txt, domain.md C.3):
// paediatric IMT, crizotinib 280 mg/m2 twice daily, max 560 mg/m2/day, the
// label's BSA band table with DOSE_CAP_RULE_STRICT, age < 18 at consent,
// assent from 7 years, ALK rearrangement or (ALK-negative) ROS1
// rearrangement, RECIST 1.1 every 8 weeks, confirmation >= 28 days.
v1::ProtocolDefinition ImtCrizotinibProtocol();

// Version 2 of the same protocol: a new ICF version ("ICF-2.0") that
// requires re-consent; everything else unchanged.
v1::ProtocolDefinition ImtCrizotinibProtocolV2();

// Checks a protocol definition is complete and self-consistent.
// INVALID_ARGUMENT naming the field otherwise: empty ids, zero dose
// parameters, an unspecified cap rule, dose bands that are not ascending,
// contiguous at 0.01 m2 with only the top band open, duplicate criterion
// codes, no eligible finding, RECIST parameters out of range.
absl::Status ValidateProtocol(const v1::ProtocolDefinition& protocol);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_PROTOCOL_H_
