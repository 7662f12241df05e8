// The MLS element and group-scale formats (docs/reference.md#the-mls-number-format) and the element rounding of
// docs/reference.md#the-reference-quantizer steps 4-6, checked exhaustively against an enumeration written here
// from the definitions in docs/reference.md (never against the library's own output).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ref/core/error.h"
#include "ref/format/format.h"
#include "ref/quant/quantizer.h"
#include "testbenches/unit/test_formats.h"

namespace {

using mls::test::efmt;
using mls::test::sfmt;


using mls::ElemCode;
using mls::ElemFormat;
using mls::GroupScale;
using mls::Rounding;
using mls::ScaleFormat;

// One representable magnitude with the code docs/reference.md assigns it.
struct Member {
  int64_t q;
  uint32_t exp_code;  // 0: denormal / fixed point; b+1: normal binade b
  uint32_t man_code;
};

// docs/reference.md#the-mls-number-format, written out literally: E = 0 is fixed point q in [0, 2^M - 1];
// E >= 1 has denormals q = m and normal binades b = 0 .. 2^E - 2 with
// q = (2^M + m) * 2^b.
std::vector<Member> enumerate_members(int E, int M) {
  std::vector<Member> out;
  const int64_t mant_count = int64_t{1} << M;
  for (int64_t m = 0; m < mant_count; ++m) out.push_back({m, 0, uint32_t(m)});
  if (E >= 1) {
    const int binades = (1 << E) - 1;  // b = 0 .. 2^E - 2
    for (int b = 0; b < binades; ++b)
      for (int64_t m = 0; m < mant_count; ++m) out.push_back({(mant_count + m) << b, uint32_t(b + 1), uint32_t(m)});
  }
  std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.q < b.q; });
  return out;
}

std::vector<ElemFormat> small_formats() {
  std::vector<ElemFormat> fmts;
  for (int e = 0; e <= 3; ++e)
    for (int m = 0; m <= 6; ++m)
      if (e + m >= 1) {
        ElemFormat f;
        f.e = e;
        f.m = m;
        fmts.push_back(f);
      }
  return fmts;
}

// The docs/reference.md#the-reference-quantizer step 4 step of x_f, in units of u (a power of two), written here
// from docs/reference.md: u when E = 0 or x_f < 2^emin, else 2^(e - M) with
// e = min(floor(log2 x_f), -1).
double step_of(double x_f, int E, int M) {
  const int emin = 1 - (1 << E);
  const double u = std::ldexp(1.0, emin - M);
  if (E == 0 || x_f < std::ldexp(1.0, emin)) return u;
  int ex = 0;
  std::frexp(x_f, &ex);  // x_f = f * 2^ex, f in [0.5, 1): floor(log2 x_f) = ex - 1
  const int e = std::min(ex - 1, -1);
  return std::ldexp(1.0, e - M);
}

std::string fmt_name(const ElemFormat& f) { return "e" + std::to_string(f.e) + "m" + std::to_string(f.m); }

TEST(ref_format, EnumerationHasTheSpecCountsAndLargestValue) {
  // Independent sanity of the enumeration itself: count 2^(E+M) codes, all
  // magnitudes distinct, and the largest value is 1 - 2^-(M+1) (E >= 1).
  for (const ElemFormat& f : small_formats()) {
    const auto members = enumerate_members(f.e, f.m);
    const size_t expected_count = f.e == 0 ? (size_t{1} << f.m) : (size_t{1} << (f.e + f.m));
    EXPECT_EQ(members.size(), expected_count) << fmt_name(f);
    std::set<int64_t> distinct;
    for (const Member& m : members) distinct.insert(m.q);
    EXPECT_EQ(distinct.size(), members.size()) << fmt_name(f);
    const int emin = 1 - (1 << f.e);
    const double top = std::ldexp(double(members.back().q), emin - f.m);
    if (f.e >= 1) EXPECT_EQ(top, 1.0 - std::ldexp(1.0, -(f.m + 1))) << fmt_name(f);
    else EXPECT_EQ(top, 1.0 - std::ldexp(1.0, -f.m)) << fmt_name(f);
  }
}

