#pragma once
// The array's speed kernels: the loops the local accumulators and the group
// scalers run over a whole array or row, each with runtime dispatch (GCC
// target_clones: an AVX2 clone and the baseline, picked by the loader for the
// CPU; the 32-bit multiply-accumulate also a hand-written AVX2 form) and a
// portable twin, the same arithmetic in plain C++ with no target attributes.
// tb_kernels holds each dispatched kernel to its twin on random and edge
// inputs. The golden model has its own kernels (ref/golden/kernels/); the two
// never share one.
#include <cstddef>
#include <cstdint>

#include "ref/core/config.h"

namespace mls::hw::kernels {

// A chunk tile's operands as the local accumulators see them (Products):
// row r's X values at step s are x_plane + (gk0[r] + s) * x_stride, its Y
// value y[y_at[r] + s], for s < len[r].
struct TileOperands {
  const int32_t* x_plane;
  int64_t x_stride;
  const int64_t* gk0;
  const int32_t* len;
  const int32_t* y;
  const int64_t* y_at;
};

// Local accumulators, one chunk tile, multiply and accumulation fused: for
// each row r with on[r], step by step (s = 0, 1, ... len[r] - 1),
// acc[r * cols + c] += x(r, s)[c] * y(r, s) for c < n, in raw sums (no
// overflow handling; the narrowest lanes hold every sum while it stays in
// range, see mac_row_unchecked, hw_model/datapath/datapath.h). mag[r] gets
// m(hi) | m(lo), hi and lo the largest and smallest of 0 and the row's
// partial sums and m(v) = v ^ (v >> 63) the magnitude: its highest set bit
// is that of the OR of every partial sum's magnitude, so a partial sum left
// the acc_bits range iff exceeds_range(mag[r], acc_bits); the first that did
// is exact (an in-range sum plus a product below 2^30, or 2^54 in int64), so
// no later wrap can hide it. Rows off get mag 0 and keep their registers.
void mac_tile(int32_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n);
void mac_tile(int64_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n);

// Local accumulators' hand-over: sum[i] = regs[i] (sign-extended: AVX2's
// vpmovsxdq, which the baseline lacks), then regs[i] = 0, for i = r * cols
// + c, every r < rows and c < n (n <= cols: the columns a few-column pass
// uses; the others are neither read nor written).
void hand_over(int64_t* sum, int32_t* regs, int rows, int cols, int n);
void hand_over(int64_t* sum, int64_t* regs, int rows, int cols, int n);

// A chunk tile's scale factors as the group scalers see them: row r (when
// on[r]) scales by x_factor[r][c] * y_factor[r], each factor a scale
// mantissa times a power of two as an exact double (GroupScaler::load).
struct ScaleRows {
  const uint8_t* on;
  const double* const* x_factor;  // [R] pointers to the row's C X factors
  const double* y_factor;         // [R]
  // Some |sum| may reach the double form's bound (2^45): each row is
  // tested. False when the accumulators are too narrow for that (acc_bits
  // <= 45: every register value is below 2^44 in magnitude), and no row is.
  bool checked = true;
};

// One row of a chunk tile redone product by product (the local
// accumulators' rows whose partial sums left the acc_bits range, and PE
// (0,0)'s row under the mul_lsb fault): row r's X values at step s are x + s
// * x_stride, its Y value y[s], for s < len; n columns.
struct RedoRow {
  const int32_t* x;
  int64_t x_stride;
  const int32_t* y;
  int32_t len;
  int n;
  bool lsb_fault;  // column 0's product bit 0 stuck at 1
  int acc_bits;
  Overflow policy;
};

// Local accumulators, a row's tile from registers at 0, as the registers
// add at each edge: until a sum leaves the range the registers are the
// exact sums (their magnitudes, v ^ (v >> 63), ORed into `magnitudes`);
// from the step one does, the exact sums go on in `exact` (their magnitudes
// into `exact_magnitudes`) and the registers take the overflow policy.
// Returns how many additions overflowed; `prod` is n lanes of scratch.
uint64_t redo_row(int32_t* acc, int64_t* exact, int32_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes);
uint64_t redo_row(int64_t* acc, __int128* exact, int64_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes);

// Group scalers, one chunk tile: value[r * cols + c] = fp32(sum[r * cols +
// c] * x_factor[r][c] * y_factor[r]), one rounding, for c < n and every row
// on; the caller keeps each row's exponent sum in [-1022, 960] (then this is
// group_scale's double form bit for bit). inside[r] = 0 when some of row
// r's sums is outside the double form's range (|sum| >= 2^45: the caller
// then scales it element by element), 1 otherwise (and for rows off; with
// s.checked false the sums are the caller's promise to be inside, and every
// row gets 1).
void scale_tile(float* value, const int64_t* sum, int cols, const ScaleRows& s, uint8_t* inside, int rows, int n);

// A chunk tile's scaled values as the adder trees see them (ScaledSums):
// value[r * cols + c], row r holding a value iff valid[r]; n columns of
// each row are reduced (the caller's vector_width); swap12: the tree_order
// fault's first level, rows 1 and 2 trading places (rows >= 4).
struct TreeTile {
  const float* value;
  int cols;
  const uint8_t* valid;
  int rows;
  int n;
  bool swap12;
};

// Adder trees, a whole chunk tile: out[c] for c < n is column c's pairwise
// reduction of the rows, level by level (slot i of a level is slot 2i +
// slot 2i+1 of the one before, or the one of them holding a value; an odd
// last slot moves up) down to one slot, ceil(log2 rows) levels, each an
// fp32 add. Returns the pairs added over all levels (both slots holding a
// value), the same for every column. scratch: (rows + 1) * 8 floats (the
// slots, aligned within it); ops: 2 * rows bytes.
uint64_t tree_tile(float* out, const TreeTile& t, float* scratch, uint8_t* ops);

// An element code's layout: e exponent bits, m mantissa bits, the sign above.
struct CodeFormat {
  int e, m;
};

// Multipliers, the Y operands of a span of a chunk tile: y[i] = the operand
// value (sign * mantissa << shift, operand_value of decode_operand,
// hw_model/datapath/datapath.h) of codes[i] for i < len; returns the span's
// zero products among n columns: x_zeros[i] (X's zeros at step i) or all n
// where y[i] is 0.
uint64_t decode_span(int32_t* y, const uint32_t* codes, const uint32_t* x_zeros, int64_t len, uint32_t n,
                     CodeFormat f);

// The portable twins, for the kernels' test.
namespace portable {
void hand_over(int64_t* sum, int32_t* regs, int rows, int cols, int n);
void hand_over(int64_t* sum, int64_t* regs, int rows, int cols, int n);
uint64_t redo_row(int32_t* acc, int64_t* exact, int32_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes);
uint64_t redo_row(int64_t* acc, __int128* exact, int64_t* prod, const RedoRow& w, uint64_t& magnitudes,
                  unsigned __int128& exact_magnitudes);
void mac_tile(int32_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n);
void mac_tile(int64_t* acc, int cols, const TileOperands& t, const uint8_t* on, uint64_t* mag, int rows, int n);
void scale_tile(float* value, const int64_t* sum, int cols, const ScaleRows& s, uint8_t* inside, int rows, int n);
uint64_t decode_span(int32_t* y, const uint32_t* codes, const uint32_t* x_zeros, int64_t len, uint32_t n,
                     CodeFormat f);
uint64_t tree_tile(float* out, const TreeTile& t, float* scratch, uint8_t* ops);
}  // namespace portable

}  // namespace mls::hw::kernels
