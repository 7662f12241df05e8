#include "ref/golden/kernels/tile_kernels.h"

#include <algorithm>
#include <cstdlib>

#include "ref/golden/golden_conv.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mls::golden_detail::kernels {

namespace {

// Whether the slot's chunk keeps sum |x| |y| <= hi in every lane: max |x|
// times sum |y| bounds it (no |x| |y| sums needed, no replay).
inline bool bounded(const TileOperands& op, const LaneSlot& sl) {
  return op.xmax && int64_t(op.xmax[sl.j]) * op.ysum[sl.j] <= op.hi;
}

}  // namespace

namespace portable {

namespace {

// Of the lanes in `bits`, those some partial sum of which (in ascending k)
// really leaves [-hi - 1, hi]: the others' sums are exact, no addition overflows.
uint16_t prefix_leaves(const TileOperands& op, const LaneSlot& sl, uint16_t bits) {
  const int64_t hi = op.hi, lo = -hi - 1;
  uint16_t out = 0;
  for (int c = 0; c < kLanes; ++c) {
    if (!(bits >> c & 1)) continue;
    int64_t run = 0;
    bool left = false;
    for (int64_t q = 0; q < sl.npairs; ++q) {
      const int32_t yq = op.y[sl.q0 + q];
      const int16_t y_lo = int16_t(uint16_t(uint32_t(yq))), y_hi = int16_t(uint16_t(uint32_t(yq) >> 16));
      const int16_t* xq = op.x + ((sl.q0 + q) * kLanes + c) * 2;
      run += int64_t(xq[0]) * y_lo;
      left = left || run < lo || run > hi;
      run += int64_t(xq[1]) * y_hi;
      left = left || run < lo || run > hi;
    }
    if (left) out = uint16_t(out | (1u << c));
  }
  return out;
}

// sum |x| |y| of each lane over the slot's chunk.
void abs_sums(const TileOperands& op, const LaneSlot& sl, int32_t* abs_sum) {
  for (int c = 0; c < kLanes; ++c) {
    int32_t a = 0;
    for (int64_t q = 0; q < sl.npairs; ++q) {
      const int32_t yq = op.y[sl.q0 + q];
      const int16_t* xq = op.x + ((sl.q0 + q) * kLanes + c) * 2;
      a += std::abs(int32_t(xq[0])) * std::abs(int32_t(int16_t(uint16_t(uint32_t(yq))))) +
           std::abs(int32_t(xq[1])) * std::abs(int32_t(int16_t(uint16_t(uint32_t(yq) >> 16))));
    }
    abs_sum[c] = a;
  }
}

}  // namespace

// The definition, lane by lane: the chunk's sums by the portable chunk_sums,
// the scaling in double, the bounds in int64.
bool tile_values(const TileOperands& op, const LaneSlot* slots, int n, float* val, uint16_t* replay) {
  const bool check = op.check;
  bool any = false;
  int32_t sum[kLanes], abs_sum[kLanes];
  for (int s = 0; s < n; ++s) {
    const LaneSlot& sl = slots[s];
    chunk_sums(op.x + sl.q0 * kLanes * 2, nullptr, op.y + sl.q0, nullptr, sl.npairs, op.hi, sum, nullptr);
    const double* fx = op.fx + int64_t(sl.g) * kLanes;
    const double fy = op.fy[sl.g];
    for (int c = 0; c < kLanes; ++c) val[s * kLanes + c] = static_cast<float>(double(sum[c]) * fx[c] * fy);
    if (!check) continue;
    replay[s] = 0;
    if (bounded(op, sl)) continue;
    abs_sums(op, sl, abs_sum);
    uint16_t bits = 0;
    for (int c = 0; c < kLanes; ++c) {
      const int64_t pos = (int64_t(abs_sum[c]) + sum[c]) / 2, neg = (int64_t(abs_sum[c]) - sum[c]) / 2;
      if (pos > op.hi || neg > int64_t(op.hi) + 1) bits = uint16_t(bits | (1u << c));
    }
    if (bits) bits = prefix_leaves(op, sl, bits);
    replay[s] = bits;
    any = any || bits != 0;
  }
  if (op.narrow) {  // lanes 8 .. 15: 0, no replay
    any = false;
    for (int s = 0; s < n; ++s) {
      std::fill(val + s * kLanes + 8, val + (s + 1) * kLanes, 0.0f);
      if (check) replay[s] = uint16_t(replay[s] & 0xFF), any = any || replay[s] != 0;
    }
  }
  return any;
}

// tree_full across the lanes, then tot += root.
void tree_add(float* v, int n, float* tot) {
  for (; n > 1; n = (n + 1) / 2) {
    for (int i = 0; i < n / 2; ++i)
      for (int c = 0; c < kLanes; ++c) v[i * kLanes + c] = v[2 * i * kLanes + c] + v[(2 * i + 1) * kLanes + c];
    if (n % 2) std::copy(v + (n - 1) * kLanes, v + n * kLanes, v + (n / 2) * kLanes);
  }
  for (int c = 0; c < kLanes; ++c) tot[c] = tot[c] + v[c];
}

// Lane by lane through accumulate().
uint64_t replay(const TileOperands& op, const LaneSlot& sl, uint16_t bits, int acc_bits, bool wrap, int32_t* sums) {
  uint64_t overflows = 0;
  for (int c = 0; c < kLanes; ++c) {
    if (!(bits >> c & 1)) continue;
    int64_t sum = 0;
    for (int64_t q = 0; q < sl.npairs; ++q) {
      const uint32_t yq = uint32_t(op.y[sl.q0 + q]);
      const int16_t* xq = op.x + ((sl.q0 + q) * kLanes + c) * 2;
      for (int e = 0; e < 2; ++e)
        sum = accumulate(sum, int64_t(xq[e]) * int16_t(uint16_t(yq >> (16 * e))), acc_bits,
                         wrap ? Overflow::wrap : Overflow::saturate, overflows);
    }
    sums[c] = int32_t(sum);
  }
  return overflows;
}

}  // namespace portable

