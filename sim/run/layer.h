#pragma once
// A layer's tensors and its kind (ref/workload/layer_kind.h), quantized once and shared
// by every pass (docs/reference.md#convolution-arithmetic).
#include <memory>
#include <optional>
#include <string>

#include "ref/core/config.h"
#include "ref/workload/layer_kind.h"
#include "ref/workload/lowering.h"
#include "ref/quant/quantizer.h"
#include "ref/core/tensor.h"
#include "sim/io/layer_tensors.h"

namespace mls {

struct QuantLayer {
  std::string name;
  std::shared_ptr<const LayerKind> kind;
  // Each operand's first quantization: for a block grouping, along the axis
  // of the first pass (fwd, bwd-data, bwd-weight order) that uses it.
  QuantTensor weight, input;
  std::optional<QuantTensor> grad_output;
  // Block groupings: an operand quantized once more for the passes that block
  // it along another axis (docs/formats.md#block-groupings), charged to
  // `first_pass`, the first of them.
  struct Requantized {
    Operand operand;
    QuantTensor q;
    Pass first_pass;
  };
  std::vector<Requantized> requantized;

  // The first quantization of an operand.
  const QuantTensor& operand(Operand which) const;
  // The quantization of `which` that `pass` multiplies.
  const QuantTensor& operand(Operand which, Pass pass) const;
  // The X and Y operands of a pass, as the kind names them.
  const QuantTensor& x(Pass pass) const { return operand(kind->x_operand(pass), pass); }
  const QuantTensor& y(Pass pass) const { return operand(kind->y_operand(pass), pass); }
  // True when the layer has both operands of the pass (no grad_output: fwd only).
  bool has_pass(Pass pass) const;
  // Elements re-quantized for `pass`: the report's requant event.
  uint64_t requant(Pass pass) const;
};

// Quantizes W, A and E with tensor names "<layer>.weight", "<layer>.input",
// "<layer>.grad_output". t.kind must be bound (bind_layer_kind). A block
// grouping quantizes an operand along the block axis of each of `passes`
// that uses it, once per distinct axis.
QuantLayer quantize_layer(const LayerTensors& t, const PerOperand<QuantConfig>& cfg, int threads = 1,
                          const std::vector<Pass>& passes = {Pass::fwd, Pass::bwd_data, Pass::bwd_weight});

// A pass of one block (LayerKind::lower); throws mls::Error for more. Without
// row filling (fill_rows false): `mlssim vectors` walks the plain mapping.
LoweredPass lower_layer(const QuantLayer& layer, Pass pass);

// How many blocks the pass runs as (LayerKind::blocks; a strided conv2d's
// backward-data under BwdData::decompose: groups x phases).
int64_t pass_blocks(const QuantLayer& layer, Pass pass, BwdData bwd_data = BwdData::zero_insert);

// One block of a pass with compact results: lp.out_shape is [m * p] and
// lp.out_index is empty (it counts up), so the golden model and the array write a result no
// larger than the block; `natural` keeps where each result lands in the
// pass's result of shape `natural_shape`.
struct BlockPass {
  LoweredPass lp;
  std::vector<int64_t> natural;
  Shape natural_shape;
};
// lp.fill_rows is set under a block grouping (Mapping::fill_rows).
BlockPass lower_block(const QuantLayer& layer, Pass pass, int64_t block, BwdData bwd_data = BwdData::zero_insert);

// Copies a block's compact result into the pass's result.
void scatter_block(const TensorF& compact, const BlockPass& block, TensorF& out);

}  // namespace mls
