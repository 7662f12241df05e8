// The group scalers' tile kernel and the multipliers' Y decode (array_kernels.h).
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cstring>

#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

// One row of group_scale's double form: value[c] = fp32(double(sum[c]) *
// (x_factor[c] * y_factor)), one rounding. With x_factor[c] = mx * 2^ex and
// y_factor = my * 2^ey exact doubles (mantissas below 2^4) and ex + ey in
// [-1022, 960] (the caller's check), their product mx * my * 2^(ex + ey) is
// exact and normal; the sum converts exactly (|sum| < 2^45), and sum * mx
// * my is below 2^53, so the product with the factor is exact too: the
// value scale_in_double rounds, bit for bit. The sum goes to double by the
// exponent-bias trick (1.5 * 2^52 + sum, exact for |sum| < 2^51) so that
// the loop vectorises without AVX-512's int64-to-double conversion. Returns
// false when some |sum| is outside the double form (the caller then scales
// that row element by element); kCheck false: every |sum| is known inside
// (ScaleRows::checked), no test.
template <bool kCheck>
__attribute__((always_inline)) inline bool scale_row_body(float* __restrict value, const int64_t* __restrict sum,
                                                         const double* __restrict x_factor, double y_factor,
                                                         int n) {
  constexpr uint64_t kBias = 0x4338000000000000;  // 1.5 * 2^52
  constexpr double kBiasValue = 6755399441055744.0;
  uint64_t outside = 0;
  for (int c = 0; c < n; ++c) {
    const int64_t s = sum[c];
    if (kCheck) outside |= uint64_t(s + (kScaleInDouble - 1)) > uint64_t(2 * kScaleInDouble - 2);
    double d;
    const uint64_t s_bits = uint64_t(s) + kBias;
    std::memcpy(&d, &s_bits, sizeof d);
    value[c] = float((d - kBiasValue) * (x_factor[c] * y_factor));
  }
  return outside == 0;
}

// Every selected row of a tile in one call (a target_clones function is
// called through the loader's indirection).
// The rows' operands through local pointers: a store to `inside` (bytes)
// may alias anything, and `s`'s fields would be reloaded row after row.
template <bool kCheck>
__attribute__((always_inline)) inline void scale_tile_body(float* value, const int64_t* sum, int cols,
                                                          const ScaleRows& s, uint8_t* __restrict inside, int rows,
                                                          int n) {
  const uint8_t* on = s.on;
  const double* const* x_factor = s.x_factor;
  const double* y_factor = s.y_factor;
  for (int r = 0; r < rows; ++r) {
    const size_t at = size_t(r) * size_t(cols);
    inside[r] = !on[r] || scale_row_body<kCheck>(value + at, sum + at, x_factor[r], y_factor[r], n);
  }
}

#if defined(__x86_64__)
// One row of scale_row_body in AVX2, four columns at a time with no peeling
// (the compiler's clone spent about 90 instructions on a 16-column row and
// went scalar below 8 columns): the same operations lane by lane, the
// factors' product first and then the sum's, no FMA, one rounding to fp32
// (vcvtpd2ps, in the rounding mode a conversion uses). The range test is
// the scalar's unsigned compare, as a signed one of both sides with the
// sign bit flipped (kCheck false: no test, ScaleRows::checked). The columns
// past the last whole vector go the scalar way. Inlined into the tile's
// loop, so the constants are set once per tile.
template <bool kCheck>
__attribute__((target("avx2"), always_inline)) inline bool scale_row_avx2(float* value, const int64_t* sum, const double* x_factor,
                                                    double y_factor, int n) {
  constexpr int64_t kBias = 0x4338000000000000, kFlip = INT64_MIN;
  const __m256i bias = _mm256_set1_epi64x(kBias), flip = _mm256_set1_epi64x(kFlip);
  const __m256i offset = _mm256_set1_epi64x(kScaleInDouble - 1);
  const __m256i limit = _mm256_set1_epi64x((2 * kScaleInDouble - 2) ^ kFlip);
  const __m256d bias_value = _mm256_set1_pd(6755399441055744.0), y = _mm256_set1_pd(y_factor);
  __m256i outside = _mm256_setzero_si256();
  const auto four = [&](int c) __attribute__((target("avx2"), always_inline)) {
    const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sum + c));
    if (kCheck)
      outside = _mm256_or_si256(outside,
                                _mm256_cmpgt_epi64(_mm256_xor_si256(_mm256_add_epi64(s, offset), flip), limit));
    const __m256d d = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64(s, bias)), bias_value);
    const __m256d f = _mm256_mul_pd(_mm256_loadu_pd(x_factor + c), y);
    _mm_storeu_ps(value + c, _mm256_cvtpd_ps(_mm256_mul_pd(d, f)));
  };
  // Eight columns per step, then four: a row of 8 or 16 (the usual arrays)
  // has no remainder to dispatch.
  int c = 0;
  for (; c + 8 <= n; c += 8) four(c), four(c + 4);
  if (c + 4 <= n) four(c), c += 4;
  const bool tail_inside = c == n || scale_row_body<kCheck>(value + c, sum + c, x_factor + c, y_factor, n - c);
  return tail_inside && (!kCheck || _mm256_testz_si256(outside, outside));
}

