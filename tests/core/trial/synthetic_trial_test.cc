#include "core/trial/synthetic_trial.h"

#include <chrono>
#include <cstdio>
#include <map>

#include "core/trial/projection.h"
#include "core/trial/stats.h"
#include "tests/core/trial/harness.h"

namespace trialog::trial::testing {
namespace {

std::string PlanBytes(const SyntheticTrialPlan& plan) {
  std::string out = DeterministicBytes(plan.protocol);
  for (const SyntheticStep& s : plan.steps) {
    out += s.actor.SerializeAsString() + s.stream_id + s.event_id + DeterministicBytes(s.event) +
           s.observed_at.SerializeAsString() + s.reason + (s.expect_refused ? "!" : ".");
  }
  return out;
}

TEST(SyntheticTrial, AcceptsEverythingButThePlantedViolation) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(42, 20);
  ASSERT_TRUE(plan.ok()) << plan.status();
  Harness h(plan->protocol);
  std::vector<Refusal> refused = RunPlan(h, *plan);
  for (const Refusal& r : refused) {
    if (!plan->steps[r.step].expect_refused) ADD_FAILURE() << plan->steps[r.step].description << ": " << r.status;
  }
  ASSERT_EQ(refused.size(), 1u) << "first refusal: step " << refused[0].step << " ("
                                << plan->steps[refused[0].step].description << "): " << refused[0].status;
  const SyntheticStep& planted = plan->steps[refused[0].step];
  EXPECT_TRUE(planted.expect_refused) << planted.description;
  EXPECT_EQ(refused[0].status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused[0].status.message().find("rule " + planted.expected_rule + ":"), std::string::npos)
      << refused[0].status;
  int planted_count = 0;
  for (const SyntheticStep& s : plan->steps) planted_count += s.expect_refused;
  EXPECT_EQ(planted_count, 1);
  EXPECT_GT(plan->steps.size(), 600u);
}

TEST(SyntheticTrial, ProjectionsShowEveryScenario) {
  absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(42, 20);
  ASSERT_TRUE(plan.ok());
  Harness h(plan->protocol);
  RunPlan(h, *plan);
  const TrialStateMachine& sm = h.sm;
  ASSERT_EQ(sm.SubjectIds().size(), 20u);
  const std::map<std::string, v1::Response> bor = {
      {"RU-01-0001", v1::RESPONSE_CR}, {"RU-02-0002", v1::RESPONSE_PR}, {"RU-01-0003", v1::RESPONSE_PR},
      {"RU-02-0004", v1::RESPONSE_SD}, {"RU-01-0005", v1::RESPONSE_PD}, {"RU-02-0006", v1::RESPONSE_PD},
      {"RU-01-0009", v1::RESPONSE_SD}, {"RU-02-0010", v1::RESPONSE_SD}, {"RU-01-0011", v1::RESPONSE_CR},
      {"RU-02-0012", v1::RESPONSE_PR}, {"RU-01-0013", v1::RESPONSE_SD}};
  for (const auto& [sid, want] : bor) {
    absl::StatusOr<v1::SubjectState> s = sm.Subject(sid);
    ASSERT_TRUE(s.ok()) << sid;
    EXPECT_EQ(v1::Response_Name(s->recist().bor().response()), v1::Response_Name(want)) << sid;
    if (want == v1::RESPONSE_CR || want == v1::RESPONSE_PR) {
      EXPECT_TRUE(s->recist().bor().confirmed()) << sid;
    }
  }
  // RU-02-0010's week-8 PR was never confirmed: the week-16 scan progressed
  // by +24 % and +12 mm from the nadir.
  const v1::SubjectState unconfirmed = *sm.Subject("RU-02-0010");
  ASSERT_EQ(unconfirmed.recist().timepoints_size(), 2);
  EXPECT_EQ(unconfirmed.recist().timepoints(0).overall(), v1::RESPONSE_PR);
  EXPECT_EQ(unconfirmed.recist().timepoints(1).overall(), v1::RESPONSE_PD);
  // Screen failures, assent rules, withdrawal, death.
  EXPECT_EQ(sm.Subject("RU-01-0007")->phase(), v1::SUBJECT_PHASE_SCREEN_FAILED);
  EXPECT_FALSE(sm.Subject("RU-01-0007")->eligibility().molecular_eligible());
  EXPECT_EQ(sm.Subject("RU-02-0008")->phase(), v1::SUBJECT_PHASE_SCREEN_FAILED);
  EXPECT_EQ(sm.Subject("RU-02-0002")->consent().assent(), v1::ASSENT_STATUS_NOT_REQUIRED);
  EXPECT_EQ(sm.Subject("RU-01-0001")->consent().assent(), v1::ASSENT_STATUS_OBTAINED);
  EXPECT_EQ(sm.Subject("RU-01-0003")->eligibility().eligible_gene(), "ROS1");
  EXPECT_EQ(sm.Subject("RU-01-0009")->consent().withdrawn(), v1::WITHDRAWAL_SCOPE_ALL);
  EXPECT_TRUE(sm.Subject("RU-01-0013")->deceased());
  // Re-consent after the amendment: nobody active is left on ICF-1.0.
  for (const std::string& sid : sm.SubjectIds()) {
    EXPECT_FALSE(sm.Subject(sid)->consent().reconsent_needed()) << sid;
  }
  EXPECT_EQ(sm.Subject("RU-01-0011")->consent().icf_version(), "ICF-2.0");
  // BSA changed over the cycles for a growing child.
  EXPECT_GT(sm.Subject("RU-02-0002")->dosing().dispensings(), 5u);
  // The causality signature outdated by the AE correction, then re-signed.
  const v1::SubjectState sae = *sm.Subject("RU-01-0011");
  int outdated = 0, valid_causality = 0;
  for (const v1::SignatureState& sig : sae.signatures()) {
    if (sig.meaning() != v1::SIG_AE_CAUSALITY) continue;
    outdated += sig.status() == v1::SIGNATURE_STATUS_OUTDATED;
    valid_causality += sig.status() == v1::SIGNATURE_STATUS_VALID;
  }
  EXPECT_EQ(outdated, 1);
  EXPECT_EQ(valid_causality, 1);
  EXPECT_EQ(sae.dosing().reductions(), 1u);
  for (const v1::AdverseEventState& ae : sae.adverse_events()) {
    if (ae.serious()) {
      EXPECT_EQ(ae.sponsor_notified_unix_micros() - ae.aware_at_unix_micros(), 20LL * 3600 * 1000000);
      EXPECT_FALSE(ae.sae_report_late());
      EXPECT_TRUE(ae.causality_signed());
    }
  }

  const v1::TrialSummary t = sm.Summary();
  EXPECT_EQ(t.protocol_version(), 2u);
  EXPECT_TRUE(t.locked());
  EXPECT_EQ(t.registered(), 20u);
  EXPECT_EQ(t.screen_failures(), 2u);
  EXPECT_EQ(t.enrolled(), 18u);
  EXPECT_EQ(t.evaluable(), 18u);
  EXPECT_EQ(t.bor_cr(), 3u);
  EXPECT_EQ(t.bor_pr(), 5u);
  EXPECT_EQ(t.bor_sd(), 6u);
  EXPECT_EQ(t.bor_pd(), 4u);
  EXPECT_EQ(t.orr().numerator(), 8u);
  EXPECT_EQ(t.orr().denominator(), 18u);
  EXPECT_EQ(t.orr().estimate_bp(), 4444u);
  // Exact 8/18 CI: 21.5 % .. 69.2 % (mpmath: 0.2153015, 0.6924283).
  EXPECT_EQ(t.orr().ci_lower_bp(), 2153u);
  EXPECT_EQ(t.orr().ci_upper_bp(), 6924u);
  EXPECT_EQ(t.disease_control().numerator(), 14u);
  ASSERT_EQ(t.ae_events_by_grade_size(), 5);
  for (int g = 0; g < 5; ++g) EXPECT_GT(t.ae_events_by_grade(g), 0u) << "grade " << g + 1;
  EXPECT_GE(t.serious_ae_events(), 2u);
  EXPECT_EQ(t.sae_reports_late(), 1u);
  EXPECT_EQ(t.sae_reports_pending(), 0u);
  EXPECT_EQ(t.deaths(), 1u);
  EXPECT_EQ(t.withdrawn(), 1u);
  EXPECT_EQ(t.outdated_signatures(), 2u);
  EXPECT_EQ(t.corrections(), 3u);
  EXPECT_EQ(t.open_queries(), 0u);
  EXPECT_GT(t.mean_relative_dose_intensity_bp(), 7000u);
  EXPECT_LE(t.mean_relative_dose_intensity_bp(), 10000u);
}

TEST(SyntheticTrial, IsDeterministicPerSeed) {
  const std::string a = PlanBytes(*SyntheticTrial(7, 20));
  EXPECT_EQ(a, PlanBytes(*SyntheticTrial(7, 20)));
  EXPECT_NE(a, PlanBytes(*SyntheticTrial(8, 20)));
}

TEST(SyntheticTrial, OtherSeedsAndSizesRefuseOnlyThePlantedViolation) {
  for (uint64_t seed : {1ull, 99ull, 123456789ull}) {
    for (int n : {13, 31}) {
      absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(seed, n);
      ASSERT_TRUE(plan.ok());
      Harness h(plan->protocol);
      std::vector<Refusal> refused = RunPlan(h, *plan);
      ASSERT_EQ(refused.size(), 1u) << "seed " << seed << " n " << n << ": "
                                    << plan->steps[refused[0].step].description << ": " << refused[0].status;
      EXPECT_TRUE(plan->steps[refused[0].step].expect_refused);
    }
  }
}

TEST(SyntheticTrial, RejectsBadSizes) {
  EXPECT_EQ(SyntheticTrial(1, 12).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SyntheticTrial(1, 501).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trialog::trial::testing

namespace trialog::trial::testing {
namespace {

// Figures for the report (run with --gtest_also_run_disabled_tests).
TEST(SyntheticTrial, DISABLED_Figures) {
  for (int n : {20, 200}) {
    absl::StatusOr<SyntheticTrialPlan> plan = SyntheticTrial(42, n);
    ASSERT_TRUE(plan.ok());
    Harness h(plan->protocol);
    const auto t0 = std::chrono::steady_clock::now();
    RunPlan(h, *plan);
    const auto t1 = std::chrono::steady_clock::now();
    TrialStateMachine replay;
    for (const ledger::ParsedEntry& e : h.entries()) replay.Apply(e);
    const auto t2 = std::chrono::steady_clock::now();
    const std::string snap = h.sm.Snapshot();
    const auto t3 = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<TrialStateMachine>> restored = TrialStateMachine::FromSnapshot(snap);
    const auto t4 = std::chrono::steady_clock::now();
    ASSERT_TRUE(restored.ok());
    auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
    std::printf("n=%d entries=%zu check+apply=%.1f ms (%.0f entries/s) replay=%.1f ms snapshot=%zu bytes in %.1f ms, "
                "restore %.1f ms\n",
                n, h.entries().size(), ms(t0, t1), h.entries().size() / (ms(t0, t1) / 1000), ms(t1, t2), snap.size(),
                ms(t2, t3), ms(t3, t4));
  }
}

}  // namespace
}  // namespace trialog::trial::testing
