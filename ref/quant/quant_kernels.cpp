#include "ref/quant/quant_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ref/quant/quantizer.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mls::quant_detail {

ElemSteps::ElemSteps(const QuantConfig& cfg) : fmt(cfg.elem), rounding(cfg.rounding), clip(cfg.clip) {
  emin = fmt.emin();
  top_exp = fmt.e == 0 ? emin : -1;
  fixed_below = fmt.e == 0 ? 1 : emin;
  max_q = fmt.max_q();
  top_fixed = (int64_t{1} << fmt.m) - 1;
  top_binade = (int64_t{2} << fmt.m) - 1;
}

int64_t magnitude_outside(double x_f, float r, ElemSteps k) {
  return quantize_magnitude(x_f, k.fmt, k.rounding, r, k.clip);
}

namespace portable {

namespace {

template <bool kNearest, bool kClip>
void span_t(const ElemSteps& k, const Span& s) {
  for (int64_t i = s.begin; i < s.end; ++i) {
    const double v = s.x[i];
    const float r = kNearest ? 0.0f : s.random ? s.random[i] : counter_draw(s.key, uint64_t(i));
    const int64_t mag = magnitude<kNearest, kClip>(std::fabs(v) / s.divisor, r, k);
    const int64_t sign = -int64_t(v < 0);
    s.sq[i] = static_cast<int32_t>((mag ^ sign) - sign);
  }
}

}  // namespace

void quantize_span(const ElemSteps& k, const Span& s) {
  if (k.rounding == Rounding::nearest) k.clip ? span_t<true, true>(k, s) : span_t<true, false>(k, s);
  else k.clip ? span_t<false, true>(k, s) : span_t<false, false>(k, s);
}

uint32_t max_abs_bits(const float* x, int64_t n, uint32_t start) {
  uint32_t best = start;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t b;
    std::memcpy(&b, x + i, sizeof b);
    best = std::max(best, b & 0x7fffffffu);
  }
  return best;
}

}  // namespace portable

#if defined(__x86_64__)

namespace {

// a * c mod 2^64 per lane, c given as its 32-bit halves in every lane.
__attribute__((target("avx2"))) inline __m256i mul64(__m256i a, __m256i c_lo, __m256i c_hi) {
  const __m256i cross =
      _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), c_lo), _mm256_mul_epu32(a, c_hi));
  return _mm256_add_epi64(_mm256_mul_epu32(a, c_lo), _mm256_slli_epi64(cross, 32));
}

// The counter draws of the four lanes' z = key + (i + 1) * gamma, as doubles
// (exact: multiples of 2^-24 in [-0.5, 0.5), the float draws' values).
__attribute__((target("avx2"))) inline __m256d draws4(__m256i z) {
  const __m256i m1_lo = _mm256_set1_epi64x(0x1ce4e5b9), m1_hi = _mm256_set1_epi64x(0xbf58476d);
  const __m256i m2_lo = _mm256_set1_epi64x(0x133111eb), m2_hi = _mm256_set1_epi64x(0x94d049bb);
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), m1_lo, m1_hi);
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), m2_lo, m2_hi);
  z = _mm256_srli_epi64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 31)), 40);
  const __m256d two52 = _mm256_set1_pd(0x1p52);
  const __m256d u = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(z, _mm256_castpd_si256(two52))), two52);
  return _mm256_sub_pd(_mm256_mul_pd(u, _mm256_set1_pd(0x1p-24)), _mm256_set1_pd(0.5));
}

