// The adder trees' reduction of a whole chunk tile (array_kernels.h).
#include <cstdint>
#include <cstring>

#include "hw_model/kernels/array_kernels.h"

namespace mls::hw::kernels {

namespace {

// What one slot pair of a level does, the same for every column.
enum : uint8_t { kKeepA = 0, kAdd = 1, kTakeB = 2 };

// Row j of the first level's order: the tree_order fault swaps rows 1 and 2.
inline int first_level_row(const TreeTile& t, int j) { return t.swap12 && (j == 1 || j == 2) ? 3 - j : j; }

// The levels' slot operations from the rows' validity alone (so each
// column block only replays them): per level, slot i is 2i + 2i+1 when both
// hold a value, the one that does when one does (kKeepA also when neither:
// the slot stays without a value), an odd last slot moves up. Returns the
// pairs added over every level. ok: rows bytes of scratch.
inline uint64_t plan_levels(const TreeTile& t, uint8_t* ok, uint8_t* ops) {
  for (int j = 0; j < t.rows; ++j) ok[j] = t.valid[first_level_row(t, j)] != 0;
  uint64_t pairs = 0;
  for (int n = t.rows; n > 1; n = (n + 1) / 2) {
    const int half = n / 2;
    for (int i = 0; i < half; ++i) {
      const bool a = ok[2 * i], b = ok[2 * i + 1];
      *ops++ = a && b ? kAdd : b ? kTakeB : kKeepA;
      pairs += a && b;
      ok[i] = a || b;
    }
    if (n % 2) ok[half] = ok[n - 1];
  }
  return pairs;
}

// Vectors of 8 and 4 fp32 lanes (GCC's vector extension: one AVX add in the
// AVX2 clone, two or one SSE adds in the baseline), and a single lane.
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));

// Loads and stores of the input rows and the output at any float's
// address (a template argument loses a typedef's alignment, so V is the
// aligned vector type: the slots in scratch are aligned by slots() below).
// Always inlined, and no vector passed or returned by value: that would take
// another ABI in the baseline clone.
template <class V>
__attribute__((always_inline)) inline void load(V& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
}