#if defined(__x86_64__)
namespace {

// Eight lanes' int32 sums to float: exact double products, one RNE rounding.
__attribute__((target("avx2"))) inline void scale8(__m256i sum, const double* fx, __m256d fy, float* out) {
  const __m256d lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(sum));
  const __m256d hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(sum, 1));
  const __m128 flo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(lo, _mm256_loadu_pd(fx)), fy));
  const __m128 fhi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(hi, _mm256_loadu_pd(fx + 4)), fy));
  _mm_storeu_ps(out, flo);
  _mm_storeu_ps(out + 4, fhi);
}

// Of the lanes in `bits`, those some partial sum of which (in ascending k)
// really leaves [-hi - 1, hi]: k even and odd apart by masking Y's pair, so
// each pmaddwd is one product per lane; |partial sum| <= sum |x||y| < 2^31.
// N > 0: exactly N pairs, unrolled; N = 0: npairs.
template <int N = 0>
__attribute__((target("avx2"))) int prefix_leaves8x2(const __m256i* xv, const int32_t* y, int32_t npairs, int32_t hi,
                                                    int bits) {
  const __m256i h = _mm256_set1_epi32(hi), l = _mm256_set1_epi32(-hi - 1), even = _mm256_set1_epi32(0xFFFF);
  __m256i r0 = _mm256_setzero_si256(), r1 = r0, over0 = r0, over1 = r0;
  const int32_t n = N > 0 ? N : npairs;
#pragma GCC unroll 8
  for (int32_t q = 0; q < n; ++q) {
    const __m256i yq = _mm256_set1_epi32(y[q]);
    const __m256i ye = _mm256_and_si256(yq, even), yo = _mm256_andnot_si256(even, yq);
    const __m256i x0 = _mm256_loadu_si256(xv + 2 * q), x1 = _mm256_loadu_si256(xv + 2 * q + 1);
    r0 = _mm256_add_epi32(r0, _mm256_madd_epi16(x0, ye));
    r1 = _mm256_add_epi32(r1, _mm256_madd_epi16(x1, ye));
    over0 = _mm256_or_si256(over0, _mm256_or_si256(_mm256_cmpgt_epi32(r0, h), _mm256_cmpgt_epi32(l, r0)));
    over1 = _mm256_or_si256(over1, _mm256_or_si256(_mm256_cmpgt_epi32(r1, h), _mm256_cmpgt_epi32(l, r1)));
    r0 = _mm256_add_epi32(r0, _mm256_madd_epi16(x0, yo));
    r1 = _mm256_add_epi32(r1, _mm256_madd_epi16(x1, yo));
    over0 = _mm256_or_si256(over0, _mm256_or_si256(_mm256_cmpgt_epi32(r0, h), _mm256_cmpgt_epi32(l, r0)));
    over1 = _mm256_or_si256(over1, _mm256_or_si256(_mm256_cmpgt_epi32(r1, h), _mm256_cmpgt_epi32(l, r1)));
  }
  const int left = _mm256_movemask_ps(_mm256_castsi256_ps(over0)) | (_mm256_movemask_ps(_mm256_castsi256_ps(over1)) << 8);
  return bits & left;
}