// Four elements: the portable steps lane by lane, with the exponents as
// biased 32-bit fields (x_f >= 0, so the field is bits >> 52).
template <bool kNearest, bool kClip, bool kRandom>
__attribute__((target("avx2"))) void span_avx2_t(const ElemSteps& k, const Span& s) {
  const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  const __m256d divisor = _mm256_set1_pd(s.divisor);
  const __m128i emin_b = _mm_set1_epi32(k.emin + 1023), top_b = _mm_set1_epi32(k.top_exp + 1023);
  const __m128i scale_b = _mm_set1_epi32(k.fmt.m + 2046), fixed_b = _mm_set1_epi32(k.fixed_below + 1023);
  const __m128i top_fixed = _mm_set1_epi32(int32_t(k.top_fixed)), top_binade = _mm_set1_epi32(int32_t(k.top_binade));
  const __m128i max_q = _mm_set1_epi32(int32_t(k.max_q)), one_b = _mm_set1_epi32(1023);
  const __m256i pack = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const uint64_t z0 = s.key + uint64_t(s.begin + 1) * kDrawGamma;
  __m256i z = _mm256_setr_epi64x(int64_t(z0), int64_t(z0 + kDrawGamma), int64_t(z0 + 2 * kDrawGamma),
                                 int64_t(z0 + 3 * kDrawGamma));
  const __m256i z_step = _mm256_set1_epi64x(int64_t(4 * kDrawGamma));
  int64_t i = s.begin;
  for (; i + 4 <= s.end; i += 4, z = _mm256_add_epi64(z, z_step)) {
    const __m128 xv = _mm_loadu_ps(s.x + i);
    const __m256d x_f = _mm256_div_pd(_mm256_and_pd(_mm256_cvtps_pd(xv), absmask), divisor);
    const __m128i ex = _mm256_castsi256_si128(
        _mm256_permutevar8x32_epi32(_mm256_srli_epi64(_mm256_castpd_si256(x_f), 52), pack));
    if (_mm_movemask_epi8(_mm_cmpgt_epi32(ex, one_b))) {  // some x_f >= 2
      portable::quantize_span(k, Span{s.x, s.random, s.key, i, i + 4, s.divisor, s.sq});
      continue;
    }
    const __m128i le = _mm_min_epi32(_mm_max_epi32(ex, emin_b), top_b);
    const __m256i scale = _mm256_slli_epi64(_mm256_cvtepi32_epi64(_mm_sub_epi32(scale_b, le)), 52);
    const __m256d t = _mm256_mul_pd(x_f, _mm256_castsi256_pd(scale));
    __m256d y;
    if (kNearest) {
      y = _mm256_sub_pd(_mm256_add_pd(t, _mm256_set1_pd(0x1p52)), _mm256_set1_pd(0x1p52));
    } else {
      const __m256d r = kRandom ? _mm256_cvtps_pd(_mm_loadu_ps(s.random + i)) : draws4(z);
      y = _mm256_add_pd(_mm256_add_pd(t, r), _mm256_set1_pd(0.5));
    }
    __m128i t_rounded = _mm256_cvttpd_epi32(y);
    if (kClip) t_rounded = _mm_min_epi32(t_rounded, _mm_blendv_epi8(top_binade, top_fixed, _mm_cmplt_epi32(ex, fixed_b)));
    __m128i q = _mm_min_epi32(_mm_sllv_epi32(t_rounded, _mm_sub_epi32(le, emin_b)), max_q);
    const __m128i sign = _mm_srai_epi32(_mm_castps_si128(xv), 31);
    q = _mm_sub_epi32(_mm_xor_si128(q, sign), sign);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(s.sq + i), q);
  }
  portable::quantize_span(k, Span{s.x, s.random, s.key, i, s.end, s.divisor, s.sq});
}

template <bool kNearest, bool kClip>
__attribute__((target("avx2"))) void span_avx2_r(const ElemSteps& k, const Span& s) {
  s.random ? span_avx2_t<kNearest, kClip, true>(k, s) : span_avx2_t<kNearest, kClip, false>(k, s);
}

__attribute__((target("avx2"))) void span_avx2(const ElemSteps& k, const Span& s) {
  if (k.rounding == Rounding::nearest) k.clip ? span_avx2_r<true, true>(k, s) : span_avx2_r<true, false>(k, s);
  else k.clip ? span_avx2_r<false, true>(k, s) : span_avx2_r<false, false>(k, s);
}

__attribute__((target("avx2"))) uint32_t max_abs_avx2(const float* x, int64_t n, uint32_t start) {
  const __m256i mask = _mm256_set1_epi32(0x7fffffff);
  __m256i best = _mm256_set1_epi32(int32_t(start & 0x7fffffffu));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    best = _mm256_max_epu32(best, _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)), mask));
  __m128i m = _mm_max_epu32(_mm256_castsi256_si128(best), _mm256_extracti128_si256(best, 1));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0x4e));
  m = _mm_max_epu32(m, _mm_shuffle_epi32(m, 0xb1));
  return portable::max_abs_bits(x + i, n - i, std::max(start, uint32_t(_mm_cvtsi128_si32(m))));
}

}  // namespace

SpanFn quantize_span_avx2() { return __builtin_cpu_supports("avx2") ? span_avx2 : nullptr; }
MaxAbsFn max_abs_bits_avx2() { return __builtin_cpu_supports("avx2") ? max_abs_avx2 : nullptr; }

#else

SpanFn quantize_span_avx2() { return nullptr; }
MaxAbsFn max_abs_bits_avx2() { return nullptr; }

#endif

SpanFn quantize_span() {
  static const SpanFn picked = quantize_span_avx2() ? quantize_span_avx2() : portable::quantize_span;
  return picked;
}

MaxAbsFn max_abs_bits() {
  static const MaxAbsFn picked = max_abs_bits_avx2() ? max_abs_bits_avx2() : portable::max_abs_bits;
  return picked;
}

}  // namespace mls::quant_detail
