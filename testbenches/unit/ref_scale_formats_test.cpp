// Group scales with M_g in {2, 3} (e4m3 as NVFP4 uses, e5m2, e8m3): the
// quantizer's group scale worked by hand, and the golden scaler against exact
// double evaluation over every mantissa code pair.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "ref/format/format.h"
#include "ref/golden/golden_conv.h"
#include "ref/quant/quantizer.h"

namespace {

using mls::GroupScale;
using mls::ScaleFormat;

ScaleFormat fmt(int e, int m) {
  ScaleFormat f;
  f.e = e;
  f.m = m;
  return f;
}

TEST(ref_scale_formats, WideMantissaGroupScalesByHand) {
  struct Case {
    double s;
    int e, m;
    int exp, man;
    double value;
  };
  const Case cases[] = {
      {0.7, 4, 3, -1, 4, 0.75},          // 0.7 = 1.4 * 2^-1, c = ceil(3.2) = 4
      {0.3, 4, 3, -2, 2, 0.3125},        // 1.2 * 2^-2, c = ceil(1.6) = 2
      {0.97, 4, 3, 0, 0, 1.0},           // 1.94 * 2^-1, c = ceil(7.52) = 8 = 2^M_g: carry
      {0.5625, 4, 3, -1, 1, 0.5625},     // representable: itself
      {0.26, 5, 2, -2, 1, 0.3125},       // 1.04 * 2^-2, c = ceil(0.16) = 1 of 4
      {0.26, 8, 3, -2, 1, 0.28125},      // ... c = ceil(0.32) = 1 of 8
      {std::ldexp(1.0, -15), 4, 3, -15, 0, std::ldexp(1.0, -15)},  // e4m3's smallest scale
      // Below it the exponent clamps to -15 and c is kept (docs/reference.md step 2):
      // 1.3 * 2^-16 gives c = ceil(2.4) = 3, S_g = 1.375 * 2^-15.
      {1.3 * std::ldexp(1.0, -16), 4, 3, -15, 3, 1.375 * std::ldexp(1.0, -15)},
      {0.0, 4, 3, -15, 0, std::ldexp(1.0, -15)},  // zero group: the smallest scale
      {0.3, 0, 3, 0, 2, 1.25},           // E_g = 0: exp fixed at 0, c = 2 kept
      {1.0, 4, 3, 0, 0, 1.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("s=" + std::to_string(c.s) + " e" + std::to_string(c.e) + "m" + std::to_string(c.m));
    const ScaleFormat f = fmt(c.e, c.m);
    const GroupScale g = mls::group_scale_for_ratio(c.s, f);
    EXPECT_EQ(g.exp, c.exp);
    EXPECT_EQ(g.man, c.man);
    EXPECT_EQ(mls::group_scale_value(f, g), c.value);
    EXPECT_GE(mls::group_scale_value(f, g), c.s);
  }
}

TEST(ref_scale_formats, GoldenScalerEveryMantissaPairIsExact) {
  // P * (1 + cx/2^Mx) * (1 + cy/2^My) * 2^(ex + ey) is exact in double for
  // |P| < 2^44 (the mantissa product has at most 8 bits), so its conversion
  // to float is the one correct rounding, subnormals included.
  const std::pair<int, int> widths[] = {{2, 2}, {2, 3}, {3, 3}, {3, 0}, {1, 3}};
  const std::pair<int, int> exps[] = {{0, 0}, {-15, -15}, {-70, -75}, {-75, -75}, {-80, -90}, {-255, -255}};
  int subnormals = 0, cases = 0;
  for (const auto& [mx, my] : widths)
    for (uint8_t cx = 0; cx < (1 << mx); ++cx)
      for (uint8_t cy = 0; cy < (1 << my); ++cy)
        for (int64_t P : {int64_t{1}, int64_t{-3}, int64_t{7}, int64_t{12345}, int64_t{-32768}, (int64_t{1} << 43) - 1})
          for (const auto& [ex, ey] : exps) {
            const double exact = double(P) * (1.0 + std::ldexp(cx, -mx)) * (1.0 + std::ldexp(cy, -my)) *
                                 std::ldexp(1.0, ex + ey);
            const float got =
                mls::scale_chunk(P, GroupScale{int16_t(ex), cx}, GroupScale{int16_t(ey), cy}, fmt(8, mx), fmt(8, my));
            ASSERT_EQ(got, static_cast<float>(exact)) << P << " M " << mx << my << " c " << int(cx) << int(cy) << " "
                                                      << ex << " " << ey;
            subnormals += got != 0 && std::fabs(got) < std::numeric_limits<float>::min();
            ++cases;
          }
  EXPECT_GT(subnormals, cases / 20);
}

TEST(ref_scale_formats, GoldenScalerWideSumsRoundOnce) {
  const ScaleFormat e4m3 = fmt(4, 3);
  // Mantissa 8 with exponent 0 is S_g = 1: P = 2^54 + 2^30 + 1 lies just above
  // the midpoint of its fp32 neighbours, so it rounds up to 2^54 + 2^31 (a trip
  // through double would round it to the midpoint, then to even, down).
  const int64_t P = (int64_t{1} << 54) + (int64_t{1} << 30) + 1;
  EXPECT_EQ(mls::scale_chunk(P, GroupScale{0, 0}, GroupScale{0, 0}, e4m3), 0x1p54f + 0x1p31f);
  // (2^61 - 1) * (15/8)^2 * 2^-2 = 225 * 2^53 - 225/256: just below 225 * 2^53,
  // far less than half its ulp 2^37 away, so it rounds to 225 * 2^53.
  const int64_t top = (int64_t{1} << 61) - 1;
  EXPECT_EQ(mls::scale_chunk(top, GroupScale{-1, 7}, GroupScale{-1, 7}, e4m3), 225 * 0x1p53f);
  EXPECT_EQ(mls::scale_chunk(-top, GroupScale{-1, 7}, GroupScale{-1, 7}, e4m3), -225 * 0x1p53f);
}

}  // namespace