TEST(ref_format, AccessorsMatchTheSpec) {
  for (const ElemFormat& f : small_formats()) {
    const auto members = enumerate_members(f.e, f.m);
    const int64_t max_q = members.back().q;
    EXPECT_EQ(f.max_q(), max_q) << fmt_name(f);
    EXPECT_EQ(f.emin(), 1 - (1 << f.e)) << fmt_name(f);
    EXPECT_EQ(f.unit_exp(), 1 - (1 << f.e) - f.m) << fmt_name(f);
    EXPECT_EQ(f.bits(), 1 + f.e + f.m) << fmt_name(f);
    // Width of q: M + 2^E - 1 bits (M when E = 0): the bit length of max_q.
    const int width = f.e == 0 ? f.m : f.m + (1 << f.e) - 1;
    EXPECT_EQ(f.q_bits(), width) << fmt_name(f);
    int bitlen = 0;
    while ((max_q >> bitlen) != 0) ++bitlen;
    EXPECT_EQ(bitlen, width) << fmt_name(f);
    // docs/reference.md#the-mls-number-format: for E >= 1, M >= 1 a product of two elements needs 2M + 2^(E+1) - 2 bits.
    if (f.e >= 1 && f.m >= 1) {
      int pbits = 0;
      while (((max_q * max_q) >> pbits) != 0) ++pbits;
      EXPECT_LE(pbits, 2 * f.m + (2 << f.e) - 2) << fmt_name(f);
    }
    EXPECT_EQ(f.name(), fmt_name(f));
  }
  // The reference's own e2m4 numbers (docs/reference.md): 14-bit products, largest 15,376.
  ElemFormat e2m4;
  EXPECT_EQ(e2m4.max_q() * e2m4.max_q(), 15376);
}

TEST(ref_format, EncodeDecodePackUnpackRoundTripEveryMember) {
  for (const ElemFormat& f : small_formats()) {
    for (const Member& mem : enumerate_members(f.e, f.m)) {
      for (bool sign : {false, true}) {
        SCOPED_TRACE(fmt_name(f) + " q=" + std::to_string(mem.q) + (sign ? " -" : " +"));
        const ElemCode c = mls::encode_q(f, mem.q, sign);
        EXPECT_EQ(c.sign, sign);
        EXPECT_EQ(c.exp_code, mem.exp_code);
        EXPECT_EQ(c.man_code, mem.man_code);
        EXPECT_EQ(mls::decode_q(f, c), mem.q);
        const uint32_t expected_bits =
            (uint32_t(sign) << (f.e + f.m)) | (mem.exp_code << f.m) | mem.man_code;
        const uint32_t bits = mls::pack(f, c);
        EXPECT_EQ(bits, expected_bits);
        EXPECT_LT(bits, uint32_t{1} << f.bits());
        const ElemCode back = mls::unpack(f, bits);
        EXPECT_EQ(back.sign, sign);
        EXPECT_EQ(back.exp_code, mem.exp_code);
        EXPECT_EQ(back.man_code, mem.man_code);
      }
    }
  }
}

TEST(ref_format, EveryBitPatternDecodesToAMember) {
  for (const ElemFormat& f : small_formats()) {
    std::map<int64_t, int> seen;
    const auto members = enumerate_members(f.e, f.m);
    std::set<int64_t> member_set;
    for (const Member& m : members) member_set.insert(m.q);
    const uint32_t patterns = uint32_t{1} << f.bits();
    for (uint32_t bits = 0; bits < patterns; ++bits) {
      const ElemCode c = mls::unpack(f, bits);
      EXPECT_EQ(c.sign, bool(bits >> (f.e + f.m))) << fmt_name(f) << " bits " << bits;
      const int64_t q = mls::decode_q(f, c);
      EXPECT_TRUE(member_set.count(q)) << fmt_name(f) << " bits " << bits << " -> q " << q;
      if (!c.sign) ++seen[q];
    }
    // For E >= 1 the map is a bijection on the positive half; for E = 0 the
    // exponent field is empty, also a bijection.
    EXPECT_EQ(seen.size(), member_set.size()) << fmt_name(f);
    for (const auto& kv : seen) EXPECT_EQ(kv.second, 1) << fmt_name(f) << " q " << kv.first;
  }
}