// prefix_leaves8x2 with the pair count of chunks up to 16 elements unrolled.
__attribute__((target("avx2"))) int prefix_leaves(const __m256i* xv, const int32_t* y, int32_t npairs, int32_t hi,
                                                 int bits) {
  switch (npairs) {
    case 1: return prefix_leaves8x2<1>(xv, y, 1, hi, bits);
    case 2: return prefix_leaves8x2<2>(xv, y, 2, hi, bits);
    case 3: return prefix_leaves8x2<3>(xv, y, 3, hi, bits);
    case 4: return prefix_leaves8x2<4>(xv, y, 4, hi, bits);
    case 5: return prefix_leaves8x2<5>(xv, y, 5, hi, bits);
    case 6: return prefix_leaves8x2<6>(xv, y, 6, hi, bits);
    case 7: return prefix_leaves8x2<7>(xv, y, 7, hi, bits);
    case 8: return prefix_leaves8x2<8>(xv, y, 8, hi, bits);
    default: return prefix_leaves8x2(xv, y, npairs, hi, bits);
  }
}

// The lanes of eight whose positive half (abs + sum) / 2 passes hi or whose
// negative half (abs - sum) / 2 passes hi + 1: both halves are below 2^31,
// so the wrapped 32-bit sum and difference shifted right are exact.
__attribute__((target("avx2"))) inline int over8(__m256i sum, __m256i abs_sum, __m256i hi, __m256i hi1) {
  const __m256i pos = _mm256_srli_epi32(_mm256_add_epi32(abs_sum, sum), 1);
  const __m256i neg = _mm256_srli_epi32(_mm256_sub_epi32(abs_sum, sum), 1);
  const __m256i over = _mm256_or_si256(_mm256_cmpgt_epi32(pos, hi), _mm256_cmpgt_epi32(neg, hi1));
  return _mm256_movemask_ps(_mm256_castsi256_ps(over));
}

// One slot's sums over its pairs, two vectors of eight lanes; with Abs also
// sum |x| |y| (both by pabsw: |x|, |y| <= 2^15 - 1).
// Narrow: lanes 0 .. 7 only (out[1], out[3] stay zero). N > 0: exactly N
// pairs, the loop unrolled (chunks of up to 16 elements); N = 0: npairs.
template <bool Abs, bool Narrow, int N = 0>
__attribute__((target("avx2"))) inline void slot_sums8x2(const __m256i* xv, const int32_t* y, int32_t npairs,
                                                        __m256i* out) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, a0 = s0, a1 = s0;
  const int32_t n = N > 0 ? N : npairs;
#pragma GCC unroll 8
  for (int32_t q = 0; q < n; ++q) {
    const __m256i yq = _mm256_set1_epi32(y[q]);
    const __m256i x0 = _mm256_loadu_si256(xv + 2 * q);
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(x0, yq));
    if constexpr (!Narrow) s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_loadu_si256(xv + 2 * q + 1), yq));
    if constexpr (Abs) {
      const __m256i aq = _mm256_abs_epi16(yq);
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_abs_epi16(x0), aq));
      if constexpr (!Narrow)
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_abs_epi16(_mm256_loadu_si256(xv + 2 * q + 1)), aq));
    }
  }
  out[0] = s0, out[1] = s1, out[2] = a0, out[3] = a1;
}

