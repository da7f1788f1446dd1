#include "core/trial/recist.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace trialog::trial {
namespace {

constexpr int64_t kMicrosPerDay = 86400LL * 1000000LL;
constexpr int64_t kMicrosPerMinute = 60LL * 1000000LL;

// Percent x 10 of num/den, rounded half away from zero. REQUIRES: den > 0.
int32_t PercentX10(int64_t num, int64_t den) {
  const int64_t scaled = num * 1000;
  if (scaled >= 0) return static_cast<int32_t>((2 * scaled + den) / (2 * den));
  return -static_cast<int32_t>((2 * -scaled + den) / (2 * den));
}

int Rank(v1::Response r) {
  switch (r) {
    case v1::RESPONSE_CR: return 1;
    case v1::RESPONSE_PR: return 2;
    case v1::RESPONSE_SD: return 3;
    case v1::RESPONSE_NON_CR_NON_PD: return 4;
    case v1::RESPONSE_PD: return 5;
    case v1::RESPONSE_NE: return 6;
    default: return 7;
  }
}

}  // namespace

int64_t LocalDay(int64_t unix_micros, int32_t utc_offset_minutes) {
  const int64_t local = unix_micros + utc_offset_minutes * kMicrosPerMinute;
  int64_t day = local / kMicrosPerDay;
  if (local % kMicrosPerDay < 0) --day;  // floor for instants before 1970
  return day;
}

absl::Status CheckBaseline(const v1::RecistParameters& params,
                           const v1::TumourAssessment& baseline) {
  const int n = baseline.target_lesions_size();
  if (n == 0) {
    return absl::FailedPreconditionError(
        "rule recist.no_target: the baseline has no target lesion (measurable disease "
        "is required)");
  }
  if (static_cast<uint32_t>(n) > params.max_target_lesions()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rule recist.too_many_targets: ", n, " target lesions, RECIST allows at most ",
        params.max_target_lesions()));
  }
  std::map<std::string, uint32_t> per_organ;
  for (const v1::TargetLesion& l : baseline.target_lesions()) {
    if (++per_organ[l.organ()] > params.max_targets_per_organ()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rule recist.too_many_per_organ: more than ", params.max_targets_per_organ(),
          " target lesions in organ \"", l.organ(), "\""));
    }
    const uint32_t min =
        l.is_node() ? params.min_node_short_axis_mm_x10() : params.min_target_diameter_mm_x10();
    if (l.state() != v1::LESION_STATE_MEASURED || l.diameter_mm_x10() < min) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rule recist.target_not_measurable: lesion ", l.lesion_id(), " (",
          l.is_node() ? "node, short axis" : "longest diameter", " ",
          l.diameter_mm_x10() / 10, ".", l.diameter_mm_x10() % 10, " mm) is below the ",
          min / 10, ".", min % 10, " mm a baseline target needs"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFollowUp(const v1::TumourAssessment& baseline,
                           const v1::TumourAssessment& follow_up) {
  std::set<std::string> expected;
  for (const v1::TargetLesion& l : baseline.target_lesions()) expected.insert(l.lesion_id());
  std::set<std::string> seen;
  for (const v1::TargetLesion& l : follow_up.target_lesions()) {
    if (!expected.count(l.lesion_id())) {
      return absl::FailedPreconditionError(
          absl::StrCat("rule recist.unknown_lesion: lesion ", l.lesion_id(),
                       " is not a baseline target lesion (new lesions go in new_lesions)"));
    }
    seen.insert(l.lesion_id());
  }
  for (const std::string& id : expected) {
    if (!seen.count(id)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rule recist.missing_lesion: baseline target lesion ", id,
          " is not reported (use LESION_STATE_NOT_EVALUATED if it was not assessed)"));
    }
  }
  const bool baseline_has_non_target = baseline.non_target() == v1::NON_TARGET_STATUS_PRESENT;
  const v1::NonTargetStatus nt = follow_up.non_target();
  const bool ok = baseline_has_non_target
                      ? (nt == v1::NON_TARGET_STATUS_CR ||
                         nt == v1::NON_TARGET_STATUS_NON_CR_NON_PD ||
                         nt == v1::NON_TARGET_STATUS_PD || nt == v1::NON_TARGET_STATUS_NE)
                      : nt == v1::NON_TARGET_STATUS_UNSPECIFIED;
  if (!ok) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rule recist.non_target_mismatch: non-target status ", v1::NonTargetStatus_Name(nt),
        baseline_has_non_target ? " is not a follow-up status for baseline non-target disease"
                                : " given but the baseline had no non-target lesions"));
  }
  return absl::OkStatus();
}

