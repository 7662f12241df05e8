#pragma once
// Direct convolution in double, written from the textbook definitions of the
// three training passes (no lowering, no chunks): the independent yardstick for
// the golden arithmetic in tests, and the fp32 reference for accuracy metrics.
#include <vector>

#include "ref/config.h"
#include "ref/lowering.h"
#include "ref/tensor.h"

namespace mls {

// fwd:        out[n,co,ho,wo] = sum_{ci,kh,kw} W[co,ci,kh,kw] * A[n,ci,ho*S-P+kh*D, wo*S-P+kw*D]
// bwd-data:   out[n,ci,h,w]   = sum over the (co,ho,wo,kh,kw) that fwd maps onto (h, w) of W * E
// bwd-weight: out[co,ci,kh,kw] = sum_{n,ho,wo} E[n,co,ho,wo] * A[n,ci,ho*S-P+kh*D, wo*S-P+kw*D]
// grad_output may be empty for fwd. Shapes are checked by conv_geometry.
std::vector<double> reference_conv(Pass pass, const ConvGeometry& geo, const TensorF& weight, const TensorF& input,
                                   const TensorF* grad_output);

// ||a - ref||_2 / ||ref||_2 (0 when both are zero).
double relative_l2_error(const TensorF& a, const std::vector<double>& ref);

}  // namespace mls
