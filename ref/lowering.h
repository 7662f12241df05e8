#pragma once
// Lowering of each conv2d pass to the grouped matrix product of docs/reference.md#convolution-arithmetic:
//   Out[m, p] = sum_g sum_{k in g} X[m, g, k] * Y[p, g, k]
// The lowering says WHICH quantized element feeds each product; it holds no
// arithmetic, so the golden model and the SystemC array can share it and still
// disagree on the numbers. Tests check it against a direct convolution.
#include <cstdint>
#include <string>
#include <vector>

#include "ref/config.h"
#include "ref/quantizer.h"
#include "ref/tensor.h"

namespace mls {

// Stride, padding and dilation are at most this (checked by conv_geometry).
constexpr int kMaxConvParam = 1 << 16;
// Entries of one lowering table (int32 indices) at most: 2^31 - 1.
constexpr int64_t kMaxLoweredEntries = (int64_t{1} << 31) - 1;

struct ConvParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dil_h = 1, dil_w = 1;
};

struct ConvGeometry {
  int64_t n = 0, ci = 0, h = 0, w = 0;  // input [N, Ci, H, W]
  int64_t co = 0, kh = 0, kw = 0;       // weight [Co, Ci, Kh, Kw]
  int64_t ho = 0, wo = 0;               // output [N, Co, Ho, Wo]
  ConvParams params;
};

// Checks the shapes against each other; throws mls::Error with a message that
// names the offending operand ("weight", "input", "grad_output").
ConvGeometry conv_geometry(const Shape& weight, const Shape& input, const ConvParams& params,
                           const Shape* grad_output = nullptr);

// Which tensors play X and Y in a pass (docs/reference.md#lowering-to-a-grouped-product table).
enum class Operand { weight, input, grad_output };
Operand x_operand(Pass pass);
Operand y_operand(Pass pass);

struct LoweredPass {
  Pass pass = Pass::fwd;
  int64_t m = 0, p = 0, g = 0, k = 0;  // sizes of the grouped product
  Shape out_shape;
  // Flat index of the X (Y) element of each product, -1 for a zero (padding or
  // zero insertion) tap. Layout [m][g][k] and [p][g][k].
  std::vector<int32_t> x_index, y_index;
  // Group-scale index of X[m, g, *] and Y[p, g, *] in their tensors' layouts.
  std::vector<int32_t> x_group, y_group;
  // Flat index in the output tensor of Out[m, p].
  std::vector<int64_t> out_index;

  int64_t macs() const { return m * p * g * k; }
  // Products whose two operands are both tensor elements: macs() less the
  // padding and zero-insertion taps.
  int64_t useful_macs() const;
};

LoweredPass lower(Pass pass, const ConvGeometry& geo, const GroupLayout& x_layout, const GroupLayout& y_layout);

}  // namespace mls
