#include "sim/layer.h"

#include "ref/error.h"

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

QuantLayer quantize_layer(const LayerTensors& t, const QuantConfig& cfg, int threads) {
  QuantLayer q;
  q.name = t.name;
  try {
    q.geo = conv_geometry(t.weight.shape, t.input.shape, t.params, t.grad_output ? &t.grad_output->shape : nullptr);
  } catch (const Error& e) {
    std::string files = t.weight_file + ", " + t.input_file;
    if (t.grad_output) files += ", " + t.grad_output_file;
    throw Error("layer '" + t.name + "' (" + files + "): " + e.what());
  }
  q.weight = quantize(t.weight, t.name + ".weight", cfg, nullptr, threads);
  q.input = quantize(t.input, t.name + ".input", cfg, nullptr, threads);
  if (t.grad_output) q.grad_output = quantize(*t.grad_output, t.name + ".grad_output", cfg, nullptr, threads);
  return q;
}

LoweredPass lower_layer(const QuantLayer& layer, Pass pass) {
  return lower(pass, layer.geo, layer.operand(x_operand(pass)).layout, layer.operand(y_operand(pass)).layout);
}

}  // namespace mls