TEST(ref_format, IsRepresentableAgreesWithTheEnumeration) {
  for (const ElemFormat& f : small_formats()) {
    const auto members = enumerate_members(f.e, f.m);
    std::set<int64_t> member_set;
    for (const Member& m : members) member_set.insert(m.q);
    const int64_t max_q = members.back().q;
    for (int64_t q = -3; q <= max_q + 3; ++q) {
      const bool expected = member_set.count(q) > 0;
      EXPECT_EQ(mls::is_representable(f, q), expected) << fmt_name(f) << " q=" << q;
      if (!expected) {
        EXPECT_THROW(mls::encode_q(f, q, false), mls::Error) << fmt_name(f) << " q=" << q;
      }
    }
    EXPECT_FALSE(mls::is_representable(f, 2 * max_q + 2));
    EXPECT_FALSE(mls::is_representable(f, int64_t{1} << 40));
  }
}

TEST(ref_format, NearestRoundingReturnsEveryMemberExactly) {
  for (const ElemFormat& f : small_formats()) {
    const double u = std::ldexp(1.0, 1 - (1 << f.e) - f.m);
    for (const Member& mem : enumerate_members(f.e, f.m)) {
      const double x_f = double(mem.q) * u;
      EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::nearest, 0.0f, false), mem.q) << fmt_name(f);
      EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::nearest, 0.0f, true), mem.q) << fmt_name(f);
      // A representable value is a fixed point of stochastic rounding for any r.
      for (float r : {-0.5f, -0.25f, 0.0f, 0.25f, std::nextafter(0.5f, 0.0f)})
        EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::stochastic, r, false), mem.q)
            << fmt_name(f) << " r=" << r;
    }
  }
}

TEST(ref_format, MidpointsRoundHalfToEvenAndNeighboursGoTheRightWay) {
  int checked_mantissa_parity = 0;
  for (const ElemFormat& f : small_formats()) {
    const double u = std::ldexp(1.0, 1 - (1 << f.e) - f.m);
    const auto members = enumerate_members(f.e, f.m);
    for (size_t i = 0; i + 1 < members.size(); ++i) {
      const Member& lo = members[i];
      const Member& hi = members[i + 1];
      const double mid = (double(lo.q) + double(hi.q)) / 2 * u;  // exact: small integers
      // The winner, from the docs/reference.md#the-reference-quantizer step arithmetic done here: t = x_f / step
      // for each neighbour; the one with even t wins.
      const double step = step_of(mid, f.e, f.m);
      const double t_lo = double(lo.q) * u / step, t_hi = double(hi.q) * u / step;
      ASSERT_EQ(t_hi - t_lo, 1.0) << fmt_name(f) << ": neighbours must be one step apart at their midpoint";
      ASSERT_EQ(std::fmod(t_lo, 1.0), 0.0);
      const bool lo_even = std::fmod(t_lo, 2.0) == 0.0;
      const int64_t winner = lo_even ? lo.q : hi.q;
      SCOPED_TRACE(fmt_name(f) + " between q=" + std::to_string(lo.q) + " and q=" + std::to_string(hi.q));
      EXPECT_EQ(mls::quantize_magnitude(mid, f, Rounding::nearest, 0.0f, false), winner);
      // Cross-check with the mantissa codes where they tell the neighbours apart
      // (same binade or the denormal/normal boundary with M >= 1): the even code wins.
      if ((lo.man_code % 2) != (hi.man_code % 2)) {
        EXPECT_EQ(winner, (lo.man_code % 2 == 0) ? lo.q : hi.q);
        ++checked_mantissa_parity;
      }
      EXPECT_EQ(mls::quantize_magnitude(std::nextafter(mid, -INFINITY), f, Rounding::nearest, 0.0f, false), lo.q);
      EXPECT_EQ(mls::quantize_magnitude(std::nextafter(mid, INFINITY), f, Rounding::nearest, 0.0f, false), hi.q);
      // Stochastic with r = 0 rounds a tie up; r just below 0 rounds it down.
      EXPECT_EQ(mls::quantize_magnitude(mid, f, Rounding::stochastic, 0.0f, false), hi.q);
      EXPECT_EQ(mls::quantize_magnitude(mid, f, Rounding::stochastic, -0x1p-24f, false), lo.q);
    }
  }
  EXPECT_GT(checked_mantissa_parity, 1000);
}