template <bool kCheck>
__attribute__((target("avx2"))) void scale_tile_avx2(float* value, const int64_t* sum, int cols, const ScaleRows& s,
                                                     uint8_t* __restrict inside, int rows, int n) {
  const uint8_t* on = s.on;  // local, as in scale_tile_body
  const double* const* x_factor = s.x_factor;
  const double* y_factor = s.y_factor;
  for (int r = 0; r < rows; ++r) {
    const size_t at = size_t(r) * size_t(cols);
    inside[r] = !on[r] || scale_row_avx2<kCheck>(value + at, sum + at, x_factor[r], y_factor[r], n);
  }
}

const bool kAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

void scale_tile(float* value, const int64_t* sum, int cols, const ScaleRows& s, uint8_t* inside, int rows, int n) {
#if defined(__x86_64__)
  if (kAvx2)
    return s.checked ? scale_tile_avx2<true>(value, sum, cols, s, inside, rows, n)
                     : scale_tile_avx2<false>(value, sum, cols, s, inside, rows, n);
#endif
  // Without AVX2 the baseline form: the portable twin is that.
  portable::scale_tile(value, sum, cols, s, inside, rows, n);
}

namespace portable {

void scale_tile(float* value, const int64_t* sum, int cols, const ScaleRows& s, uint8_t* inside, int rows, int n) {
  if (s.checked) return scale_tile_body<true>(value, sum, cols, s, inside, rows, n);
  scale_tile_body<false>(value, sum, cols, s, inside, rows, n);
}

}  // namespace portable

namespace {

// decode_operand and operand_value in lane arithmetic (masks, a variable
// shift, a negation): no table, so the loop vectorises (AVX2's vpsllvd).
// The zero count is the multiplier's: all n products of a step are 0 when
// Y's value is, else X's zeros among them.
__attribute__((always_inline)) inline uint64_t decode_span_body(int32_t* __restrict y,
                                                               const uint32_t* __restrict codes,
                                                               const uint32_t* __restrict x_zeros, int64_t len,
                                                               uint32_t n, CodeFormat f) {
  const uint32_t man_mask = (1u << f.m) - 1, exp_mask = (1u << f.e) - 1, hidden = 1u << f.m;
  const int sign_at = f.e + f.m;
  uint64_t zeros = 0;
  for (int64_t i = 0; i < len; ++i) {
    const uint32_t code = codes[i];
    const uint32_t man = code & man_mask, exp = f.e ? (code >> f.m) & exp_mask : 0;
    const uint32_t mantissa = exp ? man | hidden : man, shift = exp ? exp - 1 : 0;
    const uint32_t magnitude = mantissa << shift;
    const uint32_t value = (code >> sign_at) & 1u ? 0u - magnitude : magnitude;
    y[i] = int32_t(value);
    zeros += x_zeros[i] + (value == 0 ? n - x_zeros[i] : 0u);
  }
  return zeros;
}

}  // namespace

__attribute__((target_clones("avx2", "default")))
uint64_t decode_span(int32_t* y, const uint32_t* codes, const uint32_t* x_zeros, int64_t len, uint32_t n,
                     CodeFormat f) {
  return decode_span_body(y, codes, x_zeros, len, n, f);
}

namespace portable {

uint64_t decode_span(int32_t* y, const uint32_t* codes, const uint32_t* x_zeros, int64_t len, uint32_t n,
                     CodeFormat f) {
  return decode_span_body(y, codes, x_zeros, len, n, f);
}

}  // namespace portable

}  // namespace mls::hw::kernels
