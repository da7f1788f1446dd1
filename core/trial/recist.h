// RECIST 1.1 (Eisenhauer et al. 2009; domain.md C.1): baseline
// measurability, sum of diameters, % change from baseline and nadir, the
// timepoint response COMPUTED from target, non-target and new-lesion data,
// and the confirmed best overall response (the algorithm of admiralonco's
// derive_param_confirmed_bor). Pure functions over protobuf values.
//
// Day arithmetic is on the site's local calendar day of the scan (see
// LocalDay), as clinical dates are.

#ifndef TRIALOG_CORE_TRIAL_RECIST_H_
#define TRIALOG_CORE_TRIAL_RECIST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "trialog/v1/trial.pb.h"

namespace trialog::trial {

// The local calendar day number (days since 1970-01-01 in the site's time)
// of an instant observed with the given UTC offset.
int64_t LocalDay(int64_t unix_micros, int32_t utc_offset_minutes);

// FAILED_PRECONDITION unless `baseline` has 1..max_target_lesions MEASURED
// target lesions, at most max_targets_per_organ per organ, non-nodal ones
// >= min_target_diameter and nodes >= min_node_short_axis. Rules:
// recist.no_target, recist.too_many_targets, recist.too_many_per_organ,
// recist.target_not_measurable.
absl::Status CheckBaseline(const v1::RecistParameters& params,
                           const v1::TumourAssessment& baseline);

// FAILED_PRECONDITION unless the follow-up lists exactly the baseline's
// target lesions (rules recist.unknown_lesion, recist.missing_lesion) and
// its non-target status fits the baseline (recist.non_target_mismatch).
absl::Status CheckFollowUp(const v1::TumourAssessment& baseline,
                           const v1::TumourAssessment& follow_up);

// One assessment as the projection sees it.
struct Assessment {
  std::string event_id;
  int64_t scan_unix_micros = 0;
  int64_t scan_day = 0;       // LocalDay of the scan
  const v1::TumourAssessment* data = nullptr;
};

// Sums, percentages, timepoint responses (RECIST 1.1 Table 1, target
// disease) and the confirmed BOR. `follow_ups` must be sorted by scan time
// and all after the baseline. `reference_day` is the first dose's day (the
// SD window starts there); without it the baseline day is used.
v1::RecistState ComputeRecist(const v1::RecistParameters& params, const Assessment& baseline,
                              const std::vector<Assessment>& follow_ups,
                              std::optional<int64_t> reference_day);

// A timepoint overall response for the BOR derivation.
struct TimepointInput {
  int64_t day = 0;
  int64_t unix_micros = 0;
  v1::Response response = v1::RESPONSE_UNSPECIFIED;
};

// Confirmed best overall response over timepoints sorted by day, with
// admiralonco's rules: assessments after the first PD are ignored; CR needs
// a later CR >= confirmation_min_days later with only CR/NE between (at most
// max_ne_between NE); PR needs a later CR/PR >= confirmation_min_days later
// with only CR/PR/SD/NE between, no PR after a CR, at most max_ne_between NE
// and at most one SD if accept_sd_in_pr_confirmation (else none); any
// CR/PR/SD >= sd_min_days after `reference_day` is SD; PD; otherwise NE;
// MISSING without timepoints. Best of CR > PR > SD > NON-CR/NON-PD > PD > NE,
// ties to the earliest.
v1::BestOverallResponse DeriveConfirmedBor(const std::vector<TimepointInput>& timepoints,
                                           int64_t reference_day,
                                           const v1::RecistParameters& params);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_RECIST_H_
