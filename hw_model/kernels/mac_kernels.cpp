// The local accumulators' fused multiply-accumulate over a chunk tile
// (array_kernels.h).
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <type_traits>

#include "hw_model/datapath/datapath.h"

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

template <class Lane>
inline uint64_t magnitude(Lane v) {
  using U = std::make_unsigned_t<Lane>;
  return uint64_t(U(v ^ (v >> (8 * sizeof(Lane) - 1))));
}

// One row of a tile: step by step, every column's raw sum, and the largest
// and smallest partial sum (with 0). The column loop is the inner one so
// that it vectorises; the step loop walks the X plane by its stride.
template <class Lane>
__attribute__((always_inline)) inline uint64_t mac_tile_row(Lane* acc, const int32_t* x, int64_t stride,
                                                           const int32_t* y, int32_t steps, int n) {
  using U = std::make_unsigned_t<Lane>;
  Lane hi = 0, lo = 0;
  for (int32_t s = 0; s < steps; ++s, x += stride) {
    const Lane ys = y[s];
    for (int c = 0; c < n; ++c) {
      const Lane raw = Lane(U(acc[c]) + U(Lane(x[c])) * U(ys));
      acc[c] = raw;
      hi = raw > hi ? raw : hi;
      lo = raw < lo ? raw : lo;
    }
  }
  return magnitude(hi) | magnitude(lo);
}

// Every selected row of a tile: one call per tile, not one per row (a
// target_clones function is called through the loader's indirection).
template <class Lane>
__attribute__((always_inline)) inline void mac_tile_body(Lane* acc, int cols, const TileOperands& t,
                                                        const uint8_t* on, uint64_t* mag, int rows, int n) {
  for (int r = 0; r < rows; ++r) {
    mag[r] = 0;
    if (!on[r]) continue;
    mag[r] = mac_tile_row(acc + size_t(r) * size_t(cols), t.x_plane + t.gk0[r] * t.x_stride, t.x_stride,
                          t.y + t.y_at[r], t.len[r], n);
  }
}

__attribute__((target_clones("avx2", "default")))
void mac_wide_cloned(int64_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows,
                     int n) {
  mac_tile_body(acc, cols, t, on, mag, rows, n);
}

__attribute__((target_clones("avx2", "default")))
void mac_narrow_cloned(int32_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows,
                       int n) {
  mac_tile_body(acc, cols, t, on, mag, rows, n);
}

#if defined(__x86_64__)
// magnitude(largest lane of hi) | magnitude(smallest lane of lo) for hi >= 0
// and lo <= 0 lane by lane (seeded with 0): magnitude(v) = v ^ (v >> 31)
// grows with |v| on either side of 0, so these are the largest lane of hi
// and of lo's lanes' magnitudes, both reduced in one vector (hi's lanes in
// its low half, lo's magnitudes in its high).
__attribute__((target("avx2"))) inline uint64_t row_magnitude(__m256i hi, __m256i lo) {
  const __m256i lo_mag = _mm256_xor_si256(lo, _mm256_srai_epi32(lo, 31));
  __m256i m = _mm256_max_epi32(_mm256_permute2x128_si256(hi, lo_mag, 0x20), _mm256_permute2x128_si256(hi, lo_mag, 0x31));
  m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, 0x4e));
  m = _mm256_max_epi32(m, _mm256_shuffle_epi32(m, 0xb1));
  return uint64_t(uint32_t(_mm256_cvtsi256_si32(m)) | uint32_t(_mm256_extract_epi32(m, 4)));
}

// The columns c .. c + 7 that exist (n - c of them when fewer): a mask for
// vpmaskmovd, whose masked lanes read as 0 and are never written, so a
// partial vector's accumulators and hence its largest and smallest partial
// sums hold 0 in the lanes past n (0 is in hi and lo from the start).
__attribute__((target("avx2"))) inline __m256i tail_mask(int left) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
}

