#pragma once
// The lowering shared by `linear` and `matmul`: every pass of both is one
// matrix product per block, Out[m, p] = sum_r X[m, r] * Y[p, r], with X and Y
// strided views into their tensors. How the reduction index r is cut into
// groups g and in-group positions k depends on the operands' group layouts
// (docs/layers.md#grouping): k is the longest run of r along which both X's
// and Y's group scales stay the same, for every row, so the chunks of one
// group never need a floating-point scale inside the local accumulator.
#include <cstdint>

#include "ref/quant/quantizer.h"
#include "ref/workload/lowering.h"

namespace mls {

// Element (row, r) of an operand lies at offset + row * row_stride + r * red_stride
// in its tensor's flat layout.
struct MatrixView {
  int64_t offset = 0, row_stride = 0, red_stride = 0;
  int64_t at(int64_t row, int64_t r) const { return offset + row * row_stride + r * red_stride; }
};

struct MatrixProduct {
  Pass pass = Pass::fwd;
  int64_t m = 0, p = 0, r = 0;  // X is m x r, Y is p x r
  MatrixView x, y;
  Shape out_shape;              // the pass's whole result
  MatrixView out;               // Out[m, p] at out.at(m, p): row_stride for m, red_stride for p
};

// The longest k dividing r such that, in every row, the group of `view`'s
// elements is constant on each run [g*k, (g+1)*k).
int64_t group_run(const GroupLayout& layout, const MatrixView& view, int64_t rows, int64_t r);

// The grouped product of one block. Refuses (check_lowered_entries) a product
// whose tables would not fit before allocating them.
LoweredPass lower_matrix_product(const MatrixProduct& mp, const GroupLayout& x_layout, const GroupLayout& y_layout);

// The matrix view [rows, last dim] of a tensor of rank >= 1, under which
// linear and matmul operands are grouped (a rank-1 tensor is one row).
Shape matrix_shape(const Shape& natural);

}  // namespace mls
