#pragma once
// The golden model's whole-tile kernels (never shared with the array's,
// hw_model/kernels/): one chunk tile of kLanes outputs (one block of X rows
// against one p) in one call, for int16 lanes with the exact double scaling
// (FastPass::fast_scale). For each busy slot s, its chunk's sums over the
// lanes as chunk_sums (lane_kernels.h) computes them, then
//   val[s][c] = float(double(sum[c]) * fx[g][c] * fy[g])   (exact product, one RNE rounding)
// and, with the range check (xa and ya given), replay[s] has bit c set where
// the chunk's positive products (abs + sum) / 2 or its negative ones
// (abs - sum) / 2 pass the accumulator's bound (abs = sum |x| |y|, both
// magnitudes taken in the kernel) and, of those, some partial
// sum in ascending k really leaves [-hi - 1, hi]: the lanes the caller
// replays with the sequential walk (and rescales) before the tree (every
// other lane's sum is exact, no addition overflowed). A slot whose chunk has
// max |x| * sum |y| <= hi (xmax and ysum given) has abs <= hi in every lane,
// so no bit: its |x| |y| sums are skipped. tree_add then
// runs tree_full's pairwise tree across the lanes and adds its root to tot
// (one fp32 addition per lane). With `narrow` (a block of at most 8 X rows)
// the kernels compute lanes 0 .. 7 only. Runtime dispatch: AVX2 where the CPU has
// it, else the portable twin (testbenches/unit/ref_golden_tile_kernels_test.cpp
// compares the two).
#include <cstdint>

#include "ref/golden/kernels/lane_kernels.h"

namespace mls::golden_detail::kernels {

// One busy slot of a tile: its chunk's first pair in a row, pair count and group.
struct LaneSlot {
  int64_t q0 = 0;
  int32_t npairs = 0, g = 0;
  int32_t j = 0;  // the chunk, for TileOperands' xmax and ysum
};

// The operands of one tile: block b's plane ([pair][lane][2] int16) and
// scales ([g][lane]), row p's packed pairs, their magnitudes and scales
// ([g]); hi = 2^(acc_bits-1) - 1.
struct TileOperands {
  const int16_t* x = nullptr;
  const int32_t* y = nullptr;
  bool check = false;             // the range check
  const int32_t* xmax = nullptr;  // optional, per chunk: block b's largest |x|
  const int32_t* ysum = nullptr;  // with xmax, per chunk: row p's sum |y|
  const double* fx = nullptr;
  const double* fy = nullptr;
  int32_t hi = 0;
  bool narrow = false;            // only lanes 0 .. 7 hold outputs: lanes 8 .. 15 get value 0, no replay bit
};

// |x|, |y| <= 2^15 - 1. Writes val[s * kLanes + c] for s < n and, with the check, replay[s];
// returns whether some replay bit is set.
using TileValuesFn = bool (*)(const TileOperands& op, const LaneSlot* slots, int n, float* val, uint16_t* replay);
// The pairwise tree over n rows of kLanes values, root added to tot (val is
// scratch: its contents after the call are unspecified).
using TreeAddFn = void (*)(float* val, int n, float* tot);

// The sequential walk of one slot's chunk (accumulate(): each addition
// saturating or wrapping at acc_bits <= 30) for the lanes set in bits, every
// pair's k and k + 1 in order: their sums into sums[c]; returns how many of
// their additions left the range. Lanes not in bits: sums[c] unspecified.
using ReplayFn = uint64_t (*)(const TileOperands& op, const LaneSlot& sl, uint16_t bits, int acc_bits, bool wrap,
                              int32_t* sums);
constexpr int kReplayBitsMax = 30;

// The forms this CPU runs (picked once).
TileValuesFn tile_values();
TreeAddFn tree_add();
ReplayFn replay();

namespace portable {
bool tile_values(const TileOperands& op, const LaneSlot* slots, int n, float* val, uint16_t* replay);
void tree_add(float* val, int n, float* tot);
uint64_t replay(const TileOperands& op, const LaneSlot& sl, uint16_t bits, int acc_bits, bool wrap, int32_t* sums);
}  // namespace portable
// nullptr where the CPU or the target has no AVX2.
TileValuesFn tile_values_avx2();
TreeAddFn tree_add_avx2();
ReplayFn replay_avx2();

}  // namespace mls::golden_detail::kernels
