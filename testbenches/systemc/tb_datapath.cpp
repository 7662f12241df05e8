// Datapath fast paths against independent expectations: the multipliers'
// signed-value tables (every code pair of the small formats, against the
// product computed from the format's definition), the branch-free row add and
// its repair at the acc_bits boundaries, and the 64-bit rounding of the group
// scalers and their double form (against round-to-odd to 64 bits then one rounding of an exact
// long double, which is correctly rounded), on both sides of the 64-bit limit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "hw_model/datapath/datapath.h"
#include "testbenches/systemc/tb_main.h"

namespace mls::hw {
namespace {

// sign * significand * 2^(exp - 1), or * 2^0 for a subnormal code, as the
// format defines it, in 128-bit integers.
__int128 defined_value(const ElemFormat& f, uint32_t code) {
  const uint32_t man = code & ((1u << f.m) - 1);
  const uint32_t exp = f.e ? (code >> f.m) & ((1u << f.e) - 1) : 0;
  __int128 v = exp ? (__int128(1) << f.m) + man : man;
  if (exp) v *= __int128(1) << (exp - 1);
  return (code >> (f.e + f.m)) & 1 ? -v : v;
}

// The fused multiply-accumulate of a row (the local accumulators' kernel):
// raw sums and the magnitude OR against exact 128-bit evaluation, and
// exceeds_range against the range's definition, in both lane widths, with
// registers and operands aimed at the bounds.
TEST(Datapath, FusedRowMacGivesExactRawSumsAndFlagsExactlyTheSumsOutsideTheRange) {
  std::mt19937_64 rng(17);
  for (int bits : {8, 16, 30, 31, 32, 45, 62}) {
    const int64_t hi = (int64_t{1} << (bits - 1)) - 1, lo = -hi - 1;
    // Operands below 2^op_bits: narrow products (below 2^30) for the 32-bit lanes.
    const int op_bits = bits <= 31 ? std::min(14, bits - 2) : 27;
    for (int trial = 0; trial < 300; ++trial) {
      const int n = 1 + int(rng() % 16);
      std::vector<int64_t> acc(static_cast<size_t>(n));
      std::vector<int32_t> x(static_cast<size_t>(n));
      const int32_t y = int32_t(rng() >> (64 - op_bits)) * (rng() & 1 ? -1 : 1);
      for (int c = 0; c < n; ++c) {
        acc[size_t(c)] = rng() % 3 == 0 ? (rng() & 1 ? hi : lo) : lo + int64_t(rng() % uint64_t(hi - lo + 1));
        x[size_t(c)] = int32_t(rng() >> (64 - op_bits)) * (rng() & 1 ? -1 : 1);
      }
      uint64_t expected_mag = 0;
      bool outside = false;
      std::vector<int64_t> expected(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        const __int128 raw = __int128(acc[size_t(c)]) + __int128(x[size_t(c)]) * y;
        expected[size_t(c)] = int64_t(raw);
        expected_mag |= uint64_t(raw < 0 ? -raw - 1 : raw);
        outside = outside || raw < lo || raw > hi;
      }
      if (bits <= 31) {
        std::vector<int32_t> acc32(acc.begin(), acc.end());
        const uint64_t mag32 = mac_row_unchecked(acc32.data(), x.data(), y, n);
        EXPECT_EQ(mag32, expected_mag) << bits;
        EXPECT_EQ(exceeds_range(mag32, bits), outside) << bits;
        EXPECT_EQ(std::vector<int64_t>(acc32.begin(), acc32.end()), expected) << bits;
      }
      const uint64_t mag = mac_row_unchecked(acc.data(), x.data(), y, n);
      EXPECT_EQ(mag, expected_mag) << bits;
      EXPECT_EQ(exceeds_range(mag, bits), outside) << bits;
      EXPECT_EQ(acc, expected) << bits;
    }
  }
}

TEST(Datapath, SignedValueProductsEqualTheDefinedProductForEveryCodePair) {
  for (int e = 0; e <= 4; ++e) {
    for (int m = 0; m <= 12; ++m) {
      if (e + m < 1 || e + m > 6) continue;  // every pair of up to 7-bit codes
      const ElemFormat f{e, m};
      const uint32_t codes = 1u << f.bits();
      for (uint32_t a = 0; a < codes; ++a) {
        for (uint32_t b = 0; b < codes; ++b) {
          const int64_t got = multiply_values(operand_value(decode_operand(f, a)), operand_value(decode_operand(f, b)));
          ASSERT_EQ(__int128(got), defined_value(f, a) * defined_value(f, b)) << f.name() << " " << a << " " << b;
          ASSERT_EQ(got, multiply(decode_operand(f, a), decode_operand(f, b)));
        }
      }
    }
  }
  // The widest formats: the largest magnitudes of both signs.
  for (const ElemFormat f : {ElemFormat{4, 12}, ElemFormat{0, 12}, ElemFormat{3, 12}}) {
    const uint32_t top = (1u << (f.bits() - 1)) - 1, neg = 1u << (f.bits() - 1);
    for (uint32_t a : {top, top | neg, 1u, 1u | neg, top - 1}) {
      for (uint32_t b : {top, top | neg, 1u, 1u | neg}) {
        const int64_t got = multiply_values(operand_value(decode_operand(f, a)), operand_value(decode_operand(f, b)));
        EXPECT_EQ(__int128(got), defined_value(f, a) * defined_value(f, b)) << f.name();
      }
    }
  }
}

// The row add at each width's bounds: raw sums at lo - 1, lo, hi, hi + 1 and
// far beyond, against the definition (clamp, or reduce modulo 2^acc_bits).
TEST(Datapath, RowAddFlagsExactlyTheSumsOutsideTheRangeAndRepairsThem) {
  std::mt19937_64 rng(7);
  int narrow_rows = 0;
  for (int bits : {8, 9, 16, 29, 30, 31, 32, 33, 47, 53, 60, 61, 62}) {
    const int64_t hi = (int64_t{1} << (bits - 1)) - 1, lo = -hi - 1;
    for (Overflow policy : {Overflow::saturate, Overflow::wrap}) {
      for (int trial = 0; trial < 200; ++trial) {
        const int n = 1 + int(rng() % 16);
        std::vector<int64_t> acc(static_cast<size_t>(n)), prod(static_cast<size_t>(n));
        for (int c = 0; c < n; ++c) {
          // An accumulator in range, and a product aimed at a boundary
          // (trial % 4 == 0: everything stays inside).
          const int64_t a = lo + int64_t(rng() % uint64_t(hi - lo + 1));
          const int64_t targets[] = {lo - 1, lo, hi, hi + 1, lo - 1 - int64_t(rng() % 1000), hi + 1 + int64_t(rng() % 1000), a / 2};
          const int64_t target = trial % 4 == 0 ? a / 2 : targets[rng() % 7];
          acc[size_t(c)] = a;
          prod[size_t(c)] = target - a;
        }
        uint64_t magnitudes = 0, expected_mag = 0, expected_overflows = 0;
        std::vector<int64_t> expected(static_cast<size_t>(n));
        for (int c = 0; c < n; ++c) {
          const __int128 raw = __int128(acc[size_t(c)]) + prod[size_t(c)];
          expected_mag |= uint64_t(raw < 0 ? -raw - 1 : raw);
          __int128 v = raw;
          if (raw < lo || raw > hi) {
            ++expected_overflows;
            const __int128 span = __int128(1) << bits;
            v = policy == Overflow::saturate ? (raw > hi ? hi : lo) : ((raw - lo) % span + span) % span + lo;
          }
          expected[size_t(c)] = int64_t(v);
        }
        // The 32-bit form (narrow products: acc_bits <= 31, |product| < 2^30).
        bool narrow_ok = bits <= 31;
        for (int64_t p : prod) narrow_ok = narrow_ok && p < (int64_t{1} << 30) && p > -(int64_t{1} << 30);
        if (narrow_ok) {
          std::vector<int32_t> acc32(acc.begin(), acc.end()), prod32(prod.begin(), prod.end());
          uint64_t magnitudes32 = 0;
          const uint64_t flagged32 = add_row_unchecked(acc32.data(), prod32.data(), n, bits, magnitudes32);
          EXPECT_EQ(flagged32 != 0, expected_overflows != 0) << bits;
          EXPECT_EQ(magnitudes32, expected_mag) << bits;
          EXPECT_EQ(saturate_or_wrap_row(acc32.data(), n, bits, policy), expected_overflows) << bits;
          EXPECT_EQ(std::vector<int64_t>(acc32.begin(), acc32.end()), expected) << bits;
          ++narrow_rows;
        }
        const uint64_t flagged = add_row_unchecked(acc.data(), prod.data(), n, bits, magnitudes);
        EXPECT_EQ(flagged != 0, expected_overflows != 0) << bits;
        EXPECT_EQ(magnitudes, expected_mag) << bits;
        EXPECT_EQ(saturate_or_wrap_row(acc.data(), n, bits, policy), expected_overflows) << bits;
        EXPECT_EQ(acc, expected) << bits;
      }
    }
  }
  EXPECT_GT(narrow_rows, 1000) << "the 32-bit form must be exercised";
}

// RNE_fp32(sign * mag * 2^exp) for any 128-bit mag: round to odd at 64 bits
// (the dropped bits ORed into the last kept one), which a later rounding to
// 24 bits or fewer cannot tell from the exact value; then an exact long double.
float expected_fp32(bool negative, unsigned __int128 mag, int exp) {
  int drop = 0;
  while ((mag >> drop) >> 64) ++drop;
  uint64_t kept = uint64_t(mag >> drop);
  if (drop && (mag & (((unsigned __int128)(1) << drop) - 1))) kept |= 1;
  const long double v = std::ldexp((long double)(kept), exp + drop);
  return float(negative ? -v : v);
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

TEST(Datapath, SixtyFourBitRoundingIsCorrectlyRoundedEverywhere) {
  ASSERT_GE(std::numeric_limits<long double>::digits, 64) << "the expectation needs an 80-bit long double";
  std::mt19937_64 rng(11);
  // Magnitudes of every length, with ties, carries into a new binade
  // (2^k - 1) and random bits; exponents from overflow through the normal
  // range to subnormals and total underflow (and beyond the 64-bit shifts).
  std::vector<uint64_t> mags = {1, 2, 3, 0xffffff, 0x1000000, 0x1000001, 0x1800000, 0x2800001, ~uint64_t{0},
                                uint64_t{1} << 63, (uint64_t{1} << 63) + (uint64_t{1} << 39)};
  for (int k = 1; k < 64; ++k) {
    mags.push_back((uint64_t{1} << k) - 1);
    mags.push_back(rng() >> (64 - k) | uint64_t{1} << (k - 1));
  }
  for (uint64_t mag : mags) {
    for (int exp = -230; exp <= 140; ++exp) {
      for (bool negative : {false, true}) {
        const float want = expected_fp32(negative, mag, exp);
        ASSERT_EQ(bits_of(integer_to_fp32_u64(negative, mag, exp)), bits_of(want)) << mag << " * 2^" << exp;
        ASSERT_EQ(bits_of(integer_to_fp32(negative, (unsigned __int128)(mag), exp)), bits_of(want));
      }
    }
  }
}

// The scalers on both sides of their two fast limits (|P| < 2^45 in a double,
// |P| < 2^55 in 64 bits; exponents beyond a double's for the first) and near 2^63,
// every mantissa code of <E_g, 1> and <E_g, 3> scales, exponents that give
// normal, subnormal, zero and infinite results.
TEST(Datapath, ScalersAgreeWithExactScalingOnBothSidesOfTheFastLimit) {
  ASSERT_GE(std::numeric_limits<long double>::digits, 64);
  std::vector<int64_t> sums = {0, 1, -1, 3, -5, int64_t{1} << 40};
  for (int k : {44, 45, 46, 54, 55, 56, 62}) {
    for (int64_t d : {-1, 0, 1}) {
      sums.push_back((int64_t{1} << k) + d);
      sums.push_back(-(int64_t{1} << k) - d);
    }
  }
  sums.push_back(std::numeric_limits<int64_t>::max());
  sums.push_back(std::numeric_limits<int64_t>::min() + 1);
  sums.push_back(std::numeric_limits<int64_t>::min());
  for (int64_t p : sums) {
    const bool negative = p < 0;
    const unsigned __int128 mag = negative ? (unsigned __int128)(-(__int128)(p)) : (unsigned __int128)(p);
    for (int xm = 0; xm <= 3; ++xm) {
      for (int ym = 0; ym <= 3; ++ym) {  // X's and Y's scale formats may differ
        for (uint32_t cx = 0; cx < (1u << xm); ++cx) {
          for (uint32_t cy = 0; cy < (1u << ym); ++cy) {
            for (int ex : {-200, -130, -60, -1, 0, 5, 70, 127}) {
              for (int ey : {-ex / 2 - 3, 127, -149, -600, 600, -1000, 900}) {
                const GroupScale x{int16_t(ex), uint8_t(cx)}, y{int16_t(ey), uint8_t(cy)};
                const unsigned __int128 scaled = mag * (((1u << xm) + cx) * ((1u << ym) + cy));
                const float want = expected_fp32(negative, scaled, ex + ey - xm - ym);
                ASSERT_EQ(bits_of(multiply_scale(p, x, y, xm, ym)), bits_of(want)) << p << " M_g " << xm << ym;
                ASSERT_EQ(bits_of(group_scale(ScalerForm::multiplier, p, x, y, xm, ym)), bits_of(want)) << p;
                if (xm <= 1 && ym <= 1) {
                  ASSERT_EQ(bits_of(shift_add_scale(p, x, y, xm, ym)), bits_of(want)) << p;
                  ASSERT_EQ(bits_of(group_scale(ScalerForm::shift_add, p, x, y, xm, ym)), bits_of(want)) << p;
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mls::hw
