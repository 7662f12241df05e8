#pragma once
// The reference MLS quantizer (docs/reference.md#the-reference-quantizer): the golden model every other part of the
// project is checked against. All arithmetic is IEEE double.
#include <cstdint>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "ref/format/format.h"
#include "ref/core/tensor.h"

namespace mls {

// The dim a block grouping (kB) cuts into blocks of B, and the segments it
// cuts first: blocks never straddle a segment boundary (a grouped conv's
// channel groups), and each segment ends in a remainder block when B does not
// divide it. segment 0 means the whole dim.
struct BlockAxis {
  int dim = 1;
  int64_t segment = 0;
  bool operator==(const BlockAxis& o) const { return dim == o.dim && segment == o.segment; }
  bool operator!=(const BlockAxis& o) const { return !(*this == o); }
};

// The axis `mlssim quantize` blocks when given none: dim 1 (the forward
// reduction dim of a conv's W and A, the last dim of a matrix), dim 0 for a
// rank-1 tensor.
BlockAxis default_block_axis(const Shape& shape);

// Which groups a tensor is cut into: dims 0 and/or 1 by Grouping, a dimension
// the tensor lacks being dropped; or, for a block grouping, blocks along one
// dim, every other index its own group (group_shape() puts the block index in
// place of that dim).
struct GroupLayout {
  Grouping group = Grouping::nc;
  int64_t d0 = 1, d1 = 1;  // sizes of dims 0 and 1 (1 when absent)
  int64_t inner = 1;       // elements per (i0, i1) pair
  // Block groupings: the tensor as [outer, axis, after] around the block axis.
  BlockAxis axis;
  int64_t outer = 1, along = 1, after = 1;
  int64_t segment = 1, seg_blocks = 1;  // segment length, blocks per segment
  int64_t nblocks = 1;                   // blocks along the axis: along / segment * seg_blocks
  Shape shape;

  GroupLayout() = default;
  // Throws mls::Error when the block axis is not a dim of `shape` or its
  // segment does not divide the dim.
  GroupLayout(const Shape& shape, Grouping g, BlockAxis block_axis = {});
  int64_t groups() const;
  Shape group_shape() const;
  // Non-block groupings only.
  int64_t group_of_pair(int64_t i0, int64_t i1) const;
  int64_t group_of(int64_t flat) const {
    if (group.is_block()) {
      const int64_t i = flat / after % along;
      return ((flat / (after * along)) * nblocks + i / segment * seg_blocks + i % segment / group.block_size) * after +
             flat % after;
    }
    return group_of_pair(flat / (d1 * inner), (flat / inner) % d1);
  }
  int64_t blocks_along() const { return nblocks; }
};

struct QuantTensor {
  std::string name;
  Shape shape;
  ElemFormat elem;
  ScaleFormat scale;
  GroupLayout layout;
  float s_t = 0.0f;             // largest magnitude in the tensor
  std::vector<GroupScale> sg;   // one per group
  std::vector<int32_t> sq;      // sign * q per element

  double group_scale(int64_t group) const { return group_scale_value(scale, sg[static_cast<size_t>(group)]); }
};

// Quantizes x. `random`, when given, supplies the stochastic-rounding draws
// (same shape, values in [-0.5, 0.5)) instead of the counter-based generator.
// Throws mls::Error naming `name` on NaN/Inf or a bad random tensor.
QuantTensor quantize(const TensorF& x, const std::string& name, const QuantConfig& cfg,
                     const TensorF* random = nullptr, int threads = 1);
// The same with the axis a block grouping cuts (ignored by the others);
// the form above blocks default_block_axis(x.shape).
QuantTensor quantize(const TensorF& x, const std::string& name, const QuantConfig& cfg, const BlockAxis& axis,
                     const TensorF* random = nullptr, int threads = 1);

// The plain walk of the same steps, element by element (quantize_reference.cpp):
// the reference the fast walk of quantize is tested against, bit for bit.
QuantTensor quantize_reference(const TensorF& x, const std::string& name, const QuantConfig& cfg,
                               const BlockAxis& axis, const TensorF* random = nullptr, int threads = 1);

// Throws mls::Error naming `name` and the first NaN or Inf element.
void check_finite(const TensorF& x, const std::string& name);
// The same over `count` values that begin at flat index `first` (a block of
// a tensor being read).
void check_finite(const float* values, size_t count, int64_t first, const std::string& name);

// sign * S_t * S_g * q * u, exact in double, rounded once to float32.
TensorF dequantize(const QuantTensor& q);

// The S_g of a group whose ratio to the tensor max is s (docs/reference.md#the-reference-quantizer step 2).
GroupScale group_scale_for_ratio(double s, const ScaleFormat& fmt);
// The same under a scale rule: cover is the form above; fit is the smallest
// representable S_g with S_g * x_max >= s (x_max = elem_max_value(elem),
// compared exactly), at least 2^min_exp and at most the format's largest
// scale 2 - 2^-M_g, where the group max still clips. s == 0 as cover.
GroupScale group_scale_for_ratio(double s, const ScaleFormat& fmt, ScaleRule rule, const ElemFormat& elem);
// The element format's largest value x_max = max_q * u (< 1: 0.75 for e2m1).
double elem_max_value(const ElemFormat& fmt);

// Magnitude q of one element, x_f = |x| / (S_t * S_g) in [0, 1] (docs/reference.md#the-reference-quantizer steps 4-6).
int64_t quantize_magnitude(double x_f, const ElemFormat& fmt, Rounding rounding, float r, bool clip);

// Average relative error: mean over nonzero x of |xq - x| / |x| (0 if all zero).
double average_relative_error(const TensorF& x, const TensorF& xq);

}  // namespace mls
