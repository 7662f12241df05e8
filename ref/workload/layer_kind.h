#pragma once
// Layer kinds: what a manifest's `kind` names (docs/reference.md#trace-format).
// A kind knows, for one layer, its parameters (parsed from the layer's
// manifest entry), the geometry its tensor shapes must have, how each training
// pass lowers to the grouped product of ref/workload/lowering.h, and how to evaluate a
// pass exactly in double. Everything downstream of the lowering (the golden
// arithmetic, the array, the reports) is the same for every kind.
//
// Adding a kind: one class implementing LayerKind (ref/workload/conv2d.h is the
// example) and one line in the registry, layer_kinds() in ref/workload/layer_kind.cpp;
// docs/developing.md has the checklist.
#include <initializer_list>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ref/core/config.h"
#include "ref/core/error.h"
#include "ref/workload/lowering.h"
#include "ref/core/operand.h"
#include "ref/quant/quantizer.h"
#include "ref/core/tensor.h"

namespace mls {

// The three tensors of a training layer, named as in the manifest.

// The usual roles of the operands in each pass (fwd: W x A, bwd-data: W x E,
// bwd-weight: E x A); X is held per PE, Y broadcast along a row.
Operand x_operand(Pass pass);
Operand y_operand(Pass pass);

class LayerKind {
 public:
  virtual ~LayerKind() = default;

  // The manifest's `kind`, e.g. "conv2d".
  virtual std::string name() const = 0;
  // Checks the shapes against each other and against the parameters, and
  // fixes the geometry lower() and reference() use. Throws mls::Error whose
  // message names the operand at fault ("weight", "input", "grad_output").
  virtual void bind(const Shape& weight, const Shape& input, const Shape* grad_output) = 0;
  // Which operand plays X and Y in `pass`.
  virtual Operand x_operand(Pass pass) const { return mls::x_operand(pass); }
  virtual Operand y_operand(Pass pass) const { return mls::y_operand(pass); }
  // How many independent grouped products a pass is: a grouped convolution's
  // groups, a matmul's batch. Blocks share no operand element and no output,
  // so each is lowered and run on its own, one after another
  // (docs/layers.md#blocks).
  virtual int64_t blocks(Pass pass) const {
    (void)pass;
    return 1;
  }
  // Block `block` of the pass as a grouped product; the layouts are the
  // quantized X and Y's. Its out_index points into the pass's whole result.
  virtual LoweredPass lower(Pass pass, int64_t block, const GroupLayout& x_layout,
                            const GroupLayout& y_layout) const = 0;
  // The sizes of one block of `pass` as a grouped product, from the bound
  // shapes alone (no lowering): m, p and the reduction length r (g * k under
  // a non-block grouping, zero taps included). Every block of a pass has
  // these sizes; `run` plans with them (cost estimates for -j, shards and ETA).
  struct ProductSize {
    int64_t m = 0, p = 0, r = 0;
  };
  virtual ProductSize product_size(Pass pass) const = 0;
  // The same three under a backward-data strategy (--bwd-data): a kind that
  // lowers a pass otherwise under it (a strided conv2d's backward-data,
  // phase by phase: ref/workload/bwd_data_decompose.h) overrides them; the
  // others are the pass's own. planned_size: the product size `run` plans
  // with (cost estimates), blocks_with(pass) blocks of it.
  virtual int64_t blocks_with(Pass pass, BwdData bwd_data) const {
    (void)bwd_data;
    return blocks(pass);
  }
  virtual LoweredPass lower_with(Pass pass, BwdData bwd_data, int64_t block, const GroupLayout& x_layout,
                                 const GroupLayout& y_layout) const {
    (void)bwd_data;
    return lower(pass, block, x_layout, y_layout);
  }
  virtual ProductSize planned_size(Pass pass, BwdData bwd_data) const {
    (void)bwd_data;
    return product_size(pass);
  }
  // Whether the model's last layer of this kind is its classifier, which
  // `--unquantized classifier` keeps in fp32 (a final fully connected layer).
  virtual bool classifies_when_last() const { return false; }
  // Whether the layer runs under a block grouping along its reduction index
  // when no --group is given (docs/layers.md#default-groupings): a kind whose
  // nc groups would hold one product each (linear, matmul, a 1x1 conv) says
  // so; the others keep nc. Valid after bind().
  virtual bool blocks_by_default() const { return false; }
  // A pass of one block; throws mls::Error when the pass has more.
  LoweredPass lower(Pass pass, const GroupLayout& x_layout, const GroupLayout& y_layout) const;
  // The shape an operand is quantized in: the grouping (nc, n, c) cuts dims 0
  // and 1 of this shape. The same elements in the same order as `natural`
  // (a reshape); conv kinds keep the natural shape, linear and matmul view a
  // tensor as a matrix [rows, last dim] (docs/layers.md#grouping).
  virtual Shape grouping_shape(Operand operand, const Shape& natural) const {
    (void)operand;
    return natural;
  }
  // Block groupings (docs/formats.md#block-groupings): the dim of the X
  // (x_side) or Y operand's grouping shape that its blocks of B run along in
  // `pass`, the part of the pass's reduction index that the blocks cut, and
  // its segments (a grouped conv's channel groups). X and Y of a pass are
  // cut alike, so they share one partition of the reduction. Needs bind().
  virtual BlockAxis block_axis(Pass pass, bool x_side) const = 0;
  // The pass evaluated in double from unquantized tensors, in the result's
  // natural layout (the shape lower() reports): the yardstick of the tests
  // and of `run --accuracy`. grad_output may be null for fwd.
  virtual std::vector<double> reference(Pass pass, const TensorF& weight, const TensorF& input,
                                        const TensorF* grad_output) const = 0;

