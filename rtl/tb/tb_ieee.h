#pragma once
// Host-side IEEE reference for the baseline tests (tb_baselines.cpp): binary
// interchange formats given by their field widths, the exact value of a bit
// pattern, and one rounding of an exact double to a format. Written from the
// IEEE 754 definitions alone, without the RTL's encoding tricks; the
// `reference` test holds the rounding against the compiler's float and
// _Float16 conversions.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace mls::rtl_tb {

// An IEEE-style binary format: sign, ew exponent bits (bias 2^(ew-1) - 1),
// mw mantissa bits; subnormals, infinities and NaNs as in IEEE 754.
struct IeeeFormat {
  int ew, mw;
  int bits() const { return 1 + ew + mw; }
  int bias() const { return (1 << (ew - 1)) - 1; }
  uint32_t exp_field(uint32_t code) const { return (code >> mw) & ((1u << ew) - 1); }
  uint32_t man_field(uint32_t code) const { return code & ((1u << mw) - 1); }
  uint32_t sign_bit() const { return 1u << (ew + mw); }
  uint32_t inf() const { return ((1u << ew) - 1) << mw; }
  bool is_nan(uint32_t code) const { return exp_field(code) == (1u << ew) - 1 && man_field(code) != 0; }
};

inline constexpr IeeeFormat kFp32{8, 23}, kFp16{5, 10}, kBf16{8, 7};

// The value of a code; exact in a double for every format here.
inline double ieee_value(const IeeeFormat& f, uint32_t code) {
  const double sign = (code & f.sign_bit()) ? -1.0 : 1.0;
  const uint32_t e = f.exp_field(code), m = f.man_field(code);
  if (e == (1u << f.ew) - 1)
    return m ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  if (e == 0) return sign * std::ldexp(double(m), 1 - f.bias() - f.mw);  // subnormal: no hidden bit
  return sign * std::ldexp(double((1u << f.mw) | m), int(e) - f.bias() - f.mw);
}

// What one rounding saw, for the tests' coverage lines.
enum class ResultClass { zero, subnormal, normal, inf, nan };

// The code of x rounded to f: round to nearest, ties to even, gradual
// underflow, overflow to infinity. x must be the exact result (the caller
// computes it exactly in double). *tie tells whether x lay halfway between
// two neighbours of f.
inline uint32_t round_to_format(const IeeeFormat& f, double x, bool* tie = nullptr) {
  if (tie) *tie = false;
  if (std::isnan(x)) return f.inf() | (1u << (f.mw - 1));
  const uint32_t sign = std::signbit(x) ? f.sign_bit() : 0;
  const double a = std::fabs(x);
  if (std::isinf(a)) return sign | f.inf();
  if (a == 0) return sign;
  // The result's binade, not below the smallest normal's (subnormals share its quantum).
  const int emin = 1 - f.bias();
  const int e = std::max(std::ilogb(a), emin);
  const double quantum = std::ldexp(1.0, e - f.mw);  // value of the last mantissa bit
  const double scaled = a / quantum;                 // exact: a power-of-two division
  double n = std::floor(scaled);
  const double frac = scaled - n;  // exact
  if (tie) *tie = frac == 0.5;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(n, 2.0) == 1.0)) n += 1;
  // n is the significand in units of the quantum: below 2^mw a subnormal (or
  // zero), 2^(mw+1) a carry into the next binade.
  int exp_field = n < std::ldexp(1.0, f.mw) ? 0 : e + f.bias();
  if (n == std::ldexp(1.0, f.mw + 1)) n /= 2, ++exp_field;
  if (exp_field >= (1 << f.ew) - 1) return sign | f.inf();
  const uint32_t man = uint32_t(n) & ((1u << f.mw) - 1);
  return sign | (uint32_t(exp_field) << f.mw) | man;
}

inline ResultClass result_class(const IeeeFormat& f, uint32_t code) {
  const uint32_t e = f.exp_field(code), m = f.man_field(code);
  if (e == (1u << f.ew) - 1) return m ? ResultClass::nan : ResultClass::inf;
  if (e == 0) return m ? ResultClass::subnormal : ResultClass::zero;
  return ResultClass::normal;
}

// OCP FP8 E4M3: bias 7, subnormals, no infinities, S.1111.111 is NaN.
inline double e4m3_value(uint32_t code) {
  const double sign = (code & 0x80) ? -1.0 : 1.0;
  const uint32_t e = (code >> 3) & 0xf, m = code & 7;
  if (e == 0xf && m == 7) return std::numeric_limits<double>::quiet_NaN();
  if (e == 0) return sign * std::ldexp(double(m), -6 - 3);
  return sign * std::ldexp(double(8 + m), int(e) - 7 - 3);
}

// Operands every test of a format takes: both zeros, the smallest and
// largest subnormal, the smallest normal and its successor, 1 and its
// neighbours, the largest finite and its predecessor, infinities, a quiet and
// a signalling NaN, and the four mantissa patterns 0, 1, 10..0, 1..1 at
// exponents around the underflow and overflow boundaries of a product or sum.
inline std::vector<uint32_t> edge_codes(const IeeeFormat& f) {
  const uint32_t man_ones = (1u << f.mw) - 1, top = 1u << (f.mw - 1), one = uint32_t(f.bias()) << f.mw;
  const uint32_t max_exp = (1u << f.ew) - 2;
  std::vector<uint32_t> pos = {0,           1,         man_ones,           1u << f.mw, (1u << f.mw) + 1,
                               one,         one + 1,   one - 1,            one | man_ones,
                               f.inf() - 1, f.inf() - 2, f.inf(),          f.inf() | top, f.inf() | 1};
  const uint32_t b = uint32_t(f.bias());
  for (uint32_t e : {1u, 2u, b / 2, b / 2 + 1, b - 1, b + 1, b + b / 2, b + b / 2 + 1, max_exp - 1, max_exp})
    for (uint32_t m : {0u, 1u, top, man_ones}) pos.push_back((e << f.mw) | m);
  std::vector<uint32_t> codes;
  for (uint32_t c : pos) codes.push_back(c), codes.push_back(c | f.sign_bit());
  return codes;
}

}  // namespace mls::rtl_tb
