// Body-surface area and mg/m2 dosing: Mosteller BSA, the protocol's BSA
// band table and its per-m2 daily cap (domain.md C.3). All arithmetic is on
// integers (mm, g, mg, m2 x 100) so that every check is exact.
//
// The cap rule is data (ProtocolDefinition.cap_rule), see docs/TRIAL.md:
//   STRICT:          max dose = min(band dose, cap dose)
//   TABLE_PREVAILS:  max dose = max(band dose, min(cap dose, top band dose))
// where cap dose = floor(max_daily_mg_per_m2 x BSA / doses_per_day) and BSA
// is the Mosteller BSA rounded half up to 0.01 m2 (the label's bands use two
// decimals).

#ifndef TRIALOG_CORE_TRIAL_DOSING_H_
#define TRIALOG_CORE_TRIAL_DOSING_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::trial {

// Mosteller BSA in m2, unrounded: sqrt(height_cm x weight_kg / 3600).
double MostellerBsa(double height_cm, double weight_kg);

// Mosteller BSA x 100, rounded half up, computed exactly from height in mm
// and weight in g (BSA x 100 = sqrt(height_mm x weight_g / 3600)).
uint32_t MostellerBsaX100(uint32_t height_mm, uint32_t weight_g);

// The band holding `bsa_m2_x100`. FAILED_PRECONDITION (rule
// dose.no_label_dose) when the BSA is below the lowest band.
absl::StatusOr<v1::BsaDoseBand> BandFor(const v1::ProtocolDefinition& protocol,
                                        uint32_t bsa_m2_x100);

// floor(max_daily_mg_per_m2 x BSA / doses_per_day): the largest dose per
// administration within the per-m2 daily cap.
uint32_t CapDoseMg(const v1::ProtocolDefinition& protocol, uint32_t bsa_m2_x100);

// The largest dose per administration the protocol allows at this BSA under
// its cap rule. Fails as BandFor does.
absl::StatusOr<uint32_t> MaxDoseMg(const v1::ProtocolDefinition& protocol,
                                   uint32_t bsa_m2_x100);

// MaxDoseMg rounded down to a multiple of `step_mg` (what the formulations
// can deliver, e.g. 10 mg with 20/50/150 mg pellets). REQUIRES: step_mg > 0.
absl::StatusOr<uint32_t> RecommendedDoseMg(const v1::ProtocolDefinition& protocol,
                                           uint32_t bsa_m2_x100, uint32_t step_mg);

// OK if `dose_mg` per administration is allowed at this BSA; otherwise
// FAILED_PRECONDITION naming rule dose.no_label_dose or dose.cap with the
// numbers (dose, BSA, mg/m2/day, the binding limit).
absl::Status CheckDose(const v1::ProtocolDefinition& protocol, uint32_t bsa_m2_x100,
                       uint32_t dose_mg);

// The dose per administration at reduction `level` (1 = first, 2 =
// second) for this BSA from the protocol's reduction_bands. REQUIRES: the
// table is not empty. FAILED_PRECONDITION: rule dose.reduction_table when
// no band holds the BSA, rule dose.reduction_exhausted when the table has
// no such level (the subject has had every reduction it allows).
absl::StatusOr<uint32_t> ReductionDoseMg(const v1::ProtocolDefinition& protocol,
                                         uint32_t bsa_m2_x100, uint32_t level);

// Achieved dose in mg/m2 x 10, rounded half up: dose_mg / (bsa_m2_x100/100).
// 0 when bsa_m2_x100 is 0.
uint32_t MgPerM2X10(uint32_t dose_mg, uint32_t bsa_m2_x100);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_DOSING_H_