v1::RecistState ComputeRecist(const v1::RecistParameters& params, const Assessment& baseline,
                              const std::vector<Assessment>& follow_ups,
                              std::optional<int64_t> reference_day) {
  v1::RecistState state;
  state.set_has_baseline(true);
  state.set_baseline_event_id(baseline.event_id);
  state.set_baseline_unix_micros(baseline.scan_unix_micros);
  uint64_t base_sum = 0;
  for (const v1::TargetLesion& l : baseline.data->target_lesions()) base_sum += l.diameter_mm_x10();
  state.set_baseline_sum_mm_x10(static_cast<uint32_t>(base_sum));
  uint64_t nadir = base_sum;
  std::vector<TimepointInput> inputs;
  for (const Assessment& a : follow_ups) {
    std::map<std::string, const v1::TargetLesion*> by_id;
    for (const v1::TargetLesion& l : a.data->target_lesions()) by_id[l.lesion_id()] = &l;
    uint64_t sum = 0;
    bool all_evaluated = true;
    bool all_gone = true;  // non-nodal 0, nodes below normal
    for (const v1::TargetLesion& b : baseline.data->target_lesions()) {
      auto it = by_id.find(b.lesion_id());
      const v1::TargetLesion* l = it == by_id.end() ? nullptr : it->second;
      uint64_t d = 0;
      if (l == nullptr || l->state() == v1::LESION_STATE_NOT_EVALUATED ||
          l->state() == v1::LESION_STATE_UNSPECIFIED) {
        all_evaluated = false;
        continue;
      }
      if (l->state() == v1::LESION_STATE_MEASURED) d = l->diameter_mm_x10();
      if (l->state() == v1::LESION_STATE_TOO_SMALL) d = params.too_small_mm_x10();
      sum += d;
      if (b.is_node() ? d >= params.node_normal_mm_x10() : d != 0) all_gone = false;
    }
    const bool pd_by_sum = sum * 5 >= nadir * 6 && sum >= nadir + 50;  // +20% and +5 mm
    v1::Response target;
    if (!all_evaluated) {
      target = pd_by_sum ? v1::RESPONSE_PD : v1::RESPONSE_NE;
    } else if (all_gone) {
      target = v1::RESPONSE_CR;
    } else if (pd_by_sum) {
      target = v1::RESPONSE_PD;
    } else if (sum * 10 <= base_sum * 7) {  // -30% from baseline
      target = v1::RESPONSE_PR;
    } else {
      target = v1::RESPONSE_SD;
    }
    const v1::NonTargetStatus nt = a.data->non_target();
    v1::Response overall;
    if (a.data->new_lesions() || target == v1::RESPONSE_PD || nt == v1::NON_TARGET_STATUS_PD) {
      overall = v1::RESPONSE_PD;
    } else if (target == v1::RESPONSE_CR) {
      // CR needs non-target CR too (or no non-target disease at baseline);
      // non-CR/non-PD or not evaluated non-target disease makes it PR.
      overall = (nt == v1::NON_TARGET_STATUS_UNSPECIFIED || nt == v1::NON_TARGET_STATUS_CR)
                    ? v1::RESPONSE_CR
                    : v1::RESPONSE_PR;
    } else {
      overall = target;  // PR, SD or NE with non-PD (or not evaluated) non-target
    }
    v1::TimepointResponse* tp = state.add_timepoints();
    tp->set_event_id(a.event_id);
    tp->set_scan_unix_micros(a.scan_unix_micros);
    tp->set_sum_mm_x10(static_cast<uint32_t>(sum));
    tp->set_all_targets_evaluated(all_evaluated);
    if (base_sum > 0) {
      tp->set_change_from_baseline_x10(
          PercentX10(static_cast<int64_t>(sum) - static_cast<int64_t>(base_sum), base_sum));
    }
    if (nadir > 0) {
      tp->set_change_from_nadir_x10(
          PercentX10(static_cast<int64_t>(sum) - static_cast<int64_t>(nadir), nadir));
    }
    tp->set_nadir_mm_x10(static_cast<uint32_t>(nadir));
    tp->set_target(target);
    tp->set_non_target(nt);
    tp->set_new_lesions(a.data->new_lesions());
    tp->set_overall(overall);
    if (all_evaluated) nadir = std::min(nadir, sum);
    inputs.push_back({a.scan_day, a.scan_unix_micros, overall});
  }
  state.set_nadir_mm_x10(static_cast<uint32_t>(nadir));
  // A CR followed later by a PR is a data issue to query, not to fix.
  bool seen_cr = false;
  for (const TimepointInput& t : inputs) {
    if (t.response == v1::RESPONSE_CR) seen_cr = true;
    if (seen_cr && t.response == v1::RESPONSE_PR) state.set_crpr_data_issue(true);
  }
  *state.mutable_bor() =
      DeriveConfirmedBor(inputs, reference_day.value_or(baseline.scan_day), params);
  return state;
}

