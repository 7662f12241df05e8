#pragma once
// The hardware's arithmetic, as small pure functions the SystemC modules wrap
// (so each can be tested without a simulator). Deliberately written apart from
// the golden model in ref/: the two must be able to disagree.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "ref/core/config.h"
#include "ref/format/format.h"

namespace mls::hw {

// An element as the multiplier sees it: an (M+1)-bit integer mantissa (hidden
// bit included for normal codes) and a left shift of exp_code - 1.
struct MulOperand {
  int32_t mantissa = 0;  // signed
  int32_t shift = 0;
};

inline MulOperand decode_operand(const ElemFormat& fmt, uint32_t bits) {
  const uint32_t man = bits & ((1u << fmt.m) - 1);
  const uint32_t exp = fmt.e ? (bits >> fmt.m) & ((1u << fmt.e) - 1) : 0;
  const bool neg = (bits >> (fmt.e + fmt.m)) & 1u;
  MulOperand op;
  op.mantissa = int32_t(exp ? (man | (1u << fmt.m)) : man);
  op.shift = exp ? int32_t(exp) - 1 : 0;
  if (neg) op.mantissa = -op.mantissa;
  return op;
}

// (M+1) x (M+1)-bit multiply, then one shift: no floating-point unit. The
// shift acts on the two's-complement bit pattern, as the hardware's does
// (a signed left shift of a negative product is undefined in C++17).
inline int64_t multiply(MulOperand x, MulOperand y) {
  return int64_t(uint64_t(int64_t(x.mantissa) * y.mantissa) << (x.shift + y.shift));
}

// The value sign * mantissa << shift of an operand, two's complement. The
// product of two such values equals multiply() bit for bit: both are the same
// integer modulo 2^64 (mx * 2^sx * my * 2^sy = mx * my * 2^(sx + sy)), and the
// formats' limits (M <= 12, E <= 4) keep every product below 2^54 anyway.
inline int64_t operand_value(MulOperand op) {
  return int64_t(uint64_t(int64_t(op.mantissa)) << op.shift);
}
inline int64_t multiply_values(int64_t x, int64_t y) { return int64_t(uint64_t(x) * uint64_t(y)); }

// Adds a product into an acc_bits-wide register. Saturation compares against
// the bounds; wrap keeps the low acc_bits bits and sign-extends them.
struct AccumulateResult {
  int64_t sum;
  bool overflow;
};

inline AccumulateResult accumulate(int64_t acc, int64_t product, int acc_bits, Overflow policy) {
  const int64_t raw = acc + product;
  const int unused = 64 - acc_bits;
  const int64_t wrapped = int64_t(uint64_t(raw) << unused) >> unused;
  if (wrapped == raw) return {raw, false};
  if (policy == Overflow::wrap) return {wrapped, true};
  const int64_t max = int64_t((uint64_t{1} << (acc_bits - 1)) - 1);
  return {raw > 0 ? max : -max - 1, true};
}

// Adds prod[0..n) into acc[0..n) without any overflow handling (modulo 2^64;
// |acc| < 2^61 and |product| < 2^54 never reach that) and ORs each raw sum's
// magnitude (v ^ (v >> 63)) into `magnitudes`. Returns non-zero iff some raw
// sum left the acc_bits range: raw + 2^(acc_bits-1) as unsigned is below
// 2^acc_bits exactly when raw is in [-2^(acc_bits-1), 2^(acc_bits-1)). No
// branches, so the loop vectorises; the rare rows with an overflow are then
// repaired by saturate_or_wrap_row.
inline uint64_t add_row_unchecked(int64_t* acc, const int64_t* prod, int n, int acc_bits, uint64_t& magnitudes) {
  const uint64_t half = uint64_t{1} << (acc_bits - 1);
  uint64_t out_of_range = 0, mag = magnitudes;
  for (int c = 0; c < n; ++c) {
    const uint64_t raw = uint64_t(acc[c]) + uint64_t(prod[c]);
    acc[c] = int64_t(raw);
    out_of_range |= (raw + half) >> acc_bits;
    mag |= raw ^ uint64_t(int64_t(raw) >> 63);
  }
  magnitudes = mag;
  return out_of_range;
}

// One cycle of a PE row with multiply and local accumulation fused, on
// decoded operands (operand_value): acc[c] += x[c] * y for c < n, with no
// overflow handling, and the OR of the raw sums' magnitudes (v ^ (v >> 63):
// v for v >= 0, -v - 1 below) returned. Some raw sum left the acc_bits range
// exactly when that OR reaches bit acc_bits - 1 (exceeds_range): a sum is in
// [-2^(a-1), 2^(a-1)) iff its magnitude is below 2^(a-1). int64 lanes:
// |acc| < 2^61 and |x y| < 2^54 never wrap them. int32 lanes only for narrow
// products (|x y| < 2^30, Products::narrow) and acc_bits <= 31, so that
// |acc + x y| < 2^31: the 32-bit raw sums and magnitudes are the exact ones.
// No branch, so the loop vectorises.
template <class Lane>
inline uint64_t mac_row_unchecked(Lane* acc, const int32_t* x, int32_t y, int n) {
  using U = std::make_unsigned_t<Lane>;
  U mag = 0;
  for (int c = 0; c < n; ++c) {
    const U raw = U(acc[c]) + U(Lane(x[c]) * Lane(y));
    acc[c] = Lane(raw);
    mag |= raw ^ U(Lane(raw) >> (8 * sizeof(Lane) - 1));
  }
  return mag;
}

inline bool exceeds_range(uint64_t magnitudes, int acc_bits) { return (magnitudes >> (acc_bits - 1)) != 0; }

// exact[c] += prod[c] in a 128-bit register that never overflows (a chunk of
// at most 2^16 products below 2^54 sums below 2^70), ORing each sum's
// magnitude (v ^ (v >> 127)) into `magnitudes`. Products in int64 or, when
// narrow, int32.
template <class Product>
inline void add_row_exact(__int128* exact, const Product* prod, int n, unsigned __int128& magnitudes) {
  unsigned __int128 mag = magnitudes;
  for (int c = 0; c < n; ++c) {
    const __int128 v = exact[c] + prod[c];
    exact[c] = v;
    mag |= static_cast<unsigned __int128>(v ^ (v >> 127));
  }
  magnitudes = mag;
}

// add_row_unchecked in 32-bit lanes, for narrow products (Products::narrow):
// with acc_bits <= 31 and |product| < 2^30, |acc + product| < 2^31, so the
// 32-bit raw sums are the exact ones and their magnitudes the same numbers.
inline uint64_t add_row_unchecked(int32_t* acc, const int32_t* prod, int n, int acc_bits, uint64_t& magnitudes) {
  const uint32_t half = uint32_t{1} << (acc_bits - 1);
  uint32_t out_of_range = 0, mag = 0;
  for (int c = 0; c < n; ++c) {
    const uint32_t raw = uint32_t(acc[c]) + uint32_t(prod[c]);
    acc[c] = int32_t(raw);
    out_of_range |= (raw + half) >> acc_bits;
    mag |= raw ^ uint32_t(int32_t(raw) >> 31);
  }
  magnitudes |= mag;
  return out_of_range;
}

// Applies the overflow policy to raw sums acc[0..n) (what accumulate() does to
// acc + product: the low acc_bits bits sign-extended, or the bound of the
// sum's sign) in lanes of 64 bits, or of 32 for acc_bits <= 31 (raw sums
// below 2^31: add_row_unchecked's narrow form); returns how many
// overflowed. No branch on the data, so the loop vectorises.
template <class Lane>
inline uint64_t saturate_or_wrap_row(Lane* acc, int n, int acc_bits, Overflow policy) {
  using U = std::make_unsigned_t<Lane>;
  const int unused = int(8 * sizeof(Lane)) - acc_bits;
  const Lane max = Lane((U{1} << (acc_bits - 1)) - 1), min = Lane(-max - 1);
  const bool wrap = policy == Overflow::wrap;
  uint64_t overflows = 0;
  for (int c = 0; c < n; ++c) {
    const Lane raw = acc[c];
    const Lane wrapped = Lane(U(raw) << unused) >> unused;
    const bool over = wrapped != raw;
    acc[c] = over ? (wrap ? wrapped : raw > 0 ? max : min) : raw;
    overflows += over;
  }
  return overflows;
}

// add_row_exact for narrow products (below 2^30) in 64-bit exact sums: a
// chunk of at most 2^16 of them sums below 2^46. Vectorises.
inline void add_row_exact(int64_t* exact, const int32_t* prod, int n, unsigned __int128& magnitudes) {
  uint64_t mag = 0;
  for (int c = 0; c < n; ++c) {
    const int64_t v = exact[c] + prod[c];
    exact[c] = v;
    mag |= uint64_t(v ^ (v >> 63));
  }
  magnitudes |= mag;
}

// Rounds sign * mag * 2^exp to float32 (nearest even, gradual underflow) by
// normalising the integer and assembling the IEEE bit pattern.
float integer_to_fp32(bool negative, unsigned __int128 mag, int exp);
// The same for a 64-bit magnitude, in 64-bit arithmetic (the scalers' common
// case); it hands the rare far-underflow case to the 128-bit form.
float integer_to_fp32_u64(bool negative, uint64_t mag, int exp);

// The two forms of group scaler. With both M_g <= 1 a scale mantissa is 1 or
// 1.5 and shifts and adds do; with M_g >= 2 on either operand (a mantissa
// 2^M_g + c of up to 4 bits) the scaler is a small integer multiplier.
enum class ScalerForm { shift_add, multiplier };

inline ScalerForm scaler_form(const ScaleFormat& x, const ScaleFormat& y) {
  return x.m <= 1 && y.m <= 1 ? ScalerForm::shift_add : ScalerForm::multiplier;
}

// Group scaler, shift-add form (both M_g <= 1): P * (1 + cx/2^Mg) * (1 + cy/2^Mg)
// * 2^(ex + ey) as shift-adds, then one rounding to float32.
float shift_add_scale(int64_t chunk_sum, GroupScale x, GroupScale y, int x_scale_m, int y_scale_m);

// Group scaler, multiplier form (any M_g in [0, 3]): the (M_g^X + 1) x
// (M_g^Y + 1)-bit mantissa product (2^Mx + cx) * (2^My + cy), at most 8 bits,
// times |P| (at most 62 bits) in exact integer arithmetic, then the same one
// rounding to float32.
float multiply_scale(int64_t chunk_sum, GroupScale x, GroupScale y, int x_scale_m, int y_scale_m);

// |P| below this, P times a mantissa product (at most 15 * 15 < 2^8) is below
// 2^53: a double holds it exactly, and times 2^exp (a normal double for exp in
// [-1022, 960], so the product is exact and normal too) still exactly; the
// conversion to float is then the one rounding, nearest even with gradual
// underflow and overflow to infinity, as IEEE 754 defines it in the default
// floating-point environment, which nothing in mlssim changes. No branch on
// the data, unlike the integer forms (tb_datapath checks all three).
inline constexpr int64_t kScaleInDouble = int64_t{1} << 45;

inline bool in_double_range(int64_t chunk_sum, int exp) {
  return chunk_sum < kScaleInDouble && chunk_sum > -kScaleInDouble && exp >= -1022 && exp <= 960;
}

inline float scale_in_double(int64_t chunk_sum, uint32_t mantissa_product, int exp) {
  const uint64_t pow2_bits = uint64_t(exp + 1023) << 52;
  double pow2;
  std::memcpy(&pow2, &pow2_bits, sizeof pow2);
  return float(double(chunk_sum * int64_t(mantissa_product)) * pow2);
}

// A scale's mantissa in the shift-add form, in halves when M_g = 1: 1 (M_g =
// 0), 2 or 3 (1 or 1.5; any non-zero code is 1.5, as the adder's enable).
inline uint32_t shift_add_mantissa(GroupScale s, int scale_m) { return scale_m == 1 ? (s.man ? 3u : 2u) : 1u; }

// A scale's mantissa factor in the scaler of `form` (the product of X's and
// Y's is the mantissa product group_scale uses): in halves when M_g = 1 in
// the shift-add form, the M_g-bit mantissa with its leading 1 in the
// multiplier form.
inline uint32_t scale_mantissa(ScalerForm form, GroupScale s, int scale_m) {
  return form == ScalerForm::shift_add ? shift_add_mantissa(s, scale_m) : (1u << scale_m) + s.man;
}

// The scaler of `form`: shift_add_scale or multiply_scale, with their common
// case (the double form) inline, as it runs once per PE per chunk tile.
inline float group_scale(ScalerForm form, int64_t chunk_sum, GroupScale x, GroupScale y, int x_scale_m,
                         int y_scale_m) {
  const int exp = x.exp + y.exp - x_scale_m - y_scale_m;
  if (in_double_range(chunk_sum, exp)) {
    const uint32_t mantissas = scale_mantissa(form, x, x_scale_m) * scale_mantissa(form, y, y_scale_m);
    return scale_in_double(chunk_sum, mantissas, exp);
  }
  return form == ScalerForm::shift_add ? shift_add_scale(chunk_sum, x, y, x_scale_m, y_scale_m)
                                       : multiply_scale(chunk_sum, x, y, x_scale_m, y_scale_m);
}

// RNE_fp32(a * b * 2^exp) for float32 a, b: the final-scale factor.
float exact_product_to_fp32(float a, float b, int exp);

}  // namespace mls::hw