TEST(ref_format, SaturatesAtTheLargestMagnitude) {
  for (const ElemFormat& f : small_formats()) {
    const int64_t max_q = enumerate_members(f.e, f.m).back().q;
    const double u = std::ldexp(1.0, 1 - (1 << f.e) - f.m);
    const double max_v = double(max_q) * u;
    // x_f = 1 (the group max of the tensor-max group) and everything above the
    // largest magnitude's upper midpoint saturate, for both modes and clip.
    for (double x_f : {1.0, std::nextafter(1.0, 0.0), max_v + u / 2 * (f.e ? std::ldexp(1.0, (1 << f.e) - 2) : 1)})
      for (bool clip : {false, true}) {
        EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::nearest, 0.0f, clip), max_q) << fmt_name(f) << " " << x_f;
        EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::stochastic, std::nextafter(0.5f, 0.0f), clip), max_q)
            << fmt_name(f) << " " << x_f;
      }
    EXPECT_EQ(mls::quantize_magnitude(0.0, f, Rounding::nearest, 0.0f, false), 0);
    EXPECT_EQ(mls::quantize_magnitude(0.0, f, Rounding::stochastic, std::nextafter(0.5f, 0.0f), false), 0);
  }
}

TEST(ref_format, ClipKeepsTheBinadeWhileTheDefaultCrossesIntoTheNext) {
  int crossings = 0;
  for (const ElemFormat& f : small_formats()) {
    const int emin = 1 - (1 << f.e);
    const double u = std::ldexp(1.0, emin - f.m);
    const int64_t max_q = enumerate_members(f.e, f.m).back().q;
    // Regions: the denormal (or fixed-point) range with step u and top 2^M - 1,
    // then normal binade b with step 2^b u and top (2^(M+1) - 1) 2^b.
    std::vector<std::pair<int64_t, int64_t>> regions;  // (top q, step in units of u)
    regions.push_back({(int64_t{1} << f.m) - 1, 1});
    if (f.e >= 1)
      for (int b = 0; b <= (1 << f.e) - 2; ++b) regions.push_back({((int64_t{2} << f.m) - 1) << b, int64_t{1} << b});
    for (const auto& [top, step] : regions) {
      if (top == 0) continue;  // E >= 1, M = 0: the denormal range holds only 0
      // Three quarters of a step above the top of the region: still inside the
      // region (the next region starts one step above the top).
      const double x_f = (double(top) + 0.75 * double(step)) * u;
      const int64_t crossed = std::min(top + step, max_q);  // nearest: up by one step, kept
      SCOPED_TRACE(fmt_name(f) + " top q=" + std::to_string(top));
      EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::nearest, 0.0f, false), crossed);
      EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::nearest, 0.0f, true), top);
      EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::stochastic, 0.0f, false), crossed);
      EXPECT_EQ(mls::quantize_magnitude(x_f, f, Rounding::stochastic, 0.0f, true), top);
      // Below the top's midpoint both agree (no clipping needed).
      const double below = (double(top) + 0.25 * double(step)) * u;
      EXPECT_EQ(mls::quantize_magnitude(below, f, Rounding::nearest, 0.0f, false), top);
      EXPECT_EQ(mls::quantize_magnitude(below, f, Rounding::nearest, 0.0f, true), top);
      if (crossed != top) {
        ++crossings;
        EXPECT_TRUE(mls::is_representable(f, crossed));
      }
    }
  }
  EXPECT_GT(crossings, 50);
}

