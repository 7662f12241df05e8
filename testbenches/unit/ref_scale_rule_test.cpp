// The fit scale rule (--scale-rule fit, docs/reference.md#the-reference-quantizer
// step 2): group scales worked by hand, and against an enumeration of every
// representable scale of the format.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "ref/core/config.h"
#include "ref/format/format.h"
#include "ref/quant/quantizer.h"
#include "testbenches/unit/test_formats.h"

namespace {

using mls::test::efmt;
using mls::test::sfmt;


using mls::ElemFormat;
using mls::GroupScale;
using mls::ScaleFormat;
using mls::ScaleRule;


TEST(ref_scale_rule, ElementMaxByHand) {
  EXPECT_EQ(mls::elem_max_value(efmt(2, 1)), 0.75);     // e2m1: 1.5 * 2^1 / 4
  EXPECT_EQ(mls::elem_max_value(efmt(2, 4)), 0.96875);  // e2m4: 31/32
  EXPECT_EQ(mls::elem_max_value(efmt(4, 3)), 0.9375);   // e4m3: 15/16
  EXPECT_EQ(mls::elem_max_value(efmt(0, 3)), 0.875);    // fixed point: 7/8
}

TEST(ref_scale_rule, FitScalesByHand) {
  struct Case {
    double s;
    int ee, em;  // element format
    int ge, gm;  // scale format
    int exp, man;
    double value;
  };
  const double tiny = std::ldexp(1.0, -20);
  const Case cases[] = {
      // The tensor-max group, e2m1 under e4m3 scales (NVFP4): s / x_max = 4/3,
      // 1.25 * 0.75 = 0.9375 < 1 <= 1.375 * 0.75.
      {1.0, 2, 1, 4, 3, 0, 3, 1.375},
      // ... under e8m1 scales: 1.5; under e8m0 the cap 1.0 binds (the group clips).
      {1.0, 2, 1, 8, 1, 0, 1, 1.5},
      {1.0, 2, 1, 8, 0, 0, 0, 1.0},
      // e4m3 elements (x_max 15/16) under e8m0: 16/15 capped at 1.0; 0.5 needs 1.0
      // too (0.5 * 15/16 < 0.5).
      {1.0, 4, 3, 8, 0, 0, 0, 1.0},
      {0.5, 4, 3, 8, 0, 0, 0, 1.0},
      {0.4, 4, 3, 8, 0, -1, 0, 0.5},  // 0.5 * 15/16 = 0.46875 >= 0.4
      // e2m4 (x_max 31/32) under e8m3: 1.125 * 31/32 >= 1 > 31/32.
      {1.0, 2, 4, 8, 3, 0, 1, 1.125},
      // Exactly on x_max: S_g = 1 (equality covers).
      {0.75, 2, 1, 4, 3, 0, 0, 1.0},
      // 0.3 / 0.75 = 0.4 = 1.6 * 2^-2, c = ceil(4.8) = 5: 1.625 * 2^-2 * 0.75 = 0.3046875.
      {0.3, 2, 1, 4, 3, -2, 5, 0.40625},
      // 0.515625 = 0.6875 * 0.75 exactly: 1.375 * 2^-1; one ulp above needs 1.5 * 2^-1.
      {0.515625, 2, 1, 4, 3, -1, 3, 0.6875},
      {std::nextafter(0.515625, 1.0), 2, 1, 4, 3, -1, 4, 0.75},
      {std::nextafter(0.515625, 0.0), 2, 1, 4, 3, -1, 3, 0.6875},
      // Below the smallest scale (e4m3: 2^-15): the smallest, mantissa 0
      // (cover keeps c here, fit does not).
      {tiny, 2, 1, 4, 3, -15, 0, std::ldexp(1.0, -15)},
      // Zero group: as cover, the smallest scale.
      {0.0, 2, 1, 4, 3, -15, 0, std::ldexp(1.0, -15)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("s=" + std::to_string(c.s) + " e" + std::to_string(c.ee) + "m" + std::to_string(c.em) + " / e" +
                 std::to_string(c.ge) + "m" + std::to_string(c.gm));
    const ScaleFormat f = sfmt(c.ge, c.gm);
    const GroupScale g = mls::group_scale_for_ratio(c.s, f, ScaleRule::fit, efmt(c.ee, c.em));
    EXPECT_EQ(g.exp, c.exp);
    EXPECT_EQ(g.man, c.man);
    EXPECT_EQ(mls::group_scale_value(f, g), c.value);
  }
}

TEST(ref_scale_rule, CoverIsTheDefaultRule) {
  const ScaleFormat f = sfmt(4, 3);
  for (double s : {0.0, 1.0, 0.3, 0.97, 1.3 * std::ldexp(1.0, -16)}) {
    const GroupScale a = mls::group_scale_for_ratio(s, f);
    const GroupScale b = mls::group_scale_for_ratio(s, f, ScaleRule::cover, efmt(2, 1));
    EXPECT_EQ(a.exp, b.exp);
    EXPECT_EQ(a.man, b.man);
  }
  EXPECT_EQ(mls::QuantConfig{}.scale_rule, ScaleRule::cover);
  EXPECT_EQ(mls::parse_scale_rule("fit"), ScaleRule::fit);
  EXPECT_EQ(mls::to_string(ScaleRule::cover), "cover");
  EXPECT_THROW(mls::parse_scale_rule("amax"), mls::Error);
}

// Every representable scale in increasing order, the smallest with
// S * x_max >= s picked by a linear scan (exact: small integers times powers of two).
TEST(ref_scale_rule, FitMatchesEnumeration) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::pair<int, int> scales[] = {{8, 0}, {8, 1}, {4, 3}, {5, 2}, {8, 3}, {2, 1}};
  const std::pair<int, int> elems[] = {{2, 1}, {2, 4}, {4, 3}, {0, 3}, {3, 2}};
  for (const auto& [ge, gm] : scales)
    for (const auto& [ee, em] : elems) {
      const ScaleFormat f = sfmt(ge, gm);
      const ElemFormat el = efmt(ee, em);
      const double x_max = std::ldexp(double(el.max_q()), el.unit_exp());
      for (int i = 0; i < 400; ++i) {
        // Ratios over 2^0 .. 2^-20, and some exactly at scale * x_max and one ulp off.
        double s = std::ldexp(unit(rng), -int(rng() % 21));
        if (i % 4 == 1) s = std::ldexp(1.0 + double(rng() % 8) / 8.0, -int(rng() % 10)) * x_max;
        if (i % 4 == 2) s = std::nextafter(std::ldexp(1.0 + double(rng() % 8) / 8.0, -int(rng() % 10)) * x_max, 2.0);
        if (s > 1.0 || s == 0.0) continue;
        int want_exp = 0, want_man = (1 << gm) - 1;  // the cap
        bool found = false;
        for (int e = 1 - (1 << ge); e <= 0 && !found; ++e)
          for (int c = 0; c < (1 << gm) && !found; ++c)
            if (std::ldexp(1.0 + std::ldexp(double(c), -gm), e) * x_max >= s) {
              want_exp = e;
              want_man = c;
              found = true;
            }
        const GroupScale g = mls::group_scale_for_ratio(s, f, ScaleRule::fit, el);
        ASSERT_EQ(g.exp, want_exp) << "s=" << s << " e" << ge << "m" << gm << " elem e" << ee << "m" << em;
        ASSERT_EQ(g.man, want_man) << "s=" << s << " e" << ge << "m" << gm << " elem e" << ee << "m" << em;
      }
    }
}

}  // namespace
