#include "sim/run/layer.h"

#include <algorithm>
#include <cstring>

#include "ref/core/error.h"
#include "ref/core/rng.h"
#include "ref/workload/bwd_data_decompose.h"

namespace mls {

const QuantTensor& QuantLayer::operand(Operand which) const {
  switch (which) {
    case Operand::weight: return weight;
    case Operand::input: return input;
    case Operand::grad_output: break;
  }
  if (!grad_output) throw Error("layer '" + name + "': this pass needs grad_output");
  return *grad_output;
}

namespace {

// The block axis `pass` blocks `which` along (which must be one of its operands).
BlockAxis axis_in(const LayerKind& kind, Operand which, Pass pass) {
  return kind.block_axis(pass, kind.x_operand(pass) == which);
}

bool uses(const LayerKind& kind, Pass pass, Operand which) {
  return kind.x_operand(pass) == which || kind.y_operand(pass) == which;
}

}  // namespace

const QuantTensor& QuantLayer::operand(Operand which, Pass pass) const {
  const QuantTensor& first = operand(which);
  if (!first.layout.group.is_block()) return first;
  const BlockAxis axis = axis_in(*kind, which, pass);
  if (first.layout.axis == axis) return first;
  for (const Requantized& r : requantized)
    if (r.operand == which && r.q.layout.axis == axis) return r.q;
  throw Error("layer '" + name + "': " + to_string(which) + " was not quantized for the " + to_string(pass) +
              " pass (quantize_layer was not given it)");
}

uint64_t QuantLayer::requant(Pass pass) const {
  uint64_t n = 0;
  for (const Requantized& r : requantized)
    if (r.first_pass == pass) n += uint64_t(r.q.sq.size());
  return n;
}

bool QuantLayer::has_pass(Pass pass) const {
  const auto present = [&](Operand o) { return o != Operand::grad_output || grad_output.has_value(); };
  return present(kind->x_operand(pass)) && present(kind->y_operand(pass));
}

namespace {

// Quantized in the kind's grouping shape (a reshape: the same elements in the
// same order, so the stochastic draws keyed by flat index do not change), then
// given back its natural shape.
QuantTensor quantize_operand(const LayerTensors& t, Operand which, const TensorF& x, const QuantConfig& cfg,
                             const BlockAxis& axis, int threads) {
  const std::string name = t.name + "." + to_string(which);
  const Shape grouping = t.kind->grouping_shape(which, x.shape);
  if (grouping == x.shape) return quantize(x, name, cfg, axis, nullptr, threads);
  TensorF view;
  view.shape = grouping;
  view.data = x.data;
  QuantTensor q = quantize(view, name, cfg, axis, nullptr, threads);
  q.shape = x.shape;
  return q;
}

const TensorF* tensor_of(const LayerTensors& t, Operand which) {
  switch (which) {
    case Operand::weight: return &t.weight;
    case Operand::input: return &t.input;
    case Operand::grad_output: break;
  }
  return t.grad_output ? &*t.grad_output : nullptr;
}

// The passes in fwd, bwd-data, bwd-weight order, those of `passes` first: an
// operand's first quantization is along the axis of the first of these that
// uses it, whether or not the run has it.
std::vector<Pass> canonical_order(const std::vector<Pass>& passes) {
  std::vector<Pass> out;
  for (Pass p : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
    if (std::find(passes.begin(), passes.end(), p) != passes.end()) out.push_back(p);
  for (Pass p : {Pass::fwd, Pass::bwd_data, Pass::bwd_weight})
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

// Block groupings: each operand of `pass` that no quantization of q has
// along the pass's axis is quantized once more, paid by this pass.
void requantize_for(QuantLayer& q, const LayerTensors& t, const PerOperand<QuantConfig>& cfg, Pass pass,
                    int threads) {
  for (Operand which : {t.kind->x_operand(pass), t.kind->y_operand(pass)}) {
    if (!cfg[which].group.is_block()) continue;
    const BlockAxis axis = axis_in(*t.kind, which, pass);
    bool have = q.operand(which).layout.axis == axis;
    for (const QuantLayer::Requantized& r : q.requantized) have = have || (r.operand == which && r.q.layout.axis == axis);
    if (!have)
      q.requantized.push_back({which, quantize_operand(t, which, *tensor_of(t, which), cfg[which], axis, threads), pass});
  }
}

}  // namespace

QuantLayer quantize_layer(const LayerTensors& t, const PerOperand<QuantConfig>& cfg, int threads,
                          const std::vector<Pass>& passes) {
  if (!t.kind) throw Error("layer '" + t.name + "': no layer kind bound to its tensors");
  QuantLayer q;
  q.name = t.name;
  q.kind = t.kind;
  const std::vector<Pass> order = canonical_order(passes);
  const auto first_axis = [&](Operand which) {
    for (Pass p : order)
      if (uses(*t.kind, p, which)) return axis_in(*t.kind, which, p);
    return BlockAxis{};
  };
  for (Operand which : {Operand::weight, Operand::input, Operand::grad_output}) {
    const TensorF* x = tensor_of(t, which);
    if (!x) continue;
    QuantTensor qt = quantize_operand(t, which, *x, cfg[which], first_axis(which), threads);
    if (which == Operand::weight) q.weight = std::move(qt);
    else if (which == Operand::input) q.input = std::move(qt);
    else q.grad_output = std::move(qt);
  }
  for (Pass p : order)
    if (std::find(passes.begin(), passes.end(), p) != passes.end() && q.has_pass(p))
      requantize_for(q, t, cfg, p, threads);
  return q;
}

LoweredPass lower_layer(const QuantLayer& layer, Pass pass) {
  return layer.kind->lower(pass, layer.x(pass).layout, layer.y(pass).layout);
}

int64_t pass_blocks(const QuantLayer& layer, Pass pass, BwdData bwd_data) {
  return layer.kind->blocks_with(pass, bwd_data);
}

BlockPass lower_block(const QuantLayer& layer, Pass pass, int64_t block, BwdData bwd_data) {
  BlockPass b;
  b.lp = layer.kind->lower_with(pass, bwd_data, block, layer.x(pass).layout, layer.y(pass).layout);
  // A block grouping's few long groups would leave rows idle: its chunks
  // are shortened to fill them (docs/layers.md#utilisation-under-block-groupings).
  b.lp.fill_rows = layer.x(pass).layout.group.is_block();
  b.natural = std::move(b.lp.out_index);
  b.natural_shape = b.lp.out_shape;
  b.lp.out_shape = {b.lp.m * b.lp.p};  // out_index empty: Out[m, p] at m * p + p
  return b;
}

void scatter_block(const TensorF& compact, const BlockPass& block, TensorF& out) {
  for (size_t i = 0; i < block.natural.size(); ++i) out.data[size_t(block.natural[i])] = compact.data[i];
}

}  // namespace mls
