#pragma once
// A conv2d layer's tensors, quantized once and shared by every pass (docs/reference.md#convolution-arithmetic).
#include <optional>
#include <string>

#include "ref/config.h"
#include "ref/lowering.h"
#include "ref/quantizer.h"
#include "ref/tensor.h"

namespace mls {

struct LayerTensors {
  std::string name;
  ConvParams params;
  TensorF weight, input;
  std::optional<TensorF> grad_output;
  // Where each tensor came from, for error messages.
  std::string weight_file = "weight", input_file = "input", grad_output_file = "grad_output";
};

struct QuantLayer {
  std::string name;
  ConvGeometry geo;
  QuantTensor weight, input;
  std::optional<QuantTensor> grad_output;

  const QuantTensor& operand(Operand which) const;
  bool has_pass(Pass pass) const { return pass == Pass::fwd || grad_output.has_value(); }
};

// Checks shapes (errors name the files) and quantizes W, A and E with tensor
// names "<layer>.weight", "<layer>.input", "<layer>.grad_output".
QuantLayer quantize_layer(const LayerTensors& t, const QuantConfig& cfg, int threads = 1);

LoweredPass lower_layer(const QuantLayer& layer, Pass pass);

}  // namespace mls