__attribute__((target("avx2"), always_inline)) inline __m256i load8(const int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// The 8 columns at p, or those `mask` selects (the others read as 0).
template <bool kMasked>
__attribute__((target("avx2"), always_inline)) inline __m256i load8(const int32_t* p, __m256i mask) {
  return kMasked ? _mm256_maskload_epi32(p, mask) : load8(p);
}

// One vector's step: a += x * y, then the step's largest and smallest
// lanes into hi and lo.
__attribute__((target("avx2"), always_inline)) inline void mac_step(__m256i& a, __m256i x, __m256i y, __m256i& hi,
                                                                  __m256i& lo) {
  a = _mm256_add_epi32(a, _mm256_mullo_epi32(x, y));
  hi = _mm256_max_epi32(hi, a), lo = _mm256_min_epi32(lo, a);
}

// Two vectors of a row's registers over all the tile's steps, two steps
// per iteration (the steps' Y broadcast once for both vectors; the four
// sums of an iteration reduced to one max and one min before they meet hi
// and lo), an odd last step alone.
__attribute__((target("avx2"), always_inline)) inline void mac_block16(int32_t* acc, const int32_t* xs,
                                                                     int64_t stride, const int32_t* y,
                                                                     int32_t steps, __m256i& hi, __m256i& lo) {
  __m256i a0 = load8(acc), a1 = load8(acc + 8);
  int32_t s = 0;
  for (; s + 2 <= steps; s += 2, xs += 2 * stride) {
    const __m256i y0 = _mm256_set1_epi32(y[s]), y1 = _mm256_set1_epi32(y[s + 1]);
    const __m256i b0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(load8(xs), y0));
    const __m256i b1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(load8(xs + 8), y0));
    a0 = _mm256_add_epi32(b0, _mm256_mullo_epi32(load8(xs + stride), y1));
    a1 = _mm256_add_epi32(b1, _mm256_mullo_epi32(load8(xs + stride + 8), y1));
    hi = _mm256_max_epi32(hi, _mm256_max_epi32(_mm256_max_epi32(b0, b1), _mm256_max_epi32(a0, a1)));
    lo = _mm256_min_epi32(lo, _mm256_min_epi32(_mm256_min_epi32(b0, b1), _mm256_min_epi32(a0, a1)));
  }
  if (s < steps) {
    const __m256i ys = _mm256_set1_epi32(y[s]);
    mac_step(a0, load8(xs), ys, hi, lo), mac_step(a1, load8(xs + 8), ys, hi, lo);
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc), a0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + 8), a1);
}

// One vector of a row's registers over all the tile's steps, two steps per
// iteration; `mask` the columns that exist (vpmaskmovd: masked lanes read
// as 0 and are never written, so a partial vector's registers and hence its
// largest and smallest partial sums hold 0 past n; 0 is in hi and lo from
// the start), or plain loads and stores for a whole vector.
template <bool kMasked>
__attribute__((target("avx2"), always_inline)) inline void mac_block8(int32_t* acc, const int32_t* xs,
                                                                    int64_t stride, const int32_t* y,
                                                                    int32_t steps, __m256i mask, __m256i& hi,
                                                                    __m256i& lo) {
  __m256i a = load8<kMasked>(acc, mask);
  int32_t s = 0;
  for (; s + 2 <= steps; s += 2, xs += 2 * stride) {
    const __m256i b = _mm256_add_epi32(a, _mm256_mullo_epi32(load8<kMasked>(xs, mask), _mm256_set1_epi32(y[s])));
    a = _mm256_add_epi32(b, _mm256_mullo_epi32(load8<kMasked>(xs + stride, mask), _mm256_set1_epi32(y[s + 1])));
    hi = _mm256_max_epi32(hi, _mm256_max_epi32(a, b)), lo = _mm256_min_epi32(lo, _mm256_min_epi32(a, b));
  }
  if (s < steps) mac_step(a, load8<kMasked>(xs, mask), _mm256_set1_epi32(y[s]), hi, lo);
  if (kMasked)
    _mm256_maskstore_epi32(acc, mask, a);
  else
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc), a);
}

// One row of a tile in AVX2: blocks of 16 columns (two vectors of
// registers), then of 8, then a masked last vector when the row's columns
// are not whole vectors (a 3-column pass: one masked vector), each block's
// registers in vector registers over all the tile's steps. The same
// operations as mac_tile_row, lane by lane (vpmulld's low 32 bits are the
// product: narrow products are below 2^30); hi and lo see every partial sum.
__attribute__((target("avx2"), always_inline)) inline uint64_t mac_row_avx2(int32_t* acc, const int32_t* x, int64_t stride,
                                                      const int32_t* y, int32_t steps, int n) {
  __m256i hi = _mm256_setzero_si256(), lo = hi;
  int c = 0;
  for (; c + 16 <= n; c += 16) mac_block16(acc + c, x + c, stride, y, steps, hi, lo);
  if (c + 8 <= n) mac_block8<false>(acc + c, x + c, stride, y, steps, __m256i{}, hi, lo), c += 8;
  if (c < n) mac_block8<true>(acc + c, x + c, stride, y, steps, tail_mask(n - c), hi, lo);
  return row_magnitude(hi, lo);
}

