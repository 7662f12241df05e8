#include "ref/golden/kernels/row_gather.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mls::golden_detail::kernels {

int64_t list_taps(const RowGather& r) {
  int32_t real = 0;
  for (int64_t c = 0; c < r.per_group; ++c) {
    for (int k = 0; k < kChunkMax; ++k) {
      const int32_t o = r.off[c * kChunkMax + k];
      r.real_off[real] = o;
      r.real_slot[real] = r.slot[c] + k;
      real += o >= 0;
    }
    r.real_end[c] = real;
  }
  return real;
}

namespace portable {

// The definition, element by element.
void row_gather(const RowGather& r, int16_t* out, int32_t* sums) {
  for (int64_t g = 0; g < r.groups; ++g) {
    const int32_t* src = r.sq + r.base + g * r.step;
    int16_t* o = out + g * r.group_slots;
    std::fill(o, o + r.group_slots, int16_t(0));
    for (int64_t c = 0; c < r.per_group; ++c) {
      const int32_t* off = r.off + c * kChunkMax;
      int16_t v[kChunkMax];
      int32_t sum = 0;
      for (int k = 0; k < kChunkMax; ++k) {
        const int32_t e = off[k] < 0 ? 0 : src[off[k]];
        v[k] = int16_t(e);
        sum += e < 0 ? -e : e;
      }
      std::memcpy(o + r.slot[c], v, sizeof v);  // out is read as int32 pairs
      if (sums) sums[g * r.per_group + c] = sum;
    }
  }
}

}  // namespace portable

#if defined(__x86_64__)
namespace {

// The sum of the eight int32 of v.
__attribute__((target("avx2"))) inline int32_t hsum8(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// Each chunk as two masked gathers of eight (zero taps not read), packed to
// int16 (every |element| < 2^15: packs does not saturate) in k order; the
// chunks' stores cover the group's slots in ascending order.
template <bool Sums>
__attribute__((target("avx2"))) void dense_t(const RowGather& r, int16_t* out, int32_t* sums) {
  const __m256i zero = _mm256_setzero_si256(), none = _mm256_set1_epi32(-1);
  // r's fields in locals: the vector stores may alias them.
  const int32_t *const off = r.off, *const slot = r.slot, *const sq = r.sq + r.base;
  const int64_t groups = r.groups, per_group = r.per_group, step = r.step, group_slots = r.group_slots;
  for (int64_t g = 0; g < groups; ++g) {
    const int* src = reinterpret_cast<const int*>(sq + g * step);
    int16_t* o = out + g * group_slots;
    for (int64_t c = 0; c < per_group; ++c) {
      const __m256i o0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off + c * kChunkMax));
      const __m256i o1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off + c * kChunkMax + 8));
      const __m256i v0 = _mm256_mask_i32gather_epi32(zero, src, o0, _mm256_cmpgt_epi32(o0, none), 4);
      const __m256i v1 = _mm256_mask_i32gather_epi32(zero, src, o1, _mm256_cmpgt_epi32(o1, none), 4);
      const __m256i packed = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + slot[c]), packed);
      if constexpr (Sums) sums[g * per_group + c] = hsum8(_mm256_add_epi32(_mm256_abs_epi32(v0), _mm256_abs_epi32(v1)));
    }
  }
}

// Whether the row's one chunk per group is a 3 x 3 window: nine taps in
// three runs of three, each run's real taps (offset >= 0; the others are
// padding) at start[r] + i for its i in 0 .. 2, the rest of the chunk -1.
// start[r]: 0 for a run with no real tap.
inline bool window3x3(const RowGather& r, int32_t* start) {
  if (r.per_group != 1) return false;
  for (int k = 9; k < kChunkMax; ++k)
    if (r.off[k] >= 0) return false;
  for (int run = 0; run < 3; ++run) {
    const int32_t* o = r.off + 3 * run;
    int first = 0;
    while (first < 3 && o[first] < 0) ++first;
    start[run] = first < 3 ? o[first] - first : 0;
    for (int i = first; i < 3; ++i)
      if (o[i] >= 0 && o[i] != start[run] + i) return false;
  }
  return true;
}

