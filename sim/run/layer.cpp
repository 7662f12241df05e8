#include "sim/run/layer.h"

#include "ref/core/error.h"
#include "ref/workload/bwd_data_decompose.h"

namespace mls {

void bind_layer_kind(LayerTensors& t, std::unique_ptr<LayerKind> kind, const std::string& where) {
  try {
    kind->bind(t.weight.shape, t.input.shape, t.grad_output ? &t.grad_output->shape : nullptr);
  } catch (const Error& e) {
    std::string files = t.weight_file + ", " + t.input_file;
    if (t.grad_output) files += ", " + t.grad_output_file;
    throw Error(where + " (" + files + "): " + e.what());
  }
  t.kind = std::move(kind);
}

const QuantTensor& QuantLayer::operand(Operand which) const {
  switch (which) {
    case Operand::weight: return weight;
    case Operand::input: return input;
    case Operand::grad_output: break;
  }
  if (!grad_output) throw Error("layer '" + name + "': this pass needs grad_output");
  return *grad_output;
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
                             int threads) {
  const std::string name = t.name + "." + to_string(which);
  const Shape grouping = t.kind->grouping_shape(which, x.shape);
  if (grouping == x.shape) return quantize(x, name, cfg, nullptr, threads);
  TensorF view;
  view.shape = grouping;
  view.data = x.data;
  QuantTensor q = quantize(view, name, cfg, nullptr, threads);
  q.shape = x.shape;
  return q;
}

}  // namespace

QuantLayer quantize_layer(const LayerTensors& t, const PerOperand<QuantConfig>& cfg, int threads) {
  if (!t.kind) throw Error("layer '" + t.name + "': no layer kind bound to its tensors");
  QuantLayer q;
  q.name = t.name;
  q.kind = t.kind;
  q.weight = quantize_operand(t, Operand::weight, t.weight, cfg.weight, threads);
  q.input = quantize_operand(t, Operand::input, t.input, cfg.input, threads);
  if (t.grad_output) q.grad_output = quantize_operand(t, Operand::grad_output, *t.grad_output, cfg.grad_output, threads);
  return q;
}

LoweredPass lower_layer(const QuantLayer& layer, Pass pass) {
  return layer.kind->lower(pass, layer.x(pass).layout, layer.y(pass).layout);
}

namespace {

bool decomposed(const QuantLayer& layer, Pass pass, BwdData bwd_data) {
  return bwd_data == BwdData::decompose && pass == Pass::bwd_data && decomposes(*layer.kind);
}

}  // namespace

int64_t pass_blocks(const QuantLayer& layer, Pass pass, BwdData bwd_data) {
  if (decomposed(layer, pass, bwd_data)) return decomposed_blocks(dynamic_cast<const Conv2d&>(*layer.kind));
  return layer.kind->blocks(pass);
}

BlockPass lower_block(const QuantLayer& layer, Pass pass, int64_t block, BwdData bwd_data) {
  BlockPass b;
  b.lp = decomposed(layer, pass, bwd_data)
             ? lower_decomposed_bwd_data(dynamic_cast<const Conv2d&>(*layer.kind), block, layer.x(pass).layout,
                                         layer.y(pass).layout)
             : layer.kind->lower(pass, block, layer.x(pass).layout, layer.y(pass).layout);
  b.natural = std::move(b.lp.out_index);
  b.natural_shape = b.lp.out_shape;
  b.lp.out_shape = {b.lp.m * b.lp.p};
  b.lp.out_index.resize(b.natural.size());
  for (size_t i = 0; i < b.natural.size(); ++i) b.lp.out_index[i] = int64_t(i);
  return b;
}

void scatter_block(const TensorF& compact, const BlockPass& block, TensorF& out) {
  for (size_t i = 0; i < block.natural.size(); ++i) out.data[size_t(block.natural[i])] = compact.data[i];
}

}  // namespace mls
