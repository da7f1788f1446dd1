// Exact binomial confidence intervals (Clopper-Pearson) for response rates,
// over a regularised incomplete beta function implemented here (continued
// fraction, modified Lentz) and its inverse (bisection). Pure functions.

#ifndef TRIALOG_CORE_TRIAL_STATS_H_
#define TRIALOG_CORE_TRIAL_STATS_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace trialog::trial {

// I_x(a, b), the regularised incomplete beta function.
// REQUIRES: a > 0, b > 0, 0 <= x <= 1 (out-of-range x is clamped).
double RegularizedIncompleteBeta(double a, double b, double x);

// The x in [0, 1] with I_x(a, b) = p (the Beta(a, b) quantile), to ~1e-14.
// REQUIRES: a > 0, b > 0, 0 <= p <= 1.
double BetaQuantile(double p, double a, double b);

struct Interval {
  double lower = 0;
  double upper = 1;
};

// Clopper-Pearson exact interval for x successes in n trials at the given
// confidence level: lower = B(alpha/2; x, n-x+1) (0 when x = 0), upper =
// B(1-alpha/2; x+1, n-x) (1 when x = n). INVALID_ARGUMENT if n == 0, x > n,
// or confidence is not in (0, 1).
absl::StatusOr<Interval> ClopperPearson(uint32_t x, uint32_t n, double confidence = 0.95);

}  // namespace trialog::trial

#endif  // TRIALOG_CORE_TRIAL_STATS_H_