// ---- group scales -----------------------------------------------------------


double sg_value(const ScaleFormat& f, GroupScale g) { return mls::group_scale_value(f, g); }

TEST(ref_group_scale, HandCases) {
  struct Case {
    double s;
    int e, m;          // scale format
    int exp, man;      // expected code
    double value;      // expected S_g
  };
  const Case cases[] = {
      {0.75, 8, 1, -1, 1, 0.75},
      {0.75, 8, 0, 0, 0, 1.0},
      {0.7, 8, 1, -1, 1, 0.75},
      {0.7, 8, 0, 0, 0, 1.0},
      {1.0, 8, 1, 0, 0, 1.0},
      {1.0, 8, 0, 0, 0, 1.0},
      {0.5, 8, 1, -1, 0, 0.5},
      {0.5, 8, 0, -1, 0, 0.5},
      {0.875, 8, 1, 0, 0, 1.0},            // c = ceil(1.5) = 2 = 2^M_g: next power of two
      {0.26, 8, 0, -1, 0, 0.5},
      {0.26, 8, 1, -2, 1, 0.375},
      {0.375, 8, 1, -2, 1, 0.375},
      {std::nextafter(0.375, 1.0), 8, 1, -1, 0, 0.5},
      {std::nextafter(0.5, 1.0), 8, 1, -1, 1, 0.75},
      {std::nextafter(0.5, 1.0), 8, 0, 0, 0, 1.0},
      {0.0, 8, 1, -255, 0, std::ldexp(1.0, -255)},  // zero group: the smallest scale
      {0.0, 8, 0, -255, 0, std::ldexp(1.0, -255)},
      {0.0, 2, 1, -3, 0, 0.125},
      {std::ldexp(1.0, -300), 8, 1, -255, 0, std::ldexp(1.0, -255)},  // clamps to the smallest exponent
      {std::ldexp(1.0, -300), 8, 0, -255, 0, std::ldexp(1.0, -255)},
      {std::ldexp(1.0, -255), 8, 1, -255, 0, std::ldexp(1.0, -255)},
      {std::ldexp(1.25, -255), 8, 1, -255, 1, std::ldexp(1.5, -255)},
      // Below the smallest exponent the quantizer clamps e and keeps c: 0.01 =
      // 1.28 * 2^-7, c = ceil(0.56) = 1, exp clamped to -3.
      {0.01, 2, 1, -3, 1, 0.1875},
      {0.01, 2, 0, -3, 0, 0.125},
      // E_g = 0: exp range [0, 0]; 0.3 = 1.2 * 2^-2 keeps c = ceil(0.4) = 1 (docs/reference.md#the-reference-quantizer step 2).
      {0.3, 0, 1, 0, 1, 1.5},
      {0.3, 0, 0, 0, 0, 1.0},
      {1.0, 0, 0, 0, 0, 1.0},
  };
  for (const Case& c : cases) {
    const ScaleFormat f = sfmt(c.e, c.m);
    const GroupScale g = mls::group_scale_for_ratio(c.s, f);
    SCOPED_TRACE("s=" + std::to_string(c.s) + " e" + std::to_string(c.e) + "m" + std::to_string(c.m));
    EXPECT_EQ(g.exp, c.exp);
    EXPECT_EQ(g.man, c.man);
    EXPECT_EQ(sg_value(f, g), c.value);
  }
}

