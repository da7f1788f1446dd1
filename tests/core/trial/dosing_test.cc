#include "core/trial/dosing.h"

#include <cmath>

#include "core/trial/protocol.h"
#include "gtest/gtest.h"

namespace trialog::trial {
namespace {

TEST(Mosteller, KnownAnswers) {
  // sqrt(180 x 80 / 3600) = sqrt(4) = 2; sqrt(150 x 24 / 3600) = 1;
  // sqrt(180 x 70 / 3600) = sqrt(3.5) = 1.8708...
  EXPECT_DOUBLE_EQ(MostellerBsa(180, 80), 2.0);
  EXPECT_DOUBLE_EQ(MostellerBsa(150, 24), 1.0);
  EXPECT_NEAR(MostellerBsa(180, 70), 1.870829, 1e-6);
  EXPECT_EQ(MostellerBsaX100(1800, 80000), 200u);
  EXPECT_EQ(MostellerBsaX100(1500, 24000), 100u);
  EXPECT_EQ(MostellerBsaX100(1800, 70000), 187u);
}

TEST(Mosteller, RoundsExactHalvesUp) {
  // 120.6 cm x 30.15 kg / 3600 = 1.010025 = 1.005^2: BSA is exactly 1.005.
  EXPECT_EQ(MostellerBsaX100(1206, 30150), 101u);
  // Just below the half: 120.6 cm x 30.149 kg.
  EXPECT_EQ(MostellerBsaX100(1206, 30149), 100u);
}

TEST(Mosteller, IntegerAndFloatingFormulasAgreeAwayFromTies) {
  int checked = 0;
  for (uint32_t h = 450; h <= 2000; h += 37) {
    for (uint32_t w = 2500; w <= 120000; w += 1733) {
      const double bsa = MostellerBsa(h / 10.0, w / 1000.0) * 100.0;
      if (std::fabs(bsa - std::floor(bsa) - 0.5) < 1e-6) continue;
      EXPECT_EQ(MostellerBsaX100(h, w), static_cast<uint32_t>(std::floor(bsa + 0.5))) << h << " " << w;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000);
}

// domain.md C.3 (XALKORI USPI Table 2, 280 mg/m2 BID).
TEST(DoseBands, MatchTheLabelTableAtEveryBoundary) {
  const v1::ProtocolDefinition p = ImtCrizotinibProtocol();
  const struct { uint32_t bsa, dose; } kTable[] = {
      {38, 120}, {46, 120}, {47, 140}, {51, 140}, {52, 150}, {61, 150}, {62, 200}, {80, 200},
      {81, 250}, {97, 250}, {98, 300}, {116, 300}, {117, 350}, {133, 350}, {134, 400}, {151, 400},
      {152, 450}, {169, 450}, {170, 500}, {250, 500}};
  for (const auto& row : kTable) {
    absl::StatusOr<v1::BsaDoseBand> band = BandFor(p, row.bsa);
    ASSERT_TRUE(band.ok()) << row.bsa;
    EXPECT_EQ(band->dose_mg(), row.dose) << "BSA " << row.bsa;
  }
  absl::StatusOr<v1::BsaDoseBand> none = BandFor(p, 37);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("rule dose.no_label_dose"), std::string::npos);
}

TEST(DoseCap, StrictRuleTakesTheSmallerOfBandAndCap) {
  const v1::ProtocolDefinition p = ImtCrizotinibProtocol();
  ASSERT_EQ(p.cap_rule(), v1::DOSE_CAP_RULE_STRICT);
  // cap = 560 mg/m2/day x BSA / 2 doses, floored.
  EXPECT_EQ(CapDoseMg(p, 100), 280u);
  EXPECT_EQ(CapDoseMg(p, 38), 106u);
  EXPECT_EQ(CapDoseMg(p, 200), 560u);
  EXPECT_EQ(*MaxDoseMg(p, 38), 106u);   // band 120 > cap 106.4
  EXPECT_EQ(*MaxDoseMg(p, 46), 120u);   // cap 128.8 > band 120
  EXPECT_EQ(*MaxDoseMg(p, 100), 280u);  // band 300 > cap 280
  EXPECT_EQ(*MaxDoseMg(p, 170), 476u);  // band 500 > cap 476
  EXPECT_EQ(*MaxDoseMg(p, 200), 500u);  // the top band binds (label max 500 mg BID)
  EXPECT_EQ(*RecommendedDoseMg(p, 38, 10), 100u);
  EXPECT_TRUE(CheckDose(p, 100, 280).ok());
  absl::Status s = CheckDose(p, 100, 300);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("rule dose.cap"), std::string::npos) << s;
  EXPECT_NE(s.message().find("600.0 mg/m2/day"), std::string::npos) << s;
  EXPECT_NE(s.message().find("per-m2 cap binds"), std::string::npos) << s;
}

TEST(DoseCap, TablePrevailsRuleAllowsTheBandDose) {
  v1::ProtocolDefinition p = ImtCrizotinibProtocol();
  p.set_cap_rule(v1::DOSE_CAP_RULE_TABLE_PREVAILS);
  EXPECT_EQ(*MaxDoseMg(p, 38), 120u);   // band dose allowed above the cap
  EXPECT_EQ(*MaxDoseMg(p, 169), 473u);  // cap 473.2 above band 450
  EXPECT_EQ(*MaxDoseMg(p, 200), 500u);  // never above the top band
  EXPECT_TRUE(CheckDose(p, 38, 120).ok());
  EXPECT_EQ(CheckDose(p, 200, 510).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(DoseIntensity, AchievedMgPerM2) {
  EXPECT_EQ(MgPerM2X10(120, 38), 3158u);  // 315.79 mg/m2 (domain.md: 316)
  EXPECT_EQ(MgPerM2X10(200, 80), 2500u);  // 250 mg/m2 (domain.md)
  EXPECT_EQ(MgPerM2X10(500, 170), 2941u);
  EXPECT_EQ(MgPerM2X10(1, 0), 0u);
}

TEST(Protocol, SeedProtocolsAreValid) {
  EXPECT_TRUE(ValidateProtocol(ImtCrizotinibProtocol()).ok());
  EXPECT_TRUE(ValidateProtocol(ImtCrizotinibProtocolV2()).ok());
}

TEST(Protocol, RejectsBrokenDefinitions) {
  struct Case {
    const char* what;
    void (*mutate)(v1::ProtocolDefinition*);
  } cases[] = {
      {"protocol_id", [](v1::ProtocolDefinition* p) { p->clear_protocol_id(); }},
      {"version", [](v1::ProtocolDefinition* p) { p->set_version(0); }},
      {"cap_rule", [](v1::ProtocolDefinition* p) { p->set_cap_rule(v1::DOSE_CAP_RULE_UNSPECIFIED); }},
      {"dose_bands is empty", [](v1::ProtocolDefinition* p) { p->clear_dose_bands(); }},
      {"does not start 0.01 m2", [](v1::ProtocolDefinition* p) { p->mutable_dose_bands(4)->set_min_bsa_m2_x100(83); }},
      {"dose does not increase", [](v1::ProtocolDefinition* p) { p->mutable_dose_bands(2)->set_dose_mg(140); }},
      {"only the top band", [](v1::ProtocolDefinition* p) { p->mutable_dose_bands(1)->set_max_bsa_m2_x100(0); }},
      {"duplicated", [](v1::ProtocolDefinition* p) { p->mutable_criteria(1)->set_code("INC01"); }},
      {"eligible_findings", [](v1::ProtocolDefinition* p) { p->clear_eligible_findings(); }},
      {"confirmation_min_days", [](v1::ProtocolDefinition* p) { p->mutable_recist()->set_confirmation_min_days(0); }},
      {"assent_min_age_years", [](v1::ProtocolDefinition* p) { p->set_assent_min_age_years(18); }},
  };
  for (const Case& c : cases) {
    v1::ProtocolDefinition p = ImtCrizotinibProtocol();
    c.mutate(&p);
    absl::Status s = ValidateProtocol(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_NE(s.message().find(c.what), std::string::npos) << c.what << ": " << s;
  }
}

}  // namespace
}  // namespace trialog::trial