// A row of at most 4 columns as the half of a vector (mac_pair_avx2): its
// registers, X values from its first step's, Y values, and steps.
struct HalfRow {
  int32_t* acc;
  const int32_t* x;
  const int32_t* y;
  int32_t steps;
};

// magnitude(largest lane of hi) | magnitude(smallest lane of lo).
__attribute__((target("avx2"))) inline uint64_t half_magnitude(__m128i hi, __m128i lo) {
  hi = _mm_max_epi32(hi, _mm_shuffle_epi32(hi, 0x4e)), lo = _mm_min_epi32(lo, _mm_shuffle_epi32(lo, 0x4e));
  hi = _mm_max_epi32(hi, _mm_shuffle_epi32(hi, 0xb1)), lo = _mm_min_epi32(lo, _mm_shuffle_epi32(lo, 0xb1));
  return magnitude(_mm_cvtsi128_si32(hi)) | magnitude(_mm_cvtsi128_si32(lo));
}

// The steps of one half row from `from` on, alone in 4 lanes.
__attribute__((target("avx2"))) inline void mac_half_avx2(const HalfRow& h, int32_t from, int64_t stride,
                                                          __m128i mask, __m128i& a, __m128i& hi, __m128i& lo) {
  const int32_t* xs = h.x + from * stride;
  for (int32_t s = from; s < h.steps; ++s, xs += stride) {
    a = _mm_add_epi32(a, _mm_mullo_epi32(_mm_maskload_epi32(xs, mask), _mm_set1_epi32(h.y[s])));
    hi = _mm_max_epi32(hi, a), lo = _mm_min_epi32(lo, a);
  }
}

// Two rows' X values at a step, one row per 128-bit half (lanes past n
// read 0), and their Y values, each broadcast over its half.
__attribute__((target("avx2"), always_inline)) inline __m256i pair_x(const int32_t* x0, const int32_t* x1,
                                                                   __m128i mask) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_maskload_epi32(x0, mask)), _mm_maskload_epi32(x1, mask),
                                 1);
}
__attribute__((target("avx2"), always_inline)) inline __m256i pair_y(const int32_t* y0, const int32_t* y1) {
  return _mm256_blend_epi32(_mm256_set1_epi32(*y0), _mm256_set1_epi32(*y1), 0xf0);
}

// Two rows of at most 4 columns in one vector, one per 128-bit half (a
// few-column pass: half the steps of a row each): their common steps
// together, then the longer one's last steps alone. Each lane is its own
// column's sums in the same order as mac_row_avx2's, the masked lanes read
// 0, and each row's largest and smallest partial sums are its half's.
__attribute__((target("avx2"))) void mac_pair_avx2(const HalfRow& r0, const HalfRow& r1, int64_t stride, int n,
                                                   uint64_t& mag0, uint64_t& mag1) {
  const __m128i mask = _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3));
  __m256i a = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_maskload_epi32(r0.acc, mask)),
                                      _mm_maskload_epi32(r1.acc, mask), 1);
  __m256i hi = _mm256_setzero_si256(), lo = hi;
  const int32_t common = std::min(r0.steps, r1.steps);
  const int32_t *x0 = r0.x, *x1 = r1.x;
  int32_t s = 0;
  for (; s + 2 <= common; s += 2, x0 += 2 * stride, x1 += 2 * stride) {  // two steps per iteration
    const __m256i b = _mm256_add_epi32(a, _mm256_mullo_epi32(pair_x(x0, x1, mask), pair_y(r0.y + s, r1.y + s)));
    a = _mm256_add_epi32(
        b, _mm256_mullo_epi32(pair_x(x0 + stride, x1 + stride, mask), pair_y(r0.y + s + 1, r1.y + s + 1)));
    hi = _mm256_max_epi32(hi, _mm256_max_epi32(a, b)), lo = _mm256_min_epi32(lo, _mm256_min_epi32(a, b));
  }
  if (s < common) {
    a = _mm256_add_epi32(a, _mm256_mullo_epi32(pair_x(x0, x1, mask), pair_y(r0.y + s, r1.y + s)));
    hi = _mm256_max_epi32(hi, a), lo = _mm256_min_epi32(lo, a);
  }
  __m128i a0 = _mm256_castsi256_si128(a), hi0 = _mm256_castsi256_si128(hi), lo0 = _mm256_castsi256_si128(lo);
  __m128i a1 = _mm256_extracti128_si256(a, 1), hi1 = _mm256_extracti128_si256(hi, 1);
  __m128i lo1 = _mm256_extracti128_si256(lo, 1);
  mac_half_avx2(r0, common, stride, mask, a0, hi0, lo0);
  mac_half_avx2(r1, common, stride, mask, a1, hi1, lo1);
  _mm_maskstore_epi32(r0.acc, mask, a0), _mm_maskstore_epi32(r1.acc, mask, a1);
  mag0 = half_magnitude(hi0, lo0), mag1 = half_magnitude(hi1, lo1);
}

