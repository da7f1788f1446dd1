// The paediatric dose-reduction table as protocol data
// (ProtocolDefinition.reduction_bands, carried in genesis or an amendment):
// validation of the table and the rules dose.reduction_table and
// dose.reduction_exhausted. The numbers are ILLUSTRATIVE (the label's
// numeric table was not retrieved, domain.md C.3 [U]); the engine reads
// whatever the protocol carries.

#include "core/trial/dosing.h"
#include "core/trial/protocol.h"
#include "gtest/gtest.h"
#include "tests/core/trial/harness.h"

namespace trialog::trial::testing {
namespace {

void AddReduction(v1::ProtocolDefinition* p, uint32_t min, uint32_t max, uint32_t first,
                  uint32_t second) {
  v1::BsaReductionBand* b = p->add_reduction_bands();
  b->set_min_bsa_m2_x100(min);
  b->set_max_bsa_m2_x100(max);
  b->set_first_reduction_mg(first);
  b->set_second_reduction_mg(second);
}

v1::ProtocolDefinition WithTable() {
  v1::ProtocolDefinition p = ImtCrizotinibProtocol();
  AddReduction(&p, 60, 97, 150, 100);
  AddReduction(&p, 98, 116, 250, 200);   // the harness subject: BSA 1.00, dose 280 mg
  AddReduction(&p, 117, 0, 300, 0);      // no second level: discontinue
  return p;
}

Attempt Reduce(const std::string& sid, uint32_t mg) {
  return Attempt(kInv, S(sid), Modify(v1::DOSE_ACTION_REDUCED, mg), 0, "grade 3 AE");
}

void ExpectRule(const absl::Status& s, const std::string& rule) {
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("rule " + rule + ":"), absl::string_view::npos) << s;
}

TEST(DoseReduction, TableIsValidated) {
  EXPECT_TRUE(ValidateProtocol(WithTable()).ok());
  v1::ProtocolDefinition second_not_below = ImtCrizotinibProtocol();
  AddReduction(&second_not_below, 60, 0, 150, 150);
  EXPECT_EQ(ValidateProtocol(second_not_below).code(), absl::StatusCode::kInvalidArgument);
  v1::ProtocolDefinition gap = ImtCrizotinibProtocol();
  AddReduction(&gap, 60, 97, 150, 100);
  AddReduction(&gap, 99, 0, 250, 200);
  absl::Status s = ValidateProtocol(gap);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("reduction_bands[1]"), absl::string_view::npos) << s;
  v1::ProtocolDefinition open_middle = ImtCrizotinibProtocol();
  AddReduction(&open_middle, 60, 0, 150, 100);
  AddReduction(&open_middle, 1, 0, 250, 200);
  EXPECT_EQ(ValidateProtocol(open_middle).code(), absl::StatusCode::kInvalidArgument);
}

TEST(DoseReduction, LookupByBsaAndLevel) {
  const v1::ProtocolDefinition p = WithTable();
  EXPECT_EQ(*ReductionDoseMg(p, 60, 1), 150u);
  EXPECT_EQ(*ReductionDoseMg(p, 97, 2), 100u);
  EXPECT_EQ(*ReductionDoseMg(p, 98, 1), 250u);
  EXPECT_EQ(*ReductionDoseMg(p, 250, 1), 300u);  // open-ended top band
  ExpectRule(ReductionDoseMg(p, 59, 1).status(), "dose.reduction_table");
  ExpectRule(ReductionDoseMg(p, 250, 2).status(), "dose.reduction_exhausted");
  ExpectRule(ReductionDoseMg(p, 100, 3).status(), "dose.reduction_exhausted");
}

TEST(DoseReduction, ReductionsFollowTheTableInGenesis) {
  Harness h(WithTable());
  Sites(h);
  Bring(h, "S1", Stage::kDosed);
  ExpectRule(h.Append(Reduce("S1", 240)), "dose.reduction_table");  // not the table's level 1
  EXPECT_TRUE(h.Append(Reduce("S1", 250)).ok());
  ExpectRule(h.Append(Reduce("S1", 250)), "dose_modification.not_a_reduction");
  ExpectRule(h.Append(Reduce("S1", 150)), "dose.reduction_table");  // level 2 is 200 mg
  EXPECT_TRUE(h.Append(Reduce("S1", 200)).ok());
  ExpectRule(h.Append(Reduce("S1", 100)), "dose.reduction_exhausted");
  absl::StatusOr<v1::SubjectState> s = h.sm.Subject("S1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->dosing().reductions(), 2u);
}

TEST(DoseReduction, WithoutATableReductionsOnlyGoDown) {
  Harness h;  // the demo protocol carries no table
  Sites(h);
  Bring(h, "S1", Stage::kDosed);
  EXPECT_TRUE(h.Append(Reduce("S1", 240)).ok());
  EXPECT_TRUE(h.Append(Reduce("S1", 170)).ok());
  EXPECT_TRUE(h.Append(Reduce("S1", 120)).ok());
}

}  // namespace
}  // namespace trialog::trial::testing