 protected:
  // Copyable only by the concrete kinds, so a LayerKind is never sliced.
  LayerKind() = default;
  LayerKind(const LayerKind&) = default;
  LayerKind& operator=(const LayerKind&) = default;
};

// The grouping a layer of `kind` (bound) takes when none is given
// (docs/layers.md#default-groupings): blocks of Grouping::kDefaultBlock along
// the reduction for a kind that blocks by default, else none (nc stays).
std::optional<Grouping> default_grouping(const LayerKind& kind);

// How `mlssim synth` (sim/synth, docs/scale.md#synthetic-traces) makes up a
// layer of a kind from its shapes alone. A kind without these rules cannot be
// synthesized.
struct SynthRules {
  // The topology's weight and input shapes (the input without the batch): the
  // ranks they may have and what an error calls them.
  size_t weight_min_rank = 0, weight_max_rank = 0;
  const char* weight_what = "weight";
  size_t input_min_rank = 0, input_max_rank = 0;
  const char* input_what = "input (without the batch)";
  bool channels_first = false;    // a tensor's channels at dim 1 ([N, C, ...]), else its last dim
  bool weight_is_parameter = true;  // He-scaled by its fan-in (its dims after the first); else drawn as an activation
  bool weight_batched = false;    // the weight carries the batch dimension too (a matmul's second operand)
  bool relu_after_first = false;  // inputs after the first layer default to ReLU outputs
  // The output's shape from the weight's and the input's (as the trace holds
  // them, with the batch) and the layer's parameters (its manifest entry);
  // errors start with `where`.
  Shape (*output_shape)(const Shape& weight, const Shape& input, const nlohmann::json& entry,
                        const std::string& where) = nullptr;
};

// One registered kind: its name, the manifest keys it reads besides the
// common ones (name, kind, weight, input, grad_output), and its factory,
// which parses those keys; its errors start with `where`.
struct LayerKindEntry {
  std::string name;
  std::vector<std::string> keys;
  std::unique_ptr<LayerKind> (*from_manifest)(const nlohmann::json& entry, const std::string& where);
  const SynthRules* synth = nullptr;  // null: `mlssim synth` cannot make this kind
};

// The kind of a layer whose manifest entry has no `kind`.
constexpr const char* kDefaultLayerKind = "conv2d";

// The registry: one line per kind, in ref/workload/layer_kind.cpp.
const std::vector<LayerKindEntry>& layer_kinds();
// The entry of `name`; an unknown name is an mls::Error starting with `where`.
const LayerKindEntry& find_layer_kind(const std::string& name, const std::string& where);

// A manifest value that is an integer or an [h, w] pair, each in [lo, hi]
// (0 <= lo <= hi);
// {fallback, fallback} when `key` is absent. Errors start with `where`.
std::pair<int, int> manifest_int_pair(const nlohmann::json& entry, const std::string& key, int fallback, int lo,
                                      int hi, const std::string& where);

// A manifest value that is one integer in [lo, hi]; `fallback` when absent.
int manifest_int(const nlohmann::json& entry, const std::string& key, int fallback, int lo, int hi,
                 const std::string& where);

// Checks every kind's bind() makes, with the messages the trace loader shows:
// no dimension of weight or input below 1; grad_output (when given) of the
// shape `want`; no tensor (numels: each tensor's element count) of 2^31 or
// more elements.
void check_no_empty_dim(const Shape& weight, const Shape& input);
void check_grad_output_shape(const Shape* grad_output, const Shape& want, const Shape& weight, const Shape& input);
void check_element_limit(std::initializer_list<int64_t> numels);

// The geometry a kind's bind() fixes: get() before set() is an mls::Error
// naming the kind.
template <class Geometry>
class BoundGeometry {
 public:
  void set(const Geometry& g) { g_ = g; }
  bool bound() const { return g_.has_value(); }
  const Geometry& get(const char* kind) const {
    if (!g_) throw Error(std::string(kind) + ": the layer's shapes are not bound yet (LayerKind::bind)");
    return *g_;
  }

 private:
  std::optional<Geometry> g_;
};

// ||a - ref||_2 / ||ref||_2 (0 when both are zero): a result against reference().
double relative_l2_error(const TensorF& a, const std::vector<double>& ref);

}  // namespace mls
