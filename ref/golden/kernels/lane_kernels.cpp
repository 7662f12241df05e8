#include "ref/golden/kernels/lane_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mls::golden_detail::kernels {

namespace portable {

// The definition, lane by lane, in plain integers.
bool chunk_sums(const int16_t* x, const int16_t* xa, const int32_t* y, const int32_t* ya, int64_t npairs, int32_t hi,
                int32_t* sum, int32_t* abs_sum) {
  const bool check = abs_sum != nullptr;
  bool over = false;
  for (int c = 0; c < kLanes; ++c) {
    int32_t s = 0, a = 0;
    for (int64_t q = 0; q < npairs; ++q) {
      const int16_t y_lo = int16_t(uint16_t(uint32_t(y[q]))), y_hi = int16_t(uint16_t(uint32_t(y[q]) >> 16));
      const int16_t* xq = x + (q * kLanes + c) * 2;
      s += int32_t(xq[0]) * y_lo + int32_t(xq[1]) * y_hi;
      if (!check) continue;
      const int16_t a_lo = int16_t(uint16_t(uint32_t(ya[q]))), a_hi = int16_t(uint16_t(uint32_t(ya[q]) >> 16));
      const int16_t* aq = xa + (q * kLanes + c) * 2;
      a += int32_t(aq[0]) * a_lo + int32_t(aq[1]) * a_hi;
    }
    sum[c] = s;
    if (!check) continue;
    abs_sum[c] = a;
    over = over || a > hi;
  }
  return over;
}

}  // namespace portable

#if defined(__x86_64__)
namespace {

// SSE2 (x86-64's base): four vectors of four lanes per pair.
bool chunk_sums_sse2(const int16_t* x, const int16_t* xa, const int32_t* y, const int32_t* ya, int64_t npairs,
                     int32_t hi, int32_t* sum, int32_t* abs_sum) {
  const __m128i* xv = reinterpret_cast<const __m128i*>(x);
  __m128i s[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
  for (int64_t q = 0; q < npairs; ++q, xv += 4) {
    const __m128i yq = _mm_set1_epi32(y[q]);
    for (int i = 0; i < 4; ++i) s[i] = _mm_add_epi32(s[i], _mm_madd_epi16(_mm_loadu_si128(xv + i), yq));
  }
  for (int i = 0; i < 4; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(sum) + i, s[i]);
  if (!abs_sum) return false;
  const __m128i* av = reinterpret_cast<const __m128i*>(xa);
  __m128i a[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
  for (int64_t q = 0; q < npairs; ++q, av += 4) {
    const __m128i yq = _mm_set1_epi32(ya[q]);
    for (int i = 0; i < 4; ++i) a[i] = _mm_add_epi32(a[i], _mm_madd_epi16(_mm_loadu_si128(av + i), yq));
  }
  const __m128i h = _mm_set1_epi32(hi);
  __m128i over = _mm_setzero_si128();
  for (int i = 0; i < 4; ++i) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(abs_sum) + i, a[i]);
    over = _mm_or_si128(over, _mm_cmpgt_epi32(a[i], h));
  }
  return _mm_movemask_epi8(over) != 0;
}

// AVX2: two vectors of eight lanes per pair.
__attribute__((target("avx2"))) bool chunk_sums_avx2(const int16_t* x, const int16_t* xa, const int32_t* y,
                                                     const int32_t* ya, int64_t npairs, int32_t hi, int32_t* sum,
                                                     int32_t* abs_sum) {
  const __m256i* xv = reinterpret_cast<const __m256i*>(x);
  __m256i s0 = _mm256_setzero_si256(), s1 = s0;
  for (int64_t q = 0; q < npairs; ++q, xv += 2) {
    const __m256i yq = _mm256_set1_epi32(y[q]);
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_loadu_si256(xv), yq));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_loadu_si256(xv + 1), yq));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(sum), s0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(sum) + 1, s1);
  if (!abs_sum) return false;
  const __m256i* av = reinterpret_cast<const __m256i*>(xa);
  __m256i a0 = _mm256_setzero_si256(), a1 = a0;
  for (int64_t q = 0; q < npairs; ++q, av += 2) {
    const __m256i yq = _mm256_set1_epi32(ya[q]);
    a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_loadu_si256(av), yq));
    a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_loadu_si256(av + 1), yq));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(abs_sum), a0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(abs_sum) + 1, a1);
  const __m256i h = _mm256_set1_epi32(hi);
  const __m256i over = _mm256_or_si256(_mm256_cmpgt_epi32(a0, h), _mm256_cmpgt_epi32(a1, h));
  return _mm256_movemask_epi8(over) != 0;
}

}  // namespace

ChunkSumsFn avx2() { return __builtin_cpu_supports("avx2") ? chunk_sums_avx2 : nullptr; }
ChunkSumsFn sse2() { return chunk_sums_sse2; }
#else
ChunkSumsFn avx2() { return nullptr; }
ChunkSumsFn sse2() { return nullptr; }
#endif

ChunkSumsFn chunk_sums() {
  static const ChunkSumsFn picked = avx2() ? avx2() : sse2() ? sse2() : portable::chunk_sums;
  return picked;
}

}  // namespace mls::golden_detail::kernels