v1::BestOverallResponse DeriveConfirmedBor(const std::vector<TimepointInput>& all,
                                           int64_t reference_day,
                                           const v1::RecistParameters& params) {
  // Only assessments up to and including the first PD count.
  std::vector<TimepointInput> t;
  for (const TimepointInput& x : all) {
    t.push_back(x);
    if (x.response == v1::RESPONSE_PD) break;
  }
  const int64_t confirm = params.confirmation_min_days();
  const int64_t sd_start = reference_day + params.sd_min_days();
  const uint32_t max_sd = params.accept_sd_in_pr_confirmation() ? 1 : 0;

  struct Candidate {
    v1::Response response;
    size_t at;
    int64_t confirmation_micros = 0;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < t.size(); ++i) {
    const v1::Response r = t[i].response;
    if (r == v1::RESPONSE_CR || r == v1::RESPONSE_PR) {
      // The window runs to the first later assessment that could confirm.
      size_t j = i + 1;
      for (; j < t.size(); ++j) {
        const bool confirms = r == v1::RESPONSE_CR
                                  ? t[j].response == v1::RESPONSE_CR
                                  : (t[j].response == v1::RESPONSE_CR ||
                                     t[j].response == v1::RESPONSE_PR);
        if (confirms && t[j].day >= t[i].day + confirm) break;
      }
      if (j < t.size()) {
        uint32_t ne = 0, sd = 0;
        bool allowed = true;
        int64_t first_cr = -1, last_pr = -1;
        for (size_t k = i + 1; k <= j; ++k) {
          const v1::Response rk = t[k].response;
          if (rk == v1::RESPONSE_NE) ++ne;
          if (rk == v1::RESPONSE_SD) ++sd;
          if (rk == v1::RESPONSE_CR && first_cr < 0) first_cr = static_cast<int64_t>(k);
          if (rk == v1::RESPONSE_PR) last_pr = static_cast<int64_t>(k);
          if (r == v1::RESPONSE_CR) {
            allowed &= rk == v1::RESPONSE_CR || rk == v1::RESPONSE_NE;
          } else {
            allowed &= rk == v1::RESPONSE_CR || rk == v1::RESPONSE_PR ||
                       rk == v1::RESPONSE_SD || rk == v1::RESPONSE_NE;
          }
        }
        allowed &= ne <= params.max_ne_between();
        if (r == v1::RESPONSE_PR) {
          allowed &= sd <= max_sd;
          allowed &= first_cr < 0 || last_pr < 0 || first_cr > last_pr;
        }
        if (allowed) candidates.push_back({r, i, t[j].unix_micros});
      }
    }
    if (r == v1::RESPONSE_CR || r == v1::RESPONSE_PR || r == v1::RESPONSE_SD) {
      candidates.push_back({t[i].day >= sd_start ? v1::RESPONSE_SD : v1::RESPONSE_NE, i});
    } else if (r == v1::RESPONSE_NON_CR_NON_PD) {
      candidates.push_back(
          {t[i].day >= sd_start ? v1::RESPONSE_NON_CR_NON_PD : v1::RESPONSE_NE, i});
    } else if (r == v1::RESPONSE_PD || r == v1::RESPONSE_NE) {
      candidates.push_back({r, i});
    }
  }
  v1::BestOverallResponse bor;
  if (candidates.empty()) {
    bor.set_response(v1::RESPONSE_MISSING);
    return bor;
  }
  const Candidate* best = &candidates[0];
  for (const Candidate& c : candidates) {
    if (Rank(c.response) < Rank(best->response) ||
        (Rank(c.response) == Rank(best->response) && c.at < best->at)) {
      best = &c;
    }
  }
  bor.set_response(best->response);
  bor.set_response_unix_micros(t[best->at].unix_micros);
  if (best->response == v1::RESPONSE_CR || best->response == v1::RESPONSE_PR) {
    bor.set_confirmed(true);
    bor.set_confirmation_unix_micros(best->confirmation_micros);
  }
  return bor;
}

}  // namespace trialog::trial
