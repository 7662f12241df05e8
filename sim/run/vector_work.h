#pragma once
// The vector unit's work of a layer-pass (docs/energy.md#vector-work): the
// quantizer's work on the operands the pass quantizes, and the manifest's
// vector ops attributed to it (forward work to the fwd pass of the layer the
// op follows, its backward counterpart to that layer's bwd-data pass).
// Counted from shapes and the quantized tensors' group counts.
#include <map>
#include <string>
#include <vector>

#include "hw_model/stats/vector_work.h"
#include "sim/io/trace.h"
#include "sim/run/layer.h"

namespace mls {

// Operations per element (and per reduced row: a norm's mean and variance)
// of one vector op in one direction.
struct VectorOpCounts {
  int add = 0, mul = 0, div = 0, exp = 0;  // per element
  int row_add = 0, row_mul = 0, row_rsqrt = 0;  // per row
};
// The counts of docs/energy.md#vector-work for `op`, forward or backward.
VectorOpCounts vector_op_counts(const VectorOp& op, bool backward);
// The work of `op` in one direction: the counts times its elements and rows
// (a softmax or layer norm reduces the last dim, a batch norm per channel, dim 1).
hw::VectorWork vector_op_work(const VectorOp& op, bool backward);

// The ops of each layer by name: an op's `after`, or the first layer of
// `trace` for an op that follows none.
std::map<std::string, std::vector<const VectorOp*>> vector_ops_by_layer(const Trace& trace);

// The work of the ops of one layer in `pass`: forward in fwd, backward in
// bwd-data, none in bwd-weight.
hw::VectorWork layer_ops_work(const std::vector<const VectorOp*>& ops, Pass pass);

// The quantizer's work charged to `pass`: each operand's first quantization
// to the first of the run's `passes` (fwd, bwd-data, bwd-weight order) that
// multiplies it, and the re-quantizations of block groupings to the pass they
// were made for. Per quantization: its elements, its group scales, one tensor scale.
hw::VectorWork quantizer_work(const QuantLayer& layer, Pass pass, const std::vector<Pass>& passes);

}  // namespace mls
