// The multiplier's kernels (array_kernels.h): moved from
// hw_model/array/multiplier.cpp.
#include <algorithm>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <type_traits>

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

// One row of products: x codes through the decoder table, times the row's
// broadcast value; returns how many x values were 0. Values are below 2^27
// (M <= 12, E <= 4), so the products (below 2^54) are exact in int64 and
// equal multiply_values'; in int32 (T) only when the formats keep them below
// 2^30 (Products::narrow). Compiled for AVX2 (gathers and multiplies, four
// or eight PEs per instruction) and for the baseline; the loader picks one
// for the CPU; integer arithmetic, so both give the same bits.
template <class T>
__attribute__((always_inline)) inline uint64_t multiply_row_body(T* prod, const uint32_t* x, const int32_t* value_x,
                                                                int32_t y, int n) {
  std::make_unsigned_t<T> zeros = 0;  // in T's lanes: mixed widths would not vectorise
  for (int c = 0; c < n; ++c) {
    const int32_t v = value_x[int32_t(x[c])];  // codes are below 2^17: a signed index lets AVX2 gather
    prod[c] = T(v) * y;
    zeros += v == 0;
  }
  return zeros;
}

// Every active row of the array: one call per cycle, not one per row (a
// target_clones function is called through the loader's indirection).
// Returns how many products were 0.
template <class T>
__attribute__((always_inline)) inline uint64_t multiply_array_body(T* prod, const Operands& in, const int32_t* value_x,
                                                                  const int32_t* value_y, int rows, int cols) {
  const int n = in.active_cols;
  uint64_t zeros = 0;
  for (int r = 0; r < rows; ++r) {
    if (!in.row_active[size_t(r)]) continue;
    const int32_t y = value_y[in.y[size_t(r)]];
    T* row = prod + size_t(r) * size_t(cols);
    if (y == 0) {  // a zero broadcast (padding, ReLU): every product of the row is 0
      std::fill(row, row + n, T(0));
      zeros += uint64_t(n);
      continue;
    }
    zeros += multiply_row_body(row, &in.x[size_t(r) * size_t(cols)], value_x, y, n);
  }
  return zeros;
}

__attribute__((target_clones("avx2", "default")))
uint64_t multiply_wide_cloned(int64_t* prod, const Operands& in, const int32_t* value_x, const int32_t* value_y,
                              int rows, int cols) {
  return multiply_array_body(prod, in, value_x, value_y, rows, cols);
}

// The narrow products (below 2^30) of n codes times a row's Y value:
// decode_value (masks and shifts, no table) rather than lookups, since the
// lookups do not vectorise (GCC emits no gathers for generic x86-64) and the
// decode does. A product is 0 exactly when X's or Y's value is (no product
// overflows), so counting the zero products counts mul_zero; no branch on a
// zero Y (padding, ReLU), which follows the data and would mispredict.
inline uint32_t multiply_decoded(int32_t* __restrict prod, const uint32_t* __restrict x, int32_t y, const CodeFields f,
                                 int n) {
  uint32_t zeros = 0;  // 32-bit lanes throughout
  for (int i = 0; i < n; ++i) {
    const int32_t p = decode_value(f, x[i]) * y;
    prod[i] = p;
    zeros += p == 0;
  }
  return zeros;
}

// The narrow array, row by row.
__attribute__((always_inline)) inline uint64_t multiply_narrow_body(int32_t* prod, const Operands& in,
                                                                  const CodeFields x_fields, const int32_t* value_y,
                                                                  int rows, int cols) {
  const int n = in.active_cols;
  const uint8_t* active = in.row_active.data();
  const uint32_t* y_codes = in.y.data();
  const uint32_t* x = in.x.data();
  uint64_t zeros = 0;
  for (int r = 0; r < rows; ++r) {
    if (!active[r]) continue;
    const size_t base = size_t(r) * size_t(cols);
    zeros += multiply_decoded(prod + base, x + base, value_y[y_codes[r]], x_fields, n);
  }
  return zeros;
}

