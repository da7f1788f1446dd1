#include "core/trial/protocol.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace trialog::trial {
namespace {

void AddBand(v1::ProtocolDefinition* p, uint32_t min_x100, uint32_t max_x100,
             uint32_t dose_mg, const char* formulation) {
  v1::BsaDoseBand* b = p->add_dose_bands();
  b->set_min_bsa_m2_x100(min_x100);
  b->set_max_bsa_m2_x100(max_x100);
  b->set_dose_mg(dose_mg);
  b->set_formulation(formulation);
}

void AddCriterion(v1::ProtocolDefinition* p, const char* code,
                  v1::CriterionCategory category, const char* text) {
  v1::EligibilityCriterion* c = p->add_criteria();
  c->set_code(code);
  c->set_category(category);
  c->set_text(text);
}

void AddSchedule(v1::ProtocolDefinition* p, const char* code, int first_day,
                 uint32_t interval, uint32_t window) {
  v1::ScheduledAssessment* s = p->add_schedule();
  s->set_code(code);
  s->set_first_day(first_day);
  s->set_interval_days(interval);
  s->set_window_days(window);
}

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("protocol definition: ", what));
}

}  // namespace

v1::ProtocolDefinition ImtCrizotinibProtocol() {
  v1::ProtocolDefinition p;
  p.set_protocol_id("IMT-CRIZ-RU-01");
  p.set_version(1);
  p.set_title(
      "Crizotinib in children under 18 with ALK- or ROS1-rearranged "
      "inflammatory myofibroblastic tumour: single-arm study");
  p.set_drug("crizotinib");
  p.set_change_control_ref("CC-0001 initial protocol");
  p.set_dose_mg_per_m2(280);
  p.set_doses_per_day(2);
  p.set_max_daily_mg_per_m2(560);
  p.set_cap_rule(v1::DOSE_CAP_RULE_STRICT);
  // XALKORI USPI Table 2 (280 mg/m2 BID), domain.md C.3.
  AddBand(&p, 38, 46, 120, "1x20 + 2x50 mg pellets");
  AddBand(&p, 47, 51, 140, "2x20 + 2x50 mg pellets");
  AddBand(&p, 52, 61, 150, "1x150 mg pellets");
  AddBand(&p, 62, 80, 200, "1x50 + 1x150 mg pellets");
  AddBand(&p, 81, 97, 250, "2x50 + 1x150 mg pellets");
  AddBand(&p, 98, 116, 300, "2x150 mg pellets");
  AddBand(&p, 117, 133, 350, "1x50 + 2x150 mg pellets");
  AddBand(&p, 134, 151, 400, "2x200 mg capsules or 2x50 + 2x150 mg pellets");
  AddBand(&p, 152, 169, 450, "1x200 + 1x250 mg capsules or 3x150 mg pellets");
  AddBand(&p, 170, 0, 500, "2x250 mg capsules or 1x50 + 3x150 mg pellets");
  p.set_max_age_years(18);
  p.set_assent_min_age_years(7);
  p.set_icf_version("ICF-1.0");
  p.set_assent_form_version("ASSENT-1.0");
  p.set_reconsent_required(false);
  v1::EligibleFinding* alk = p.add_eligible_findings();
  alk->set_gene("ALK");
  for (const char* g : {"TPM3", "TPM4", "CLTC", "CARS", "RANBP2", "EML4", "TFG"}) {
    alk->add_known_partners(g);
  }
  v1::EligibleFinding* ros1 = p.add_eligible_findings();
  ros1->set_gene("ROS1");
  ros1->add_requires_negative("ALK");
  for (const char* g : {"YWHAE", "TFG"}) ros1->add_known_partners(g);
  AddCriterion(&p, "INC01", v1::CRITERION_CATEGORY_INCLUSION,
               "Histologically confirmed inflammatory myofibroblastic tumour");
  AddCriterion(&p, "INC02", v1::CRITERION_CATEGORY_INCLUSION,
               "Unresectable, metastatic, residual or progressive disease");
  AddCriterion(&p, "INC03", v1::CRITERION_CATEGORY_INCLUSION,
               "Measurable disease per RECIST 1.1");
  AddCriterion(&p, "INC04", v1::CRITERION_CATEGORY_INCLUSION,
               "Adequate hepatic, renal and bone-marrow function");
  AddCriterion(&p, "EXC01", v1::CRITERION_CATEGORY_EXCLUSION,
               "Prior treatment with an ALK inhibitor");
  AddCriterion(&p, "EXC02", v1::CRITERION_CATEGORY_EXCLUSION,
               "Strong CYP3A inhibitor or inducer that cannot be stopped");
  AddSchedule(&p, "RECIST", 56, 56, 7);
  AddSchedule(&p, "LFT", 14, 14, 3);
  AddSchedule(&p, "CBC", 7, 7, 2);
  AddSchedule(&p, "OPHTHALMOLOGY", 28, 90, 14);
  v1::RecistParameters* r = p.mutable_recist();
  r->set_confirmation_min_days(28);
  r->set_sd_min_days(42);
  r->set_max_ne_between(1);
  r->set_accept_sd_in_pr_confirmation(false);
  r->set_max_target_lesions(5);
  r->set_max_targets_per_organ(2);
  r->set_min_target_diameter_mm_x10(100);
  r->set_min_node_short_axis_mm_x10(150);
  r->set_node_normal_mm_x10(100);
  r->set_too_small_mm_x10(50);
  r->set_baseline_max_days_before_first_dose(28);
  p.set_sae_report_hours(24);
  return p;
}