TEST(ref_group_scale, IsTheSmallestRepresentableScaleAtOrAboveTheRatio) {
  // Enumerate every S_g of the format here and pick the smallest >= s; valid
  // whenever s is at least the smallest normal scale 2^min_exp.
  for (int e : {1, 2, 3, 8})
    for (int m : {0, 1, 2, 3}) {
      const ScaleFormat f = sfmt(e, m);
      const int min_exp = 1 - (1 << e);
      std::vector<double> values;
      for (int x = min_exp; x <= 0; ++x)
        for (int c = 0; c < (1 << m); ++c) values.push_back(std::ldexp(1.0 + std::ldexp(c, -m), x));
      std::sort(values.begin(), values.end());
      uint64_t state = 12345 + uint64_t(e) * 7 + uint64_t(m);
      for (int i = 0; i < 4000; ++i) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const double frac = double(state >> 11) * 0x1p-53;  // [0, 1)
        // s spread over [2^min_exp, 1] in log scale.
        const double s = std::min(1.0, std::ldexp(1.0 + frac, int(min_exp + (state % uint64_t(-min_exp + 1)))));
        const auto it = std::lower_bound(values.begin(), values.end(), s);
        ASSERT_NE(it, values.end());
        const GroupScale g = mls::group_scale_for_ratio(s, f);
        EXPECT_EQ(sg_value(f, g), *it) << "s=" << s << " e" << e << "m" << m;
        EXPECT_GE(g.exp, min_exp);
        EXPECT_LE(g.exp, 0);
        EXPECT_LT(int(g.man), 1 << m);
      }
      // Every representable scale maps to itself.
      for (double v : values) EXPECT_EQ(sg_value(f, mls::group_scale_for_ratio(v, f)), v);
    }
}

TEST(ref_group_scale, ValueFormula) {
  EXPECT_EQ(sg_value(sfmt(8, 1), GroupScale{-3, 1}), 1.5 / 8);
  EXPECT_EQ(sg_value(sfmt(8, 1), GroupScale{0, 0}), 1.0);
  EXPECT_EQ(sg_value(sfmt(8, 0), GroupScale{-255, 0}), std::ldexp(1.0, -255));
  EXPECT_EQ(sg_value(sfmt(8, 1), GroupScale{-255, 1}), std::ldexp(1.5, -255));
}

// ---- parsing ----------------------------------------------------------------

void expect_error_naming(const std::function<void()>& fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "no error for '" << text << "'";
  } catch (const mls::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'" + text + "'"), std::string::npos) << e.what();
  }
}

TEST(ref_parse, ElementFormats) {
  for (int e = 0; e <= 4; ++e)
    for (int m = 0; m <= 12; ++m) {
      const std::string name = "e" + std::to_string(e) + "m" + std::to_string(m);
      if (e + m < 1) {
        expect_error_naming([&] { mls::parse_elem_format(name); }, name);
        continue;
      }
      const ElemFormat f = mls::parse_elem_format(name);
      EXPECT_EQ(f.e, e);
      EXPECT_EQ(f.m, m);
    }
  for (const std::string bad : {"e5m1", "e2m13", "e0m0", "e2", "m4", "E2M4", "e2m4x", " e2m4", "", "e-1m4", "e2m-1",
                                "e100m1", "fp8", "e2m4 "})
    expect_error_naming([&] { mls::parse_elem_format(bad); }, bad);
}

TEST(ref_parse, ScaleFormats) {
  for (int e = 0; e <= 8; ++e)
    for (int m = 0; m <= 3; ++m) {
      const std::string name = "e" + std::to_string(e) + "m" + std::to_string(m);
      const ScaleFormat f = mls::parse_scale_format(name);
      EXPECT_EQ(f.e, e);
      EXPECT_EQ(f.m, m);
      EXPECT_EQ(f.min_exp(), 1 - (1 << e));
      EXPECT_EQ(f.name(), name);
    }
  for (const std::string bad : {"e9m1", "e8m4", "e4m12", "e8", "m1", "E8M1", "", "e8m1x", "e-1m0", "e10m0"})
    expect_error_naming([&] { mls::parse_scale_format(bad); }, bad);
}

}  // namespace