template <class V>
__attribute__((always_inline)) inline void store(float* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

// The columns c .. c + lanes(V) - 1 of every tree, level by level in `s`
// (rows vectors of scratch): the first level from the input rows, the
// others in place (slot i is written after slots 2i and 2i + 1 are read).
// Each lane is its column's own sequence of fp32 adds in the tree's order.
// kFull: every row holds a value and the order is the plain one (no fault),
// so every pair adds and the plan is not read (the usual tile).
template <bool kFull, class V>
__attribute__((always_inline)) inline void tree_block(float* out, const TreeTile& t, int c, V* s,
                                                     const uint8_t* ops) {
  const float* column = t.value + c;
  const size_t cols = size_t(t.cols);
  V a, b;
  if (t.rows == 1) return load(a, column), store(out + c, a);
  int n = t.rows, half = n / 2;
  for (int i = 0; i < half; ++i, ++ops) {
    load(a, column + size_t(kFull ? 2 * i : first_level_row(t, 2 * i)) * cols);
    load(b, column + size_t(kFull ? 2 * i + 1 : first_level_row(t, 2 * i + 1)) * cols);
    s[i] = kFull || *ops == kAdd ? a + b : *ops == kTakeB ? b : a;
  }
  if (n % 2) load(s[half], column + size_t(n - 1) * cols);
  for (n = (n + 1) / 2; n > 1; n = (n + 1) / 2) {
    half = n / 2;
    for (int i = 0; i < half; ++i, ++ops)
      s[i] = kFull || *ops == kAdd ? s[2 * i] + s[2 * i + 1] : *ops == kTakeB ? s[2 * i + 1] : s[2 * i];
    if (n % 2) s[half] = s[n - 1];
  }
  store(out + c, s[0]);
}

// The scratch's first 32-byte boundary (it holds 8 floats more than the
// slots need): the slots' vector type is aligned.
template <class V>
inline V* slots(float* scratch) {
  return reinterpret_cast<V*>((uintptr_t(scratch) + 31) & ~uintptr_t(31));
}

// Every column block of the tile: 8 lanes, then 4, then one by one.
template <bool kFull>
__attribute__((always_inline)) inline void tree_blocks(float* out, const TreeTile& t, float* scratch,
                                                      const uint8_t* ops) {
  int c = 0;
  for (; c + 8 <= t.n; c += 8) tree_block<kFull>(out, t, c, slots<V8>(scratch), ops);
  if (c + 4 <= t.n) tree_block<kFull>(out, t, c, slots<V4>(scratch), ops), c += 4;
  for (; c < t.n; ++c) tree_block<kFull>(out, t, c, slots<float>(scratch), ops);
}

// A full tile (every row holding a value, no fault) of kRows rows, a power
// of two: tree_block<true>'s levels (slot i is slot 2i + slot 2i+1, no odd
// slot) with the count known, so the loops unroll and the slots, a local
// array, stay in registers instead of the scratch.
template <int kRows, class V>
__attribute__((always_inline)) inline void tree_block_fixed(float* out, const TreeTile& t, int c) {
  static_assert(kRows >= 2 && (kRows & (kRows - 1)) == 0, "a power of two");
  const float* column = t.value + c;
  const size_t cols = size_t(t.cols);
  V s[kRows / 2];
#pragma GCC unroll 32
  for (int i = 0; i < kRows / 2; ++i) {
    V a, b;
    load(a, column + size_t(2 * i) * cols);
    load(b, column + size_t(2 * i + 1) * cols);
    s[i] = a + b;
  }
#pragma GCC unroll 8
  for (int n = kRows / 2; n > 1; n /= 2)
#pragma GCC unroll 16
    for (int i = 0; i < n / 2; ++i) s[i] = s[2 * i] + s[2 * i + 1];
  store(out + c, s[0]);
}

template <int kRows>
__attribute__((always_inline)) inline void tree_blocks_fixed(float* out, const TreeTile& t) {
  int c = 0;
  for (; c + 8 <= t.n; c += 8) tree_block_fixed<kRows, V8>(out, t, c);
  if (c + 4 <= t.n) tree_block_fixed<kRows, V4>(out, t, c), c += 4;
  for (; c < t.n; ++c) tree_block_fixed<kRows, float>(out, t, c);
}

// A tile whose rows all hold a value (with no fault) adds rows - 1 pairs
// and needs no plan; the usual array heights have their unrolled form.
__attribute__((always_inline)) inline uint64_t tree_tile_body(float* out, const TreeTile& t, float* scratch,
                                                             uint8_t* ops) {
  if (!t.swap12 && !std::memchr(t.valid, 0, size_t(t.rows))) {
    switch (t.rows) {
      case 8: tree_blocks_fixed<8>(out, t); break;
      case 16: tree_blocks_fixed<16>(out, t); break;
      case 32: tree_blocks_fixed<32>(out, t); break;
      default: tree_blocks<true>(out, t, scratch, ops);
    }
    return uint64_t(t.rows - 1);
  }
  const uint64_t pairs = plan_levels(t, ops + t.rows, ops);
  tree_blocks<false>(out, t, scratch, ops);
  return pairs;
}

}  // namespace

// The AVX2 clone adds 8 columns per instruction; every clone adds each
// column in the same order, so all give the same bits.
__attribute__((target_clones("avx2", "default")))
uint64_t tree_tile(float* out, const TreeTile& t, float* scratch, uint8_t* ops) {
  return tree_tile_body(out, t, scratch, ops);
}

namespace portable {

uint64_t tree_tile(float* out, const TreeTile& t, float* scratch, uint8_t* ops) {
  return tree_tile_body(out, t, scratch, ops);
}

}  // namespace portable

}  // namespace mls::hw::kernels