// slot_sums8x2 with the pair count of chunks up to 16 elements unrolled.
template <bool Abs, bool Narrow>
__attribute__((target("avx2"))) inline void slot_sums(const __m256i* xv, const int32_t* y, int32_t npairs,
                                                     __m256i* out) {
  switch (npairs) {
    case 1: return slot_sums8x2<Abs, Narrow, 1>(xv, y, 1, out);
    case 2: return slot_sums8x2<Abs, Narrow, 2>(xv, y, 2, out);
    case 3: return slot_sums8x2<Abs, Narrow, 3>(xv, y, 3, out);
    case 4: return slot_sums8x2<Abs, Narrow, 4>(xv, y, 4, out);
    case 5: return slot_sums8x2<Abs, Narrow, 5>(xv, y, 5, out);
    case 6: return slot_sums8x2<Abs, Narrow, 6>(xv, y, 6, out);
    case 7: return slot_sums8x2<Abs, Narrow, 7>(xv, y, 7, out);
    case 8: return slot_sums8x2<Abs, Narrow, 8>(xv, y, 8, out);
    default: return slot_sums8x2<Abs, Narrow>(xv, y, npairs, out);
  }
}

// The operands' fields in locals: the stores to val (may_alias vectors)
// would otherwise reload them every slot.
template <bool Check, bool Narrow>
__attribute__((target("avx2"))) bool tile_values_avx2_t(const TileOperands& op, const LaneSlot* slots, int n,
                                                        float* val, uint16_t* replay) {
  const __m256i hi = _mm256_set1_epi32(op.hi), hi1 = _mm256_set1_epi32(op.hi + 1);
  const int16_t* const x = op.x;
  const int32_t* const y0 = op.y;
  const int32_t *const xmax = op.xmax, *const ysum = op.ysum;
  const double *const fx0 = op.fx, *const fy0 = op.fy;
  const int64_t bound = op.hi;
  int any = 0;
  for (int s = 0; s < n; ++s) {
    const LaneSlot& sl = slots[s];
    const __m256i* xv = reinterpret_cast<const __m256i*>(x + sl.q0 * kLanes * 2);
    const int32_t* y = y0 + sl.q0;
    const bool abs = Check && !(xmax && int64_t(xmax[sl.j]) * ysum[sl.j] <= bound);  // bounded()
    __m256i v[4];
    if (abs)
      slot_sums<true, Narrow>(xv, y, sl.npairs, v);
    else
      slot_sums<false, Narrow>(xv, y, sl.npairs, v);
    const double* fx = fx0 + int64_t(sl.g) * kLanes;
    const __m256d fy = _mm256_set1_pd(fy0[sl.g]);
    scale8(v[0], fx, fy, val + s * kLanes);
    if constexpr (Narrow)
      _mm256_storeu_ps(val + s * kLanes + 8, _mm256_setzero_ps());
    else
      scale8(v[1], fx + 8, fy, val + s * kLanes + 8);
    if constexpr (Check) {
      int bits = abs ? over8(v[0], v[2], hi, hi1) | (Narrow ? 0 : over8(v[1], v[3], hi, hi1) << 8) : 0;
      if (bits) bits = prefix_leaves(xv, y, sl.npairs, int32_t(bound), bits);
      replay[s] = uint16_t(bits);
      any |= bits;
    }
  }
  return any != 0;
}

__attribute__((target("avx2"))) bool tile_values_avx2_impl(const TileOperands& op, const LaneSlot* slots, int n, float* val,
                                                      uint16_t* replay) {
  if (op.narrow)
    return op.check ? tile_values_avx2_t<true, true>(op, slots, n, val, replay)
                    : tile_values_avx2_t<false, true>(op, slots, n, val, replay);
  return op.check ? tile_values_avx2_t<true, false>(op, slots, n, val, replay)
               : tile_values_avx2_t<false, false>(op, slots, n, val, replay);
}

