#include "core/trial/dosing.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trialog::trial {
namespace {

std::string Bsa(uint32_t x100) { return absl::StrFormat("%u.%02u m2", x100 / 100, x100 % 100); }

}  // namespace

double MostellerBsa(double height_cm, double weight_kg) {
  return std::sqrt(height_cm * weight_kg / 3600.0);
}

uint32_t MostellerBsaX100(uint32_t height_mm, uint32_t weight_g) {
  // n = round_half_up(sqrt(X / 3600)) with X = h*w, i.e. the n with
  // (2n-1)^2 * 900 <= X < (2n+1)^2 * 900.
  const uint64_t x = static_cast<uint64_t>(height_mm) * weight_g;
  uint64_t n = static_cast<uint64_t>(std::floor(std::sqrt(x / 3600.0) + 0.5));
  auto lower_ok = [&](uint64_t k) { return k == 0 || (2 * k - 1) * (2 * k - 1) * 900 <= x; };
  auto upper_ok = [&](uint64_t k) { return x < (2 * k + 1) * (2 * k + 1) * 900; };
  while (!lower_ok(n)) --n;
  while (!upper_ok(n)) ++n;
  return static_cast<uint32_t>(n);
}

absl::StatusOr<v1::BsaDoseBand> BandFor(const v1::ProtocolDefinition& protocol,
                                        uint32_t bsa_m2_x100) {
  for (const v1::BsaDoseBand& b : protocol.dose_bands()) {
    if (bsa_m2_x100 >= b.min_bsa_m2_x100() &&
        (b.max_bsa_m2_x100() == 0 || bsa_m2_x100 <= b.max_bsa_m2_x100())) {
      return b;
    }
  }
  const uint32_t lowest =
      protocol.dose_bands().empty() ? 0 : protocol.dose_bands(0).min_bsa_m2_x100();
  return absl::FailedPreconditionError(absl::StrCat(
      "rule dose.no_label_dose: BSA ", Bsa(bsa_m2_x100),
      " is outside the protocol's dose table (lowest band starts at ", Bsa(lowest), ")"));
}

uint32_t CapDoseMg(const v1::ProtocolDefinition& protocol, uint32_t bsa_m2_x100) {
  if (protocol.doses_per_day() == 0) return 0;
  return static_cast<uint32_t>(static_cast<uint64_t>(protocol.max_daily_mg_per_m2()) *
                               bsa_m2_x100 / (100ull * protocol.doses_per_day()));
}

absl::StatusOr<uint32_t> MaxDoseMg(const v1::ProtocolDefinition& protocol,
                                   uint32_t bsa_m2_x100) {
  absl::StatusOr<v1::BsaDoseBand> band = BandFor(protocol, bsa_m2_x100);
  if (!band.ok()) return band.status();
  const uint32_t cap = CapDoseMg(protocol, bsa_m2_x100);
  if (protocol.cap_rule() == v1::DOSE_CAP_RULE_TABLE_PREVAILS) {
    const uint32_t top = protocol.dose_bands(protocol.dose_bands_size() - 1).dose_mg();
    return std::max(band->dose_mg(), std::min(cap, top));
  }
  return std::min(band->dose_mg(), cap);
}

absl::StatusOr<uint32_t> RecommendedDoseMg(const v1::ProtocolDefinition& protocol,
                                           uint32_t bsa_m2_x100, uint32_t step_mg) {
  absl::StatusOr<uint32_t> max = MaxDoseMg(protocol, bsa_m2_x100);
  if (!max.ok()) return max.status();
  if (step_mg == 0) return *max;
  return *max / step_mg * step_mg;
}

absl::Status CheckDose(const v1::ProtocolDefinition& protocol, uint32_t bsa_m2_x100,
                       uint32_t dose_mg) {
  absl::StatusOr<v1::BsaDoseBand> band = BandFor(protocol, bsa_m2_x100);
  if (!band.ok()) return band.status();
  absl::StatusOr<uint32_t> max = MaxDoseMg(protocol, bsa_m2_x100);
  if (!max.ok()) return max.status();
  if (dose_mg <= *max) return absl::OkStatus();
  const uint32_t cap = CapDoseMg(protocol, bsa_m2_x100);
  const uint32_t daily_x10 = MgPerM2X10(dose_mg * protocol.doses_per_day(), bsa_m2_x100);
  const bool cap_binds = *max == cap && cap < band->dose_mg();
  return absl::FailedPreconditionError(absl::StrFormat(
      "rule dose.cap: %u mg x %u/day at BSA %s is %u.%u mg/m2/day; the protocol "
      "allows at most %u mg per administration (%s: band dose %u mg, cap %u "
      "mg/m2/day = %u mg)",
      dose_mg, protocol.doses_per_day(), Bsa(bsa_m2_x100), daily_x10 / 10, daily_x10 % 10,
      *max, cap_binds ? "the per-m2 cap binds" : "the band dose binds", band->dose_mg(),
      protocol.max_daily_mg_per_m2(), cap));
}

uint32_t MgPerM2X10(uint32_t dose_mg, uint32_t bsa_m2_x100) {
  if (bsa_m2_x100 == 0) return 0;
  const uint64_t num = static_cast<uint64_t>(dose_mg) * 1000 * 2 + bsa_m2_x100;
  return static_cast<uint32_t>(num / (2ull * bsa_m2_x100));
}

absl::StatusOr<uint32_t> ReductionDoseMg(const v1::ProtocolDefinition& protocol,
                                         uint32_t bsa_m2_x100, uint32_t level) {
  const std::string bsa = absl::StrFormat("%u.%02u m2", bsa_m2_x100 / 100, bsa_m2_x100 % 100);
  for (const v1::BsaReductionBand& b : protocol.reduction_bands()) {
    if (bsa_m2_x100 < b.min_bsa_m2_x100()) break;
    if (b.max_bsa_m2_x100() != 0 && bsa_m2_x100 > b.max_bsa_m2_x100()) continue;
    const uint32_t dose = level == 1 ? b.first_reduction_mg() : level == 2 ? b.second_reduction_mg() : 0;
    if (dose == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rule dose.reduction_exhausted: at BSA ", bsa, " the protocol's reduction table has no level ",
          level, " (reductions so far: ", level - 1, "); discontinue treatment instead"));
    }
    return dose;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "rule dose.reduction_table: the protocol's reduction table has no band for BSA ", bsa));
}

}  // namespace trialog::trial