v1::ProtocolDefinition ImtCrizotinibProtocolV2() {
  v1::ProtocolDefinition p = ImtCrizotinibProtocol();
  p.set_version(2);
  p.set_change_control_ref("CC-0002 amendment 1: updated ICF safety information");
  p.set_icf_version("ICF-2.0");
  p.set_reconsent_required(true);
  return p;
}

absl::Status ValidateProtocol(const v1::ProtocolDefinition& p) {
  if (p.protocol_id().empty()) return Invalid("protocol_id is empty");
  if (p.version() == 0) return Invalid("version must be >= 1");
  if (p.dose_mg_per_m2() == 0) return Invalid("dose_mg_per_m2 is 0");
  if (p.doses_per_day() == 0) return Invalid("doses_per_day is 0");
  if (p.max_daily_mg_per_m2() == 0) return Invalid("max_daily_mg_per_m2 is 0");
  if (p.cap_rule() != v1::DOSE_CAP_RULE_STRICT &&
      p.cap_rule() != v1::DOSE_CAP_RULE_TABLE_PREVAILS) {
    return Invalid("cap_rule is unspecified or unknown");
  }
  if (p.dose_bands().empty()) return Invalid("dose_bands is empty");
  for (int i = 0; i < p.dose_bands_size(); ++i) {
    const v1::BsaDoseBand& b = p.dose_bands(i);
    const bool last = i + 1 == p.dose_bands_size();
    if (b.dose_mg() == 0 || b.min_bsa_m2_x100() == 0) {
      return Invalid(absl::StrCat("dose_bands[", i, "] has a zero dose or minimum"));
    }
    if (!last && b.max_bsa_m2_x100() == 0) {
      return Invalid(absl::StrCat("dose_bands[", i,
                                  "]: only the top band may be open-ended (max 0)"));
    }
    if (b.max_bsa_m2_x100() != 0 && b.max_bsa_m2_x100() < b.min_bsa_m2_x100()) {
      return Invalid(absl::StrCat("dose_bands[", i, "] max < min"));
    }
    if (i > 0) {
      const v1::BsaDoseBand& prev = p.dose_bands(i - 1);
      if (b.min_bsa_m2_x100() != prev.max_bsa_m2_x100() + 1) {
        return Invalid(absl::StrCat("dose_bands[", i,
                                    "] does not start 0.01 m2 after the previous band"));
      }
      if (b.dose_mg() <= prev.dose_mg()) {
        return Invalid(absl::StrCat("dose_bands[", i, "] dose does not increase"));
      }
    }
  }
  for (int i = 0; i < p.reduction_bands_size(); ++i) {
    const v1::BsaReductionBand& b = p.reduction_bands(i);
    const bool last = i + 1 == p.reduction_bands_size();
    if (b.first_reduction_mg() == 0 || b.min_bsa_m2_x100() == 0) {
      return Invalid(absl::StrCat("reduction_bands[", i, "] has a zero first reduction or minimum"));
    }
    if (b.second_reduction_mg() >= b.first_reduction_mg()) {
      return Invalid(absl::StrCat("reduction_bands[", i,
                                  "]: the second reduction must be below the first (or 0)"));
    }
    if (!last && b.max_bsa_m2_x100() == 0) {
      return Invalid(absl::StrCat("reduction_bands[", i,
                                  "]: only the top band may be open-ended (max 0)"));
    }
    if (b.max_bsa_m2_x100() != 0 && b.max_bsa_m2_x100() < b.min_bsa_m2_x100()) {
      return Invalid(absl::StrCat("reduction_bands[", i, "] max < min"));
    }
    if (i > 0 && b.min_bsa_m2_x100() != p.reduction_bands(i - 1).max_bsa_m2_x100() + 1) {
      return Invalid(absl::StrCat("reduction_bands[", i,
                                  "] does not start 0.01 m2 after the previous band"));
    }
  }
  if (p.max_age_years() == 0) return Invalid("max_age_years is 0");
  if (p.assent_min_age_years() >= p.max_age_years()) {
    return Invalid("assent_min_age_years must be below max_age_years");
  }
  if (p.icf_version().empty()) return Invalid("icf_version is empty");
  if (p.assent_form_version().empty()) return Invalid("assent_form_version is empty");
  if (p.eligible_findings().empty()) return Invalid("eligible_findings is empty");
  for (const v1::EligibleFinding& f : p.eligible_findings()) {
    if (f.gene().empty()) return Invalid("eligible_findings has an empty gene");
  }
  std::set<std::string> codes;
  for (const v1::EligibilityCriterion& c : p.criteria()) {
    if (c.code().empty()) return Invalid("criteria has an empty code");
    if (c.category() == v1::CRITERION_CATEGORY_UNSPECIFIED) {
      return Invalid(absl::StrCat("criterion ", c.code(), " has no category"));
    }
    if (!codes.insert(c.code()).second) {
      return Invalid(absl::StrCat("criterion code ", c.code(), " is duplicated"));
    }
  }
  const v1::RecistParameters& r = p.recist();
  if (r.confirmation_min_days() == 0) return Invalid("recist.confirmation_min_days is 0");
  if (r.max_target_lesions() == 0 || r.max_targets_per_organ() == 0) {
    return Invalid("recist target lesion limits must be >= 1");
  }
  if (r.min_target_diameter_mm_x10() == 0 || r.min_node_short_axis_mm_x10() == 0 ||
      r.node_normal_mm_x10() == 0) {
    return Invalid("recist measurability thresholds must be > 0");
  }
  if (r.too_small_mm_x10() == 0) return Invalid("recist.too_small_mm_x10 is 0");
  if (p.sae_report_hours() == 0) return Invalid("sae_report_hours is 0");
  return absl::OkStatus();
}

}  // namespace trialog::trial
