// The local accumulators' rows redone product by product (array_kernels.h).
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <type_traits>

#include "hw_model/datapath/datapath.h"

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

// redo_row's body (array_kernels.h): the row's registers from 0, product by
// product in the edges' order, as AccRegisterFile adds at each edge (the
// datapath's row helpers, hw_model/datapath/datapath.h). Lane int32 with
// int64 exact sums, or int64 with 128-bit ones.
template <class Lane, class Exact>
__attribute__((always_inline)) inline uint64_t redo_row_body(Lane* __restrict acc, Exact* __restrict exact,
                                                            Lane* __restrict prod, const RedoRow& w,
                                                            uint64_t& magnitudes,
                                                            unsigned __int128& exact_magnitudes) {
  using U = std::make_unsigned_t<Lane>;
  const int n = w.n;
  std::fill(acc, acc + n, Lane(0));
  bool diverged = false;
  uint64_t overflows = 0;
  for (int32_t s = 0; s < w.len; ++s) {
    // The product's low bits are those of the operands' low bits' product:
    // a lane-wide multiply is the 64-bit one's low part, and a narrow
    // product (below 2^30) all of it.
    const int32_t* __restrict x = w.x + s * w.x_stride;
    const U ys = U(Lane(w.y[s]));
    for (int c = 0; c < n; ++c) prod[c] = Lane(U(Lane(x[c])) * ys);
    if (w.lsb_fault && n > 0) prod[0] = Lane(prod[0] | 1);
    uint64_t raw_magnitudes = 0;
    if (diverged) {
      add_row_exact(exact, prod, n, exact_magnitudes);
      if (add_row_unchecked(acc, prod, n, w.acc_bits, raw_magnitudes))
        overflows += saturate_or_wrap_row(acc, n, w.acc_bits, w.policy);
      continue;
    }
    const bool out_of_range = add_row_unchecked(acc, prod, n, w.acc_bits, raw_magnitudes) != 0;
    magnitudes |= raw_magnitudes;  // exact sums
    if (!out_of_range) continue;
    std::copy(acc, acc + n, exact);
    diverged = true;
    overflows += saturate_or_wrap_row(acc, n, w.acc_bits, w.policy);
  }
  return overflows;
}