// Rows of at most 4 columns: rows on in pairs, in order (a pair of unequal
// lengths runs the longer one's last steps alone; pairing by length cost
// more in the choice than it saved on ResNet-18's conv1), an odd last one
// alone.
__attribute__((target("avx2"))) void mac_pairs_avx2(int32_t* acc, int cols, const TileOperands& t,
                                                    const uint8_t* on, uint64_t* mag, int rows, int n) {
  const auto row = [&](int r) {
    return HalfRow{acc + size_t(r) * size_t(cols), t.x_plane + t.gk0[r] * t.x_stride, t.y + t.y_at[r], t.len[r]};
  };
  int waiting = -1;
  for (int r = 0; r < rows; ++r) {
    mag[r] = 0;
    if (!on[r]) continue;
    if (waiting < 0) {
      waiting = r;
      continue;
    }
    mac_pair_avx2(row(waiting), row(r), t.x_stride, n, mag[waiting], mag[r]);
    waiting = -1;
  }
  if (waiting >= 0) {
    const HalfRow h = row(waiting);
    mag[waiting] = mac_row_avx2(h.acc, h.x, t.x_stride, h.y, h.steps, n);
  }
}

__attribute__((target("avx2"))) void mac_narrow_avx2(int32_t* acc, int cols, const TileOperands& t,
                                                     const uint8_t* on, uint64_t* mag, int rows, int n) {
  if (n <= 4) return mac_pairs_avx2(acc, cols, t, on, mag, rows, n);
  for (int r = 0; r < rows; ++r) {
    mag[r] = 0;
    if (!on[r]) continue;
    mag[r] = mac_row_avx2(acc + size_t(r) * size_t(cols), t.x_plane + t.gk0[r] * t.x_stride, t.x_stride,
                          t.y + t.y_at[r], t.len[r], n);
  }
}

const bool kAvx2 = __builtin_cpu_supports("avx2");
#endif

}  // namespace

void mac_tile(int32_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n) {
#if defined(__x86_64__)
  if (kAvx2) return mac_narrow_avx2(acc, cols, t, on, mag, rows, n);
#endif
  mac_narrow_cloned(acc, cols, t, on, mag, rows, n);
}

void mac_tile(int64_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n) {
  mac_wide_cloned(acc, cols, t, on, mag, rows, n);
}

namespace {

template <class Lane>
__attribute__((always_inline)) inline void hand_over_run(int64_t* __restrict sum, Lane* __restrict regs, size_t n) {
  for (size_t i = 0; i < n; ++i) sum[i] = regs[i];
  for (size_t i = 0; i < n; ++i) regs[i] = 0;
}

// The whole file as one run when every column is handed over (a full
// pass); 4 columns (a few-column pass: vector_width's least) row by row with
// a fixed count, so each row is a vector or two and no loop set-up; others
// row by row.
template <class Lane>
__attribute__((always_inline)) inline void hand_over_body(int64_t* sum, Lane* regs, int rows, int cols, int n) {
  if (n == cols) return hand_over_run(sum, regs, size_t(rows) * size_t(cols));
  for (size_t at = 0; at < size_t(rows) * size_t(cols); at += size_t(cols))
    if (n == 4)
      hand_over_run(sum + at, regs + at, 4);
    else
      hand_over_run(sum + at, regs + at, size_t(n));
}

}  // namespace

__attribute__((target_clones("avx2", "default"))) void hand_over(int64_t* sum, int32_t* regs, int rows, int cols,
                                                                 int n) {
  hand_over_body(sum, regs, rows, cols, n);
}

__attribute__((target_clones("avx2", "default"))) void hand_over(int64_t* sum, int64_t* regs, int rows, int cols,
                                                                 int n) {
  hand_over_body(sum, regs, rows, cols, n);
}

namespace portable {

void hand_over(int64_t* sum, int32_t* regs, int rows, int cols, int n) { hand_over_body(sum, regs, rows, cols, n); }
void hand_over(int64_t* sum, int64_t* regs, int rows, int cols, int n) { hand_over_body(sum, regs, rows, cols, n); }


void mac_tile(int32_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n) {
  mac_tile_body(acc, cols, t, on, mag, rows, n);
}

void mac_tile(int64_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n) {
  mac_tile_body(acc, cols, t, on, mag, rows, n);
}

}  // namespace portable

}  // namespace mls::hw::kernels
