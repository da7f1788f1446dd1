#include "core/trial/stats.h"

#include <cmath>

#include "gtest/gtest.h"

namespace trialog::trial {
namespace {

double Round1(double percent) { return std::round(percent * 10.0) / 10.0; }

// Published exact 95% CIs (domain.md C.1): ADVL0912 12/14 = 86% (57.2-98.2),
// EORTC 90101 CREATE 6/12 = 50% (21.1-78.9).
TEST(ClopperPearson, PublishedFigures) {
  absl::StatusOr<Interval> a = ClopperPearson(12, 14);
  ASSERT_TRUE(a.ok());
  EXPECT_DOUBLE_EQ(Round1(a->lower * 100), 57.2);
  EXPECT_DOUBLE_EQ(Round1(a->upper * 100), 98.2);
  absl::StatusOr<Interval> b = ClopperPearson(6, 12);
  ASSERT_TRUE(b.ok());
  EXPECT_DOUBLE_EQ(Round1(b->lower * 100), 21.1);
  EXPECT_DOUBLE_EQ(Round1(b->upper * 100), 78.9);
}

// Reference values computed independently with mpmath 1.3 (40 digits,
// bisection on mpmath.betainc(regularized=True)).
TEST(ClopperPearson, MatchesMpmathReference) {
  const struct { uint32_t x, n; double lo, hi; } kRef[] = {
      {12, 14, 0.571870839090301, 0.982205484516808}, {6, 12, 0.210944638239297, 0.789055361760703},
      {0, 10, 0, 0.308497107818761},                  {10, 10, 0.691502892181239, 1},
      {1, 20, 0.0012650894979498, 0.248732762772028}, {5, 14, 0.127598429859159, 0.648619889384008},
      {7, 14, 0.230360541448062, 0.769639458551938},  {30, 100, 0.212406420489537, 0.399814676179804},
      {1, 1, 0.025, 1},                               {3, 7, 0.0989882784425079, 0.815948432359917},
      {17, 23, 0.515948029597562, 0.897713866084642}, {250, 400, 0.575521788661425, 0.67261376127048},
  };
  for (const auto& r : kRef) {
    absl::StatusOr<Interval> ci = ClopperPearson(r.x, r.n);
    ASSERT_TRUE(ci.ok());
    EXPECT_NEAR(ci->lower, r.lo, 1e-10) << r.x << "/" << r.n;
    EXPECT_NEAR(ci->upper, r.hi, 1e-10) << r.x << "/" << r.n;
  }
}

// Closed forms: x = 0 gives upper = 1 - (alpha/2)^(1/n); x = n gives
// lower = (alpha/2)^(1/n).
TEST(ClopperPearson, ClosedFormsAtTheEdges) {
  for (uint32_t n : {1u, 2u, 5u, 14u, 60u}) {
    EXPECT_NEAR(ClopperPearson(0, n)->upper, 1 - std::pow(0.025, 1.0 / n), 1e-12) << n;
    EXPECT_EQ(ClopperPearson(0, n)->lower, 0.0);
    EXPECT_NEAR(ClopperPearson(n, n)->lower, std::pow(0.025, 1.0 / n), 1e-12) << n;
    EXPECT_EQ(ClopperPearson(n, n)->upper, 1.0);
  }
}

TEST(ClopperPearson, RejectsBadInput) {
  EXPECT_EQ(ClopperPearson(0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClopperPearson(5, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClopperPearson(1, 4, 1.0).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IncompleteBeta, MatchesMpmathReference) {
  const struct { double a, b, x, want; } kRef[] = {
      {0.5, 0.5, 0.3, 0.369010119565545}, {2, 3, 0.4, 0.5248}, {10, 2, 0.9, 0.6973568802},
      {1, 1, 0.25, 0.25}, {50, 60, 0.45, 0.464235291430604}, {0.1, 5, 0.01, 0.769088920784346}};
  for (const auto& r : kRef) {
    EXPECT_NEAR(RegularizedIncompleteBeta(r.a, r.b, r.x), r.want, 1e-10) << r.a << "," << r.b << "," << r.x;
    EXPECT_NEAR(RegularizedIncompleteBeta(r.a, r.b, BetaQuantile(r.want, r.a, r.b)), r.want, 1e-10);
  }
  EXPECT_EQ(RegularizedIncompleteBeta(2, 3, 0), 0.0);
  EXPECT_EQ(RegularizedIncompleteBeta(2, 3, 1), 1.0);
}

}  // namespace
}  // namespace trialog::trial
