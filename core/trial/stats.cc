#include "core/trial/stats.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace trialog::trial {
namespace {

// Continued fraction for I_x(a, b) (the standard expansion, evaluated with
// the modified Lentz method). Converges fast for x < (a + 1) / (a + b + 2).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr int kMaxIterations = 500;
  constexpr double kEpsilon = 1e-16;
  constexpr double kTiny = 1e-300;
  const double qab = a + b;
  const double qap = a + 1.0;
  const double qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const double m2 = 2.0 * m;
    // Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    // Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) break;
  }
  return h;
}

}  // namespace

double RegularizedIncompleteBeta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  // ln of x^a (1-x)^b / B(a, b).
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                           a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) {
    return front * BetaContinuedFraction(a, b, x) / a;
  }
  // Symmetry: I_x(a, b) = 1 - I_{1-x}(b, a).
  return 1.0 - front * BetaContinuedFraction(b, a, 1.0 - x) / b;
}

double BetaQuantile(double p, double a, double b) {
  if (p <= 0.0) return 0.0;
  if (p >= 1.0) return 1.0;
  double lo = 0.0;
  double hi = 1.0;
  // I_x is continuous and increasing in x: bisect until the bracket stops
  // shrinking in double precision.
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (RegularizedIncompleteBeta(a, b, mid) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

absl::StatusOr<Interval> ClopperPearson(uint32_t x, uint32_t n, double confidence) {
  if (n == 0) return absl::InvalidArgumentError("Clopper-Pearson: n must be > 0");
  if (x > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("Clopper-Pearson: x = ", x, " exceeds n = ", n));
  }
  if (!(confidence > 0.0 && confidence < 1.0)) {
    return absl::InvalidArgumentError("Clopper-Pearson: confidence must be in (0, 1)");
  }
  const double alpha = 1.0 - confidence;
  Interval ci;
  ci.lower = x == 0 ? 0.0 : BetaQuantile(alpha / 2.0, x, n - x + 1.0);
  ci.upper = x == n ? 1.0 : BetaQuantile(1.0 - alpha / 2.0, x + 1.0, n - x);
  return ci;
}

}  // namespace trialog::trial