// N rows (a power of two) in registers: each level pairs rows 2i and 2i + 1
// in order, as tree_full's loop does; the root added to tot.
template <int N>
__attribute__((target("avx2"))) inline void tree_add_pow2(const float* v, float* tot) {
  __m256 r[N / 2][2];
  for (int i = 0; i < N / 2; ++i)
    for (int h = 0; h < 2; ++h)
      r[i][h] = _mm256_add_ps(_mm256_loadu_ps(v + 2 * i * kLanes + 8 * h), _mm256_loadu_ps(v + (2 * i + 1) * kLanes + 8 * h));
  for (int n = N / 2; n > 1; n /= 2)
    for (int i = 0; i < n / 2; ++i)
      for (int h = 0; h < 2; ++h) r[i][h] = _mm256_add_ps(r[2 * i][h], r[2 * i + 1][h]);
  for (int h = 0; h < 2; ++h) _mm256_storeu_ps(tot + 8 * h, _mm256_add_ps(_mm256_loadu_ps(tot + 8 * h), r[0][h]));
}

// tree_full across the lanes, two vectors of eight per row (IEEE additions:
// the same bits as lane by lane).
__attribute__((target("avx2"))) void tree_add_avx2_impl(float* v, int n, float* tot) {
  if (n == 16) return tree_add_pow2<16>(v, tot);  // the usual tile: rows held in registers
  if (n == 8) return tree_add_pow2<8>(v, tot);
  for (; n > 1; n = (n + 1) / 2) {
    for (int i = 0; i < n / 2; ++i) {
      const float *a = v + 2 * i * kLanes, *b = a + kLanes;
      _mm256_storeu_ps(v + i * kLanes, _mm256_add_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b)));
      _mm256_storeu_ps(v + i * kLanes + 8, _mm256_add_ps(_mm256_loadu_ps(a + 8), _mm256_loadu_ps(b + 8)));
    }
    if (n % 2) std::copy(v + (n - 1) * kLanes, v + n * kLanes, v + (n / 2) * kLanes);
  }
  _mm256_storeu_ps(tot, _mm256_add_ps(_mm256_loadu_ps(tot), _mm256_loadu_ps(v)));
  _mm256_storeu_ps(tot + 8, _mm256_add_ps(_mm256_loadu_ps(tot + 8), _mm256_loadu_ps(v + 8)));
}

// One addition of the walk for eight lanes: s = acc + product, in range
// [lo, hi] kept, else saturated or wrapped ((s - lo) mod 2^bits + lo; with
// bits <= 30 every such value fits int32); returns the lanes that left it.
template <bool Wrap>
__attribute__((target("avx2"))) inline int step8(__m256i& acc, __m256i product, __m256i lo, __m256i hi, __m256i mod) {
  const __m256i s = _mm256_add_epi32(acc, product);
  const __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(s, hi), _mm256_cmpgt_epi32(lo, s));
  if constexpr (Wrap)
    acc = _mm256_add_epi32(_mm256_and_si256(_mm256_sub_epi32(s, lo), mod), lo);
  else
    acc = _mm256_min_epi32(_mm256_max_epi32(s, lo), hi);
  return _mm256_movemask_ps(_mm256_castsi256_ps(out));
}