#if defined(__x86_64__)
// multiply_array's narrow form written out in AVX2 for rows of whole vectors
// (n a multiple of 8): the zero count stays in a vector register across all
// rows instead of being summed across lanes at the end of every row, and the
// row loop keeps its pointers in registers. The same operations as
// decode_value and multiply_decoded, lane by lane.
__attribute__((target("avx2")))
uint64_t multiply_array_avx2(int32_t* prod, const Operands& in, const CodeFields f, const int32_t* value_y, int rows,
                             int cols) {
  const int n = in.active_cols;
  const uint8_t* active = in.row_active.data();
  const uint32_t* y_codes = in.y.data();
  const uint32_t* xs = in.x.data();
  const __m256i man_mask = _mm256_set1_epi32(int(f.man_mask)), exp_mask = _mm256_set1_epi32(int(f.exp_mask));
  const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
  const __m128i m = _mm_cvtsi32_si128(int(f.m)), sign_shift = _mm_cvtsi32_si128(int(f.sign_shift));
  __m256i zeros = zero;  // minus the count, per lane
  for (int r = 0; r < rows; ++r) {
    if (!active[r]) continue;
    const __m256i y = _mm256_set1_epi32(value_y[y_codes[r]]);
    const uint32_t* x = xs + size_t(r) * size_t(cols);
    int32_t* row = prod + size_t(r) * size_t(cols);
    for (int c = 0; c < n; c += 8) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c));
      const __m256i man = _mm256_and_si256(bits, man_mask);
      const __m256i exp = _mm256_and_si256(_mm256_srl_epi32(bits, m), exp_mask);
      const __m256i normal = _mm256_andnot_si256(_mm256_cmpeq_epi32(exp, zero), one);
      const __m256i mag = _mm256_sllv_epi32(_mm256_or_si256(man, _mm256_sll_epi32(normal, m)), _mm256_sub_epi32(exp, normal));
      const __m256i neg = _mm256_sub_epi32(zero, _mm256_and_si256(_mm256_srl_epi32(bits, sign_shift), one));
      const __m256i v = _mm256_sub_epi32(_mm256_xor_si256(mag, neg), neg);
      const __m256i p = _mm256_mullo_epi32(v, y);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + c), p);
      zeros = _mm256_add_epi32(zeros, _mm256_cmpeq_epi32(p, zero));  // -1 per zero
    }
  }
  alignas(32) int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), zeros);
  uint64_t count = 0;
  for (int32_t l : lanes) count += uint64_t(uint32_t(-l));
  return count;
}
const bool kAvx2 = __builtin_cpu_supports("avx2");
#endif

__attribute__((target_clones("avx2", "default")))
uint64_t multiply_narrow_cloned(int32_t* prod, const Operands& in, const CodeFields x_fields, const int32_t* value_y,
                                int rows, int cols) {
  return multiply_narrow_body(prod, in, x_fields, value_y, rows, cols);
}

}  // namespace

uint64_t multiply_rows(int64_t* prod, const Operands& in, const int32_t* value_x, const int32_t* value_y, int rows,
                       int cols) {
  return multiply_wide_cloned(prod, in, value_x, value_y, rows, cols);
}

uint64_t multiply_rows(int32_t* prod, const Operands& in, CodeFields x_fields, const int32_t* value_y, int rows,
                       int cols) {
#if defined(__x86_64__)
  if (kAvx2 && in.active_cols % 8 == 0) return multiply_array_avx2(prod, in, x_fields, value_y, rows, cols);
#endif
  return multiply_narrow_cloned(prod, in, x_fields, value_y, rows, cols);
}

namespace portable {

uint64_t multiply_rows(int64_t* prod, const Operands& in, const int32_t* value_x, const int32_t* value_y, int rows,
                       int cols) {
  return multiply_array_body(prod, in, value_x, value_y, rows, cols);
}

uint64_t multiply_rows(int32_t* prod, const Operands& in, CodeFields x_fields, const int32_t* value_y, int rows,
                       int cols) {
  return multiply_narrow_body(prod, in, x_fields, value_y, rows, cols);
}

}  // namespace portable

}  // namespace mls::hw::kernels
