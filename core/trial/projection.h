// Projections: pure functions from a subject's stored records (corrections
// applied, voids marked) and the active protocol to its SubjectState, and
// from all subjects to the TrialSummary. Deterministic: same inputs, same
// bytes.

#ifndef TRIALOG_CORE_TRIAL_PROJECTION_H_
#define TRIALOG_CORE_TRIAL_PROJECTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::trial {

// Deterministic serialisation (map entries sorted): the byte-identity check.
std::string DeterministicBytes(const google::protobuf::Message& message);

// Whether an eligibility assessment meets the protocol: every criterion
// answered (rule eligibility.incomplete), inclusions YES and exclusions NO
// (eligibility.criteria_not_met). FAILED_PRECONDITION naming the criterion.
absl::Status CheckCriteria(const v1::ProtocolDefinition& protocol,
                           const v1::EligibilityAssessed& assessment);

// Whether the subject's molecular results (latest per gene, non-voided
// records of `store`) satisfy one of the protocol's eligible findings.
// FAILED_PRECONDITION (rule eligibility.molecular) naming what was found.
absl::Status CheckMolecular(const v1::ProtocolDefinition& protocol,
                            const v1::SubjectStore& store);

// Recomputes the subject's state from its records.
v1::SubjectState ProjectSubject(const v1::ProtocolDefinition& protocol,
                                const v1::SubjectStore& store);

// The trial summary over all subjects (in subject-id order).
v1::TrialSummary Summarize(const v1::ProtocolDefinition* protocol,
                           const std::vector<const v1::SubjectState*>& subjects, bool locked,
                           uint32_t sites_active, uint64_t last_index);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_PROJECTION_H_
