#include "sim/run/layer.h"

#include "ref/core/error.h"

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

QuantLayer quantize_layer(const LayerTensors& t, const PerOperand<QuantConfig>& cfg, int threads) {
  if (!t.kind) throw Error("layer '" + t.name + "': no layer kind bound to its tensors");
  QuantLayer q;
  q.name = t.name;
  q.kind = t.kind;
  q.weight = quantize(t.weight, t.name + ".weight", cfg.weight, nullptr, threads);
  q.input = quantize(t.input, t.name + ".input", cfg.input, nullptr, threads);
  if (t.grad_output) q.grad_output = quantize(*t.grad_output, t.name + ".grad_output", cfg.grad_output, nullptr, threads);
  return q;
}

LoweredPass lower_layer(const QuantLayer& layer, Pass pass) {
  return layer.kind->lower(pass, layer.x(pass).layout, layer.y(pass).layout);
}

}  // namespace mls
