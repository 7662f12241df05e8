#pragma once
// One layer's training passes through the golden model, for the Python module:
// the layer is quantized once (W, A, E as `mlssim conv` and `run` quantize
// them: tensor names <name>.weight, <name>.input, <name>.grad_output), and
// each pass runs block by block, each block's outputs cut into `threads`
// ranges of p computed side by side. Every output of the grouped product is
// reduced on its own (ref/golden/golden_conv.h), so the result does not depend
// on the thread count.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ref/core/config.h"
#include "ref/core/tensor.h"
#include "ref/workload/layer_kind.h"
#include "sim/params/params.h"

namespace mls::py {

// The event counts of a pass that the golden model knows: acc_overflow from
// its accumulators, the rest from the pass's sizes and its mapping
// (docs/architecture.md#event-counts gives the closed forms), summed over the
// blocks.
using PassStats = std::map<std::string, uint64_t>;

struct PassOutput {
  TensorF result;  // the pass's natural shape (docs/layers.md)
  PassStats stats;
};

struct LayerCall {
  std::string name = "conv";  // the stochastic-rounding key of its tensors
  std::unique_ptr<LayerKind> kind;
  TensorF weight, input, grad_output;
  bool has_grad_output = false;
  std::vector<Pass> passes;
  // No grouping given: a kind that blocks by default gets run's default block
  // grouping on all three operands, as `run` gives it (the torch layers);
  // false: the configuration's grouping as given, as `mlssim conv` runs it.
  bool default_groups = false;
};

// Runs every pass of `call` under `cfg` with `threads` workers. Throws
// mls::Error as `mlssim conv` does for bad shapes, missing operands and
// NaN/Inf.
std::vector<PassOutput> run_passes(LayerCall call, const RunConfig& cfg, int threads);

// The kind `kind` with manifest keys `keys` (stride, padding, ...): a key the
// kind does not read must be absent, as `mlssim conv` refuses --stride on a
// linear layer.
std::unique_ptr<LayerKind> make_kind(const std::string& kind, const nlohmann::json& keys, const std::string& where);

}  // namespace mls::py
