#pragma once
// The manifest's vector ops (docs/reference.md#trace-format, `vector_ops`):
// the non-product work of the recorded iteration (softmax, normalisation,
// activations, residual adds), each with its output shape and the recorded
// layer it follows. `mlssim run` counts their work as the vector events of
// that layer's passes (sim/run/vector_work.h).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ref/core/tensor.h"

namespace mls {

enum class VectorOpKind { softmax, layer_norm, batch_norm, activation, residual_add };

struct VectorOp {
  std::string name;
  VectorOpKind op = VectorOpKind::residual_add;
  std::string fn;     // activation only: the function's torch name (gelu, relu, ...)
  Shape shape;        // the output's shape
  std::string after;  // the recorded layer it follows; "" when none did (null)
};

// At most this many vector ops in a manifest, each of at most 8 dims and
// 2^40 elements (docs/reference.md#size-budgets).
constexpr size_t kMaxVectorOps = 100000;

// The activation functions a vector op may name (the recorder's list), in
// the order docs/energy.md#vector-work gives their operation counts.
const std::vector<std::string>& vector_activation_names();
std::string to_string(VectorOpKind op);

// Parses the manifest's "vector_ops" list; `layers` are every layer name of
// the manifest (an op's `after` must name one). Throws mls::Error, one line
// "<manifest>: vector_ops[i] (name): what is wrong".
std::vector<VectorOp> parse_vector_ops(const nlohmann::json& list, const std::string& manifest,
                                       const std::vector<std::string>& layers);

}  // namespace mls
