// The local accumulators' fused multiply-accumulate (array_kernels.h).
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "hw_model/datapath/datapath.h"
#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

// Every selected row of one cycle: one call per cycle, not one per row (a
// target_clones function is called through the loader's indirection).
template <class Lane>
__attribute__((always_inline)) inline uint64_t mac_array_body(Lane* acc, const int32_t* const* x_rows,
                                                             const int32_t* y, const uint8_t* on, int rows, int cols,
                                                             int n) {
  uint64_t mag = 0;
  for (int r = 0; r < rows; ++r)
    if (on[r]) mag |= mac_row_unchecked(acc + size_t(r) * size_t(cols), x_rows[r], y[r], n);
  return mag;
}

__attribute__((target_clones("avx2", "default")))
uint64_t mac_wide_cloned(int64_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows,
                         int cols, int n) {
  return mac_array_body(acc, x_rows, y, on, rows, cols, n);
}

__attribute__((target_clones("avx2", "default")))
uint64_t mac_narrow_cloned(int32_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows,
                           int cols, int n) {
  return mac_array_body(acc, x_rows, y, on, rows, cols, n);
}

#if defined(__x86_64__)
// The 32-bit form written out in AVX2 for rows of whole vectors (n a
// multiple of 8): the magnitude OR stays in a vector register across all
// rows instead of being reduced across lanes at the end of every row. The
// same operations as mac_row_unchecked, lane by lane (vpmulld's low 32 bits
// are the product: narrow products are below 2^30).
__attribute__((target("avx2")))
uint64_t mac_narrow_avx2(int32_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows,
                         int cols, int n) {
  __m256i mag = _mm256_setzero_si256();
  for (int r = 0; r < rows; ++r) {
    if (!on[r]) continue;
    const __m256i yv = _mm256_set1_epi32(y[r]);
    const int32_t* x = x_rows[r];
    int32_t* a = acc + size_t(r) * size_t(cols);
    for (int c = 0; c < n; c += 8) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c));
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + c));
      const __m256i raw = _mm256_add_epi32(av, _mm256_mullo_epi32(xv, yv));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + c), raw);
      mag = _mm256_or_si256(mag, _mm256_xor_si256(raw, _mm256_srai_epi32(raw, 31)));
    }
  }
  const __m128i m4 = _mm_or_si128(_mm256_castsi256_si128(mag), _mm256_extracti128_si256(mag, 1));
  const __m128i m2 = _mm_or_si128(m4, _mm_unpackhi_epi64(m4, m4));
  const __m128i m1 = _mm_or_si128(m2, _mm_srli_epi64(m2, 32));
  return uint64_t(uint32_t(_mm_cvtsi128_si32(m1)));
}
const bool kAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

uint64_t mac_rows(int32_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows, int cols,
                  int n) {
#if defined(__x86_64__)
  if (kAvx2 && n % 8 == 0) return mac_narrow_avx2(acc, x_rows, y, on, rows, cols, n);
#endif
  return mac_narrow_cloned(acc, x_rows, y, on, rows, cols, n);
}

uint64_t mac_rows(int64_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows, int cols,
                  int n) {
  return mac_wide_cloned(acc, x_rows, y, on, rows, cols, n);
}

namespace portable {

uint64_t mac_rows(int32_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows, int cols,
                  int n) {
  return mac_array_body(acc, x_rows, y, on, rows, cols, n);
}

uint64_t mac_rows(int64_t* acc, const int32_t* const* x_rows, const int32_t* y, const uint8_t* on, int rows, int cols,
                  int n) {
  return mac_array_body(acc, x_rows, y, on, rows, cols, n);
}

}  // namespace portable

}  // namespace mls::hw::kernels
