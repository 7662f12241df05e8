#pragma once
// A layer of a trace: its name, its kind bound to its tensors, the tensors
// (or, with their data dropped, their shapes and fingerprint) and the files
// they came from.
#include <memory>
#include <optional>
#include <string>

#include "ref/core/tensor.h"
#include "ref/workload/layer_kind.h"

namespace mls {

struct LayerTensors {
  std::string name;
  // The layer's kind, bound to these tensors' shapes (bind_layer_kind).
  std::shared_ptr<const LayerKind> kind;
  TensorF weight, input;
  std::optional<TensorF> grad_output;
  // Where each tensor came from, for error messages.
  std::string weight_file = "weight", input_file = "input", grad_output_file = "grad_output";
  // A hash of the tensors' shapes and bits (tensors_fingerprint), taken when
  // their data was dropped (resident false), so a run's identity and the
  // check of a layer read again need no tensor in memory; unset otherwise.
  uint64_t fingerprint = 0;
  // False when the trace was loaded with its tensors' data dropped (their
  // shapes kept): load_tensors (sim/io/trace.h) reads them again.
  bool resident = true;
};

// Folds the layer's tensors' shapes and bits into a 64-bit hash.
uint64_t tensors_fingerprint(const LayerTensors& t);

// Binds `kind` to t's tensor shapes and stores it in t. A geometry error is an
// mls::Error "<where> (<files>): <what is wrong>".
void bind_layer_kind(LayerTensors& t, std::unique_ptr<LayerKind> kind, const std::string& where);

}  // namespace mls
