#include "hw_model/datapath/datapath.h"

namespace mls::hw {

using u128 = unsigned __int128;

namespace {

int bit_length(unsigned __int128 v) {
  const uint64_t hi = uint64_t(v >> 64), lo = uint64_t(v);
  if (hi) return 128 - __builtin_clzll(hi);
  return lo ? 64 - __builtin_clzll(lo) : 0;
}

// Drops `drop` low bits of mag with round-to-nearest-even.
uint64_t round_shift(unsigned __int128 mag, int drop) {
  if (drop <= 0) return uint64_t(mag << -drop);
  if (drop > 127) return 0;
  const unsigned __int128 one = 1;
  const unsigned __int128 kept = mag >> drop;
  const unsigned __int128 rest = mag & ((one << drop) - 1);
  const unsigned __int128 half = one << (drop - 1);
  const bool up = rest > half || (rest == half && (kept & 1));
  return uint64_t(kept + (up ? 1 : 0));
}

// The exponent and fraction of a normal result: `mant` the rounded 24-bit
// significand (25 bits when rounding carried into the next binade), `e` the
// exponent of its leading one; infinity past the largest binade.
uint32_t normal_field(uint64_t mant, int e) {
  if (mant >> 24) {  // rounding carried into a new binade
    mant >>= 1;
    ++e;
  }
  return e > 127 ? 0x7f800000u : (uint32_t(e + 127) << 23) | (uint32_t(mant) & 0x7fffffu);
}

float fp32_of(bool negative, uint32_t field) {
  const uint32_t bits = (negative ? 0x80000000u : 0u) | field;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// A scale mantissa of 1.5 as a shift and an add: v * 2 (+ v).
template <class U>
U shift_add_magnitude(U v, GroupScale x, GroupScale y, int x_scale_m, int y_scale_m) {
  if (x_scale_m == 1) v = (v << 1) + (x.man ? v : 0);  // x (1 or 1.5) * 2
  if (y_scale_m == 1) v = (v << 1) + (y.man ? v : 0);  // y (1 or 1.5) * 2
  return v;
}

}  // namespace

float integer_to_fp32(bool negative, unsigned __int128 mag, int exp) {
  if (mag == 0) return fp32_of(negative, 0);
  const int top = bit_length(mag) - 1 + exp;  // exponent of the leading one
  if (top >= -126) return fp32_of(negative, normal_field(round_shift(mag, bit_length(mag) - 24), top));
  // Subnormal: count in units of 2^-149; a carry to 2^23 is the smallest normal.
  return fp32_of(negative, uint32_t(round_shift(mag, -149 - exp)));
}

float integer_to_fp32_u64(bool negative, uint64_t mag, int exp) {
  if (mag == 0) return fp32_of(negative, 0);
  const int length = 64 - __builtin_clzll(mag);
  const int top = length - 1 + exp;  // exponent of the leading one
  // Bits to drop: down to 24 for a normal result, down to units of 2^-149 for
  // a subnormal one. Beyond 63 the 64-bit shifts below would be undefined.
  const int drop = top >= -126 ? length - 24 : -149 - exp;
  if (drop > 63) return integer_to_fp32(negative, u128(mag), exp);
  uint64_t kept;
  if (drop <= 0) {
    kept = mag << -drop;
  } else {  // round to nearest even
    kept = mag >> drop;
    const uint64_t rest = mag & ((uint64_t{1} << drop) - 1), half = uint64_t{1} << (drop - 1);
    kept += (rest > half || (rest == half && (kept & 1))) ? 1 : 0;
  }
  // Subnormal: a carry to 2^23 is the smallest normal.
  return fp32_of(negative, top >= -126 ? normal_field(kept, top) : uint32_t(kept));
}

namespace {

// |P| below this, the scaled magnitude (|P| times at most 2.25 * 4 or 15 * 15)
// fits 64 bits and the 64-bit rounding serves.
constexpr int64_t kFast = int64_t{1} << 55;

}  // namespace

float shift_add_scale(int64_t chunk_sum, GroupScale x, GroupScale y, int x_scale_m, int y_scale_m) {
  const int exp = x.exp + y.exp - x_scale_m - y_scale_m;
  if (in_double_range(chunk_sum, exp)) {
    return scale_in_double(chunk_sum, shift_add_mantissa(x, x_scale_m) * shift_add_mantissa(y, y_scale_m), exp);
  }
  const bool negative = chunk_sum < 0;
  if (chunk_sum < kFast && chunk_sum > -kFast) {
    const uint64_t w = uint64_t(negative ? -chunk_sum : chunk_sum);
    return integer_to_fp32_u64(negative, shift_add_magnitude(w, x, y, x_scale_m, y_scale_m), exp);
  }
  const u128 v = negative ? u128(-static_cast<__int128>(chunk_sum)) : u128(chunk_sum);
  return integer_to_fp32(negative, shift_add_magnitude(v, x, y, x_scale_m, y_scale_m), exp);
}

float multiply_scale(int64_t chunk_sum, GroupScale x, GroupScale y, int x_scale_m, int y_scale_m) {
  const bool negative = chunk_sum < 0;
  const uint32_t mx = (1u << x_scale_m) + x.man, my = (1u << y_scale_m) + y.man;
  const int exp = x.exp + y.exp - x_scale_m - y_scale_m;
  if (in_double_range(chunk_sum, exp)) return scale_in_double(chunk_sum, mx * my, exp);
  if (chunk_sum < kFast && chunk_sum > -kFast) {
    const uint64_t w = uint64_t(negative ? -chunk_sum : chunk_sum) * (mx * my);
    return integer_to_fp32_u64(negative, w, exp);
  }
  // |P| < 2^63 (a 64-bit two's-complement sum), the mantissa product < 2^8:
  // the product fits 71 bits, so 128 are exact.
  const u128 magnitude = negative ? u128(-static_cast<__int128>(chunk_sum)) : u128(chunk_sum);
  return integer_to_fp32(negative, magnitude * (mx * my), exp);
}

namespace {

// A finite float32 as integer significand * 2^exp.
void split(float f, bool& negative, uint64_t& significand, int& exp) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  negative = bits >> 31;
  const int field = int((bits >> 23) & 0xff);
  significand = bits & 0x7fffff;
  if (field) significand |= 0x800000;
  exp = (field ? field : 1) - 150;
}

}  // namespace

float exact_product_to_fp32(float a, float b, int exp) {
  bool na, nb;
  uint64_t sa, sb;
  int ea, eb;
  split(a, na, sa, ea);
  split(b, nb, sb, eb);
  return integer_to_fp32_u64(na != nb, sa * sb, ea + eb + exp);  // 24 x 24 bits fit 64
}

}  // namespace mls::hw
