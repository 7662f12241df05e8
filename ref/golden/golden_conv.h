#pragma once
// The golden MLS convolution arithmetic (docs/reference.md#convolution-arithmetic). Its reduction order is the
// contract the SystemC array is checked against bit for bit. The order comes
// from the Mapping (ref/mapping/mapping.h); the arithmetic below is this file's own,
// written apart from the array's (hw_model/datapath/datapath.cpp). Baseline mapping:
//
//  for each output (m, p):
//    chunks j = 0 .. G*ceil(K/chunk)-1, group-major, dealt R at a time to rows;
//    for each chunk-tile t (rows r = 0..R-1 hold chunk j = t*R + r, if any):
//      P_r   = local accumulation of the chunk's products, in ascending k, in an
//              acc_bits register (saturate or wrap after every addition)
//      s_r   = fp32(P_r * S_g^X[m,g] * S_g^Y[p,g])   (one RNE rounding)
//      T_t   = pairwise tree over the valid s_r (see tree_reduce)
//      acc   = acc + T_t            (fp32, acc starts at +0.0)
//    Out[m, p] = acc * F,   F = fp32(S_t^X * S_t^Y * u_X * u_Y)  (fp32 multiply)
#include <cstdint>
#include <vector>

#include "ref/core/config.h"
#include "ref/workload/lowering.h"
#include "ref/mapping/mapping.h"
#include "ref/quant/quantizer.h"

namespace mls {

// One addition of the local accumulator; counts an overflow into `overflows`.
int64_t accumulate(int64_t acc, int64_t product, int acc_bits, Overflow policy, uint64_t& overflows);

// fp32(P * S_gx * S_gy), round to nearest even with gradual underflow, for any
// M_g in [0, 3]: the exact integer P * (2^Mx + cx) * (2^My + cy), rounded to odd
// at 53 bits, then the IEEE double-to-float conversion (not the hardware's
// shift-add or multiplier and integer normalisation, so each checks the other).
float scale_chunk(int64_t chunk_sum, GroupScale x, GroupScale y, const ScaleFormat& x_fmt,
                  const ScaleFormat& y_fmt);
inline float scale_chunk(int64_t chunk_sum, GroupScale x, GroupScale y, const ScaleFormat& fmt) {
  return scale_chunk(chunk_sum, x, y, fmt, fmt);
}

// Pairwise tree over R slots: each level adds neighbours (2i, 2i+1); a slot
// without a value passes its partner through unchanged (no addition). Returns
// the root; `adds` counts the additions made.
float tree_reduce(const float* values, const bool* valid, int slots, uint64_t& adds);

// F = fp32(S_t^X * S_t^Y * 2^(unit_exp_X + unit_exp_Y)).
float final_scale_factor(float s_t_x, float s_t_y, const ElemFormat& x, const ElemFormat& y);

struct GoldenResult {
  TensorF out;                 // natural shape of the pass
  uint64_t acc_overflow = 0;   // additions whose sum left the accumulator range
};

// What golden_pass picks its exact shortcuts by: the largest |q| of each
// operand tensor and whether every group scale of both stays far from the
// double range. A tensor scan: a pass of many blocks (conv groups, a matmul's
// batch) computes them once and hands them to each block's golden_pass, so
// that a block's work follows the block, not the tensor.
struct OperandBounds {
  int64_t max_abs_x = 0, max_abs_y = 0;
  bool scales_in_double_range = false;
};
OperandBounds operand_bounds(const QuantTensor& x, const QuantTensor& y);

// `array` gives the accumulator (acc_bits, acc_overflow); `mapping` the order
// in which chunks, tiles and outputs are reduced.
GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& array,
                         const Mapping& mapping);
// golden_pass takes exact shortcuts in the same order (decoded operand planes,
// 16 outputs side by side, the accumulator's range checked per chunk rather
// than per addition, one double product for the scaling where exact: see
// ref/golden/golden_conv.cpp and bench/README.md);
// golden_pass_sequential is the plain walk, every addition through
// accumulate() and every scaling through scale_chunk, kept as the reference
// the shortcuts are tested against bit for bit (testbenches/unit/ref_golden_fast_test.cpp).
GoldenResult golden_pass_sequential(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y,
                                    const ArrayConfig& array, const Mapping& mapping);
// golden_pass with the lanes' Y planes filled `slice_elements` words of p at a
// time (the default bounds them at 256 KiB); for the tests, which hold every
// slicing to the same bits.
GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& array,
                         const Mapping& mapping, int64_t slice_elements);
// The same with the array's own mapping for the pass, Mapping::for_pass(array, lp.pass).
GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& array);
// The same with the tensors' bounds computed once by the caller (operand_bounds).
GoldenResult golden_pass(const LoweredPass& lp, const QuantTensor& x, const QuantTensor& y, const ArrayConfig& array,
                         const OperandBounds& bounds);

}  // namespace mls