// Both halves of eight lanes, k even and odd apart by masking Y's pair (one
// product per pmaddwd lane), as prefix_leaves8x2.
// N > 0: exactly N pairs, unrolled; N = 0: sl.npairs.
template <bool Wrap, int N = 0>
__attribute__((target("avx2"))) uint64_t replay_t(const TileOperands& op, const LaneSlot& sl, uint16_t bits,
                                                 int acc_bits, int32_t* sums) {
  const int32_t hi_v = int32_t((int64_t{1} << (acc_bits - 1)) - 1);
  const __m256i hi = _mm256_set1_epi32(hi_v), lo = _mm256_set1_epi32(-hi_v - 1);
  const __m256i mod = _mm256_set1_epi32(int32_t((int64_t{1} << acc_bits) - 1)), even = _mm256_set1_epi32(0xFFFF);
  const __m256i* xv = reinterpret_cast<const __m256i*>(op.x + sl.q0 * kLanes * 2);
  const int32_t* y = op.y + sl.q0;
  uint64_t overflows = 0;
  for (int h = 0; h < 2; ++h) {
    const int mask = (bits >> (8 * h)) & 0xFF;
    if (!mask) continue;
    __m256i acc = _mm256_setzero_si256();
    const int32_t n = N > 0 ? N : sl.npairs;
#pragma GCC unroll 8
    for (int32_t q = 0; q < n; ++q) {
      const __m256i yq = _mm256_set1_epi32(y[q]);
      const __m256i x = _mm256_loadu_si256(xv + 2 * q + h);
      int out = step8<Wrap>(acc, _mm256_madd_epi16(x, _mm256_and_si256(yq, even)), lo, hi, mod) & mask;
      overflows += uint64_t(__builtin_popcount(unsigned(out)));
      out = step8<Wrap>(acc, _mm256_madd_epi16(x, _mm256_andnot_si256(even, yq)), lo, hi, mod) & mask;
      overflows += uint64_t(__builtin_popcount(unsigned(out)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + 8 * h), acc);
  }
  return overflows;
}

// replay_t with the pair count of chunks up to 16 elements unrolled.
template <bool Wrap>
__attribute__((target("avx2"))) uint64_t replay_n(const TileOperands& op, const LaneSlot& sl, uint16_t bits,
                                                 int acc_bits, int32_t* sums) {
  switch (sl.npairs) {
    case 1: return replay_t<Wrap, 1>(op, sl, bits, acc_bits, sums);
    case 2: return replay_t<Wrap, 2>(op, sl, bits, acc_bits, sums);
    case 3: return replay_t<Wrap, 3>(op, sl, bits, acc_bits, sums);
    case 4: return replay_t<Wrap, 4>(op, sl, bits, acc_bits, sums);
    case 5: return replay_t<Wrap, 5>(op, sl, bits, acc_bits, sums);
    case 6: return replay_t<Wrap, 6>(op, sl, bits, acc_bits, sums);
    case 7: return replay_t<Wrap, 7>(op, sl, bits, acc_bits, sums);
    case 8: return replay_t<Wrap, 8>(op, sl, bits, acc_bits, sums);
    default: return replay_t<Wrap>(op, sl, bits, acc_bits, sums);
  }
}

__attribute__((target("avx2"))) uint64_t replay_avx2_impl(const TileOperands& op, const LaneSlot& sl, uint16_t bits,
                                                         int acc_bits, bool wrap, int32_t* sums) {
  return wrap ? replay_n<true>(op, sl, bits, acc_bits, sums) : replay_n<false>(op, sl, bits, acc_bits, sums);
}

}  // namespace

ReplayFn replay_avx2() { return __builtin_cpu_supports("avx2") ? replay_avx2_impl : nullptr; }
TileValuesFn tile_values_avx2() { return __builtin_cpu_supports("avx2") ? tile_values_avx2_impl : nullptr; }
TreeAddFn tree_add_avx2() { return __builtin_cpu_supports("avx2") ? tree_add_avx2_impl : nullptr; }
#else
ReplayFn replay_avx2() { return nullptr; }
TileValuesFn tile_values_avx2() { return nullptr; }
TreeAddFn tree_add_avx2() { return nullptr; }
#endif

TileValuesFn tile_values() {
  static const TileValuesFn picked = tile_values_avx2() ? tile_values_avx2() : portable::tile_values;
  return picked;
}

TreeAddFn tree_add() {
  static const TreeAddFn picked = tree_add_avx2() ? tree_add_avx2() : portable::tree_add;
  return picked;
}

ReplayFn replay() {
  static const ReplayFn picked = replay_avx2() ? replay_avx2() : portable::replay;
  return picked;
}

}  // namespace mls::golden_detail::kernels