__attribute__((target_clones("avx2", "default")))
uint64_t redo_row_cloned(int32_t* acc, int64_t* exact, int32_t* prod, const RedoRow& w, uint64_t& magnitudes,
                         unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

#if defined(__x86_64__)
// redo_row in 32-bit lanes by hand in AVX2 (the target_clones form runs
// each of the body's row helpers as its own loop per step): the registers,
// exact sums and magnitudes of redo_row_body, 8 columns per vector, the
// last vector masked (its lanes past n read 0, so their products, sums and
// magnitudes are 0, and are not written). Operands and registers as in the
// body: narrow products and acc_bits <= 31, so every raw sum is the exact
// int32 one. Two loops: until a sum leaves the range (registers exact,
// their magnitudes in mag), then from the next step with the exact sums in
// 64 bits beside the registers and the policy applied at every step.
struct RedoAvx2 {
  const RedoRow& w;
  int32_t* acc;
  int64_t* exact;
  __m256i max, min, fault, tail;  // the range's ends; column 0's lsb under the fault; the last vector's lanes
  __m128i unused;                 // 32 - acc_bits, for the wrap
  __m256i mag = _mm256_setzero_si256(), exact_mag = _mm256_setzero_si256();
  uint64_t overflows = 0;

  __attribute__((target("avx2"))) RedoAvx2(const RedoRow& row, int32_t* a, int64_t* e) : w(row), acc(a), exact(e) {
    max = _mm256_set1_epi32(int32_t((uint32_t{1} << (w.acc_bits - 1)) - 1));
    min = _mm256_set1_epi32(-int32_t((uint32_t{1} << (w.acc_bits - 1)) - 1) - 1);
    fault = _mm256_setr_epi32(w.lsb_fault ? 1 : 0, 0, 0, 0, 0, 0, 0, 0);
    tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(w.n % 8 ? w.n % 8 : 8), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    unused = _mm_cvtsi32_si128(32 - w.acc_bits);
  }

  // The lanes of columns c .. c + 7 that exist.
  __attribute__((target("avx2"))) __m256i mask_at(int c) const {
    return c + 8 <= w.n ? _mm256_set1_epi32(-1) : tail;
  }
  // The products of columns c .. c + 7 at X values x.
  __attribute__((target("avx2"))) __m256i products(const int32_t* x, int c, __m256i y, __m256i mask) const {
    const __m256i p = _mm256_mullo_epi32(_mm256_maskload_epi32(x + c, mask), y);
    return c == 0 ? _mm256_or_si256(p, fault) : p;
  }
  __attribute__((target("avx2"))) __m256i outside(__m256i raw) const {
    return _mm256_or_si256(_mm256_cmpgt_epi32(raw, max), _mm256_cmpgt_epi32(min, raw));
  }
  // The overflow policy on raw sums (saturate_or_wrap_row); masked lanes
  // are 0, in range.
  __attribute__((target("avx2"))) __m256i repair(__m256i raw) {
    const __m256i over = outside(raw);
    overflows += uint64_t(__builtin_popcount(unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(over)))));
    const __m256i fixed = w.policy == Overflow::wrap ? _mm256_sra_epi32(_mm256_sll_epi32(raw, unused), unused)
                                                     : _mm256_min_epi32(_mm256_max_epi32(raw, min), max);
    return _mm256_blendv_epi8(raw, fixed, over);
  }
  // v ^ (v >> 63) in each 64-bit lane: an exact sum's magnitude.
  __attribute__((target("avx2"))) static __m256i magnitude64(__m256i v) {
    return _mm256_xor_si256(v, _mm256_cmpgt_epi64(_mm256_setzero_si256(), v));
  }

  // Steps from s on while every sum stays in range; returns the step at
  // which one left it (its sums repaired, the exact ones kept) or len.
  __attribute__((target("avx2"))) int32_t in_range(int32_t s) {
    for (; s < w.len; ++s) {
      const int32_t* x = w.x + s * w.x_stride;
      const __m256i y = _mm256_set1_epi32(w.y[s]);
      __m256i out = _mm256_setzero_si256();
      for (int c = 0; c < w.n; c += 8) {
        const __m256i mask = mask_at(c);
        const __m256i raw = _mm256_add_epi32(_mm256_maskload_epi32(acc + c, mask), products(x, c, y, mask));
        out = _mm256_or_si256(out, outside(raw));
        mag = _mm256_or_si256(mag, _mm256_xor_si256(raw, _mm256_srai_epi32(raw, 31)));
        _mm256_maskstore_epi32(acc + c, mask, raw);
      }
      if (!_mm256_testz_si256(out, out)) break;
    }
    for (int c = 0; s < w.len && c < w.n; c += 8) {
      const __m256i mask = mask_at(c), raw = _mm256_maskload_epi32(acc + c, mask);
      for (int half = 0; half < 2; ++half) {
        const __m128i m = half ? _mm256_extracti128_si256(mask, 1) : _mm256_castsi256_si128(mask);
        const __m128i v = half ? _mm256_extracti128_si256(raw, 1) : _mm256_castsi256_si128(raw);
        _mm256_maskstore_epi64(reinterpret_cast<long long*>(exact + c + 4 * half), _mm256_cvtepi32_epi64(m),
                               _mm256_cvtepi32_epi64(v));
      }
      _mm256_maskstore_epi32(acc + c, mask, repair(raw));
    }
    return s;
  }

  // Steps from `from` on after a sum left the range, a vector of columns
  // at a time over all of them, its registers and exact sums (two vectors
  // of four) held in vector registers: the columns never meet but in the
  // overflow count and the magnitudes' OR, neither of which depends on the
  // order. The exact sums are scratch: not stored back.
  __attribute__((target("avx2"))) void diverged(int32_t from) {
    for (int c = 0; from < w.len && c < w.n; c += 8) {
      const __m256i mask = mask_at(c);
      const __m256i m0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(mask));
      const __m256i m1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(mask, 1));
      const long long* e = reinterpret_cast<const long long*>(exact + c);
      __m256i a = _mm256_maskload_epi32(acc + c, mask), e0 = _mm256_maskload_epi64(e, m0);
      __m256i e1 = _mm256_maskload_epi64(e + 4, m1);
      const int32_t* x = w.x + from * w.x_stride;
      for (int32_t s = from; s < w.len; ++s, x += w.x_stride) {
        const __m256i p = products(x, c, _mm256_set1_epi32(w.y[s]), mask);
        e0 = _mm256_add_epi64(e0, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(p)));
        e1 = _mm256_add_epi64(e1, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(p, 1)));
        exact_mag = _mm256_or_si256(exact_mag, _mm256_or_si256(magnitude64(e0), magnitude64(e1)));
        a = repair(_mm256_add_epi32(a, p));
      }
      _mm256_maskstore_epi32(acc + c, mask, a);
    }
  }
};

__attribute__((target("avx2"))) uint64_t or_of_lanes(__m256i v) {
  const __m128i h = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return uint64_t(_mm_cvtsi128_si64(h)) | uint64_t(_mm_extract_epi64(h, 1));
}

__attribute__((target("avx2"))) uint64_t redo_narrow_avx2(int32_t* acc, int64_t* exact, const RedoRow& w,
                                                          uint64_t& magnitudes, unsigned __int128& exact_magnitudes) {
  std::fill(acc, acc + w.n, 0);
  RedoAvx2 r(w, acc, exact);
  r.diverged(r.in_range(0) + 1);
  const uint64_t m = or_of_lanes(r.mag);  // 32-bit magnitudes, two to a 64-bit lane
  magnitudes |= uint64_t(uint32_t(m) | uint32_t(m >> 32));
  exact_magnitudes |= or_of_lanes(r.exact_mag);
  return r.overflows;
}

const bool kAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

uint64_t redo_row(int32_t* acc, int64_t* exact, int32_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
#if defined(__x86_64__)
  if (kAvx2) return redo_narrow_avx2(acc, exact, w, magnitudes, exact_magnitudes);
#endif
  return redo_row_cloned(acc, exact, prod, w, magnitudes, exact_magnitudes);
}


__attribute__((target_clones("avx2", "default")))
uint64_t redo_row(int64_t* acc, __int128* exact, int64_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

namespace portable {

uint64_t redo_row(int32_t* acc, int64_t* exact, int32_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

uint64_t redo_row(int64_t* acc, __int128* exact, int64_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes) {
  return redo_row_body(acc, exact, prod, w, magnitudes, exact_magnitudes);
}

}  // namespace portable

}  // namespace mls::hw::kernels