// dense_t for a window3x3 row: each run as one masked load of three (its
// padding taps and the fourth element not read: they load 0), packed to
// int16 and moved into k order by pshufb, the chunk's other seven slots
// zero; the same stores as dense_t.
template <bool Sums>
__attribute__((target("avx2"))) void window_t(const RowGather& r, const int32_t* start, int16_t* out, int32_t* sums) {
  const __m128i none = _mm_set1_epi32(-1), zero = _mm_setzero_si128();
  // int16 [a0 a1 a2 0 b0 b1 b2 0] -> [a0 a1 a2 b0 b1 b2 - -]; [c0 c1 c2 0 ...] -> slots 6, 7 and 8.
  const __m128i ab = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, -1, -1, -1, -1);
  const __m128i c_lo = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 2, 3);
  const __m128i c_hi = _mm_setr_epi8(4, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  __m128i mask[3];
  for (int run = 0; run < 3; ++run) {
    const int32_t* o = r.off + 3 * run;
    mask[run] = _mm_cmpgt_epi32(_mm_setr_epi32(o[0], o[1], o[2], -1), none);
  }
  // Each run's first element as an address (start may be -2 .. -1 at the
  // padding: those elements are masked off, never read).
  const intptr_t s0 = intptr_t(start[0]) * 4, s1 = intptr_t(start[1]) * 4, s2 = intptr_t(start[2]) * 4;
  const int32_t* const sq = r.sq + r.base;
  const int32_t slot = r.slot[0];
  const int64_t groups = r.groups, step = r.step, group_slots = r.group_slots;
  for (int64_t g = 0; g < groups; ++g) {
    const uintptr_t src = reinterpret_cast<uintptr_t>(sq + g * step);
    const __m128i va = _mm_maskload_epi32(reinterpret_cast<const int*>(src + s0), mask[0]);
    const __m128i vb = _mm_maskload_epi32(reinterpret_cast<const int*>(src + s1), mask[1]);
    const __m128i vc = _mm_maskload_epi32(reinterpret_cast<const int*>(src + s2), mask[2]);
    const __m128i pab = _mm_packs_epi32(va, vb), pc = _mm_packs_epi32(vc, zero);
    const __m128i lo = _mm_or_si128(_mm_shuffle_epi8(pab, ab), _mm_shuffle_epi8(pc, c_lo));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + g * group_slots + slot),
                        _mm256_set_m128i(_mm_shuffle_epi8(pc, c_hi), lo));
    if constexpr (Sums) {
      __m128i a = _mm_add_epi32(_mm_add_epi32(_mm_abs_epi32(va), _mm_abs_epi32(vb)), _mm_abs_epi32(vc));
      a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4E));
      sums[g] = _mm_cvtsi128_si32(_mm_add_epi32(a, _mm_shuffle_epi32(a, 0xB1)));
    }
  }
}

// The row's real taps (offset >= 0), sixteen offsets at a time: the dense
// form needs only their count, not list_taps' list.
__attribute__((target("avx2"))) int64_t count_real(const RowGather& r) {
  const __m256i none = _mm256_set1_epi32(-1);
  int64_t real = 0;
  for (int64_t i = 0; i < r.per_group * kChunkMax; i += 8) {
    const __m256i o = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.off + i));
    real += __builtin_popcount(unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(o, none)))));
  }
  return real;
}

// Each group's slots cleared sixteen at a time, its real taps written one
// by one, then each chunk's sum |y| from its sixteen slots (pabsw, pmaddwd:
// every |element| < 2^15; the slots past its length masked off).
template <bool Sums>
__attribute__((target("avx2"))) void sparse_t(const RowGather& r, int16_t* out, int32_t* sums) {
  const __m256i zero = _mm256_setzero_si256(), ones = _mm256_set1_epi16(1);
  const int64_t n = r.per_group > 0 ? r.real_end[r.per_group - 1] : 0;
  for (int64_t g = 0; g < r.groups; ++g) {
    const int32_t* src = r.sq + r.base + g * r.step;
    int16_t* o = out + g * r.group_slots;
    for (int64_t i = 0; i < r.group_slots; i += kChunkMax) _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i), zero);
    for (int64_t t = 0; t < n; ++t) {
      const int16_t v = int16_t(src[r.real_off[t]]);
      std::memcpy(o + r.real_slot[t], &v, sizeof v);  // out is read as int32 pairs
    }
    if constexpr (Sums)
      for (int64_t c = 0; c < r.per_group; ++c) {
        const __m256i o0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.off + c * kChunkMax));
        const __m256i o1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.off + c * kChunkMax + 8));
        const __m256i in = _mm256_permute4x64_epi64(_mm256_packs_epi32(_mm256_cmpgt_epi32(o0, _mm256_set1_epi32(-1)),
                                                                       _mm256_cmpgt_epi32(o1, _mm256_set1_epi32(-1))), 0xD8);
        const __m256i v = _mm256_and_si256(in, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(o + r.slot[c])));
        sums[g * r.per_group + c] = hsum8(_mm256_madd_epi16(_mm256_abs_epi16(v), ones));
      }
  }
}

__attribute__((target("avx2"))) void row_gather_avx2_impl(const RowGather& r, int16_t* out, int32_t* sums) {
  int32_t start[3];
  if (window3x3(r, start)) {
    if (sums)
      window_t<true>(r, start, out, sums);
    else
      window_t<false>(r, start, out, sums);
  } else if (2 * count_real(r) > r.per_group * kChunkMax) {
    if (sums)
      dense_t<true>(r, out, sums);
    else
      dense_t<false>(r, out, sums);
  } else {
    list_taps(r);
    if (sums)
      sparse_t<true>(r, out, sums);
    else
      sparse_t<false>(r, out, sums);
  }
}

}  // namespace

RowGatherFn row_gather_avx2() { return __builtin_cpu_supports("avx2") ? row_gather_avx2_impl : nullptr; }
#else
RowGatherFn row_gather_avx2() { return nullptr; }
#endif

RowGatherFn row_gather() {
  static const RowGatherFn picked = row_gather_avx2() ? row_gather_avx2() : portable::row_gather;
  return picked;
}

}  // namespace mls::golden_detail::kernels
